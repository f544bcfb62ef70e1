"""Private messages between participants through the channel (XEP-0404
section 4.2, XEP-0369 0.9.5 section 6.1.17).

A participant sends a message (chat, normal or headline; never groupchat)
to another participant's proxy JID: `<participant id>#<channel>@<service>`
for the user, or with the mapped resource of one of its clients from the
presence node. The channel sends it on from the sender's own proxy JID (its
client's mapped resource), so neither side learns the other's real JID, to
the recipient's bare JID (the recipient's server hands it to its MIX
clients, MIX-PAM) or to that one client. The channel never archives it.
Replies go the same way, to the proxy JID the message came from; a proxy
full JID whose client is no longer present falls back to the participant
(RFC 6121 8.5.3.2.1). An error the recipient's side returns comes back to
the sender from the recipient's proxy JID, without its text (which may
name the real JID).

Refusals: not a participant, `forbidden`; the channel's "Private Messages"
is false, or the recipient's "Private Messages" preference is `block`,
`not-allowed`; an unknown participant id, `item-not-found`; groupchat,
`bad-request`. A recipient who blocks the sender's proxy JID or the channel
(XEP-0191) gets nothing: the router's blocking filter refuses the copy the
channel sends on, and its `service-unavailable` comes back to the sender
like any error from the recipient's side.

IQs to proxy JIDs stay MIX-PRESENCE's relay (`iq_relay`), which this slice
wraps, except that a vCard request (vcard-temp or vCard4) from a
participant reaches another participant only if that participant's "vCard"
preference is `allow` (default `block`, XEP-0404 4.1) or the asker may see
its JID anyway: `forbidden`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from mixd import ns as NS
from mixd.codec.stanza import Kind, Stanza, iq_payload
from mixd.codec.xep0369_mix import NAMESPACES, mix_element
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.services.mix import anon, anon_rules
from mixd.services.mix.admin.config import PRIVATE_MESSAGES
from mixd.services.mix.presence_state import proxy_bare, proxy_jid
from mixd.services.mix.service import MixService
from mixd.services.mix.state import ChannelState
from mixd.storage.contracts.mix import Participant
from mixd.xml.element import Element

ProxyHandler = Callable[[Stanza, ChannelState, str], Awaitable[None]]

# vcard-temp (XEP-0054) and vCard4 (XEP-0292) requests.
VCARD_REQUESTS = frozenset({(NS.VCARD, "vCard"), ("urn:ietf:params:xml:ns:vcard-4.0", "vcard")})


def relayed(original: Element, sender: JID, recipient: JID, nick: str) -> Element:
    """The channel's copy: from the sender's proxy JID, to the recipient,
    with what only the channel may write replaced by the sender's nick."""
    message = original.copy()
    for ns in NAMESPACES:
        message.remove_all(ns, "mix")
    message.remove_all(NS.SID, "stanza-id")
    message.remove_all(NS.OCCUPANT_ID, "occupant-id")
    message.remove_all(NS.MUC_USER, "x")
    attrs = {"from": str(sender), "to": str(recipient)}
    for name in ("id", "type", "{" + NS.XML + "}lang"):
        if name in original.attrs:
            attrs[name] = original.attrs[name]
    message.attrs = attrs
    message.append(mix_element(nick, None))
    return message


class PrivateMessages:
    def __init__(self, service: MixService) -> None:
        self.service = service
        # Messages to proxy JIDs are ours; everything else stays MIX-PRESENCE's.
        self.others: ProxyHandler | None = service.proxy_handler
        service.proxy_handler = self.receive

    async def receive(self, stanza: Stanza, state: ChannelState, pid: str) -> None:
        if stanza.kind is not Kind.MESSAGE:
            if stanza.kind is Kind.IQ and stanza.is_request:
                self._check_vcard(stanza, state, pid)
            if self.others is not None:
                await self.others(stanza, state, pid)
            return
        if stanza.is_error:
            await self._error_back(stanza, state)
        elif stanza.type == "groupchat":
            raise StanzaError(
                StanzaErrorCondition.BAD_REQUEST, "private messages are not groupchat"
            )
        else:
            await self._private(stanza, state, pid)

    async def _private(self, stanza: Stanza, state: ChannelState, pid: str) -> None:
        to = stanza.to
        assert to is not None
        sender = state.participants.get(str(stanza.sender.bare))
        if sender is None:
            raise StanzaError(
                StanzaErrorCondition.FORBIDDEN, "private messages are between participants"
            )
        if not state.config.flag(PRIVATE_MESSAGES):
            raise StanzaError(
                StanzaErrorCondition.NOT_ALLOWED, "this channel does not allow private messages"
            )
        recipient, target = self._target(state, pid, to)
        if anon_rules.effective(recipient.preferences)[anon_rules.PRIVATE_MESSAGES] == "block":
            raise StanzaError(
                StanzaErrorCondition.NOT_ALLOWED, "this participant takes no private messages"
            )
        source = proxy_jid(state.jid, sender.id, state.channel.secret, stanza.sender)
        await self.service.send(relayed(stanza.element, source, target, sender.nick))

    def _check_vcard(self, stanza: Stanza, state: ChannelState, pid: str) -> None:
        """A vCard request through the channel reaches a participant only as
        `anon.vcard_shared` says (XEP-0404 4.1 "vCard", default block)."""
        payload = iq_payload(stanza)
        if payload is None or (payload.ns, payload.name) not in VCARD_REQUESTS:
            return
        if str(stanza.sender.bare) not in state.participants:
            return  # the relay refuses non-participants itself
        to = stanza.to
        assert to is not None
        recipient, _ = self._target(state, pid, to)
        if not anon.vcard_shared(self.service, state, str(stanza.sender.bare), recipient.jid):
            raise StanzaError(
                StanzaErrorCondition.FORBIDDEN, "this participant's vCard is not shared here"
            )

    @staticmethod
    def _target(state: ChannelState, pid: str, to: JID) -> tuple[Participant, JID]:
        """The recipient and where the message goes: the client behind a
        present proxy full JID, else the participant's bare JID."""
        if to.resource is not None:
            entry = state.presence.get(to)
            if entry is not None:
                participant = state.participants.get(entry.user)
                if participant is not None:
                    return participant, entry.client
        participant = next((p for p in state.participants.values() if p.id == pid), None)
        if participant is None:
            raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "no such participant")
        return participant, JID.parse(participant.jid)

    async def _error_back(self, stanza: Stanza, state: ChannelState) -> None:
        """An error for a private message we sent on: from the recipient's
        side (its real JID or its server) to the sender's proxy JID."""
        to = stanza.to
        assert to is not None
        sender = self._behind(state, to)
        failed = state.participants.get(str(stanza.sender.bare))
        if sender is None or failed is None:
            return  # nobody to tell, or not an answer to one of ours
        answer = stanza.element.copy()
        for error in answer.elements:
            if error.name == "error":  # whatever namespace the sender wrote it in
                error.children = [
                    c for c in error.children if not (isinstance(c, Element) and c.name == "text")
                ]
        answer.attrs["from"] = str(proxy_bare(state.jid, failed.id))
        answer.attrs["to"] = str(sender)
        await self.service.send(answer)

    @staticmethod
    def _behind(state: ChannelState, proxy: JID) -> JID | None:
        """The real JID a proxy JID of this channel stands for."""
        if proxy.resource is not None:
            entry = state.presence.get(proxy)
            if entry is not None:
                return entry.client
        pid = (proxy.local or "").partition("#")[0]
        participant = next((p for p in state.participants.values() if p.id == pid), None)
        return JID.parse(participant.jid) if participant is not None else None
