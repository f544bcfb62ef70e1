"""Channel messages in the participants' own archives (XEP-0405 5.1.11,
`urn:xmpp:mix:pam:2#archive`), whether or not a client is online.

For a channel on this server the message is stored once: the channel
service asks `entries()` before it stores a message and commits one entry
per local subscriber of its messages node in the same transaction as its
own (`MixService.archive_copies`). `stored()` then remembers each user's
entry id under (channel, archive id), which is the id the reflected copy
carries, until delivery `take()`s it to stamp `<stanza-id by=user/>`: one
dictionary lookup per recipient, no storage call.

A channel message that arrives without such an entry (a channel elsewhere,
once federation exists) is stored as a copy in the user's archive.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from mixd import ns as NS
from mixd.codec.stanza import Stanza
from mixd.codec.xep0082_datetime import now_micros
from mixd.codec.xep0359_sid import add_stanza_id, origin_id, strip_stanza_ids
from mixd.jid import JID
from mixd.services.mam.rules import has_archivable_content
from mixd.services.mam.storage import guarded
from mixd.services.mix.state import ChannelState
from mixd.services.mix_pam import rules
from mixd.storage.contracts.archive import ArchiveStore, Direction, MessageRecord, NewEntry
from mixd.xml.serializer import serialize

# Messages whose entry ids wait for delivery. Delivery takes them in the
# same task right after the commit, so only a failure in between leaves one.
PENDING_MESSAGES = 1024


class ParticipantArchives:
    def __init__(self, hosts: frozenset[str], store: ArchiveStore) -> None:
        self.hosts = hosts
        self.store = store
        self._pending: OrderedDict[tuple[str, str], dict[str, str]] = OrderedDict()

    # -- ArchiveCopies, called by a local channel service ----------------------

    def entries(self, state: ChannelState, timestamp: int) -> Sequence[NewEntry]:
        recipients = (p.jid for p in state.subscribers(NS.MIX_NODE_MESSAGES))
        return rules.local_entries(state.jid, recipients, self.hosts, timestamp)

    def stored(
        self,
        state: ChannelState,
        archive_id: str,
        entries: Sequence[NewEntry],
        entry_ids: Sequence[str],
    ) -> None:
        if not entries:
            return
        ids = {entry.owner: entry_id for entry, entry_id in zip(entries, entry_ids, strict=True)}
        self._pending[(str(state.jid), archive_id)] = ids
        while len(self._pending) > PENDING_MESSAGES:
            self._pending.popitem(last=False)

    # -- delivery --------------------------------------------------------------

    def take(self, channel: JID, archive_id: str | None, user: JID) -> str | None:
        """The user's entry id for a message a local channel stored, once."""
        key = (str(channel), archive_id or "")
        ids = self._pending.get(key)
        if ids is None:
            return None
        entry_id = ids.pop(str(user), None)
        if not ids:
            del self._pending[key]
        return entry_id

    async def archive(self, stanza: Stanza, user: JID) -> None:
        """Put a groupchat message from a joined channel in `user`'s archive
        and stamp the user's `<stanza-id/>` on the copy being delivered (the
        channel's own stanza-id stays)."""
        element, channel = stanza.element, stanza.sender.bare
        strip_stanza_ids(element, lambda by: by is None or by.bare == user)
        entry_id = self.take(channel, stanza.id, user)
        if entry_id is None:
            if not has_archivable_content(element):
                return
            entry_id = await self._copy(stanza, user)
        add_stanza_id(element, entry_id, user)

    async def _copy(self, stanza: Stanza, user: JID) -> str:
        element, sender = stanza.element, stanza.sender
        now = now_micros()
        record = MessageRecord(
            serialize(element), now, str(sender.bare), stanza.type, origin_id(element)
        )
        entry = NewEntry(str(user), str(sender.bare), Direction.IN, now, sender.resource)
        return (await guarded(self.store.store(record, [entry]))).entry_ids[0]
