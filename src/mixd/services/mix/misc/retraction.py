"""Message retraction (XEP-0407 'Retracting a Message').

A groupchat to the channel carrying `<retract id='<archive id>'
xmlns='urn:xmpp:mix:misc:0'/>` (and no body) asks to retract a message of
the channel's archive. It is allowed to the message's sender when the
channel's "User Message Retraction" is on (within `mix.retraction_window`
of sending, when that is set), and to whoever "Administrator Message
Retraction Rights" names (admins or owners, any message, any age).

The retracted message becomes a tombstone (`codec.xep0407_misc.tombstone`:
body and payloads gone, `<retracted by time/>`) in the same commit that
stores the retraction request itself as a channel message, which is then
reflected like any other. Participants' archives follow the channel's and
reference the same stored message, so they show the tombstone too, and the
request in the archive tells clients that catch up through MAM.

`Retractions.retract` is the one way in, also for other faces of the
channel (MUC moderation).
"""

from __future__ import annotations

from dataclasses import dataclass

from mixd import ns as NS
from mixd.codec.stanza import CodecError, Stanza
from mixd.codec.xep0082_datetime import now_micros
from mixd.codec.xep0359_sid import add_stanza_id, origin_id
from mixd.codec.xep0369_mix import NAMESPACES, mix_element
from mixd.codec.xep0407_misc import is_retraction, is_tombstone, retract_target, tombstone
from mixd.errors import AppCondition, ErrorType, StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.services.mix import anon, rules
from mixd.services.mix.admin.rights import Role, permits
from mixd.services.mix.messages import Messages, attributed
from mixd.services.mix.service import MixService, guarded
from mixd.services.mix.state import ChannelState
from mixd.storage.contracts.archive import (
    ArchiveConflict,
    ArchiveItem,
    ArchiveItemNotFound,
    ArchiveQuery,
    Direction,
    MessageRecord,
    NewEntry,
)
from mixd.storage.contracts.mix import Participant
from mixd.xml.element import Element
from mixd.xml.fragment import parse_element
from mixd.xml.serializer import serialize

USER_RETRACTION = "User Message Retraction"
ADMIN_RETRACTION = "Administrator Message Retraction Rights"


@dataclass(frozen=True, slots=True)
class Retracted:
    """A retraction done: the request as reflected (its `id` is its archive
    id) and whether it was a resent duplicate (then only the actor got it)."""

    notice: Element
    duplicate: bool


class Retractions:
    def __init__(self, service: MixService, messages: Messages) -> None:
        self.service = service
        self.messages = messages
        # First: a retraction is not an ordinary message (no body, no
        # presence needed for an administrator who is not a participant).
        service.message_handlers.insert(0, self.groupchat)
        service.features.add(NS.MIX_MISC)

    async def groupchat(self, stanza: Stanza, state: ChannelState) -> bool:
        element = stanza.element
        try:
            target = retract_target(element)
        except CodecError as exc:
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, str(exc)) from None
        if target is None:
            return False
        if element.find(NS.CLIENT, "body") is not None:
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "a retraction has no body")
        await self.retract(state, stanza.sender, target, element)
        return True

    async def retract(
        self, state: ChannelState, actor: JID, target: str, request: Element | None = None
    ) -> Retracted:
        """Retract the channel message with archive id `target` on behalf of
        `actor`, after checking the actor's rights; `request` is the actor's
        own stanza when it sent one (its origin-id spots a resend, its
        other payloads travel with the notice). Raises the StanzaError the
        actor should get."""
        user = str(actor.bare)
        channel = str(state.jid)
        participant = state.participants.get(user)
        self._admit(channel, user)
        item = await self._item(state, target)
        stored_xml = item.xml
        original = parse_element(stored_xml)
        if is_retraction(original):
            raise StanzaError(
                StanzaErrorCondition.NOT_ACCEPTABLE, "a retraction cannot be retracted"
            )
        now = now_micros()
        self._authorize(state, actor, item, now)
        expected: str | None = stored_xml
        if is_tombstone(original):
            expected = None  # only a resent request (same origin-id) is accepted now
        notice = self._notice(state, actor, participant, target, request)
        origin = origin_id(request) if request is not None else None
        record = MessageRecord(serialize(notice), now, user, "groupchat", origin)
        pid = participant.id if participant is not None else self._id(state, actor)
        entry = NewEntry(channel, user, Direction.IN, now, pid)
        grave = serialize(tombstone(original, anon.public_name(state, user), now))
        try:
            stored = await guarded(
                self.service.archive.retract(channel, target, expected, grave, record, [entry])
            )
        except ArchiveConflict:
            raise StanzaError(StanzaErrorCondition.CONFLICT, "already retracted") from None
        except ArchiveItemNotFound:
            raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "no such message") from None
        archive_id = stored.entry_ids[0]
        notice.attrs["id"] = archive_id
        notice.attrs["from"] = f"{channel}/{pid}"
        add_stanza_id(notice, archive_id, state.jid)
        recipients = [p.jid for p in state.subscribers(NS.MIX_NODE_MESSAGES)]
        if stored.duplicate:
            recipients = [user] if user in recipients else []
        await self.service.reflect(state, notice, recipients)
        # Other faces (MUC) learn of it too, also when an administrator who
        # is no participant retracted: then as the nickless id it acts under.
        reflected_as = participant or Participant(channel, user, pid, "", frozenset(), now)
        original_request = request if request is not None else notice
        for listener in self.service.reflect_listeners:
            await listener(state, notice, reflected_as, original_request, stored.duplicate)
        return Retracted(notice, stored.duplicate)

    def _admit(self, channel: str, user: str) -> None:
        # Retractions count against the same allowance as messages (D13).
        senders = self.messages.senders
        if senders is not None and not senders.try_take(f"{channel} {user}"):
            raise StanzaError(
                StanzaErrorCondition.POLICY_VIOLATION,
                "too many messages to this channel, slow down",
                ErrorType.WAIT,
                AppCondition(NS.XMPP_ERRORS, "too-many-stanzas"),
            )

    async def _item(self, state: ChannelState, target: str) -> ArchiveItem:
        query = ArchiveQuery(str(state.jid), 1, ids=(target,))
        try:
            page = await guarded(self.service.archive.query(query))
        except ArchiveItemNotFound:
            page = None
        if page is None or not page.items:
            raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "no such message")
        return page.items[0]

    def _authorize(self, state: ChannelState, actor: JID, item: ArchiveItem, now: int) -> None:
        role = self.service.role(state, actor)
        if permits(state.config.one(ADMIN_RETRACTION), role):
            return  # administrators retract any message, of any age
        own = item.with_jid == str(actor.bare)
        if not own or role < Role.PARTICIPANT or not state.config.flag(USER_RETRACTION):
            raise StanzaError(StanzaErrorCondition.FORBIDDEN, "you may not retract this message")
        window = self.service.settings.retraction_window
        if window > 0 and now - item.timestamp > window * 1_000_000:
            raise StanzaError(StanzaErrorCondition.FORBIDDEN, "too old to retract")

    def _notice(
        self,
        state: ChannelState,
        actor: JID,
        participant: Participant | None,
        target: str,
        request: Element | None,
    ) -> Element:
        """The retraction as the channel stores and reflects it."""
        base = request if request is not None else Element(NS.CLIENT, "message")
        # MIX-ANON: no JID that not every participant may see.
        user = str(actor.bare)
        jid = user if anon.shown_to_all(state, user) else None
        notice = attributed(base, str(state.jid), "", jid)
        if participant is None:  # an administrator from outside: no nick
            for ns in NAMESPACES:
                notice.remove_all(ns, "mix")
            notice.append(mix_element(None, jid))
        else:
            notice.remove_all(NS.MIX_CORE, "mix")
            notice.append(mix_element(participant.nick, jid))
        notice.remove_all(NS.MIX_MISC, "retract")
        notice.add(NS.MIX_MISC, "retract", {"id": target})
        return notice

    def _id(self, state: ChannelState, actor: JID) -> str:
        """The stable id an administrator who is not a participant would have."""
        return rules.participant_id(state.channel.secret, actor)
