"""One BlocklistStore contract (XEP-0191), run against every backend."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mixd.storage.contracts.accounts import AccountStore
from mixd.storage.contracts.blocklist import BlocklistChange, BlocklistStore
from mixd.storage.errors import AccountNotFound
from mixd.storage.memory.accounts import MemoryAccountStore
from mixd.storage.memory.blocklist import MemoryBlocklistStore
from mixd.storage.postgres.accounts import PostgresAccountStore
from mixd.storage.postgres.blocklist import PostgresBlocklistStore
from mixd.storage.sqlite.accounts import SQLiteAccountStore
from mixd.storage.sqlite.blocklist import SQLiteBlocklistStore
from mixd.storage.sqlite.database import SQLiteDatabase
from tests.pg_cluster import postgres_database

HOST = "example.org"
ROMEO = "romeo@montague.net"
IAGO = "iago@shakespeare.lit"
DOMAIN = "spam.example"
FULL = "nurse@capulet.lit/balcony"
LIMIT = 100


@dataclass
class Backend:
    accounts: AccountStore
    blocklist: BlocklistStore


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "memory":
        accounts = MemoryAccountStore()
        await accounts.create(HOST, "juliet", ())
        yield Backend(accounts, MemoryBlocklistStore(accounts))
        return
    if request.param == "postgresql":
        async with postgres_database(request) as pg:
            pg_accounts = PostgresAccountStore(pg)
            await pg_accounts.create(HOST, "juliet", ())
            yield Backend(pg_accounts, PostgresBlocklistStore(pg))
        return
    db = SQLiteDatabase(tmp_path / "mixd.sqlite")
    await db.open()
    try:
        sql_accounts = SQLiteAccountStore(db)
        await sql_accounts.create(HOST, "juliet", ())
        yield Backend(sql_accounts, SQLiteBlocklistStore(db))
    finally:
        await db.close()


@pytest.fixture
def store(backend: Backend) -> BlocklistStore:
    return backend.blocklist


async def test_empty_list(store: BlocklistStore) -> None:
    assert await store.blocklist(HOST, "juliet") == ()
    assert await store.blocklist(HOST, "nobody") == ()


async def test_block_adds_every_form_sorted(store: BlocklistStore) -> None:
    change = await store.block(HOST, "juliet", [ROMEO, DOMAIN, FULL, "spam.example/bot"], LIMIT)
    assert change == BlocklistChange(
        (ROMEO, DOMAIN, FULL, "spam.example/bot"),
        tuple(sorted([ROMEO, DOMAIN, FULL, "spam.example/bot"])),
    )
    assert await store.blocklist(HOST, "juliet") == tuple(
        sorted([ROMEO, DOMAIN, FULL, "spam.example/bot"])
    )


async def test_blocking_again_changes_nothing(store: BlocklistStore) -> None:
    await store.block(HOST, "juliet", [ROMEO], LIMIT)
    change = await store.block(HOST, "juliet", [ROMEO, IAGO, IAGO], LIMIT)
    assert change == BlocklistChange((IAGO,), (IAGO, ROMEO))


async def test_non_ascii_entries_round_trip(store: BlocklistStore) -> None:
    jid = "\u00e9lodie@caf\u00e9.example/\u2603"
    await store.block(HOST, "juliet", [jid, "zed@a.example"], LIMIT)
    assert await store.blocklist(HOST, "juliet") == tuple(sorted([jid, "zed@a.example"]))


async def test_limit_refuses_the_whole_change(store: BlocklistStore) -> None:
    assert await store.block(HOST, "juliet", [ROMEO, IAGO], 3) is not None
    assert await store.block(HOST, "juliet", [DOMAIN, FULL], 3) is None
    assert await store.blocklist(HOST, "juliet") == (IAGO, ROMEO)
    # Entries already listed do not count against the limit.
    change = await store.block(HOST, "juliet", [ROMEO, DOMAIN], 3)
    assert change is not None and change.changed == (DOMAIN,)
    assert await store.block(HOST, "juliet", [ROMEO], 3) == BlocklistChange(
        (), (IAGO, ROMEO, DOMAIN)
    )


async def test_unblock_removes_only_listed(store: BlocklistStore) -> None:
    await store.block(HOST, "juliet", [ROMEO, IAGO, DOMAIN], LIMIT)
    change = await store.unblock(HOST, "juliet", [IAGO, "never@listed.example", IAGO])
    assert change == BlocklistChange((IAGO,), (ROMEO, DOMAIN))
    assert await store.unblock(HOST, "juliet", [IAGO]) == BlocklistChange((), (ROMEO, DOMAIN))


async def test_unblock_all(store: BlocklistStore) -> None:
    await store.block(HOST, "juliet", [ROMEO, IAGO], LIMIT)
    assert await store.unblock_all(HOST, "juliet") == BlocklistChange((IAGO, ROMEO), ())
    assert await store.blocklist(HOST, "juliet") == ()
    assert await store.unblock_all(HOST, "juliet") == BlocklistChange((), ())


async def test_lists_are_per_account(backend: Backend) -> None:
    store = backend.blocklist
    await backend.accounts.create(HOST, "nurse", ())
    await backend.accounts.create("other.example", "juliet", ())
    await store.block(HOST, "juliet", [ROMEO], LIMIT)
    await store.block(HOST, "nurse", [IAGO], LIMIT)
    assert await store.blocklist(HOST, "juliet") == (ROMEO,)
    assert await store.blocklist(HOST, "nurse") == (IAGO,)
    assert await store.blocklist("other.example", "juliet") == ()
    await store.unblock_all(HOST, "nurse")
    assert await store.blocklist(HOST, "juliet") == (ROMEO,)


async def test_unknown_account_cannot_block(store: BlocklistStore) -> None:
    with pytest.raises(AccountNotFound):
        await store.block(HOST, "nobody", [ROMEO], LIMIT)
    assert await store.blocklist(HOST, "nobody") == ()


async def test_deleting_the_account_deletes_its_list(backend: Backend) -> None:
    store = backend.blocklist
    await store.block(HOST, "juliet", [ROMEO, DOMAIN], LIMIT)
    assert await backend.accounts.delete(HOST, "juliet")
    assert await store.blocklist(HOST, "juliet") == ()
    await backend.accounts.create(HOST, "juliet", ())
    assert await store.blocklist(HOST, "juliet") == ()


async def test_concurrent_blocks_respect_the_limit(store: BlocklistStore) -> None:
    """Two changes at once cannot both pass the size check."""
    results = await asyncio.gather(
        *(store.block(HOST, "juliet", [f"u{n}@a.example", f"v{n}@a.example"], 5) for n in range(6))
    )
    accepted = [r for r in results if r is not None]
    assert len(accepted) == 2
    assert len(await store.blocklist(HOST, "juliet")) == 4


async def test_sqlite_cascade_leaves_no_rows(tmp_path: Path) -> None:
    db = SQLiteDatabase(tmp_path / "mixd.sqlite")
    await db.open()
    try:
        accounts, store = SQLiteAccountStore(db), SQLiteBlocklistStore(db)
        await accounts.create(HOST, "juliet", ())
        await store.block(HOST, "juliet", [ROMEO, IAGO], LIMIT)
        await accounts.delete(HOST, "juliet")

        def count(conn: sqlite3.Connection) -> int:
            return int(conn.execute("SELECT COUNT(*) FROM blocklist").fetchone()[0])

        assert await db.run(count) == 0
    finally:
        await db.close()


async def test_owners_are_the_accounts_with_a_list(backend: Backend) -> None:
    store = backend.blocklist
    assert await store.owners() == []
    await backend.accounts.create(HOST, "nurse", ())
    await backend.accounts.create("a.example", "zed", ())
    await store.block(HOST, "nurse", [ROMEO, IAGO], LIMIT)
    await store.block("a.example", "zed", [ROMEO], LIMIT)
    await store.block(HOST, "juliet", [ROMEO], LIMIT)
    assert await store.owners() == [("a.example", "zed"), (HOST, "juliet"), (HOST, "nurse")]
    await store.unblock_all(HOST, "juliet")
    await store.unblock(HOST, "nurse", [ROMEO])
    assert await store.owners() == [("a.example", "zed"), (HOST, "nurse")]
    await backend.accounts.delete(HOST, "nurse")
    assert await store.owners() == [("a.example", "zed")]
