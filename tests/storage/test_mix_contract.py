"""One MixStore contract, run against every backend."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from mixd.storage.contracts.mix import (
    Channel,
    ChannelExists,
    ChannelInfo,
    ChannelNotFound,
    MixStore,
    NickTaken,
    Participant,
)
from mixd.storage.memory.mix import MemoryMixStore
from mixd.storage.postgres.mix import PostgresMixStore
from mixd.storage.sqlite.database import SQLiteDatabase
from mixd.storage.sqlite.mix import SQLiteMixStore
from tests.pg_cluster import postgres_database

SERVICE = "mix.example.org"
COFFEE = f"coffee@{SERVICE}"
TEA = f"tea@{SERVICE}"
ALICE = "alice@example.org"
BOB = "bob@example.org"
CAROL = "carol@example.net"


def channel(jid: str = COFFEE, **changes: Any) -> Channel:
    base = Channel(
        jid=jid, adhoc=False, created=1_700_000_000_000_000, owners=(ALICE,), secret=b"k"
    )
    return replace(base, **changes)


def member(
    jid: str, nick: str, *, joined: int = 1, chan: str = COFFEE, **changes: Any
) -> Participant:
    base = Participant(
        chan, jid, f"id-{jid}", nick, frozenset({"urn:xmpp:mix:nodes:messages"}), joined
    )
    return replace(base, **changes)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MixStore]:
    if request.param == "memory":
        yield MemoryMixStore()
        return
    if request.param == "postgresql":
        async with postgres_database(request) as pg:
            yield PostgresMixStore(pg)
        return
    db = SQLiteDatabase(tmp_path / "mixd.sqlite")
    await db.open()
    try:
        yield SQLiteMixStore(db)
    finally:
        await db.close()


# --- channels ----------------------------------------------------------------


async def test_missing_channel(store: MixStore) -> None:
    assert await store.get_channel(COFFEE) is None
    assert await store.participants(COFFEE) == []
    assert await store.list_channels(SERVICE, None, 10) == []


async def test_every_channel_field_round_trips(store: MixStore) -> None:
    full = Channel(
        jid=COFFEE,
        adhoc=True,
        created=1_712_345_678_901_234,
        owners=(ALICE, BOB),
        secret=bytes(range(256)),
        info=ChannelInfo(
            name="Caf\u00e9 <&> 'q\"",
            description="line one\nline two \U0001f600",
            contact=(ALICE, CAROL),
            updated=1_712_345_678_999_999,
        ),
        config={"Last Change Made By": (BOB,), "\u00e9": ("x\u00e9\"'", "b"), "empty": ()},
        config_updated=1_712_345_679_000_000,
        end_of_life=1_812_345_678_000_000,
    )
    await store.create_channel(full)
    assert await store.get_channel(COFFEE) == full
    plain = channel(TEA)  # defaults: empty info, empty config
    await store.create_channel(plain)
    got = await store.get_channel(TEA)
    assert got == plain
    assert got is not None and got.info == ChannelInfo() and got.config == {}


async def test_sets_come_back_sorted_without_duplicates(store: MixStore) -> None:
    await store.create_channel(
        channel(owners=(CAROL, ALICE, CAROL), info=ChannelInfo(contact=(BOB, ALICE, BOB)))
    )
    got = await store.get_channel(COFFEE)
    assert got is not None
    assert got.owners == (ALICE, CAROL)
    assert got.info.contact == (ALICE, BOB)


async def test_create_existing_channel_raises_and_keeps_the_first(store: MixStore) -> None:
    first = channel(owners=(ALICE,), secret=b"first")
    await store.create_channel(first)
    with pytest.raises(ChannelExists):
        await store.create_channel(channel(owners=(BOB,), secret=b"second"))
    assert await store.get_channel(COFFEE) == first


@pytest.mark.parametrize("jid", [SERVICE, f"@{SERVICE}", "coffee@", f"coffee@{SERVICE}/res"])
async def test_create_refuses_a_non_channel_jid(store: MixStore, jid: str) -> None:
    with pytest.raises(ValueError):
        await store.create_channel(channel(jid))
    assert await store.get_channel(jid) is None


async def test_returned_config_is_a_copy(store: MixStore) -> None:
    await store.create_channel(channel(config={"a": ("1",)}))
    got = await store.get_channel(COFFEE)
    assert got is not None
    got.config["a"] = ("changed",)
    listed = await store.list_channels(SERVICE, None, 10)
    listed[0].config["b"] = ("added",)
    again = await store.get_channel(COFFEE)
    assert again is not None and again.config == {"a": ("1",)}


async def test_list_channels_ordered_paged_and_per_service(store: MixStore) -> None:
    names = ["mocha", "americano", "zest", "latte", "chai"]
    for name in names:
        await store.create_channel(channel(f"{name}@{SERVICE}"))
    await store.create_channel(channel("other@mix.example.net"))
    await store.create_channel(channel(f"hidden@{SERVICE}", adhoc=True))
    expected = [f"{n}@{SERVICE}" for n in sorted(names)]

    everything = await store.list_channels(SERVICE, None, 100)
    assert [c.jid for c in everything] == expected
    assert everything[0] == channel(expected[0])

    pages: list[list[str]] = []
    after: str | None = None
    while True:
        page = await store.list_channels(SERVICE, after, 2)
        if not page:
            break
        pages.append([c.jid for c in page])
        after = page[-1].jid
    assert pages == [expected[0:2], expected[2:4], expected[4:5]]

    # Strictly after, also for a JID that is not a channel.
    assert [c.jid for c in await store.list_channels(SERVICE, expected[1], 1)] == [expected[2]]
    assert [c.jid for c in await store.list_channels(SERVICE, f"b@{SERVICE}", 1)] == [expected[1]]
    assert await store.list_channels(SERVICE, expected[-1], 10) == []
    assert await store.list_channels(SERVICE, None, 0) == []
    assert [c.jid for c in await store.list_channels("mix.example.net", None, 10)] == [
        "other@mix.example.net"
    ]
    assert await store.list_channels("example.org", None, 10) == []


async def test_ad_hoc_channels_exist_but_are_not_listed(store: MixStore) -> None:
    adhoc = channel(adhoc=True)
    await store.create_channel(adhoc)
    assert await store.get_channel(COFFEE) == adhoc
    assert await store.list_channels(SERVICE, None, 10) == []


async def test_set_info_replaces_only_the_info(store: MixStore) -> None:
    created = channel(config={"k": ("v",)}, info=ChannelInfo(name="old", contact=(BOB,), updated=5))
    await store.create_channel(created)
    info = ChannelInfo(name="Coffee", description="Beans", contact=(CAROL, ALICE), updated=99)
    await store.set_info(COFFEE, info)
    got = await store.get_channel(COFFEE)
    assert got == replace(created, info=replace(info, contact=(ALICE, CAROL)))
    await store.set_info(COFFEE, ChannelInfo())
    cleared = await store.get_channel(COFFEE)
    assert cleared is not None and cleared.info == ChannelInfo()


async def test_set_info_of_missing_channel_raises(store: MixStore) -> None:
    with pytest.raises(ChannelNotFound):
        await store.set_info(COFFEE, ChannelInfo(name="x"))
    assert await store.get_channel(COFFEE) is None


async def test_delete_channel_removes_its_participants(store: MixStore) -> None:
    await store.create_channel(channel())
    await store.create_channel(channel(TEA))
    await store.join(member(ALICE, "alice"))
    await store.join(member(ALICE, "alice", chan=TEA))
    await store.delete_channel(COFFEE)
    assert await store.get_channel(COFFEE) is None
    assert await store.participants(COFFEE) == []
    assert [c.jid for c in await store.list_channels(SERVICE, None, 10)] == [TEA]
    assert await store.participants(TEA) == [member(ALICE, "alice", chan=TEA)]
    # Deleting again is harmless; a new channel of the same name starts empty.
    await store.delete_channel(COFFEE)
    await store.create_channel(channel())
    assert await store.participants(COFFEE) == []
    await store.join(member(BOB, "alice"))  # the old nick is free
    with pytest.raises(ChannelNotFound):
        await store.join(member(ALICE, "a", chan="gone@" + SERVICE))


# --- participants ------------------------------------------------------------


async def test_join_round_trips_every_field(store: MixStore) -> None:
    await store.create_channel(channel())
    p = Participant(
        channel=COFFEE,
        jid=ALICE,
        id="a1b2c3d4",
        nick="Al\u00efce <&>",
        nodes=frozenset({"urn:xmpp:mix:nodes:messages", "urn:xmpp:mix:nodes:info"}),
        joined=1_712_345_678_901_234,
    )
    await store.join(p)
    assert await store.participants(COFFEE) == [p]
    await store.join(member(BOB, "bob", nodes=frozenset()))
    # Bob's join time (1) is earlier than Alice's.
    bob, again = await store.participants(COFFEE)
    assert again == p
    assert bob.nodes == frozenset() and isinstance(bob.nodes, frozenset)


async def test_join_missing_channel_raises(store: MixStore) -> None:
    with pytest.raises(ChannelNotFound):
        await store.join(member(ALICE, "alice"))
    assert await store.participants(COFFEE) == []


async def test_participants_ordered_by_join_time_then_jid(store: MixStore) -> None:
    await store.create_channel(channel())
    await store.join(member(CAROL, "carol", joined=30))
    await store.join(member(BOB, "bob", joined=10))
    await store.join(member("zed@example.org", "zed", joined=10))
    await store.join(member(ALICE, "alice", joined=20))
    await store.join(member("amy@example.org", "amy", joined=10))
    assert [p.jid for p in await store.participants(COFFEE)] == [
        "amy@example.org",
        BOB,
        "zed@example.org",
        ALICE,
        CAROL,
    ]


async def test_join_again_updates_nick_and_nodes_only(store: MixStore) -> None:
    await store.create_channel(channel())
    first = member(ALICE, "alice", joined=10)
    await store.join(first)
    await store.join(member(BOB, "bob", joined=20))
    nodes = frozenset({"urn:xmpp:mix:nodes:presence"})
    await store.join(replace(first, nick="ally", nodes=nodes, id="other-id", joined=30))
    participants = await store.participants(COFFEE)
    # Still first: the join time and the stable id are the original ones.
    assert participants[0] == replace(first, nick="ally", nodes=nodes)
    assert len(participants) == 2


async def test_join_with_own_current_nick_is_fine(store: MixStore) -> None:
    await store.create_channel(channel())
    await store.join(member(ALICE, "alice"))
    await store.join(member(ALICE, "alice", nodes=frozenset()))
    assert await store.participants(COFFEE) == [member(ALICE, "alice", nodes=frozenset())]


async def test_join_with_another_participants_nick_raises(store: MixStore) -> None:
    await store.create_channel(channel())
    alice = member(ALICE, "alice")
    await store.join(alice)
    with pytest.raises(NickTaken):
        await store.join(member(BOB, "alice"))
    bob = member(BOB, "bob", joined=2)
    await store.join(bob)
    with pytest.raises(NickTaken):  # also when updating an existing participant
        await store.join(replace(bob, nick="alice", nodes=frozenset()))
    assert await store.participants(COFFEE) == [alice, bob]


async def test_nicks_are_unique_per_channel_only(store: MixStore) -> None:
    await store.create_channel(channel())
    await store.create_channel(channel(TEA))
    await store.join(member(ALICE, "same"))
    await store.join(member(BOB, "same", chan=TEA))
    assert [p.nick for p in await store.participants(COFFEE)] == ["same"]
    assert [p.nick for p in await store.participants(TEA)] == ["same"]


async def test_join_refuses_another_participants_id(store: MixStore) -> None:
    await store.create_channel(channel())
    await store.join(member(ALICE, "alice", id="dup"))
    with pytest.raises(ValueError):
        await store.join(member(BOB, "bob", id="dup"))
    assert [p.jid for p in await store.participants(COFFEE)] == [ALICE]


async def test_concurrent_joins_with_one_nick_let_one_in(store: MixStore) -> None:
    await store.create_channel(channel())
    results = await asyncio.gather(
        *(store.join(member(f"u{n}@example.org", "popular")) for n in range(10)),
        return_exceptions=True,
    )
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, NickTaken) for r in results if r is not None)
    assert [p.nick for p in await store.participants(COFFEE)] == ["popular"]


async def test_leave_returns_the_removed_participant(store: MixStore) -> None:
    await store.create_channel(channel())
    alice = member(ALICE, "alice")
    await store.join(alice)
    await store.join(member(BOB, "bob"))
    assert await store.leave(COFFEE, ALICE) == alice
    assert await store.leave(COFFEE, ALICE) is None
    assert await store.leave(TEA, ALICE) is None
    assert [p.jid for p in await store.participants(COFFEE)] == [BOB]
    # The nick and the id are free again.
    await store.join(member(CAROL, "alice", id=alice.id))


async def test_set_nick(store: MixStore) -> None:
    await store.create_channel(channel())
    alice, bob = member(ALICE, "alice"), member(BOB, "bob", joined=2)
    await store.join(alice)
    await store.join(bob)
    await store.set_nick(COFFEE, ALICE, "ally")
    await store.set_nick(COFFEE, ALICE, "ally")  # the current nick again
    with pytest.raises(NickTaken):
        await store.set_nick(COFFEE, ALICE, "bob")
    await store.set_nick(COFFEE, BOB, "alice")  # freed by the rename
    assert await store.participants(COFFEE) == [
        replace(alice, nick="ally"),
        replace(bob, nick="alice"),
    ]


async def test_set_nick_of_non_participant_changes_nothing(store: MixStore) -> None:
    await store.create_channel(channel())
    await store.join(member(ALICE, "alice"))
    await store.set_nick(COFFEE, BOB, "bob")
    await store.set_nick(TEA, ALICE, "x")
    assert await store.participants(COFFEE) == [member(ALICE, "alice")]
    assert await store.participants(TEA) == []


async def test_set_nodes(store: MixStore) -> None:
    await store.create_channel(channel())
    alice = member(ALICE, "alice")
    await store.join(alice)
    nodes = frozenset({"urn:xmpp:mix:nodes:info", "urn:xmpp:mix:nodes:participants"})
    await store.set_nodes(COFFEE, ALICE, nodes)
    assert await store.participants(COFFEE) == [replace(alice, nodes=nodes)]
    await store.set_nodes(COFFEE, ALICE, frozenset())
    assert await store.participants(COFFEE) == [replace(alice, nodes=frozenset())]
    await store.set_nodes(COFFEE, BOB, nodes)  # not a participant: nothing happens
    assert len(await store.participants(COFFEE)) == 1


async def test_preferences_round_trip_and_survive_a_rejoin(store: MixStore) -> None:
    await store.create_channel(channel())
    prefs = (("Private Messages", "block"), ("JID Visibility", "never"))
    alice = replace(member(ALICE, "alice"), preferences=prefs)
    await store.join(alice)
    stored = tuple(sorted(prefs))
    assert await store.participants(COFFEE) == [replace(alice, preferences=stored)]
    assert await store.set_preferences(COFFEE, ALICE, (("JID Visibility", "always"),))
    [now] = await store.participants(COFFEE)
    assert now.preferences == (("JID Visibility", "always"),)
    # A join of a participant already there writes what it carries.
    await store.join(replace(now, nick="al"))
    [again] = await store.participants(COFFEE)
    assert again.preferences == (("JID Visibility", "always"),) and again.nick == "al"
    assert not await store.set_preferences(COFFEE, BOB, prefs)  # not a participant
    assert await store.leave(COFFEE, ALICE) == again
    await store.join(member(ALICE, "alice"))  # a new participation starts from defaults
    [fresh] = await store.participants(COFFEE)
    assert fresh.preferences == ()


# --- SQLite specifics --------------------------------------------------------


# --- MIX-ADMIN: configuration, end of life, allowed and banned ------------------


async def test_set_config_replaces_owners_and_config(store: MixStore) -> None:
    await store.create_channel(channel(info=ChannelInfo(name="kept")))
    config = {"Administrator": (CAROL, BOB), "Open Presence": ("true",)}
    await store.set_config(COFFEE, (BOB, ALICE), config, 42, 1_000)
    got = await store.get_channel(COFFEE)
    assert got is not None
    assert got.owners == (ALICE, BOB)
    assert got.config == config and got.config_updated == 42 and got.end_of_life == 1_000
    assert got.info.name == "kept"
    await store.set_config(COFFEE, (ALICE,), {}, 43, None)
    again = await store.get_channel(COFFEE)
    assert again is not None and again.end_of_life is None and again.config == {}
    with pytest.raises(ChannelNotFound):
        await store.set_config(TEA, (ALICE,), {}, 1, None)


async def test_expired_channels_of_one_service_oldest_first(store: MixStore) -> None:
    await store.create_channel(channel(COFFEE, end_of_life=200))
    await store.create_channel(channel(TEA, end_of_life=100))
    await store.create_channel(channel(f"later@{SERVICE}", end_of_life=300))
    await store.create_channel(channel(f"forever@{SERVICE}"))
    await store.create_channel(channel("elsewhere@mix.example.net", end_of_life=1))
    assert await store.expired_channels(SERVICE, 99, 10) == []
    assert await store.expired_channels(SERVICE, 200, 10) == [TEA, COFFEE]
    assert await store.expired_channels(SERVICE, 1_000, 1) == [TEA]


async def test_access_lists_add_remove_clear(store: MixStore) -> None:
    await store.create_channel(channel())
    await store.add_access(COFFEE, "allowed", "example.org")
    await store.add_access(COFFEE, "allowed", CAROL)
    await store.add_access(COFFEE, "allowed", CAROL)  # twice: once
    assert await store.access_list(COFFEE, "allowed") == [CAROL, "example.org"]
    assert await store.access_list(COFFEE, "banned") == []
    assert await store.remove_access(COFFEE, "allowed", CAROL)
    assert not await store.remove_access(COFFEE, "allowed", CAROL)
    await store.clear_access(COFFEE, "allowed")
    assert await store.access_list(COFFEE, "allowed") == []
    with pytest.raises(ChannelNotFound):
        await store.add_access(TEA, "banned", CAROL)


async def test_banning_removes_matching_participants_at_once(store: MixStore) -> None:
    await store.create_channel(channel())
    await store.join(member(ALICE, "alice", joined=1))
    await store.join(member(BOB, "bob", joined=2))
    await store.join(member(CAROL, "carol", joined=3))
    # Allowing removes nobody; a domain ban removes everyone of that domain.
    assert await store.add_access(COFFEE, "allowed", "example.org") == []
    removed = await store.add_access(COFFEE, "banned", "example.org")
    assert [p.jid for p in removed] == [ALICE, BOB]
    assert [p.jid for p in await store.participants(COFFEE)] == [CAROL]
    assert [p.jid for p in await store.add_access(COFFEE, "banned", CAROL)] == [CAROL]
    assert await store.participants(COFFEE) == []


async def test_list_channels_with_ad_hoc(store: MixStore) -> None:
    await store.create_channel(channel(COFFEE, adhoc=True))
    await store.create_channel(channel(TEA))
    assert [c.jid for c in await store.list_channels(SERVICE, None, 10)] == [TEA]
    listed = await store.list_channels(SERVICE, None, 10, adhoc=True)
    assert [c.jid for c in listed] == [COFFEE, TEA]


async def test_sqlite_survives_reopen_and_cascade_leaves_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "mixd.sqlite"
    full = channel(info=ChannelInfo(name="n", contact=(BOB,), updated=3), config={"a": ("b",)})
    db = SQLiteDatabase(path)
    await db.open()
    try:
        store = SQLiteMixStore(db)
        await store.create_channel(full)
        await store.join(member(ALICE, "alice"))
    finally:
        await db.close()
    db = SQLiteDatabase(path)
    await db.open()
    try:
        store = SQLiteMixStore(db)
        assert await store.get_channel(COFFEE) == full
        assert await store.participants(COFFEE) == [member(ALICE, "alice")]
        await store.add_access(COFFEE, "banned", "example.net")
        await store.delete_channel(COFFEE)

        def count(conn: sqlite3.Connection) -> list[int]:
            tables = ("mix_channels", "mix_participants", "mix_access")
            return [conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables]

        assert await db.run(count) == [0, 0, 0]
    finally:
        await db.close()


async def test_sqlite_unique_nick_is_enforced_by_the_schema(tmp_path: Path) -> None:
    db = SQLiteDatabase(tmp_path / "mixd.sqlite")
    await db.open()
    try:
        store = SQLiteMixStore(db)
        await store.create_channel(channel())
        await store.join(member(ALICE, "alice"))

        def sneak(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO mix_participants (channel, jid, id, nick, nodes, joined)"
                " VALUES (?, ?, 'x', 'alice', '[]', 1)",
                (COFFEE, BOB),
            )

        with pytest.raises(sqlite3.IntegrityError):
            await db.run(sneak)
    finally:
        await db.close()
