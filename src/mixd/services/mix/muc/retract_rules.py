"""Message retraction through the MUC face as plain functions (no I/O):
XEP-0425 moderation requests and XEP-0424 retractions from MUC clients
turned into what MIX-MISC retraction (XEP-0407) takes, and MIX-MISC's
retractions and tombstones turned into the XEP-0424/0425 forms MUC clients
read.

A retraction is *moderated* when whoever retracted is not who sent the
message (participant ids differ). MUC clients then get XEP-0425's notice
from the room JID, `<retract><moderated by occupant-id/><reason/></retract>`,
and the archived message reads `<retracted><moderated/></retracted>`;
otherwise XEP-0424's groupchat retraction from the sender's occupant JID
(with its fallback body) and a plain `<retracted/>`.

The moderator's reason travels in the channel's stored retraction as
`<reason xmlns='urn:xmpp:message-moderate:1'/>` (MIX clients see it beside
the MIX-MISC `<retract/>`), so MAM results and history carry it too.
"""

from __future__ import annotations

from dataclasses import dataclass

from mixd import ns as NS
from mixd.codec.stanza import CodecError
from mixd.codec.xep0045_muc import occupant_id
from mixd.codec.xep0407_misc import MAX_ID_LENGTH
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID, JIDError
from mixd.services.mix import rules as mix_rules
from mixd.services.mix.muc.rules import MODERATED_NS, occupant_id_of
from mixd.services.mix.state import ChannelState
from mixd.xml.element import Element

MODERATE = MODERATED_NS
FALLBACK = "urn:xmpp:fallback:0"
FALLBACK_BODY = "/me retracted a previous message, but it's unsupported by your client."
MAX_REASON = 1024  # characters of a moderator's reason kept


@dataclass(frozen=True, slots=True)
class Moderator:
    """Who moderated, as MUC clients are told: `by` is the moderator's
    occupant JID (the room's JID for someone without a nick)."""

    by: str
    occupant: str


def _target(element: Element) -> str:
    target = element.get("id") or ""
    if not target or len(target) > MAX_ID_LENGTH:
        raise CodecError(f"<{element.name}/> needs the stanza id of the message")
    return target


def moderate_request(payload: Element) -> tuple[str, str | None]:
    """The stanza id and reason of a `<moderate/>` asking for a retraction.
    CodecError when it is malformed; other actions (XEP-0425 leaves room
    for them) are not implemented."""
    target = _target(payload)
    if payload.find(NS.RETRACT, "retract") is None:
        raise StanzaError(
            StanzaErrorCondition.FEATURE_NOT_IMPLEMENTED, "only retraction is supported"
        )
    reason = (payload.find_text(MODERATE, "reason") or "").strip()
    return target, reason[:MAX_REASON] or None


def own_retraction_target(message: Element) -> str | None:
    """The stanza id a XEP-0424 `<retract/>` in a groupchat names; None when
    there is none."""
    retract = message.find(NS.RETRACT, "retract")
    return None if retract is None else _target(retract)


def mix_request(message: Element) -> Element:
    """A XEP-0424 retraction as the MIX-MISC request it stands for: the
    fallback and the XEP-0424 element are MUC's; the rest (origin-id) stays."""
    request = message.copy()
    request.remove_all(NS.CLIENT, "body")
    request.remove_all(FALLBACK)
    request.remove_all(NS.RETRACT)
    request.remove_all(NS.HINTS)
    return request


def moderation_request(reason: str | None) -> Element:
    """What a moderator's request adds to the channel's retraction."""
    request = Element(NS.CLIENT, "message", {"type": "groupchat"})
    if reason is not None:
        request.add_text_child(MODERATE, "reason", reason)
    return request


def participant_id_of(state: ChannelState, name: str) -> str | None:
    """The participant id behind a tombstone's `by` (a bare JID, or a proxy
    JID `id#channel@service` when JIDs are not shown)."""
    try:
        jid = JID.parse(name)
    except JIDError:
        return None
    local = jid.local or ""
    if "#" in local:
        return local.partition("#")[0] or None
    return mix_rules.participant_id(state.channel.secret, jid)


def moderator(state: ChannelState, pid: str, nick: str | None) -> Moderator:
    """The moderator with participant id `pid`, under `nick` when known,
    else under the current nick of that participant, if any."""
    channel = str(state.jid)
    if not nick:
        found = next((p for p in state.participants.values() if p.id == pid), None)
        nick = found.nick if found is not None else None
    by = f"{channel}/{nick}" if nick else channel
    return Moderator(by, occupant_id_of(state.channel.secret, pid))


def _moderated(who: Moderator) -> Element:
    element = Element(MODERATE, "moderated", {"by": who.by})
    element.append(occupant_id(who.occupant))
    return element


def muc_retraction(muc: Element, target: str, who: Moderator | None) -> Element:
    """A channel's retraction, already in MUC form (from the actor's
    occupant JID, with its occupant id), as XEP-0424 (`who` None: the
    sender retracted) or XEP-0425 (from the room) says."""
    reason = muc.find_text(MODERATE, "reason")
    if who is None:
        own = muc.copy()
        own.remove_all(NS.MIX_MISC, "retract")
        own.remove_all(MODERATE)
        own.add(NS.RETRACT, "retract", {"id": target})
        if own.find(NS.CLIENT, "body") is None:
            own.add(FALLBACK, "fallback", {"for": NS.RETRACT})
            own.add_text_child(NS.CLIENT, "body", FALLBACK_BODY)
        return own
    channel = (muc.get("from") or "").partition("/")[0]
    notice = Element(NS.CLIENT, "message", {"type": "groupchat", "from": channel})
    notice.set("id", muc.get("id"))
    retract = notice.add(NS.RETRACT, "retract", {"id": target})
    retract.append(_moderated(who))
    if reason:
        retract.add_text_child(NS.RETRACT, "reason", reason)
    for kept in muc.find_all(NS.SID):
        notice.append(kept.copy())
    return notice


def muc_tombstone(muc: Element, who: Moderator | None) -> Element:
    """A MIX-MISC tombstone, already in MUC form, as XEP-0424's tombstone
    (XEP-0425's, with `<moderated/>`, when `who` moderated)."""
    copy = muc.copy()
    old = copy.find(NS.MIX_MISC, "retracted")
    copy.remove_all(NS.MIX_MISC, "retracted")
    retracted = copy.add(NS.RETRACT, "retracted")
    stamp = old.get("time") if old is not None else None
    retracted.set("stamp", stamp)
    if who is not None:
        retracted.append(_moderated(who))
    return copy
