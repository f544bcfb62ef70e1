"""Channel messages on the MUC side: what the channel reflects goes to every
joined MUC client from `channel/nick` (serialized once), and a subject change
from a MUC client is refused (the subject is the channel's info node)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mixd import ns as NS
from mixd.codec.stanza import Stanza
from mixd.codec.xep0407_misc import is_retraction
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.services.mix.muc import rules
from mixd.services.mix.service import MixService
from mixd.services.mix.state import ChannelState
from mixd.storage.contracts.mix import Participant
from mixd.xml.element import Element

if TYPE_CHECKING:
    from mixd.services.mix.muc.face import MucFace


class ChannelMessages:
    def __init__(self, service: MixService, face: MucFace) -> None:
        self.face = face
        service.reflect_listeners.append(self.reflected)
        service.message_handlers.insert(0, self.check_subject)

    async def reflected(
        self,
        state: ChannelState,
        message: Element,
        sender: Participant,
        original: Element,
        duplicate: bool,
    ) -> None:
        """A message the channel reflected, to every joined MUC client (only
        the sender's when it was a resent duplicate)."""
        room = self.face.rooms.get(str(state.jid))
        if room is None:
            return
        if duplicate:
            clients = room.resources_of(sender.jid)
        else:  # not to a user banned while this message was being stored
            participants, leaving = state.participants, state.leaving
            clients = [
                client
                for client, user in room.occupants.items()
                if user in participants and user not in leaving
            ]
        if not clients:
            return
        occupant = rules.occupant_id_of(state.channel.secret, sender.id)
        muc = rules.muc_message(message, str(state.jid), sender.nick, occupant)
        muc.attrs["id"] = original.get("id") or message.attrs["id"]
        if self.face.retractions is not None and is_retraction(message):
            muc = await self.face.retractions.reflected(state, muc, sender)
        await self.face.delivery.many(clients, muc)

    async def check_subject(self, stanza: Stanza, state: ChannelState) -> None:
        """The subject is the channel's info node, set through MIX."""
        element = stanza.element
        subject = element.find(NS.CLIENT, "subject")
        if subject is not None and element.find(NS.CLIENT, "body") is None:
            raise StanzaError(
                StanzaErrorCondition.FORBIDDEN, "the subject is the channel's info; set it there"
            )
