"""Channel messages in the participants' own archives (XEP-0405 5.1.11,
`urn:xmpp:mix:pam:2#archive`), whether or not a client is online.

For a channel on this server nothing is copied: the user's archive follows
the channel's (`ArchiveStore.follow`) while the user is subscribed to its
messages, so the channel's archive id is the user's too and storing a
message costs the same for 3 participants or 3,000 (see `local.py`).

A channel message from elsewhere (once federation exists) is stored as a
copy in the user's archive.
"""

from __future__ import annotations

from mixd.codec.stanza import Stanza
from mixd.codec.xep0082_datetime import now_micros
from mixd.codec.xep0359_sid import add_stanza_id, origin_id, strip_stanza_ids
from mixd.jid import JID
from mixd.services.mam.rules import has_archivable_content
from mixd.services.mam.storage import guarded
from mixd.storage.contracts.archive import ArchiveStore, Direction, MessageRecord, NewEntry
from mixd.xml.serializer import serialize


class ParticipantArchives:
    def __init__(self, store: ArchiveStore) -> None:
        self.store = store

    async def archive(self, stanza: Stanza, user: JID, *, followed: bool) -> None:
        """Stamp the user's `<stanza-id/>` on a groupchat message from a
        joined channel (the channel's own stays): the channel's archive id
        when the user's archive follows the channel, else a new copy's."""
        element = stanza.element
        strip_stanza_ids(element, lambda by: by is None or by.bare == user)
        if followed and stanza.id:
            add_stanza_id(element, stanza.id, user)
        elif has_archivable_content(element):
            add_stanza_id(element, await self._copy(stanza, user), user)

    async def _copy(self, stanza: Stanza, user: JID) -> str:
        element, sender = stanza.element, stanza.sender
        now = now_micros()
        record = MessageRecord(
            serialize(element), now, str(sender.bare), stanza.type, origin_id(element)
        )
        entry = NewEntry(str(user), str(sender.bare), Direction.IN, now, sender.resource)
        return (await guarded(self.store.store(record, [entry]))).entry_ids[0]
