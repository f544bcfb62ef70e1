"""Stanzas from one occupant to another through `channel/nick`: private
messages (XEP-0045 7.5), IQs relayed to the occupant (XEP-0045 7.2.x leaves
them to the service; clients ask occupants for vCards this way), and
self-ping (XEP-0410), which the room answers itself.

Only joined MUC clients may address occupants. A private message reaches
the recipient's joined MUC clients; a participant present only through MIX
gets its private messages through proxy JIDs (MIX-ANON, not yet). An IQ goes
from the asker's occupant JID: a vCard request to the occupant's bare JID
(the user's server answers), anything else to one of its MUC clients; the
answer, result or error, returns from the occupant JID that was asked.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mixd import ns as NS
from mixd.codec.stanza import Stanza, iq_payload, iq_result
from mixd.codec.xep0045_muc import occupant_id
from mixd.errors import ErrorType, StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.services.mix import anon
from mixd.services.mix.muc import rules
from mixd.services.mix.service import MixService
from mixd.services.mix.state import ChannelState
from mixd.storage.contracts.mix import Participant

if TYPE_CHECKING:
    from mixd.services.mix.muc.face import MucFace
    from mixd.services.mix.muc.room import Room

PENDING_SECONDS = 60.0
MAX_PENDING = 10_000  # relayed IQs awaiting an answer, per service


@dataclass(frozen=True, slots=True)
class _Pending:
    asker: JID  # the MUC client that asked
    asker_id: str | None  # its IQ id
    target: JID  # who was asked
    asked: JID  # the occupant JID it asked (answers come from there)
    expires: float


def _not_occupant() -> StanzaError:
    return StanzaError(StanzaErrorCondition.NOT_ACCEPTABLE, "not an occupant of this room")


def _not_muc() -> StanzaError:
    # A participant present only through MIX: its clients are reached
    # through proxy JIDs (MIX-ANON, not yet).
    return StanzaError(
        StanzaErrorCondition.FEATURE_NOT_IMPLEMENTED, "that occupant is not a MUC client"
    )


class BetweenOccupants:
    def __init__(self, service: MixService, face: MucFace) -> None:
        self.service = service
        self.face = face
        self.pending: dict[str, _Pending] = {}  # by the id of the relayed IQ

    def _sender(self, stanza: Stanza, state: ChannelState) -> tuple[Room, Participant]:
        room = self.face.rooms.get(str(state.jid))
        user = room.occupants.get(stanza.sender) if room is not None else None
        sender = state.participants.get(user) if user is not None else None
        if room is None or sender is None:
            raise _not_occupant()
        return room, sender

    def _target(self, state: ChannelState, nick: str) -> str:
        target = state.nick_holder(nick)
        if target is None:
            raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "no occupant with that nick")
        return target

    async def message(self, stanza: Stanza, state: ChannelState, nick: str) -> None:
        room, sender = self._sender(stanza, state)
        if stanza.type == "groupchat":
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "send groupchat to the room")
        clients = room.resources_of(self._target(state, nick))
        if not clients:
            raise _not_muc()
        message = stanza.element.copy()
        rules.strip_server_owned(message)
        message.attrs = {"from": f"{state.jid}/{sender.nick}", "type": stanza.type}
        message.set("id", stanza.id)
        message.add(NS.MUC_USER, "x")
        message.append(occupant_id(rules.occupant_id_of(state.channel.secret, sender.id)))
        await self.face.delivery.many(clients, message)

    async def iq(self, stanza: Stanza, state: ChannelState, nick: str) -> None:
        if not stanza.is_request:
            await self._answer(stanza, state)
            return
        room, sender = self._sender(stanza, state)
        payload = iq_payload(stanza)
        target_user = self._target(state, nick)
        if target_user == sender.jid and payload is not None and payload.is_(NS.PING, "ping"):
            await self.face.reach.send(iq_result(stanza))  # self-ping (XEP-0410)
            return
        if payload is not None and payload.is_(NS.VCARD, "vCard"):
            if not anon.vcard_shared(self.service, state, sender.jid, target_user):
                raise StanzaError(StanzaErrorCondition.FORBIDDEN, "that vCard is not shared here")
            target = JID.parse(target_user)
        else:
            clients = room.resources_of(target_user)
            if not clients:
                raise _not_muc()
            target = clients[0]
        await self._relay(stanza, state, sender, target, JID.parse(f"{state.jid}/{nick}"))

    async def _relay(
        self, stanza: Stanza, state: ChannelState, sender: Participant, target: JID, asked: JID
    ) -> None:
        now = time.monotonic()
        self._expire(now)
        if len(self.pending) >= MAX_PENDING:
            raise StanzaError(
                StanzaErrorCondition.RESOURCE_CONSTRAINT, "too many requests", ErrorType.WAIT
            )
        relay_id = secrets.token_hex(12)
        self.pending[relay_id] = _Pending(
            stanza.sender, stanza.id, target, asked, now + PENDING_SECONDS
        )
        relayed = stanza.element.copy()
        relayed.attrs = {
            "type": stanza.type,
            "id": relay_id,
            "from": f"{state.jid}/{sender.nick}",
            "to": str(target),
        }
        await self.face.reach.send(relayed)

    async def _answer(self, stanza: Stanza, state: ChannelState) -> None:
        """The answer to a relayed IQ, back to the client that asked."""
        pending = self.pending.get(stanza.id or "")
        if pending is None or pending.target != stanza.sender:
            return
        del self.pending[stanza.id or ""]
        answer = stanza.element.copy()
        answer.attrs = {"type": stanza.type, "from": str(pending.asked)}
        answer.set("id", pending.asker_id)
        await self.face.delivery.one(pending.asker, answer)

    def _expire(self, now: float) -> None:
        for key, pending in list(self.pending.items()):
            if pending.expires > now:
                break  # in insertion order, so in order of expiry
            del self.pending[key]
