"""One RosterStore contract, run against every backend."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mixd.storage.contracts.accounts import AccountStore
from mixd.storage.contracts.roster import (
    LastPresence,
    RosterItem,
    RosterStore,
    RosterUpdate,
    Subscription,
)
from mixd.storage.errors import AccountNotFound
from mixd.storage.memory.accounts import MemoryAccountStore
from mixd.storage.memory.roster import MemoryRosterStore
from mixd.storage.postgres.accounts import PostgresAccountStore
from mixd.storage.postgres.roster import PostgresRosterStore
from mixd.storage.sqlite import migrations
from mixd.storage.sqlite.accounts import SQLiteAccountStore
from mixd.storage.sqlite.database import SQLiteDatabase
from mixd.storage.sqlite.roster import SQLiteRosterStore
from tests.pg_cluster import postgres_database

HOST = "example.org"
BOB = "bob@example.org"
CAROL = "carol@example.net"


@dataclass
class Backend:
    accounts: AccountStore
    roster: RosterStore


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "memory":
        accounts = MemoryAccountStore()
        await accounts.create(HOST, "alice", ())
        yield Backend(accounts, MemoryRosterStore(accounts))
        return
    if request.param == "postgresql":
        async with postgres_database(request) as pg:
            pg_accounts = PostgresAccountStore(pg)
            await pg_accounts.create(HOST, "alice", ())
            yield Backend(pg_accounts, PostgresRosterStore(pg))
        return
    db = SQLiteDatabase(tmp_path / "mixd.sqlite")
    await db.open()
    try:
        sql_accounts = SQLiteAccountStore(db)
        await sql_accounts.create(HOST, "alice", ())
        yield Backend(sql_accounts, SQLiteRosterStore(db))
    finally:
        await db.close()


@pytest.fixture
def store(backend: Backend) -> RosterStore:
    return backend.roster


def put(item: RosterItem | None) -> RosterUpdate:
    """An update that stores `item` whatever was there."""
    return lambda _old: item


def edit(**changes: Any) -> RosterUpdate:
    """An update that changes fields of the existing item."""

    def change(old: RosterItem | None) -> RosterItem:
        assert old is not None
        return replace(old, **changes)

    return change


async def test_empty_roster(store: RosterStore) -> None:
    roster = await store.roster(HOST, "alice")
    assert roster.version == 0 and roster.items == ()
    assert await store.get(HOST, "alice", BOB) is None


async def test_every_field_round_trips(store: RosterStore) -> None:
    item = RosterItem(
        jid=BOB,
        name="Bob \u00e9 <&>",
        groups=("Friends", "\u00c9quipe", "a'b\"c"),
        subscription=Subscription.TO,
        ask=False,
        pending_in=True,
        approved=False,
        request="<presence type='subscribe'><status>hi</status></presence>",
        listed=False,
    )
    change = await store.update(HOST, "alice", BOB, put(item))
    assert change.old is None and change.new == item and change.changed
    assert await store.get(HOST, "alice", BOB) == item
    assert (await store.roster(HOST, "alice")).items == (item,)
    other = RosterItem(CAROL, subscription=Subscription.FROM, ask=True, approved=True)
    await store.update(HOST, "alice", CAROL, put(other))
    assert await store.get(HOST, "alice", CAROL) == other


async def test_mix_channel_item_round_trips(store: RosterStore) -> None:
    """XEP-0405: a joined channel carries the user's participant id."""
    channel = RosterItem(
        "coven@mix.example.org", "Coven", subscription=Subscription.BOTH, mix_participant_id="p1"
    )
    await store.update(HOST, "alice", channel.jid, put(channel))
    await store.update(HOST, "alice", BOB, put(RosterItem(BOB)))
    assert await store.get(HOST, "alice", channel.jid) == channel
    assert [i.mix_participant_id for i in (await store.roster(HOST, "alice")).items] == [
        None,
        "p1",
    ]
    await store.update(HOST, "alice", channel.jid, edit(name="Renamed", groups=("MIX",)))
    renamed = await store.get(HOST, "alice", channel.jid)
    assert renamed is not None and renamed.is_mix_channel and renamed.groups == ("MIX",)
    await store.update(HOST, "alice", channel.jid, edit(mix_participant_id=None))
    plain = await store.get(HOST, "alice", channel.jid)
    assert plain is not None and not plain.is_mix_channel


async def test_items_sorted_by_jid_with_group_order_kept(store: RosterStore) -> None:
    for jid in ("zed@example.org", "amy@example.org", "mia@example.org"):
        item = RosterItem(jid, groups=("z", "a", "m"))
        await store.update(HOST, "alice", jid, put(item))
    roster = await store.roster(HOST, "alice")
    assert [i.jid for i in roster.items] == [
        "amy@example.org",
        "mia@example.org",
        "zed@example.org",
    ]
    assert all(i.groups == ("z", "a", "m") for i in roster.items)


async def test_version_bumps_once_per_change(store: RosterStore) -> None:
    first = await store.update(HOST, "alice", BOB, put(RosterItem(BOB)))
    assert first.version == 1
    renamed = await store.update(HOST, "alice", BOB, edit(name="B"))
    assert renamed.version == 2 and renamed.old == RosterItem(BOB)
    regrouped = await store.update(HOST, "alice", BOB, edit(groups=("x",)))
    assert regrouped.version == 3
    assert (await store.roster(HOST, "alice")).version == 3


async def test_unchanged_result_writes_nothing(store: RosterStore) -> None:
    await store.update(HOST, "alice", BOB, put(RosterItem(BOB, name="B")))
    same = await store.update(HOST, "alice", BOB, lambda old: old)
    assert not same.changed and same.version == 1
    absent = await store.update(HOST, "alice", CAROL, lambda old: old)
    assert absent.old is None and absent.new is None and absent.version == 1
    assert (await store.roster(HOST, "alice")).version == 1


async def test_delete_bumps_version_and_removes_groups(store: RosterStore) -> None:
    await store.update(HOST, "alice", BOB, put(RosterItem(BOB, groups=("g",))))
    gone = await store.update(HOST, "alice", BOB, put(None))
    assert gone.old is not None and gone.new is None and gone.version == 2
    assert await store.get(HOST, "alice", BOB) is None
    # Re-adding starts clean: no group left behind.
    await store.update(HOST, "alice", BOB, put(RosterItem(BOB)))
    item = await store.get(HOST, "alice", BOB)
    assert item is not None and item.groups == ()
    assert (await store.roster(HOST, "alice")).version == 3


async def test_update_sees_the_current_item(store: RosterStore) -> None:
    await store.update(HOST, "alice", BOB, put(RosterItem(BOB, name="one")))
    seen: list[RosterItem | None] = []

    def change(old: RosterItem | None) -> RosterItem | None:
        seen.append(old)
        return replace(old, name="two") if old else None

    result = await store.update(HOST, "alice", BOB, change)
    assert seen[-1] == RosterItem(BOB, name="one")
    assert result.new == RosterItem(BOB, name="two")


async def test_concurrent_updates_lose_nothing(store: RosterStore) -> None:
    await store.update(HOST, "alice", BOB, put(RosterItem(BOB)))

    def add_group(n: int) -> RosterUpdate:
        def change(old: RosterItem | None) -> RosterItem:
            assert old is not None
            return replace(old, groups=(*old.groups, f"g{n}"))

        return change

    await asyncio.gather(*(store.update(HOST, "alice", BOB, add_group(n)) for n in range(20)))
    item = await store.get(HOST, "alice", BOB)
    assert item is not None and sorted(item.groups) == sorted(f"g{n}" for n in range(20))
    assert (await store.roster(HOST, "alice")).version == 21


async def test_wrong_jid_in_result_is_refused(store: RosterStore) -> None:
    with pytest.raises(ValueError):
        await store.update(HOST, "alice", BOB, put(RosterItem(CAROL)))
    assert (await store.roster(HOST, "alice")).version == 0


async def test_rosters_are_per_account(backend: Backend) -> None:
    store = backend.roster
    await backend.accounts.create(HOST, "bob", ())
    await backend.accounts.create("example.net", "alice", ())
    await store.update(HOST, "alice", CAROL, put(RosterItem(CAROL, name="for alice")))
    await store.update(HOST, "bob", CAROL, put(RosterItem(CAROL, name="for bob")))
    assert [i.name for i in (await store.roster(HOST, "alice")).items] == ["for alice"]
    assert [i.name for i in (await store.roster(HOST, "bob")).items] == ["for bob"]
    assert (await store.roster("example.net", "alice")).items == ()
    assert (await store.roster(HOST, "bob")).version == 1


async def test_unknown_account_cannot_be_written(store: RosterStore) -> None:
    with pytest.raises(AccountNotFound):
        await store.update(HOST, "nobody", BOB, put(RosterItem(BOB)))
    stamp = datetime(2026, 1, 2, tzinfo=UTC)
    with pytest.raises(AccountNotFound):
        await store.set_last_presence(HOST, "nobody", LastPresence("<presence/>", stamp))
    assert (await store.roster(HOST, "nobody")).items == ()


async def test_last_presence_round_trips_and_is_replaced(store: RosterStore) -> None:
    assert await store.last_presence(HOST, "alice") is None
    first = LastPresence(
        "<presence type='unavailable'><status>bye</status></presence>",
        datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    )
    await store.set_last_presence(HOST, "alice", first)
    assert await store.last_presence(HOST, "alice") == first
    second = LastPresence("<presence type='unavailable'/>", datetime(2026, 2, 1, tzinfo=UTC))
    await store.set_last_presence(HOST, "alice", second)
    assert await store.last_presence(HOST, "alice") == second


async def test_deleting_the_account_deletes_its_roster(backend: Backend) -> None:
    store = backend.roster
    await store.update(HOST, "alice", BOB, put(RosterItem(BOB, groups=("g",))))
    stamp = datetime(2026, 1, 2, tzinfo=UTC)
    await store.set_last_presence(HOST, "alice", LastPresence("<presence/>", stamp))
    assert await backend.accounts.delete(HOST, "alice")
    assert (await store.roster(HOST, "alice")).items == ()
    assert await store.get(HOST, "alice", BOB) is None
    assert await store.last_presence(HOST, "alice") is None
    with pytest.raises(AccountNotFound):
        await store.update(HOST, "alice", BOB, put(RosterItem(BOB)))


async def test_sqlite_cascade_leaves_no_rows(tmp_path: Path) -> None:
    db = SQLiteDatabase(tmp_path / "mixd.sqlite")
    await db.open()
    try:
        accounts, store = SQLiteAccountStore(db), SQLiteRosterStore(db)
        await accounts.create(HOST, "alice", ())
        await store.update(HOST, "alice", BOB, put(RosterItem(BOB, groups=("a", "b"))))
        await store.set_last_presence(
            HOST, "alice", LastPresence("<presence/>", datetime(2026, 1, 2, tzinfo=UTC))
        )
        await accounts.delete(HOST, "alice")
        tables = ("roster_items", "roster_groups", "roster_versions", "last_presence")

        def count(conn: sqlite3.Connection) -> list[int]:
            return [conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables]

        assert await db.run(count) == [0, 0, 0, 0]
    finally:
        await db.close()


async def test_sqlite_items_from_before_mix_upgrade_as_contacts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migration 7 adds the participant id; older items read as contacts."""
    path = tmp_path / "mixd.sqlite"
    before = tuple((v, sql) for v, sql in migrations.MIGRATIONS if v < 7)
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", before)
        patch.setattr(migrations, "LATEST_VERSION", 6)
        old = SQLiteDatabase(path)
        await old.open()
        await SQLiteAccountStore(old).create(HOST, "alice", ())

        def insert(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO roster_items (host, username, jid, name, subscription, ask,"
                " pending_in, approved, request, listed)"
                " VALUES (?, 'alice', ?, 'Bob', 'both', 0, 0, 0, NULL, 1)",
                (HOST, BOB),
            )

        await old.run(insert)
        await old.close()
    db = SQLiteDatabase(path)
    await db.open()
    try:
        assert await db.run(migrations.user_version) == migrations.LATEST_VERSION
        item = await SQLiteRosterStore(db).get(HOST, "alice", BOB)
        assert item == RosterItem(BOB, "Bob", subscription=Subscription.BOTH)
    finally:
        await db.close()
