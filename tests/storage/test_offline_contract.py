"""OfflineStore contract, run against every implementation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mixd.storage.contracts.offline import OfflineStore
from mixd.storage.memory.offline import MemoryOfflineStore
from mixd.storage.postgres.offline import PostgresOfflineStore
from mixd.storage.sqlite.database import SQLiteDatabase
from mixd.storage.sqlite.offline import SQLiteOfflineStore
from tests.pg_cluster import postgres_database

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OfflineStore]:
    if request.param == "memory":
        yield MemoryOfflineStore()
        return
    if request.param == "postgresql":
        async with postgres_database(request) as pg:
            yield PostgresOfflineStore(pg)
        return
    db = SQLiteDatabase(tmp_path / "mixd.sqlite")
    await db.open()
    try:
        yield SQLiteOfflineStore(db)
    finally:
        await db.close()


async def test_push_fetch_in_order_and_delete(store: OfflineStore) -> None:
    for n in range(5):
        assert await store.push("bob@localhost", f"<message id='{n}'/>", NOW, 10)
    await store.push("carol@localhost", "<message id='c'/>", NOW, 10)
    first = await store.fetch("bob@localhost", 3)
    assert [m.stanza for m in first] == [f"<message id='{n}'/>" for n in range(3)]
    assert first[0].stamp == NOW and first[0].owner == "bob@localhost"
    await store.delete("bob@localhost", [m.id for m in first])
    rest = await store.fetch("bob@localhost", 10)
    assert [m.stanza for m in rest] == ["<message id='3'/>", "<message id='4'/>"]
    assert await store.count("carol@localhost") == 1


async def test_queue_limit_refuses_without_storing(store: OfflineStore) -> None:
    assert await store.push("bob@localhost", "<message id='1'/>", NOW, 2)
    assert await store.push("bob@localhost", "<message id='2'/>", NOW, 2)
    assert not await store.push("bob@localhost", "<message id='3'/>", NOW, 2)
    assert await store.count("bob@localhost") == 2


async def test_delete_only_touches_the_owner(store: OfflineStore) -> None:
    await store.push("bob@localhost", "<message id='b'/>", NOW, 10)
    await store.push("carol@localhost", "<message id='c'/>", NOW, 10)
    (carols,) = await store.fetch("carol@localhost", 10)
    await store.delete("bob@localhost", [carols.id])
    assert await store.count("carol@localhost") == 1
