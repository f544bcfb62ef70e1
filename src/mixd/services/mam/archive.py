"""The archiving message stage: every archivable message a local user sends
or is about to receive enters that user's archive before it moves on.

- `outbound`: client-supplied `<stanza-id/>` claiming any local JID are
  stripped (all copies, RELIABILITY C4); the message is stored once, with an
  entry in the sender's archive. A resend with the same origin-id (the
  client never saw the acknowledgement) is not stored again, and goes no
  further if the recipient's archive has it too (`AlreadyHandled`).
- `inbound`: forged `<stanza-id by=recipient/>` are stripped; the recipient's
  archive gets an entry and the message a `<stanza-id by=recipient/>`. A
  message between two local users is not stored again: the outbound step
  leaves the stored message's id for the inbound step of the same stanza.
- `undeliverable`: the recipient's archive still gets the message (with its
  stanza-id, which offline storage then keeps) and the stage returns False.
  This stage must therefore run before the offline stage (catalog order):
  offline storage claims the message and ends the pipeline.

Each call returns after the archive commit; a storage failure raises
`internal-server-error` (wait), so the sender gets an error and nothing is
delivered.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass

from mixd.codec.stanza import Stanza
from mixd.codec.xep0082_datetime import now_micros
from mixd.codec.xep0359_sid import add_stanza_id, origin_id, strip_stanza_ids
from mixd.core.pipeline import AlreadyHandled, MessageStage
from mixd.core.sessions import Session
from mixd.jid import JID
from mixd.services.mam.quota import QuotaKeeper
from mixd.services.mam.rules import is_archivable, prefs_allow
from mixd.services.mam.storage import PrefsCache, guarded
from mixd.storage.contracts.accounts import AccountStore
from mixd.storage.contracts.archive import (
    ArchiveMessageNotFound,
    ArchiveStore,
    DefaultMode,
    Direction,
    MessageRecord,
    NewEntry,
)
from mixd.xml.serializer import serialize

# Whether `contact` is in `owner`'s roster (for the `roster` default).
RosterCheck = Callable[[JID, JID], Awaitable[bool]]


async def no_roster(owner: JID, contact: JID) -> bool:
    """Without a roster nobody is in one: `roster` archives only the JIDs on
    the `always` list."""
    return False


@dataclass(frozen=True, slots=True)
class _Stored:
    """What the outbound step stored for one stanza."""

    stanza: Stanza
    message_id: str
    owner: JID  # the sender's bare JID
    entry_id: str


# The router awaits outbound, then inbound/undeliverable for the same stanza,
# in the same task (each session routes its stanzas in order on its own
# task). A context variable carries the handoff: it is never shared between
# sessions, holds at most one stanza per task and is checked by identity.
_last_stored: ContextVar[_Stored | None] = ContextVar("mixd_mam_last_stored", default=None)


class ArchiveStage(MessageStage):
    def __init__(
        self,
        hosts: frozenset[str],
        store: ArchiveStore,
        accounts: AccountStore,
        prefs: PrefsCache,
        in_roster: RosterCheck = no_roster,
        quota: QuotaKeeper | None = None,
    ) -> None:
        self.quota = quota
        self.hosts = hosts
        self.store = store
        self.accounts = accounts
        self.prefs = prefs
        self.in_roster = in_roster

    async def outbound(self, stanza: Stanza, session: Session) -> None:
        _last_stored.set(None)
        element = stanza.element
        strip_stanza_ids(element, lambda by: by is None or by.domain in self.hosts)
        if not is_archivable(stanza.type, element):
            return
        owner = stanza.sender.bare
        to = stanza.to or owner
        if to.local is None:
            return  # to a domain (the server, a service): not a conversation
        if not await self._allowed(owner, to):
            return
        now = now_micros()
        record = MessageRecord(serialize(element), now, str(owner), stanza.type, origin_id(element))
        entry = NewEntry(str(owner), str(to.bare), Direction.OUT, now, to.resource)
        stored = await guarded(self.store.store(record, [entry]))
        if stored.duplicate and str(to.bare) in stored.holders:
            raise AlreadyHandled
        if self.quota is not None and not stored.duplicate:
            await self.quota.stored(str(owner))
        _last_stored.set(_Stored(stanza, stored.message_id, owner, stored.entry_ids[0]))

    async def inbound(self, stanza: Stanza, to: JID) -> None:
        await self._archive_incoming(stanza, to)

    async def undeliverable(self, stanza: Stanza, to: JID) -> bool:
        if to.local is None:
            return False
        account = await guarded(self.accounts.get(to.domain, to.local))
        if account is not None:
            await self._archive_incoming(stanza, to)
        return False  # never claims it: offline storage (or the bounce) comes next

    async def _archive_incoming(self, stanza: Stanza, owner: JID) -> None:
        stored = _last_stored.get()
        if stored is not None:
            _last_stored.set(None)
            if stored.stanza is not stanza:
                stored = None
        element = stanza.element
        strip_stanza_ids(element, lambda by: by is None or by.bare == owner)
        if not is_archivable(stanza.type, element):
            return
        if stored is not None and stored.owner == owner:
            # A message to oneself: one archive entry, already there.
            add_stanza_id(element, stored.entry_id, owner)
            return
        sender = stanza.sender
        if not await self._allowed(owner, sender):
            return
        now = now_micros()
        entry = NewEntry(str(owner), str(sender.bare), Direction.IN, now, sender.resource)
        entry_id = None
        if stored is not None:
            # The sender's copy may have expired at once (archive quota): then store ours.
            with contextlib.suppress(ArchiveMessageNotFound):
                (entry_id,) = await guarded(self.store.add_entries(stored.message_id, [entry]))
        if entry_id is None:
            record = MessageRecord(
                serialize(element), now, str(sender.bare), stanza.type, origin_id(element)
            )
            entry_id = (await guarded(self.store.store(record, [entry]))).entry_ids[0]
        if self.quota is not None:
            await self.quota.stored(str(owner))
        add_stanza_id(element, entry_id, owner)

    async def _allowed(self, owner: JID, other: JID) -> bool:
        prefs = await self.prefs.get(str(owner))
        in_roster = prefs.default is DefaultMode.ROSTER and await self.in_roster(owner, other.bare)
        return prefs_allow(prefs, other, in_roster)
