"""SQLite keeps archive sizes in counters so a page never scans the archive;
past `EXACT_LIMIT` entries, what only a scan could tell is left out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mixd.storage.contracts.archive import ArchiveQuery, Direction, MessageRecord, NewEntry
from mixd.storage.sqlite import archive_query
from mixd.storage.sqlite.archive import SQLiteArchiveStore
from mixd.storage.sqlite.database import SQLiteDatabase

ROOM, BOB, CAROL = "room@mix.example.org", "bob@example.org", "carol@example.org"


@pytest.fixture
async def store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[SQLiteArchiveStore]:
    monkeypatch.setattr(archive_query, "EXACT_LIMIT", 5)
    db = SQLiteDatabase(tmp_path / "mixd.sqlite")
    await db.open()
    try:
        yield SQLiteArchiveStore(db)
    finally:
        await db.close()


async def to_room(store: SQLiteArchiveStore, n: int) -> str:
    record = MessageRecord(f"<message><body>{n}</body></message>", n, BOB, "groupchat")
    entry = NewEntry(ROOM, BOB, Direction.IN, n, "pid")
    return (await store.store(record, [entry])).entry_ids[0]


async def test_sizes_come_from_counters_beyond_the_limit(store: SQLiteArchiveStore) -> None:
    await to_room(store, 0)
    await store.follow(CAROL, ROOM)
    ids = [await to_room(store, n) for n in range(1, 9)]
    await store.unfollow(CAROL, ROOM)
    await to_room(store, 9)
    last = await store.query(ArchiveQuery(CAROL, 3, from_end=True))
    assert [i.id for i in last.items] == ids[-3:]
    assert (last.count, last.first_index) == (8, 5)  # from counters: no scan
    room = await store.query(ArchiveQuery(ROOM, 3, with_jid=None, from_end=True))
    assert (room.count, room.first_index) == (10, 7)
    # What needs a scan of more than EXACT_LIMIT entries is left out.
    after = await store.query(ArchiveQuery(CAROL, 3, after=ids[2]))
    assert [i.id for i in after.items] == ids[3:6]
    assert (after.count, after.first_index) == (8, None)
    filtered = await store.query(ArchiveQuery(ROOM, 3, start=4))
    assert filtered.count is None and len(filtered.items) == 3


async def test_counters_follow_deletions_and_copies(store: SQLiteArchiveStore) -> None:
    await store.follow(CAROL, ROOM)
    for n in range(7):
        await to_room(store, n)
    await store.delete_owner(ROOM)  # carol keeps her copies
    assert (await store.query(ArchiveQuery(CAROL, 1))).count == 7
    assert (await store.query(ArchiveQuery(ROOM, 1))).count == 0
    await to_room(store, 8)
    assert (await store.query(ArchiveQuery(ROOM, 1))).count == 1
    assert (await store.query(ArchiveQuery(CAROL, 1))).count == 7
