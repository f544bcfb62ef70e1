"""Message retraction for MUC clients, done by MIX-MISC retraction
(`services/mix/misc/retraction.py`, XEP-0407), so MIX participants see it
too and the channel's archive keeps the tombstone.

- XEP-0425 moderation: `<moderate id><retract/><reason/></moderate>` set
  to the room by a moderator (a MIX owner or administrator; anyone else is
  `forbidden`) retracts the message with that stanza id (the channel's
  archive id) as that moderator, within the rights "Administrator Message
  Retraction Rights" gives.
- XEP-0424: a groupchat with `<retract id/>` retracts the sender's message
  as the sender (rights from "User Message Retraction"); errors go back to
  the sender as message errors, as for any groupchat.
- Every retraction, from either face, reaches MUC clients in XEP-0424 or
  XEP-0425 form (`retract_rules.py`), and MAM results and history show
  retractions and tombstones in those forms.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from mixd import ns as NS
from mixd.codec.stanza import CodecError, Stanza
from mixd.codec.xep0407_misc import is_retraction, is_tombstone, retract_target
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.services.mix.admin.rights import Role
from mixd.services.mix.misc.retraction import Retractions
from mixd.services.mix.muc import retract_rules
from mixd.services.mix.muc.retract_rules import MODERATE, Moderator, moderator
from mixd.services.mix.muc.rules import mix_nick
from mixd.services.mix.service import MixService, Request, guarded
from mixd.services.mix.state import ChannelState
from mixd.storage.contracts.archive import ArchiveItem, ArchiveItemNotFound, ArchiveQuery
from mixd.storage.contracts.mix import Participant
from mixd.xml.element import Element
from mixd.xml.fragment import parse_element

if TYPE_CHECKING:
    from mixd.services.mix.muc.face import MucFace

log = logging.getLogger(__name__)


def _bad_request(exc: CodecError) -> StanzaError:
    return StanzaError(StanzaErrorCondition.BAD_REQUEST, str(exc))


class MucRetractions:
    def __init__(self, service: MixService, face: MucFace, retractions: Retractions) -> None:
        self.service = service
        self.face = face
        self.retractions = retractions
        service.on_iq("channel", MODERATE, "moderate", "set", self.moderate)
        # Before MIX-MISC's and the ordinary message path: a XEP-0424
        # retraction carries a fallback body.
        service.message_handlers.insert(0, self.groupchat)

    async def moderate(self, request: Request) -> Element | None:
        self.face.reach.require_muc()
        state = request.state()
        try:
            target, reason = retract_rules.moderate_request(request.payload)
        except CodecError as exc:
            raise _bad_request(exc) from None
        if self.service.role(state, request.sender) < Role.ADMIN:
            raise StanzaError(
                StanzaErrorCondition.FORBIDDEN, "only moderators may moderate messages"
            )
        request_element = retract_rules.moderation_request(reason)
        await self.retractions.retract(state, request.sender, target, request_element)
        return None

    async def groupchat(self, stanza: Stanza, state: ChannelState) -> bool:
        element = stanza.element
        try:
            target = retract_rules.own_retraction_target(element)
        except CodecError as exc:
            raise _bad_request(exc) from None
        if target is None:
            return False
        request = retract_rules.mix_request(element)
        await self.retractions.retract(state, stanza.sender, target, request)
        return True

    # -- retractions in MUC form ---------------------------------------------------

    async def _sender_of(self, state: ChannelState, target: str) -> str | None:
        """The participant id that sent the archived message `target`; None
        when it is gone or the archive cannot tell now (the retraction is
        done by then: MUC clients get it as the actor's own rather than the
        actor an error)."""
        query = ArchiveQuery(str(state.jid), 1, ids=(target,))
        try:
            page = await guarded(self.service.archive.query(query))
        except ArchiveItemNotFound:
            return None
        except StanzaError:
            log.warning("retracted message %s of %s not readable", target, state.jid)
            return None
        return page.items[0].with_resource if page.items else None

    async def reflected(self, state: ChannelState, muc: Element, sender: Participant) -> Element:
        """A retraction just reflected (`muc`: in MUC form, from the actor's
        occupant JID) as MUC clients get it."""
        target = muc.find(NS.MIX_MISC, "retract")
        target_id = (target.get("id") if target is not None else None) or ""
        who = await self._moderator(state, target_id, sender.id, sender.nick)
        return retract_rules.muc_retraction(muc, target_id, who)

    async def _moderator(
        self, state: ChannelState, target: str, actor: str, nick: str | None
    ) -> Moderator | None:
        """Who moderated, when the actor is not the message's sender (a
        message no longer in the archive counts as the actor's own). An
        actor without a nick (no participant) has no occupant JID to send
        XEP-0424 from: the room tells of it as moderation."""
        sent_by = await self._sender_of(state, target)
        if (sent_by is None or sent_by == actor) and nick:
            return None
        return moderator(state, actor, nick)

    async def archived(self, state: ChannelState, item: ArchiveItem, muc: Element) -> Element:
        """An archived message in MUC form (`muc`), a retraction or a
        tombstone in XEP-0424/0425 form; anything else unchanged."""
        stored = parse_element(item.xml)
        actor = item.with_resource or ""
        if is_retraction(stored):
            target = retract_target(stored) or ""
            who = await self._moderator(state, target, actor, mix_nick(stored))
            return retract_rules.muc_retraction(muc, target, who)
        if is_tombstone(stored):
            retracted = stored.find(NS.MIX_MISC, "retracted")
            by = retracted.get("by") if retracted is not None else None
            pid = retract_rules.participant_id_of(state, by) if by else None
            found = None if pid is None or pid == actor else moderator(state, pid, None)
            return retract_rules.muc_tombstone(muc, found)
        return muc
