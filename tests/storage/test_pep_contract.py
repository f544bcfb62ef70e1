"""One PepStore contract, run against every backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mixd.storage.contracts.accounts import AccountStore
from mixd.storage.contracts.pep import (
    MAX_ITEMS,
    MAX_NODES,
    AccessModel,
    NodeConfig,
    NodeExists,
    NodeLimitReached,
    PepItem,
    PepStore,
    PublishCheck,
    SendLast,
)
from mixd.storage.errors import AccountNotFound
from mixd.storage.memory.accounts import MemoryAccountStore
from mixd.storage.memory.pep import MemoryPepStore
from mixd.storage.postgres.accounts import PostgresAccountStore
from mixd.storage.postgres.pep import PostgresPepStore
from mixd.storage.sqlite.accounts import SQLiteAccountStore
from mixd.storage.sqlite.database import SQLiteDatabase
from mixd.storage.sqlite.pep import SQLitePepStore
from tests.pg_cluster import postgres_database

HOST = "example.org"
ALICE = (HOST, "alice")
BOB = (HOST, "bob")
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
NICK = "http://jabber.org/protocol/nick"
OPEN_MAX = NodeConfig(access_model=AccessModel.OPEN, max_items=None)


@dataclass
class Backend:
    accounts: AccountStore
    pep: PepStore


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "memory":
        accounts = MemoryAccountStore()
        for _, user in (ALICE, BOB):
            await accounts.create(HOST, user, ())
        yield Backend(accounts, MemoryPepStore(accounts))
        return
    if request.param == "postgresql":
        async with postgres_database(request) as pg:
            pg_accounts = PostgresAccountStore(pg)
            for _, user in (ALICE, BOB):
                await pg_accounts.create(HOST, user, ())
            yield Backend(pg_accounts, PostgresPepStore(pg))
        return
    db = SQLiteDatabase(tmp_path / "mixd.sqlite")
    await db.open()
    try:
        sql_accounts = SQLiteAccountStore(db)
        for _, user in (ALICE, BOB):
            await sql_accounts.create(HOST, user, ())
        yield Backend(sql_accounts, SQLitePepStore(db))
    finally:
        await db.close()


@pytest.fixture
def store(backend: Backend) -> PepStore:
    return backend.pep


def item(item_id: str, text: str = "x", minutes: int = 0) -> PepItem:
    payload = f"<nick xmlns='{NICK}'>{text}</nick>"
    return PepItem(item_id, payload, NOW + timedelta(minutes=minutes), "alice@example.org/phone")


def use(config: NodeConfig) -> PublishCheck:
    """A publish check that creates with `config` and keeps what exists."""
    return lambda current: config if current is None else current


async def test_publish_creates_the_node_with_the_checked_config(store: PepStore) -> None:
    seen: list[NodeConfig | None] = []

    def check(current: NodeConfig | None) -> NodeConfig:
        seen.append(current)
        return OPEN_MAX if current is None else current

    first = await store.publish(*ALICE, NICK, item("a"), check)
    assert first.created and first.config == OPEN_MAX
    second = await store.publish(*ALICE, NICK, item("b", minutes=1), check)
    assert not second.created and second.config == OPEN_MAX
    assert seen == [None, OPEN_MAX]
    node = await store.node(*ALICE, NICK)
    assert node is not None and node.config == OPEN_MAX
    got = await store.items(*ALICE, NICK)
    assert got is not None
    assert [i.id for i in got.items] == ["a", "b"]
    assert got.items[1] == item("b", minutes=1)  # payload, time, publisher kept


async def test_refused_check_writes_nothing(store: PepStore) -> None:
    def refuse(current: NodeConfig | None) -> NodeConfig:
        raise ValueError("precondition")

    with pytest.raises(ValueError):
        await store.publish(*ALICE, NICK, item("a"), refuse)
    assert await store.node(*ALICE, NICK) is None


async def test_items_beyond_the_limit_go_oldest_first(store: PepStore) -> None:
    two = NodeConfig(max_items=2)
    for n, name in enumerate("abc"):
        await store.publish(*ALICE, NICK, item(name, minutes=n), use(two))
    got = await store.items(*ALICE, NICK)
    assert got is not None and [i.id for i in got.items] == ["b", "c"]
    # Publishing an existing id replaces it and makes it the newest.
    await store.publish(*ALICE, NICK, item("b", "new", minutes=5), use(two))
    got = await store.items(*ALICE, NICK)
    assert got is not None and [(i.id, i.payload) for i in got.items] == [
        ("c", item("c").payload),
        ("b", item("b", "new").payload),
    ]


async def test_max_keeps_up_to_the_server_limit(store: PepStore) -> None:
    await asyncio.gather(
        *(store.publish(*ALICE, NICK, item(f"i{n}"), use(OPEN_MAX)) for n in range(MAX_ITEMS + 2))
    )
    got = await store.items(*ALICE, NICK)
    assert got is not None and len(got.items) == MAX_ITEMS


async def test_node_without_persistence_keeps_no_items(store: PepStore) -> None:
    transient = NodeConfig(persist_items=False)
    published = await store.publish(*ALICE, NICK, item("a"), use(transient))
    assert published.created
    got = await store.items(*ALICE, NICK)
    assert got is not None and got.items == () and got.node.config == transient


async def test_items_by_id_and_newest(store: PepStore) -> None:
    for n, name in enumerate("abcd"):
        await store.publish(*ALICE, NICK, item(name, minutes=n), use(OPEN_MAX))
    by_id = await store.items(*ALICE, NICK, ids=("d", "b", "zz"))
    assert by_id is not None and [i.id for i in by_id.items] == ["b", "d"]
    newest = await store.items(*ALICE, NICK, last=2)
    assert newest is not None and [i.id for i in newest.items] == ["c", "d"]
    assert await store.items(*ALICE, "no-such-node") is None
    assert await store.items(*BOB, NICK) is None  # nodes are per account


async def test_retract(store: PepStore) -> None:
    for name in "abc":
        await store.publish(*ALICE, NICK, item(name), use(OPEN_MAX))
    assert await store.retract(*ALICE, NICK, ["a", "zz", "c", "a"]) == ["a", "c"]
    got = await store.items(*ALICE, NICK)
    assert got is not None and [i.id for i in got.items] == ["b"]
    assert await store.retract(*ALICE, "no-such-node", ["b"]) == []


async def test_create_and_node_limit(store: PepStore) -> None:
    await store.create(*ALICE, "n0", NodeConfig())
    with pytest.raises(NodeExists):
        await store.create(*ALICE, "n0", NodeConfig())
    await asyncio.gather(
        *(store.create(*ALICE, f"n{n}", NodeConfig()) for n in range(1, MAX_NODES))
    )
    with pytest.raises(NodeLimitReached):
        await store.create(*ALICE, "one-more", NodeConfig())
    with pytest.raises(NodeLimitReached):
        await store.publish(*ALICE, "one-more", item("a"), use(NodeConfig()))
    # Existing nodes still take items; other accounts have their own budget.
    await store.publish(*ALICE, "n0", item("a"), use(NodeConfig()))
    await store.publish(*BOB, "n0", item("a"), use(NodeConfig()))
    assert len(await store.nodes(*ALICE)) == MAX_NODES


async def test_nodes_sorted_by_name(store: PepStore) -> None:
    await store.publish(*ALICE, "urn:b", item("a"), use(OPEN_MAX))
    await store.create(*ALICE, "urn:a", NodeConfig())
    nodes = await store.nodes(*ALICE)
    assert [(n.name, n.config) for n in nodes] == [("urn:a", NodeConfig()), ("urn:b", OPEN_MAX)]
    assert await store.nodes(*BOB) == []


async def test_configure_trims_to_the_new_limit(store: PepStore) -> None:
    for name in "abc":
        await store.publish(*ALICE, NICK, item(name), use(OPEN_MAX))
    wanted = NodeConfig(AccessModel.ROSTER, 1, True, SendLast.NEVER, ("friends",))
    assert await store.configure(*ALICE, NICK, lambda _old: wanted) == wanted
    got = await store.items(*ALICE, NICK)
    assert got is not None and got.node.config == wanted and [i.id for i in got.items] == ["c"]
    assert await store.configure(*ALICE, "no-such-node", lambda old: old) is None


async def test_delete_node(store: PepStore) -> None:
    await store.publish(*ALICE, NICK, item("a"), use(OPEN_MAX))
    assert await store.delete(*ALICE, NICK)
    assert await store.node(*ALICE, NICK) is None
    assert not await store.delete(*ALICE, NICK)
    # A node created again starts empty.
    await store.create(*ALICE, NICK, NodeConfig())
    got = await store.items(*ALICE, NICK)
    assert got is not None and got.items == ()


async def test_last_items_of_several_owners(store: PepStore) -> None:
    await store.publish(*ALICE, NICK, item("a1"), use(OPEN_MAX))
    await store.publish(*ALICE, NICK, item("a2", minutes=1), use(OPEN_MAX))
    await store.publish(*ALICE, "urn:other", item("o1"), use(NodeConfig()))
    await store.create(*ALICE, "urn:empty", NodeConfig())
    await store.publish(*BOB, NICK, item("b1"), use(NodeConfig()))
    last = await store.last_items([ALICE, BOB, ALICE, (HOST, "nobody")])
    got = {(x.username, x.node.name): (x.item.id, x.node.config) for x in last}
    assert got == {
        ("alice", NICK): ("a2", OPEN_MAX),
        ("alice", "urn:other"): ("o1", NodeConfig()),
        ("bob", NICK): ("b1", NodeConfig()),
    }
    assert await store.last_items([]) == []


async def test_vcard(store: PepStore) -> None:
    assert await store.vcard(*ALICE) is None
    await store.set_vcard(*ALICE, "<vCard xmlns='vcard-temp'><FN>A</FN></vCard>")
    await store.set_vcard(*ALICE, "<vCard xmlns='vcard-temp'><FN>B</FN></vCard>")
    assert await store.vcard(*ALICE) == "<vCard xmlns='vcard-temp'><FN>B</FN></vCard>"
    assert await store.vcard(*BOB) is None


async def test_writes_need_an_account(store: PepStore) -> None:
    nobody = (HOST, "nobody")
    with pytest.raises(AccountNotFound):
        await store.publish(*nobody, NICK, item("a"), use(NodeConfig()))
    with pytest.raises(AccountNotFound):
        await store.create(*nobody, NICK, NodeConfig())
    with pytest.raises(AccountNotFound):
        await store.set_vcard(*nobody, "<vCard xmlns='vcard-temp'/>")
    assert await store.nodes(*nobody) == []
    assert await store.vcard(*nobody) is None


async def test_deleting_the_account_deletes_its_data(backend: Backend) -> None:
    store = backend.pep
    await store.publish(*ALICE, NICK, item("a"), use(NodeConfig()))
    await store.set_vcard(*ALICE, "<vCard xmlns='vcard-temp'/>")
    await store.publish(*BOB, NICK, item("b"), use(NodeConfig()))
    assert await backend.accounts.delete(*ALICE)
    assert await store.nodes(*ALICE) == []
    assert await store.items(*ALICE, NICK) is None
    assert await store.vcard(*ALICE) is None
    assert [x.username for x in await store.last_items([ALICE, BOB])] == ["bob"]
    # A new account of the same name starts empty.
    await backend.accounts.create(HOST, "alice", ())
    assert await store.nodes(*ALICE) == []
    assert replace(NodeConfig(), max_items=None).item_limit == MAX_ITEMS
