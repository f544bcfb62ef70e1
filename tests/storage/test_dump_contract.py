"""The DumpStore contract (export and import support), on every backend."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mixd.app import stores
from mixd.portable.command import dump_store
from mixd.portable.export import Exporter
from mixd.portable.importer import Importer
from mixd.storage.contracts.archive import (
    ArchiveItemNotFound,
    ArchiveQuery,
    Direction,
    MessageRecord,
    NewEntry,
    Prefs,
)
from mixd.storage.contracts.dump import DumpedEntry, FollowSpan
from mixd.storage.contracts.mix import Channel
from mixd.storage.contracts.mix_misc import NodeItem, RegisteredNick
from mixd.storage.contracts.roster import RosterItem
from mixd.storage.errors import AccountNotFound
from mixd.storage.sqlite.database import SQLiteDatabase
from tests.pg_cluster import postgres_database
from tests.portable_data import HOST, SERVICES, Backend, memory_backend, populate, snapshot

ALICE, BOB, ROOM = "alice@example.org", "bob@example.org", "room@mix.example.org"
T0 = 1_700_000_000_000_000


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "memory":
        yield memory_backend()
        return
    if request.param == "postgresql":
        async with postgres_database(request) as pg:
            yield Backend(stores(pg), dump_store(pg))
        return
    db = SQLiteDatabase(tmp_path / "mixd.sqlite")
    await db.open()
    try:
        yield Backend(stores(db), dump_store(db))
    finally:
        await db.close()


def message(n: int, ts: int) -> MessageRecord:
    return MessageRecord(f"<message><body>{n}</body></message>", ts, ALICE, "chat", f"o{n}")


async def test_hosts_and_services(backend: Backend) -> None:
    s = backend.stores
    assert await backend.dump.account_hosts() == []
    for host, user in (("b.example", "x"), ("a.example", "y"), ("a.example", "z")):
        await s.accounts.create(host, user, ())
    await s.mix.create_channel(Channel("c@mix.b.example", True, T0, (), b"k"))
    await s.mix.create_channel(Channel("c@mix.a.example", False, T0, (), b"k"))
    assert await backend.dump.account_hosts() == ["a.example", "b.example"]
    assert await backend.dump.channel_services() == ["mix.a.example", "mix.b.example"]


async def test_archive_owners_cover_entries_prefs_and_spans(backend: Backend) -> None:
    archive = backend.stores.archive
    await archive.store(message(1, T0), [NewEntry("d@x", "e@x", Direction.OUT, T0)])
    await archive.set_prefs("b@x", Prefs())
    await archive.follow("a@x", "c@x")
    dump = backend.dump
    assert await dump.archive_owners(None, 10) == ["a@x", "b@x", "d@x"]
    assert await dump.archive_owners(None, 2) == ["a@x", "b@x"]
    assert await dump.archive_owners("b@x", 2) == ["d@x"]


async def test_entries_in_insertion_order_with_their_message(backend: Backend) -> None:
    archive = backend.stores.archive
    ids = []
    for n, ts in enumerate((T0 + 5, T0 + 1, T0 + 3)):  # stored out of time order
        stored = await archive.store(
            message(n, ts),
            [
                NewEntry(ALICE, BOB, Direction.OUT, ts, "phone"),
                NewEntry(BOB, ALICE, Direction.IN, ts),
            ],
        )
        ids.append(stored.entry_ids[0])
    await archive.follow(ALICE, ROOM)
    await archive.store(message(9, T0), [NewEntry(ROOM, BOB, Direction.IN, T0)])

    first = await backend.dump.entries(ALICE, None, 2)
    rest = await backend.dump.entries(ALICE, first[-1].id, 2)

    assert [e.id for e in first + rest] == ids  # the channel's entry is not Alice's own
    assert first[0].message == message(0, T0 + 5)
    assert (first[0].owner, first[0].with_jid, first[0].with_resource) == (ALICE, BOB, "phone")
    assert first[0].direction is Direction.OUT and first[0].timestamp == T0 + 5
    with pytest.raises(ArchiveItemNotFound):
        await backend.dump.entries(ALICE, "no-such-entry", 2)


async def test_spans_name_the_feed_entries_shown(backend: Backend) -> None:
    archive = backend.stores.archive
    await archive.follow(ALICE, ROOM)
    await archive.follow(BOB, ROOM)
    ids = []
    for n in range(4):
        if n == 2:
            await archive.unfollow(ALICE, ROOM)
        stored = await archive.store(
            message(n, T0 + n), [NewEntry(ROOM, BOB, Direction.IN, T0 + n)]
        )
        ids.append(stored.entry_ids[0])
    await archive.follow("carol@example.org", ROOM)  # open, nothing shown yet
    await archive.follow("dave@example.org", ROOM)
    await archive.unfollow("dave@example.org", ROOM)  # empty and closed: gone

    assert await backend.dump.spans(ROOM) == [
        FollowSpan(ALICE, ROOM, ids[0], ids[1], False),
        FollowSpan(BOB, ROOM, ids[0], ids[3], True),
        FollowSpan("carol@example.org", ROOM, None, None, True),
    ]


def dumped(entry_id: str, message_id: str, owner: str, n: int, ts: int) -> DumpedEntry:
    return DumpedEntry(entry_id, message_id, owner, BOB, "r", Direction.OUT, ts, message(n, ts))


async def test_restore_entries_keeps_ids_times_and_sharing(backend: Backend) -> None:
    archive, dump = backend.stores.archive, backend.dump
    written = await dump.restore_entries(
        [
            dumped("e1", "m1", ALICE, 1, T0 + 2),
            dumped("e2", "m2", ALICE, 2, T0 + 1),
            dumped("e3", "m1", BOB, 1, T0 + 2),  # the same message in Bob's archive
        ]
    )
    again = await dump.restore_entries([dumped("e1", "m1", ALICE, 1, T0 + 2)])

    assert (written, again) == (3, 0)
    page = await archive.query(ArchiveQuery(ALICE, 10))
    assert [(i.id, i.message_id, i.timestamp) for i in page.items] == [
        ("e2", "m2", T0 + 1),
        ("e1", "m1", T0 + 2),
    ]
    assert page.count == 2
    assert (await archive.query(ArchiveQuery(BOB, 10))).items[0].message_id == "m1"
    assert [e.id for e in await dump.entries(ALICE, None, 10)] == ["e1", "e2"]
    # New messages still get their own ids after restored ones.
    stored = await archive.store(message(7, T0 + 3), [NewEntry(ALICE, BOB, Direction.OUT, T0 + 3)])
    assert (await archive.query(ArchiveQuery(ALICE, 10))).items[-1].id == stored.entry_ids[0]


async def test_restore_span_shows_first_to_last(backend: Backend) -> None:
    archive, dump = backend.stores.archive, backend.dump
    await dump.restore_entries([dumped(f"c{n}", f"m{n}", ROOM, n, T0 + n) for n in range(4)])
    await dump.restore_span(FollowSpan(ALICE, ROOM, "c1", "c2", False))
    await dump.restore_span(FollowSpan(BOB, ROOM, "c2", "c3", True))
    await dump.restore_span(FollowSpan("carol@example.org", ROOM, None, None, True))
    later = await archive.store(message(9, T0 + 9), [NewEntry(ROOM, BOB, Direction.IN, T0 + 9)])

    async def shown(owner: str) -> list[str]:
        page = await archive.query(ArchiveQuery(owner, 10))
        assert page.count == len(page.items)
        return [item.id for item in page.items]

    assert await shown(ALICE) == ["c1", "c2"]
    assert await shown(BOB) == ["c2", "c3", later.entry_ids[0]]
    assert await shown("carol@example.org") == [later.entry_ids[0]]
    assert await archive.followers(ROOM) == frozenset({BOB, "carol@example.org"})
    with pytest.raises(ArchiveItemNotFound):
        await dump.restore_span(FollowSpan(ALICE, ROOM, "c1", "nope", False))


async def test_raise_roster_version(backend: Backend) -> None:
    s = backend.stores
    with pytest.raises(AccountNotFound):
        await backend.dump.raise_roster_version(HOST, "alice", 5)
    await s.accounts.create(HOST, "alice", ())
    await s.roster.update(HOST, "alice", BOB, lambda _: RosterItem(BOB))
    await backend.dump.raise_roster_version(HOST, "alice", 7)
    assert (await s.roster.roster(HOST, "alice")).version == 7
    await backend.dump.raise_roster_version(HOST, "alice", 3)
    assert (await s.roster.roster(HOST, "alice")).version == 7


async def test_round_trip_between_two_of_the_same_backend(backend: Backend) -> None:
    await populate(backend.stores, backend.dump)
    before = await snapshot(backend.stores, backend.dump)
    document = io.StringIO()
    await Exporter(backend.stores, backend.dump, document).run()
    target = memory_backend()
    importer = Importer(target.stores, target.dump, frozenset({HOST}), SERVICES)
    await importer.check_target()
    await importer.write(io.BytesIO(document.getvalue().encode()))
    assert await snapshot(target.stores, target.dump) == before


async def test_registered_nicks_and_channel_node_items(backend: Backend) -> None:
    s, dump = backend.stores, backend.dump
    await s.mix.create_channel(Channel(ROOM, False, T0, (), b"k"))
    await s.mix_misc.register_nick(RegisteredNick("mix.other.example", BOB, "Bob", "bob"))
    await s.mix_misc.register_nick(RegisteredNick("mix.example.org", BOB, "B", "b"))
    await s.mix_misc.register_nick(RegisteredNick("mix.example.org", ALICE, "Al", "al"))
    for node, item_id, updated in (("z", "1", T0), ("a", "2", T0 + 2), ("a", "1", T0 + 1)):
        await s.mix_misc.publish_item(ROOM, node, NodeItem(item_id, "<x/>", updated), 10)

    assert await dump.channel_services() == ["mix.example.org", "mix.other.example"]
    assert [n.user for n in await dump.registered_nicks("mix.example.org")] == [ALICE, BOB]
    assert [(node, i.id) for node, i in await dump.channel_node_items(ROOM)] == [
        ("a", "1"),
        ("a", "2"),
        ("z", "1"),
    ]
