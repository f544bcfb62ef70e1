"""`ArchiveStore.trim` (the archive quota, RELIABILITY E6) on every backend."""

from __future__ import annotations

import pytest

from mixd.storage.contracts.archive import ArchiveQuery, Direction, NewEntry
from tests.storage import test_archive_contract as contract
from tests.storage.test_archive_contract import ALICE, BOB, T0, Backend, out, record

backend = contract.backend  # the same fixture: memory, SQLite, PostgreSQL

ROOM = "room@mix.example.org"


def incoming(owner: str, with_jid: str, ts: int) -> NewEntry:
    return NewEntry(owner, with_jid, Direction.IN, ts)


async def ids(backend: Backend, owner: str) -> list[str]:
    page = await backend.store.query(ArchiveQuery(owner, 100))
    assert page.count == len(page.items)
    return [item.id for item in page.items]


async def test_trim_removes_the_oldest_beyond_the_quota(backend: Backend) -> None:
    store = backend.store
    stored = []
    # Stored out of time order, two with the same time: order is (ts, seq).
    for n, ts in enumerate((T0 + 3, T0 + 1, T0 + 2, T0 + 2, T0 + 5)):
        stored.append((await store.store(record(n, ts), [out(ALICE, BOB, ts)])).entry_ids[0])
    in_order = [stored[1], stored[2], stored[3], stored[0], stored[4]]

    assert await store.trim(ALICE, 10) == 0
    assert await store.trim(ALICE, 3) == 2
    assert await ids(backend, ALICE) == in_order[2:]
    assert await backend.message_rows() == 3  # the messages nobody else holds went
    assert await store.trim(ALICE, 1) == 2
    assert await ids(backend, ALICE) == in_order[4:]
    with pytest.raises(ValueError):
        await store.trim(ALICE, 0)


async def test_trim_leaves_shared_messages_and_followed_entries(backend: Backend) -> None:
    store = backend.store
    await store.follow(ALICE, ROOM)
    channel = await store.store(record(9, T0), [incoming(ROOM, BOB, T0)])
    shared = await store.store(
        record(1, T0 + 1), [out(ALICE, BOB, T0 + 1), incoming(BOB, ALICE, T0 + 1)]
    )
    newest = await store.store(record(2, T0 + 2), [out(ALICE, BOB, T0 + 2)])

    assert await store.trim(ALICE, 1) == 1  # her own entries only: the channel's is not hers

    assert await ids(backend, ALICE) == [channel.entry_ids[0], newest.entry_ids[0]]
    assert await ids(backend, BOB) == [shared.entry_ids[1]]
    assert await backend.message_rows() == 3
