"""ArchiveStore in memory, for fast service tests; same contract as SQL backends."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from mixd.storage.contracts.archive import (
    ArchiveItem,
    ArchiveItemNotFound,
    ArchiveMessageNotFound,
    ArchivePage,
    ArchiveQuery,
    Bounds,
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


class MemoryArchiveStore:
    def __init__(self) -> None:
        self._messages: dict[str, MessageRecord] = {}
        self._refs: dict[str, int] = {}  # message id -> entries pointing at it
        self._archives: dict[str, list[_Entry]] = {}  # owner -> entries in order
        self._prefs: dict[str, Prefs] = {}
        self._seq = itertools.count(1)

    async def store(self, message: MessageRecord, entries: Sequence[NewEntry]) -> Stored:
        if not entries:
            raise ValueError("a message needs at least one archive entry")
        message_id = new_id()
        self._messages[message_id] = message
        self._refs[message_id] = 0
        return Stored(message_id, self._add(message_id, entries))

    async def add_entries(self, message_id: str, entries: Sequence[NewEntry]) -> tuple[str, ...]:
        if message_id not in self._messages:
            raise ArchiveMessageNotFound(message_id)
        return self._add(message_id, entries)

    def _add(self, message_id: str, entries: Sequence[NewEntry]) -> tuple[str, ...]:
        ids = []
        for spec in entries:
            entry = _Entry((spec.timestamp, next(self._seq)), new_id(), message_id, spec)
            archive = self._archives.setdefault(spec.owner, [])
            archive.append(entry)
            if len(archive) > 1 and archive[-2].key > entry.key:
                archive.sort(key=lambda e: e.key)  # a timestamp from the past
            ids.append(entry.id)
        self._refs[message_id] += len(entries)
        return tuple(ids)

    async def query(self, query: ArchiveQuery) -> ArchivePage:
        archive = self._archives.get(query.owner, [])
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
        archive = self._archives.get(owner)
        if not archive:
            return Bounds(None, None)
        return Bounds(self._item(archive[0]), self._item(archive[-1]))

    async def get_prefs(self, owner: str) -> Prefs:
        return self._prefs.get(owner, Prefs())

    async def set_prefs(self, owner: str, prefs: Prefs) -> None:
        self._prefs[owner] = prefs

    async def delete_owner(self, owner: str) -> int:
        self._prefs.pop(owner, None)
        archive = self._archives.pop(owner, [])
        for entry in archive:
            self._refs[entry.message_id] -= 1
            if self._refs[entry.message_id] == 0:
                del self._refs[entry.message_id]
                del self._messages[entry.message_id]
        return len(archive)

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
