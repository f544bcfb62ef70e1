"""IQ relay through a channel (XEP-0403 section 4.5, 4.6).

A participant asks another participant's client (its proxy full JID, from
the presence node) or the participant itself (the proxy bare JID: the
user's server answers, e.g. a vCard) through the channel. The channel sends
the request on from the asker's own proxy JID, so neither side needs the
other's real JID to get through, and passes the answer back from the proxy
JID that was asked.

Policy: only between participants. A request from anyone else is
`forbidden`; a proxy full JID with no presence in the channel is
`service-unavailable`, as an offline full JID is (RFC 6121 8.5.3.2.1); an
unknown participant id is `item-not-found`. Requests waiting for an answer
are remembered for `PENDING_SECONDS` (at most `MAX_PENDING` per service); an
answer that comes later is dropped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from mixd.codec.stanza import Kind, Stanza
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.services.mix.presence_state import proxy_jid
from mixd.services.mix.service import MixService
from mixd.services.mix.state import ChannelState

PENDING_SECONDS = 60.0
MAX_PENDING = 10_000


@dataclass(frozen=True, slots=True)
class _Pending:
    requester: JID  # who asked (real JID)
    asked: JID  # the proxy JID it asked, which the answer comes from
    deadline: float


class IqRelay:
    def __init__(self, service: MixService) -> None:
        self.service = service
        service.proxy_handler = self.receive
        # (asker's proxy JID, target's real JID, iq id), oldest first
        self._pending: dict[tuple[str, str, str], _Pending] = {}

    async def receive(self, stanza: Stanza, state: ChannelState, pid: str) -> None:
        if stanza.kind is Kind.IQ:
            if stanza.is_request:
                await self._request(stanza, state, pid)
            else:
                await self._answer(stanza)
        elif stanza.kind is Kind.MESSAGE and not stanza.is_error:
            # Messages are private.PrivateMessages', which wraps this handler.
            raise StanzaError(StanzaErrorCondition.SERVICE_UNAVAILABLE)
        # Presence to a proxy JID means nothing.

    async def _request(self, stanza: Stanza, state: ChannelState, pid: str) -> None:
        requester, asked = stanza.sender, stanza.to
        assert asked is not None
        asker = state.participants.get(str(requester.bare))
        if asker is None:
            raise StanzaError(StanzaErrorCondition.FORBIDDEN, "relayed between participants only")
        target = self._target(state, pid, asked)
        self._expire()
        if len(self._pending) >= MAX_PENDING:
            raise StanzaError(StanzaErrorCondition.RESOURCE_CONSTRAINT, "too many relayed requests")
        sender = proxy_jid(state.jid, asker.id, state.channel.secret, requester)
        key = (str(sender), str(target), stanza.id or "")
        self._pending.pop(key, None)  # a reused id starts again at the end
        self._pending[key] = _Pending(requester, asked, time.monotonic() + PENDING_SECONDS)
        relayed = stanza.element.copy()
        relayed.attrs["from"], relayed.attrs["to"] = key[0], key[1]
        await self.service.send(relayed)

    @staticmethod
    def _target(state: ChannelState, pid: str, asked: JID) -> JID:
        """The real JID behind a proxy JID (a participant's client or bare JID)."""
        if asked.resource is None:
            user = next((p.jid for p in state.participants.values() if p.id == pid), None)
            if user is None:
                raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "no such participant")
            return JID.parse(user)
        entry = state.presence.get(asked)
        if entry is None:
            raise StanzaError(StanzaErrorCondition.SERVICE_UNAVAILABLE)
        if entry.user not in state.participants:  # present through open presence only
            raise StanzaError(StanzaErrorCondition.FORBIDDEN, "relayed between participants only")
        return entry.client

    async def _answer(self, stanza: Stanza) -> None:
        key = (str(stanza.to), str(stanza.sender), stanza.id or "")
        pending = self._pending.pop(key, None)
        if pending is None or pending.deadline < time.monotonic():
            return
        answer = stanza.element.copy()
        answer.attrs["from"], answer.attrs["to"] = str(pending.asked), str(pending.requester)
        await self.service.send(answer)

    def _expire(self) -> None:
        now = time.monotonic()
        while self._pending:
            key = next(iter(self._pending))
            if self._pending[key].deadline >= now:
                return
            del self._pending[key]
