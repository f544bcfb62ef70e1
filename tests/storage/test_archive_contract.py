"""One ArchiveStore contract, run against every backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mixd.storage.contracts.archive import (
    ArchiveConflict,
    ArchiveItemNotFound,
    ArchiveMessageNotFound,
    ArchiveQuery,
    ArchiveStore,
    DefaultMode,
    Direction,
    MessageRecord,
    NewEntry,
    Prefs,
    new_id,
)
from mixd.storage.memory.archive import MemoryArchiveStore
from mixd.storage.postgres.archive import PostgresArchiveStore
from mixd.storage.postgres.database import Connection
from mixd.storage.sqlite.archive import SQLiteArchiveStore
from mixd.storage.sqlite.database import SQLiteDatabase
from tests.pg_cluster import postgres_database

ALICE, BOB, CAROL = "alice@example.org", "bob@example.org", "carol@example.org"
T0 = 1_700_000_000_000_000


@dataclass
class Backend:
    store: ArchiveStore
    message_rows: Callable[[], Awaitable[int]]


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "memory":
        memory = MemoryArchiveStore()

        async def memory_rows() -> int:
            return memory.message_count()

        yield Backend(memory, memory_rows)
        return
    if request.param == "postgresql":
        async with postgres_database(request) as pg:

            async def count(conn: Connection) -> int:
                return int(await conn.fetchval("SELECT COUNT(*) FROM messages"))

            async def postgres_rows() -> int:
                return await pg.run(count)

            yield Backend(PostgresArchiveStore(pg), postgres_rows)
        return
    db = SQLiteDatabase(tmp_path / "mixd.sqlite")
    await db.open()

    async def sqlite_rows() -> int:
        return int(await db.run(lambda c: c.execute("SELECT COUNT(*) FROM messages").fetchone()[0]))

    try:
        yield Backend(SQLiteArchiveStore(db), sqlite_rows)
    finally:
        await db.close()


def record(n: int, ts: int, sender: str = ALICE) -> MessageRecord:
    xml = f"<message type='chat' to='bob@example.org'><body>m{n} &lt;&amp;</body></message>"
    return MessageRecord(xml, ts, sender, "chat", origin_id=f"o{n}")


def out(owner: str, with_jid: str, ts: int, resource: str | None = None) -> NewEntry:
    return NewEntry(owner, with_jid, Direction.OUT, ts, resource)


def inc(owner: str, with_jid: str, ts: int, resource: str | None = None) -> NewEntry:
    return NewEntry(owner, with_jid, Direction.IN, ts, resource)


async def fill(store: ArchiveStore, n: int, same_time: bool = False) -> list[str]:
    """n messages alice -> bob in alice's archive; returns alice's ids in order."""
    ids: list[str] = []
    for i in range(n):
        ts = T0 if same_time else T0 + i * 1000
        stored = await store.store(record(i, ts), [out(ALICE, BOB, ts)])
        ids.extend(stored.entry_ids)
    return ids


def q(owner: str = ALICE, limit: int = 50, **kw: Any) -> ArchiveQuery:
    return ArchiveQuery(owner, limit, **kw)


def test_new_ids_are_unique_url_safe_and_time_ordered() -> None:
    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 32 and i.isalnum() and i == i.lower() for i in ids)
    assert ids[0] <= ids[-1]


async def test_shared_message_is_stored_once_with_two_entries(backend: Backend) -> None:
    store = backend.store
    stored = await store.store(record(1, T0), [out(ALICE, BOB, T0, "b"), inc(BOB, ALICE, T0, "a")])
    assert len(stored.entry_ids) == 2 and len(set(stored.entry_ids)) == 2
    assert await backend.message_rows() == 1
    mine, theirs = (await store.query(q(ALICE))).items, (await store.query(q(BOB))).items
    assert [i.id for i in mine] == [stored.entry_ids[0]]
    assert [i.id for i in theirs] == [stored.entry_ids[1]]
    assert mine[0].message_id == theirs[0].message_id == stored.message_id
    assert mine[0].xml == theirs[0].xml == record(1, T0).xml
    assert (mine[0].direction, mine[0].with_jid, mine[0].with_resource) == (Direction.OUT, BOB, "b")
    assert (theirs[0].direction, theirs[0].with_jid) == (Direction.IN, ALICE)


async def test_add_entries_references_the_same_message(backend: Backend) -> None:
    store = backend.store
    stored = await store.store(record(1, T0), [out(ALICE, BOB, T0)])
    (bob_id,) = await store.add_entries(stored.message_id, [inc(BOB, ALICE, T0 + 5)])
    assert await backend.message_rows() == 1
    page = await store.query(q(BOB))
    assert [(i.id, i.message_id, i.timestamp) for i in page.items] == [
        (bob_id, stored.message_id, T0 + 5)
    ]
    with pytest.raises(ArchiveMessageNotFound):
        await store.add_entries("nosuchmessage", [inc(BOB, ALICE, T0)])


async def test_store_needs_an_entry(backend: Backend) -> None:
    with pytest.raises(ValueError):
        await backend.store.store(record(1, T0), [])


async def test_empty_archive(backend: Backend) -> None:
    page = await backend.store.query(q(ALICE))
    assert (page.items, page.count, page.first_index, page.complete) == ((), 0, None, True)
    bounds = await backend.store.bounds(ALICE)
    assert bounds.first is None and bounds.last is None


async def test_forward_paging_is_exact(backend: Backend) -> None:
    ids = await fill(backend.store, 120)
    seen: list[str] = []
    after = None
    shapes = []
    while True:
        page = await backend.store.query(q(limit=50, after=after))
        shapes.append((len(page.items), page.first_index, page.count, page.complete))
        seen.extend(i.id for i in page.items)
        assert page.first == page.items[0].id and page.last == page.items[-1].id
        if page.complete:
            break
        after = page.last
    assert shapes == [(50, 0, 120, False), (50, 50, 120, False), (20, 100, 120, True)]
    assert seen == ids


async def test_backward_paging_is_exact(backend: Backend) -> None:
    ids = await fill(backend.store, 120)
    pages = []
    before = ""
    while True:
        page = await backend.store.query(q(limit=50, before=before, from_end=True))
        pages.append(page)
        if page.complete:
            break
        assert page.first is not None
        before = page.first
    shapes = [(len(p.items), p.first_index, p.count, p.complete) for p in pages]
    assert shapes == [(50, 70, 120, False), (50, 20, 120, False), (20, 0, 120, True)]
    assert [i.id for i in pages[0].items] == ids[70:]  # chronological within the page
    assert [i.id for i in pages[1].items] == ids[20:70]
    assert [i.id for i in pages[2].items] == ids[:20]


async def test_paging_is_exact_when_timestamps_tie(backend: Backend) -> None:
    ids = await fill(backend.store, 30, same_time=True)
    first = await backend.store.query(q(limit=7))
    second = await backend.store.query(q(limit=7, after=first.last))
    assert [i.id for i in first.items + second.items] == ids[:14]
    last = await backend.store.query(q(limit=7, from_end=True, before=ids[10]))
    assert [i.id for i in last.items] == ids[3:10]
    assert last.first_index == 3


async def test_exact_page_boundary_is_complete(backend: Backend) -> None:
    ids = await fill(backend.store, 100)
    second = await backend.store.query(q(limit=50, after=ids[49]))
    assert (len(second.items), second.complete) == (50, True)
    after_last = await backend.store.query(q(limit=50, after=ids[-1]))
    assert (after_last.items, after_last.complete, after_last.count) == ((), True, 100)
    before_first = await backend.store.query(q(limit=50, before=ids[0], from_end=True))
    assert (before_first.items, before_first.complete) == ((), True)


async def test_limit_zero_counts_only(backend: Backend) -> None:
    await fill(backend.store, 12)
    page = await backend.store.query(q(limit=0))
    assert (page.items, page.count, page.first_index, page.complete) == ((), 12, None, False)
    page = await backend.store.query(q(limit=0, from_end=True))
    assert (page.items, page.count) == ((), 12)


async def test_index_jumps_into_the_result_set(backend: Backend) -> None:
    ids = await fill(backend.store, 120)
    page = await backend.store.query(q(limit=50, index=110))
    assert [i.id for i in page.items] == ids[110:]
    assert (page.first_index, page.complete) == (110, True)
    beyond = await backend.store.query(q(limit=50, index=500))
    assert (beyond.items, beyond.complete, beyond.count) == ((), True, 120)


@pytest.mark.parametrize("field", ["after", "before", "after_id", "before_id", "ids"])
async def test_unknown_ids_are_not_found(backend: Backend, field: str) -> None:
    await fill(backend.store, 3)
    bob_only = await backend.store.store(record(9, T0), [inc(BOB, ALICE, T0)])
    for unknown in ("nosuchid", bob_only.entry_ids[0], "' OR 1=1 --", "x" * 10_000):
        kw: dict[str, Any] = {field: (unknown,) if field == "ids" else unknown}
        if field == "before":
            kw["from_end"] = True
        with pytest.raises(ArchiveItemNotFound):
            await backend.store.query(q(**kw))


async def test_with_filter_bare_and_full(backend: Backend) -> None:
    store = backend.store
    a = await store.store(record(1, T0), [out(ALICE, BOB, T0, "phone")])
    b = await store.store(record(2, T0 + 1), [out(ALICE, CAROL, T0 + 1)])
    c = await store.store(record(3, T0 + 2), [inc(ALICE, BOB, T0 + 2, "laptop")])
    d = await store.store(record(4, T0 + 3), [out(ALICE, ALICE, T0 + 3, "other")])
    bob = await store.query(q(with_jid=BOB))
    assert [i.id for i in bob.items] == [a.entry_ids[0], c.entry_ids[0]] and bob.count == 2
    laptop = await store.query(q(with_jid=BOB, with_resource="laptop"))
    assert [i.id for i in laptop.items] == [c.entry_ids[0]]
    carol = await store.query(q(with_jid=CAROL))
    assert [i.id for i in carol.items] == [b.entry_ids[0]]
    myself = await store.query(q(with_jid=ALICE))
    assert [i.id for i in myself.items] == [d.entry_ids[0]]


async def test_time_filters_are_inclusive(backend: Backend) -> None:
    ids = await fill(backend.store, 10)  # T0, T0+1000, ...
    page = await backend.store.query(q(start=T0 + 2000, end=T0 + 5000))
    assert [i.id for i in page.items] == ids[2:6]
    assert page.count == 4 and page.first_index == 0
    assert (await backend.store.query(q(start=T0 + 10_000))).count == 0


async def test_id_filters(backend: Backend) -> None:
    ids = await fill(backend.store, 10)
    between = await backend.store.query(q(after_id=ids[2], before_id=ids[7]))
    assert [i.id for i in between.items] == ids[3:7] and between.complete
    chosen = await backend.store.query(q(ids=(ids[8], ids[1], ids[4])))
    assert [i.id for i in chosen.items] == [ids[1], ids[4], ids[8]]
    # RSM paging within a filtered set, from the end.
    page = await backend.store.query(q(limit=2, after_id=ids[2], from_end=True))
    assert [i.id for i in page.items] == ids[8:] and page.first_index == 5


async def test_pathological_filter_values_match_nothing(backend: Backend) -> None:
    await fill(backend.store, 5)
    for value in ("%", "_", "*", "' OR '1'='1", "alice%", 'bob"; DROP TABLE messages; --'):
        page = await backend.store.query(q(with_jid=value))
        assert page.count == 0
        assert (await backend.store.query(q(owner=value))).count == 0
    assert (await backend.store.query(q(with_jid="b" * 10_000))).count == 0
    assert (await backend.store.query(q())).count == 5


async def test_late_timestamp_sorts_by_time(backend: Backend) -> None:
    store = backend.store
    late = await store.store(record(1, T0 + 10), [out(ALICE, BOB, T0 + 10)])
    early = await store.store(record(2, T0), [out(ALICE, BOB, T0)])
    page = await store.query(q())
    assert [i.id for i in page.items] == [early.entry_ids[0], late.entry_ids[0]]
    bounds = await store.bounds(ALICE)
    assert bounds.first is not None and bounds.last is not None
    assert (bounds.first.id, bounds.last.id) == (early.entry_ids[0], late.entry_ids[0])
    assert bounds.first.timestamp == T0


async def test_prefs_round_trip(backend: Backend) -> None:
    store = backend.store
    assert await store.get_prefs(ALICE) == Prefs()
    prefs = Prefs(DefaultMode.ROSTER, (BOB, "x@y/z"), (CAROL,))
    await store.set_prefs(ALICE, prefs)
    assert await store.get_prefs(ALICE) == prefs
    assert await store.get_prefs(BOB) == Prefs()
    await store.set_prefs(ALICE, Prefs(DefaultMode.NEVER))
    assert await store.get_prefs(ALICE) == Prefs(DefaultMode.NEVER)


async def test_delete_owner_keeps_shared_messages(backend: Backend) -> None:
    store = backend.store
    shared = await store.store(record(1, T0), [out(ALICE, BOB, T0), inc(BOB, ALICE, T0)])
    await store.store(record(2, T0 + 1), [out(ALICE, CAROL, T0 + 1)])
    await store.set_prefs(ALICE, Prefs(DefaultMode.NEVER))
    assert await store.delete_owner(ALICE) == 2
    assert (await store.query(q(ALICE))).count == 0
    assert await store.get_prefs(ALICE) == Prefs()
    bob = await store.query(q(BOB))
    assert [i.message_id for i in bob.items] == [shared.message_id]
    assert await backend.message_rows() == 1
    assert await store.delete_owner(BOB) == 1
    assert await backend.message_rows() == 0
    assert await store.delete_owner(BOB) == 0


# -- origin-id de-duplication ---------------------------------------------------


async def test_resent_message_is_not_stored_twice(backend: Backend) -> None:
    store = backend.store
    first = await store.store(record(1, T0), [out(ALICE, BOB, T0)])
    (bob_id,) = await store.add_entries(first.message_id, [inc(BOB, ALICE, T0)])
    again = await store.store(record(1, T0 + 9), [out(ALICE, BOB, T0 + 9)])
    assert again.duplicate and not first.duplicate
    assert (again.message_id, again.entry_ids) == (first.message_id, first.entry_ids)
    assert again.holders == {ALICE, BOB}
    assert await backend.message_rows() == 1
    assert [i.id for i in (await store.query(q(BOB))).items] == [bob_id]


async def test_same_origin_id_elsewhere_is_a_new_message(backend: Backend) -> None:
    store = backend.store
    await store.store(record(1, T0), [out(ALICE, BOB, T0)])
    to_carol = await store.store(record(1, T0), [out(ALICE, CAROL, T0)])
    from_bob = await store.store(record(1, T0, sender=BOB), [out(BOB, ALICE, T0)])
    no_origin = MessageRecord("<message/>", T0, ALICE, "chat")
    twice = [await store.store(no_origin, [out(ALICE, BOB, T0)]) for _ in range(2)]
    assert not any(s.duplicate for s in (to_carol, from_bob, *twice))
    assert await backend.message_rows() == 5


# -- following another archive (MIX-PAM participants follow the channel) -------

ROOM = "room@mix.example.org"


async def to_room(store: ArchiveStore, n: int, sender: str = ALICE) -> str:
    ts = T0 + n * 1000
    stored = await store.store(record(n, ts, sender), [inc(ROOM, sender, ts, f"pid-{sender[0]}")])
    return stored.entry_ids[0]


async def test_follower_sees_entries_committed_while_following(backend: Backend) -> None:
    store = backend.store
    await to_room(store, 1)
    await store.follow(BOB, ROOM)
    await store.follow(BOB, ROOM)  # twice changes nothing
    shown = [await to_room(store, n) for n in (2, 3)]
    await store.unfollow(BOB, ROOM)
    await to_room(store, 4)
    assert await store.followers(ROOM) == frozenset()
    page = await store.query(q(BOB))
    assert [i.id for i in page.items] == shown
    item = page.items[0]
    assert (item.with_jid, item.with_resource, item.direction) == (ROOM, "pid-a", Direction.IN)
    assert await backend.message_rows() == 4
    assert (await store.query(q(ROOM))).count == 4


async def test_follow_again_and_mix_with_own_entries(backend: Backend) -> None:
    store = backend.store
    await store.follow(BOB, ROOM)
    first = await to_room(store, 1)
    await store.unfollow(BOB, ROOM)
    await store.follow(BOB, ROOM)  # nothing in between: the span goes on
    second = await to_room(store, 2)
    await store.unfollow(BOB, ROOM)
    await to_room(store, 3)
    await store.follow(BOB, ROOM)
    assert await store.followers(ROOM) == {BOB}
    own = (await store.store(record(4, T0 + 3500), [inc(BOB, ALICE, T0 + 3500)])).entry_ids[0]
    fourth = await to_room(store, 5)
    ids = [i.id for i in (await store.query(q(BOB))).items]
    assert ids == [first, second, own, fourth]
    only_room = await store.query(q(BOB, with_jid=ROOM))
    assert [i.id for i in only_room.items] == [first, second, fourth]
    by_sender = await store.query(q(BOB, with_jid=ROOM, with_resource="pid-a"))
    assert by_sender.count == 3
    after = await store.query(q(BOB, limit=2, after=second))
    assert [i.id for i in after.items] == [own, fourth] and after.first_index == 2
    last = await store.query(q(BOB, limit=1, from_end=True, before=fourth))
    assert [i.id for i in last.items] == [own]
    assert [i.id for i in (await store.query(q(BOB, ids=(second,)))).items] == [second]
    bounds = await store.bounds(BOB)
    assert bounds.first is not None and bounds.last is not None
    assert (bounds.first.id, bounds.last.id) == (first, fourth)
    with pytest.raises(ArchiveItemNotFound):
        await store.query(q(CAROL, after=first))  # not shown to carol


async def test_deleting_a_followed_archive_leaves_followers_their_history(
    backend: Backend,
) -> None:
    store = backend.store
    await store.follow(BOB, ROOM)
    await store.follow(CAROL, ROOM)
    await to_room(store, 1)
    await store.unfollow(CAROL, ROOM)
    await to_room(store, 2, sender=BOB)
    await store.delete_owner(ROOM)
    assert (await store.query(q(ROOM))).count == 0
    assert await store.followers(ROOM) == frozenset()
    bob = (await store.query(q(BOB))).items
    assert [(i.with_jid, i.direction) for i in bob] == [(ROOM, Direction.IN)] * 2
    assert [i.xml for i in bob] == [record(1, 0).xml, record(2, 0).xml]
    assert (await store.query(q(CAROL))).count == 1
    assert await backend.message_rows() == 2
    await to_room(store, 3)  # a new channel of that name: nobody follows it
    assert (await store.query(q(BOB))).count == 2


async def test_deleting_a_follower_stops_its_feed(backend: Backend) -> None:
    store = backend.store
    await store.follow(BOB, ROOM)
    await to_room(store, 1)
    await store.delete_owner(BOB)
    assert await store.followers(ROOM) == frozenset()
    assert (await store.query(q(BOB))).count == 0
    assert (await store.query(q(ROOM))).count == 1


# -- retraction (XEP-0407 tombstones) -----------------------------------------

TOMBSTONE = "<message type='groupchat'><retracted xmlns='urn:xmpp:mix:misc:0'/></message>"


def notice(n: int, ts: int, sender: str = ALICE, origin: str | None = None) -> MessageRecord:
    xml = f"<message type='groupchat'><retract xmlns='urn:xmpp:mix:misc:0' id='{n}'/></message>"
    return MessageRecord(xml, ts, sender, "groupchat", origin_id=origin)


async def test_retract_leaves_a_tombstone_every_follower_sees(backend: Backend) -> None:
    store = backend.store
    await store.follow(BOB, ROOM)
    target = await to_room(store, 1)
    other = await to_room(store, 2)
    ts = T0 + 5000
    stored = await store.retract(
        ROOM, target, record(1, 0).xml, TOMBSTONE, notice(1, ts), [inc(ROOM, ALICE, ts, "pid-a")]
    )
    assert not stored.duplicate
    for owner in (ROOM, BOB):
        items = (await store.query(q(owner))).items
        assert [i.id for i in items] == [target, other, stored.entry_ids[0]]
        assert [i.xml for i in items] == [TOMBSTONE, record(2, 0).xml, notice(1, ts).xml]
    assert await backend.message_rows() == 3


async def test_retract_refuses_a_changed_or_unknown_message(backend: Backend) -> None:
    store = backend.store
    target = await to_room(store, 1)
    entry = [inc(ROOM, ALICE, T0, "pid-a")]
    with pytest.raises(ArchiveItemNotFound):
        await store.retract(ROOM, new_id(), record(1, 0).xml, TOMBSTONE, notice(1, T0), entry)
    with pytest.raises(ArchiveItemNotFound):  # another archive's entry is not the room's
        await store.retract(BOB, target, record(1, 0).xml, TOMBSTONE, notice(1, T0), entry)
    with pytest.raises(ArchiveConflict):
        await store.retract(ROOM, target, "<message/>", TOMBSTONE, notice(1, T0), entry)
    with pytest.raises(ArchiveConflict):
        await store.retract(ROOM, target, None, TOMBSTONE, notice(1, T0), entry)
    await store.retract(ROOM, target, record(1, 0).xml, TOMBSTONE, notice(1, T0), entry)
    with pytest.raises(ArchiveConflict):  # a second retraction finds the tombstone
        await store.retract(ROOM, target, record(1, 0).xml, TOMBSTONE, notice(1, T0), entry)
    assert [i.xml for i in (await store.query(q(ROOM, ids=(target,)))).items] == [TOMBSTONE]
    assert await backend.message_rows() == 2


async def test_resent_retraction_is_found_not_repeated(backend: Backend) -> None:
    store = backend.store
    target = await to_room(store, 1)
    entry = [inc(ROOM, ALICE, T0, "pid-a")]
    first = await store.retract(
        ROOM, target, record(1, 0).xml, TOMBSTONE, notice(1, T0, origin="r1"), entry
    )
    again = await store.retract(ROOM, target, None, TOMBSTONE, notice(1, T0, origin="r1"), entry)
    assert again.duplicate and again.entry_ids == first.entry_ids
    with pytest.raises(ArchiveConflict):  # another origin-id is another retraction
        await store.retract(ROOM, target, None, TOMBSTONE, notice(1, T0, origin="r2"), entry)
    assert await backend.message_rows() == 2
