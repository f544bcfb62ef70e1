"""Who sees a participant's real JID (XEP-0404 MIX-ANON): the one place
every output of a channel asks before it writes one (participants node,
reflected messages, presence, the archive, the MUC face). The rules are in
`anon_rules`; this module applies them to a channel and a viewer.

Viewers and subjects are bare JIDs as text. A viewer that administers the
channel (administrators, owners, the server's admins) sees every JID, a
participant its own; anyone else sees a JID only when the channel's mode
and the subject's preference show it to all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from mixd import ns as NS
from mixd.codec.xep0369_mix import NAMESPACES
from mixd.jid import JID
from mixd.services.mix import anon_rules, rules
from mixd.services.mix.admin import rights as admin_rights
from mixd.services.mix.admin.rights import Role
from mixd.services.mix.presence_state import proxy_bare
from mixd.xml.element import Element

if TYPE_CHECKING:
    from mixd.services.mix.service import MixService
    from mixd.services.mix.state import ChannelState


def mode(state: ChannelState) -> anon_rules.Mode:
    return anon_rules.mode_of(state.config.one(anon_rules.MODE_FIELD))


def preference(state: ChannelState, subject: str) -> str:
    """The subject's JID visibility preference (default for a non-participant)."""
    participant = state.participants.get(subject)
    stored = participant.preferences if participant is not None else ()
    return anon_rules.visibility(stored)


def shown_to_all(state: ChannelState, subject: str) -> bool:
    return anon_rules.shown(mode(state), preference(state, subject))


def privileged(service: MixService, state: ChannelState, viewer: str) -> bool:
    """Whether `viewer` administers the channel (sees every real JID)."""
    return admin_rights.role_of(state, viewer, service.settings.admins) >= Role.ADMIN


def may_see(service: MixService, state: ChannelState, viewer: str, subject: str) -> bool:
    """May `viewer` see `subject`'s real JID in this channel?"""
    if viewer == subject or shown_to_all(state, subject):
        return True
    return privileged(service, state, viewer)


def vcard_shared(service: MixService, state: ChannelState, viewer: str, subject: str) -> bool:
    """May `viewer` have `subject`'s vCard relayed through the channel? Only
    with the subject's "vCard" preference `allow` (default `block`), unless
    the viewer may see the subject's JID anyway (and could ask it directly;
    a vCard often names its owner's JID)."""
    participant = state.participants.get(subject)
    stored = participant.preferences if participant is not None else ()
    if anon_rules.effective(stored)[anon_rules.VCARD] == "allow":
        return True
    return may_see(service, state, viewer, subject)


def split(
    service: MixService, state: ChannelState, viewers: Iterable[str], subject: str
) -> tuple[list[str], list[str]]:
    """(viewers who may see `subject`'s JID, viewers who may not)."""
    if shown_to_all(state, subject):
        return list(viewers), []
    seeing: list[str] = []
    blind: list[str] = []
    for viewer in viewers:
        (seeing if may_see(service, state, viewer, subject) else blind).append(viewer)
    return seeing, blind


def public_name(state: ChannelState, user: str) -> str:
    """How the channel names `user` in what every participant may read
    (e.g. who retracted a message): the real bare JID when it is shown to
    all, else the user's proxy bare JID."""
    if shown_to_all(state, user):
        return user
    pid = rules.participant_id(state.channel.secret, JID.parse(user))
    return str(proxy_bare(state.jid, pid))


def redact_message(
    service: MixService, state: ChannelState, viewer: str, message: Element
) -> Element:
    """A stored channel message as `viewer` may read it: the `<jid/>` of its
    `<mix/>` removed, and a tombstone's `by` replaced by the proxy JID,
    unless the viewer may see them now (messages stored while the channel
    showed JIDs keep theirs in the store)."""
    for ns in NAMESPACES:
        mix = message.find(ns, "mix")
        jid = mix.find_text(ns, "jid") if mix is not None else None
        if mix is not None and jid is not None and not may_see(service, state, viewer, jid.strip()):
            mix.remove_all(ns, "jid")
    retracted = message.find(NS.MIX_MISC, "retracted")  # a tombstone (XEP-0407)
    by = retracted.get("by") if retracted is not None else None
    if retracted is not None and by and "#" not in by and not may_see(service, state, viewer, by):
        retracted.attrs["by"] = public_name(state, by)
    return message


def hidden_presence_jid(presence: Element) -> None:
    """Remove the client JID from a presence's MIX-PRESENCE `<mix/>`."""
    mix = presence.find(NS.MIX_PRESENCE, "mix")
    if mix is not None:
        mix.remove_all(NS.MIX_PRESENCE, "jid")
