"""One AccountStore contract, run against every backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mixd.storage.contracts.accounts import AccountStore, ScramCredential
from mixd.storage.errors import AccountExists, AccountNotFound
from mixd.storage.memory.accounts import MemoryAccountStore
from mixd.storage.postgres.accounts import PostgresAccountStore
from mixd.storage.sqlite.accounts import SQLiteAccountStore
from mixd.storage.sqlite.database import SQLiteDatabase
from tests.pg_cluster import postgres_database

HOST = "example.org"


def cred(mechanism: str, seed: int, iterations: int = 4096) -> ScramCredential:
    # Distinct bytes per field (including NUL and high bytes) to catch swaps and truncation.
    return ScramCredential(
        mechanism=mechanism,
        salt=bytes([seed, 0, 255]) * 6,
        stored_key=bytes([seed, 1, 0, 254]) * 8,
        server_key=bytes([seed, 2, 0, 253]) * 8,
        iterations=iterations,
    )


CREDS = (cred("SCRAM-SHA-256", 1, 10_000), cred("SCRAM-SHA-1", 2, 4096))
OTHER_CREDS = (cred("SCRAM-SHA-1", 3, 8192), cred("SCRAM-SHA-256", 4, 20_000))


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AccountStore]:
    if request.param == "memory":
        yield MemoryAccountStore()
        return
    if request.param == "postgresql":
        async with postgres_database(request) as pg:
            yield PostgresAccountStore(pg)
        return
    db = SQLiteDatabase(tmp_path / "mixd.sqlite")
    await db.open()
    try:
        yield SQLiteAccountStore(db)
    finally:
        await db.close()


async def test_get_missing_is_none(store: AccountStore) -> None:
    assert await store.get(HOST, "alice") is None


async def test_create_then_get_round_trips_credentials(store: AccountStore) -> None:
    await store.create(HOST, "alice", CREDS)
    account = await store.get(HOST, "alice")
    assert account is not None
    assert (account.host, account.username) == (HOST, "alice")
    assert account.credentials == CREDS
    assert account.credential("SCRAM-SHA-1") == CREDS[1]
    assert account.credential("SCRAM-SHA-512") is None


async def test_credentials_keep_given_order(store: AccountStore) -> None:
    await store.create(HOST, "alice", OTHER_CREDS)
    account = await store.get(HOST, "alice")
    assert account is not None
    assert account.credentials == OTHER_CREDS


async def test_account_without_credentials(store: AccountStore) -> None:
    await store.create(HOST, "alice", ())
    account = await store.get(HOST, "alice")
    assert account is not None
    assert account.credentials == ()


async def test_duplicate_create_raises_and_keeps_original(store: AccountStore) -> None:
    await store.create(HOST, "alice", CREDS)
    with pytest.raises(AccountExists):
        await store.create(HOST, "alice", OTHER_CREDS)
    account = await store.get(HOST, "alice")
    assert account is not None
    assert account.credentials == CREDS


async def test_duplicate_mechanism_rejected(store: AccountStore) -> None:
    with pytest.raises(ValueError):
        await store.create(HOST, "alice", (CREDS[0], CREDS[0]))
    assert await store.get(HOST, "alice") is None


async def test_same_username_on_other_host_is_separate(store: AccountStore) -> None:
    await store.create(HOST, "alice", CREDS)
    await store.create("other.example", "alice", OTHER_CREDS)
    mine = await store.get(HOST, "alice")
    theirs = await store.get("other.example", "alice")
    assert mine is not None and theirs is not None
    assert mine.credentials == CREDS
    assert theirs.credentials == OTHER_CREDS


async def test_set_credentials_replaces_all(store: AccountStore) -> None:
    await store.create(HOST, "alice", CREDS)
    await store.set_credentials(HOST, "alice", OTHER_CREDS[:1])
    account = await store.get(HOST, "alice")
    assert account is not None
    assert account.credentials == OTHER_CREDS[:1]


async def test_set_credentials_missing_account(store: AccountStore) -> None:
    with pytest.raises(AccountNotFound):
        await store.set_credentials(HOST, "nobody", CREDS)
    assert await store.get(HOST, "nobody") is None


async def test_delete(store: AccountStore) -> None:
    await store.create(HOST, "alice", CREDS)
    assert await store.delete(HOST, "alice") is True
    assert await store.get(HOST, "alice") is None
    assert await store.delete(HOST, "alice") is False


async def test_delete_removes_credentials(store: AccountStore) -> None:
    await store.create(HOST, "alice", CREDS)
    await store.delete(HOST, "alice")
    # Re-creating with one mechanism must not resurrect the old credentials.
    await store.create(HOST, "alice", OTHER_CREDS[:1])
    account = await store.get(HOST, "alice")
    assert account is not None
    assert account.credentials == OTHER_CREDS[:1]


async def test_list_usernames_sorted_per_host(store: AccountStore) -> None:
    assert await store.list_usernames(HOST) == []
    for name in ("zoe", "alice", "émile", "bob", "Zed"):
        await store.create(HOST, name, CREDS)
    await store.create("other.example", "carol", CREDS)
    assert await store.list_usernames(HOST) == sorted(["zoe", "alice", "émile", "bob", "Zed"])
    assert await store.list_usernames("other.example") == ["carol"]
    await store.delete(HOST, "bob")
    assert await store.list_usernames(HOST) == ["Zed", "alice", "zoe", "émile"]
