"""Occupant presence in MUC form (XEP-0045 section 7.2), built from the
channel's presence node: MIX clients and MUC clients alike are items of
that node, so each side sees the other's."""

from __future__ import annotations

from collections.abc import Iterable

from mixd import ns as NS
from mixd.codec.xep0045_muc import occupant_id, user_x
from mixd.jid import JID
from mixd.services.mix import rules as mix_rules
from mixd.services.mix.muc import affiliations, rules
from mixd.services.mix.presence_state import ClientPresence
from mixd.services.mix.state import ChannelState
from mixd.xml.element import Element


def occupant_presence(
    state: ChannelState,
    user: str,
    nick: str,
    entry: ClientPresence | Element | None,
    codes: Iterable[int] = (),
    new_nick: str | None = None,
    client: JID | None = None,
    *,
    show_jid: bool = False,
) -> Element:
    """The presence of occupant `user` as `nick` (no `to`): available with
    the presence of `entry` (a presence-node item, or a client's own
    presence element with `client` its sender), unavailable when None. The
    client's real JID is in it only with `show_jid` (`anon.may_see` of the
    recipient, MIX-ANON)."""
    if entry is None:
        element = Element(NS.CLIENT, "presence", {"type": "unavailable"})
    else:
        if isinstance(entry, ClientPresence):
            source, client = entry.presence, entry.client
        else:
            source = entry
        attrs = {k: v for k, v in source.attrs.items() if k not in ("from", "to", "id", "type")}
        element = Element(NS.CLIENT, "presence", attrs, source.copy().children)
        rules.strip_server_owned(element)
    element.attrs["from"] = f"{state.jid}/{nick}"
    participant = state.participants.get(user)
    affiliation = affiliations.affiliation_of(state, user)
    role = affiliations.role_of(affiliation) if entry is not None else "none"
    jid = str(client) if client is not None and show_jid else None
    element.append(user_x(affiliation, role, jid, new_nick, codes))
    pid = (
        participant.id
        if participant is not None
        else mix_rules.participant_id(state.channel.secret, JID.parse(user))
    )
    element.append(occupant_id(rules.occupant_id_of(state.channel.secret, pid)))
    return element


def subject_message(state: ChannelState) -> Element:
    """The room subject: the channel's description, else its name."""
    info = state.channel.info
    message = Element(NS.CLIENT, "message", {"from": str(state.jid), "type": "groupchat"})
    message.add_text_child(NS.CLIENT, "subject", info.description or info.name or "")
    return message
