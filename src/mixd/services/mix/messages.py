"""Channel messages (XEP-0369 section 7.1.6): archive first, then reflect.

A participant's groupchat message is stripped of every client-supplied
`<mix/>` and `<stanza-id/>`, attributed, committed to the channel archive,
and only then sent to each subscriber of the messages node (the sender
included) with the archive id as message id and stanza-id. The message is
stored once: local participants' archives follow the channel's
(`MixService.set_participant`), so they show it with the same id.
"""

from __future__ import annotations

from mixd import ns as NS
from mixd.codec.stanza import Stanza
from mixd.codec.xep0082_datetime import now_micros
from mixd.codec.xep0359_sid import add_stanza_id, origin_id
from mixd.codec.xep0369_mix import NAMESPACES, mix_element
from mixd.core.rate import KeyedBuckets
from mixd.errors import AppCondition, ErrorType, StanzaError, StanzaErrorCondition
from mixd.services.mix import anon
from mixd.services.mix.service import MixService, guarded
from mixd.services.mix.state import ChannelState
from mixd.storage.contracts.archive import Direction, MessageRecord, NewEntry
from mixd.xml.element import Element
from mixd.xml.serializer import serialize


def attributed(original: Element, channel: str, nick: str, jid: str | None) -> Element:
    """The channel's copy: server-owned elements replaced, addressing cleared."""
    message = original.copy()
    for ns in NAMESPACES:
        message.remove_all(ns, "mix")
    message.remove_all(NS.SID, "stanza-id")
    message.remove_all(NS.OCCUPANT_ID, "occupant-id")
    message.attrs = {"from": channel, "type": "groupchat"}
    message.append(mix_element(nick, jid))
    return message


class Messages:
    def __init__(self, service: MixService) -> None:
        self.service = service
        service.message_handlers.append(self.groupchat)
        settings = service.settings
        # RELIABILITY D13: one sender cannot make a channel fan out without bound.
        self.senders = (
            KeyedBuckets(settings.message_rate, settings.message_burst)
            if settings.message_rate > 0
            else None
        )

    async def groupchat(self, stanza: Stanza, state: ChannelState) -> None:
        user = str(stanza.sender.bare)
        sender = state.participants.get(user)
        if sender is None:
            raise StanzaError(StanzaErrorCondition.FORBIDDEN, "join the channel to send messages")
        channel = str(state.jid)
        if self.senders is not None and not self.senders.try_take(f"{channel} {user}"):
            raise StanzaError(
                StanzaErrorCondition.POLICY_VIOLATION,
                "too many messages to this channel, slow down",
                ErrorType.WAIT,
                AppCondition(NS.XMPP_ERRORS, "too-many-stanzas"),
            )
        # MIX-ANON: the archive holds the variant every participant may see
        # (no <jid/> unless the sender's JID is shown to all); those who may
        # see it anyway (administrators, the sender) get their own copy.
        public = anon.shown_to_all(state, user)
        message = attributed(stanza.element, channel, sender.nick, sender.jid if public else None)
        # Recipients are fixed before the store is asked: a local user's
        # archive follows the channel from before the user is listed here,
        # so everyone this message reaches has it in their archive.
        recipients = [p.jid for p in state.subscribers(NS.MIX_NODE_MESSAGES)]
        now = now_micros()
        record = MessageRecord(
            serialize(message), now, user, "groupchat", origin_id(stanza.element)
        )
        entry = NewEntry(channel, user, Direction.IN, now, sender.id)
        stored = await guarded(self.service.archive.store(record, [entry]))
        if stored.duplicate:
            # Resent after a lost acknowledgement: the archives have it already
            # and subscribers had it then; only the sender hears back.
            recipients = [user] if user in recipients else []
        archive_id = stored.entry_ids[0]
        _address(message, archive_id, state, sender.id)
        if public:
            await self.service.reflect(state, message, recipients)
        else:
            seeing, blind = anon.split(self.service, state, recipients, user)
            await self.service.reflect(state, message, blind)
            if seeing:
                shown = attributed(stanza.element, channel, sender.nick, sender.jid)
                _address(shown, archive_id, state, sender.id)
                await self.service.reflect(state, shown, seeing)
        for listener in self.service.reflect_listeners:
            await listener(state, message, sender, stanza.element, stored.duplicate)


def _address(message: Element, archive_id: str, state: ChannelState, sender_id: str) -> None:
    message.attrs["id"] = archive_id
    message.attrs["from"] = f"{state.jid}/{sender_id}"
    add_stanza_id(message, archive_id, state.jid)
