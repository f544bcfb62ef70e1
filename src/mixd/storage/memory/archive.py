"""ArchiveStore in memory, for fast service tests; same contract as SQL backends."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace

from mixd.storage.contracts.archive import (
    ArchiveConflict,
    ArchiveItem,
    ArchiveItemNotFound,
    ArchiveMessageNotFound,
    ArchivePage,
    ArchiveQuery,
    Bounds,
    Direction,
    MessageRecord,
    NewEntry,
    Prefs,
    Stored,
    new_id,
)


@dataclass(frozen=True, slots=True)
class _Entry:
    key: tuple[int, int]  # (timestamp, seq)
    id: str
    message_id: str
    spec: NewEntry


@dataclass(slots=True)
class _Span:
    feed: str
    start: int  # first seq shown
    end: int | None = None  # first seq no longer shown; None while following


class MemoryArchiveStore:
    def __init__(self) -> None:
        self._messages: dict[str, MessageRecord] = {}
        self._refs: dict[str, int] = {}  # message id -> entries pointing at it
        self._archives: dict[str, list[_Entry]] = {}  # owner -> entries in order
        self._spans: dict[str, list[_Span]] = {}  # owner -> what it follows
        self._prefs: dict[str, Prefs] = {}
        self._seq = itertools.count(1)
        self._next_seq = 1

    async def store(self, message: MessageRecord, entries: Sequence[NewEntry]) -> Stored:
        if not entries:
            raise ValueError("a message needs at least one archive entry")
        if message.origin_id is not None:
            earlier = self._earlier_copy(message, entries)
            if earlier is not None:
                return earlier
        message_id = new_id()
        self._messages[message_id] = message
        self._refs[message_id] = 0
        return Stored(message_id, self._add(message_id, entries))

    async def add_entries(self, message_id: str, entries: Sequence[NewEntry]) -> tuple[str, ...]:
        if message_id not in self._messages:
            raise ArchiveMessageNotFound(message_id)
        return self._add(message_id, entries)

    async def retract(
        self,
        owner: str,
        entry_id: str,
        expected: str | None,
        tombstone: str,
        notice: MessageRecord,
        entries: Sequence[NewEntry],
    ) -> Stored:
        if not entries:
            raise ValueError("a message needs at least one archive entry")
        if notice.origin_id is not None:
            earlier = self._earlier_copy(notice, entries)
            if earlier is not None:
                return earlier
        target = next((e for e in self._archives.get(owner, []) if e.id == entry_id), None)
        if target is None:
            raise ArchiveItemNotFound(entry_id)
        message = self._messages[target.message_id]
        if expected is None or message.xml != expected:
            raise ArchiveConflict(entry_id)
        self._messages[target.message_id] = replace(message, xml=tombstone)
        message_id = new_id()
        self._messages[message_id] = notice
        self._refs[message_id] = 0
        return Stored(message_id, self._add(message_id, entries))

    def _earlier_copy(self, message: MessageRecord, entries: Sequence[NewEntry]) -> Stored | None:
        for message_id, earlier in self._messages.items():
            if (earlier.sender, earlier.origin_id) != (message.sender, message.origin_id):
                continue
            held = {
                (e.spec.owner, e.spec.with_jid): e.id
                for archive in self._archives.values()
                for e in archive
                if e.message_id == message_id
            }
            wanted = [(e.owner, e.with_jid) for e in entries]
            if all(key in held for key in wanted):
                holders = frozenset(owner for owner, _ in held)
                ids = tuple(held[key] for key in wanted)
                return Stored(message_id, ids, duplicate=True, holders=holders)
        return None

    def _add(
        self, message_id: str, entries: Sequence[NewEntry], given: Sequence[str] = ()
    ) -> tuple[str, ...]:
        """Append entries (with the `given` ids when restoring a dump)."""
        ids = []
        for index, spec in enumerate(entries):
            self._next_seq = next(self._seq) + 1
            entry_id = given[index] if given else new_id()
            entry = _Entry((spec.timestamp, self._next_seq - 1), entry_id, message_id, spec)
            archive = self._archives.setdefault(spec.owner, [])
            archive.append(entry)
            if len(archive) > 1 and archive[-2].key > entry.key:
                archive.sort(key=lambda e: e.key)  # a timestamp from the past
            ids.append(entry_id)
        self._refs[message_id] += len(entries)
        return tuple(ids)

    def _visible(self, owner: str) -> list[_Entry]:
        """The owner's entries and those of the spans it follows, in order."""
        shown = list(self._archives.get(owner, []))
        for span in self._spans.get(owner, []):
            end = span.end if span.end is not None else self._next_seq
            for entry in self._archives.get(span.feed, []):
                if span.start <= entry.key[1] < end:
                    spec = replace(entry.spec, with_jid=span.feed, direction=Direction.IN)
                    shown.append(replace(entry, spec=spec))
        shown.sort(key=lambda e: e.key)
        return shown

    async def query(self, query: ArchiveQuery) -> ArchivePage:
        archive = self._visible(query.owner)
        by_id = {e.id: e for e in archive}

        def key_of(item_id: str) -> tuple[int, int]:
            entry = by_id.get(item_id)
            if entry is None:
                raise ArchiveItemNotFound(item_id)
            return entry.key

        low = key_of(query.after_id) if query.after_id is not None else None
        high = key_of(query.before_id) if query.before_id is not None else None
        wanted = {key_of(i) for i in query.ids}
        matching = [
            e
            for e in archive
            if _matches(e, query)
            and (low is None or e.key > low)
            and (high is None or e.key < high)
            and (not query.ids or e.key in wanted)
        ]
        if query.from_end:
            upper = key_of(query.before) if query.before else None
            window = [e for e in matching if upper is None or e.key < upper]
            page = window[max(0, len(window) - query.limit) :] if query.limit else []
            complete = len(window) <= query.limit
        else:
            if query.after is not None:
                cursor = key_of(query.after)
                window = [e for e in matching if e.key > cursor]
            else:
                window = matching[query.index or 0 :]
            page = window[: query.limit]
            complete = len(window) <= query.limit
        first_index = matching.index(page[0]) if page else None
        items = tuple(self._item(e) for e in page)
        return ArchivePage(items, len(matching), first_index, complete)

    def _item(self, entry: _Entry) -> ArchiveItem:
        spec = entry.spec
        return ArchiveItem(
            entry.id,
            entry.message_id,
            spec.timestamp,
            spec.with_jid,
            spec.with_resource,
            spec.direction,
            self._messages[entry.message_id].xml,
        )

    async def bounds(self, owner: str) -> Bounds:
        archive = self._visible(owner)
        if not archive:
            return Bounds(None, None)
        return Bounds(self._item(archive[0]), self._item(archive[-1]))

    async def get_prefs(self, owner: str) -> Prefs:
        return self._prefs.get(owner, Prefs())

    async def set_prefs(self, owner: str, prefs: Prefs) -> None:
        self._prefs[owner] = prefs

    async def follow(self, owner: str, feed: str) -> None:
        spans = [s for s in self._spans.get(owner, []) if s.feed == feed]
        if any(s.end is None for s in spans):
            return
        resumed = next((s for s in spans if s.end == self._next_seq), None)
        if resumed is not None:
            resumed.end = None
        else:
            self._spans.setdefault(owner, []).append(_Span(feed, self._next_seq))

    async def unfollow(self, owner: str, feed: str) -> None:
        spans = self._spans.get(owner, [])
        for span in spans:
            if span.feed == feed and span.end is None:
                span.end = self._next_seq
        spans[:] = [s for s in spans if s.end != s.start]

    async def followers(self, feed: str) -> frozenset[str]:
        return frozenset(
            owner
            for owner, spans in self._spans.items()
            if any(s.feed == feed and s.end is None for s in spans)
        )

    async def delete_owner(self, owner: str) -> int:
        self._prefs.pop(owner, None)
        self._spans.pop(owner, None)
        for follower, spans in self._spans.items():
            kept = [s for s in spans if s.feed != owner]
            if len(kept) == len(spans):
                continue
            copies = [e for e in self._visible(follower) if e.spec.with_jid == owner]
            spans[:] = kept
            for entry in copies:
                if entry.spec.owner == owner:  # shown through the feed
                    self._add(entry.message_id, [replace(entry.spec, owner=follower)])
        archive = self._archives.pop(owner, [])
        for entry in archive:
            self._refs[entry.message_id] -= 1
            if self._refs[entry.message_id] == 0:
                del self._refs[entry.message_id]
                del self._messages[entry.message_id]
        return len(archive)

    async def trim(self, owner: str, keep: int) -> int:
        if keep < 1:
            raise ValueError("an archive quota keeps at least one entry")
        archive = self._archives.get(owner, [])  # kept sorted by (timestamp, seq)
        removed, archive[:] = archive[: max(0, len(archive) - keep)], archive[-keep:]
        for entry in removed:
            self._refs[entry.message_id] -= 1
            if self._refs[entry.message_id] == 0:
                del self._refs[entry.message_id]
                del self._messages[entry.message_id]
        return len(removed)

    def message_count(self) -> int:
        """How many messages are stored (tests check sharing)."""
        return len(self._messages)


def _matches(entry: _Entry, query: ArchiveQuery) -> bool:
    spec = entry.spec
    if query.with_jid is not None and spec.with_jid != query.with_jid:
        return False
    if query.with_resource is not None and spec.with_resource != query.with_resource:
        return False
    if query.start is not None and spec.timestamp < query.start:
        return False
    return query.end is None or spec.timestamp <= query.end
