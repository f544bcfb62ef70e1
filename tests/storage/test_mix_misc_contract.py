"""One MixMiscStore contract (avatar node items, registered nicks), run
against every backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mixd.storage.contracts.mix import Channel, MixStore, Participant
from mixd.storage.contracts.mix_misc import (
    ChannelNotFound,
    MixMiscStore,
    NickTaken,
    NodeItem,
    RegisteredNick,
)
from mixd.storage.memory.mix import MemoryMixStore
from mixd.storage.memory.mix_misc import MemoryMixMiscStore
from mixd.storage.postgres.mix import PostgresMixStore
from mixd.storage.postgres.mix_misc import PostgresMixMiscStore
from mixd.storage.sqlite.database import SQLiteDatabase
from mixd.storage.sqlite.mix import SQLiteMixStore
from mixd.storage.sqlite.mix_misc import SQLiteMixMiscStore
from tests.pg_cluster import postgres_database

SERVICE, OTHER = "mix.example.org", "mix.example.net"
COFFEE = f"coffee@{SERVICE}"
DATA, META = "urn:xmpp:avatar:data", "urn:xmpp:avatar:metadata"
ALICE, BOB = "alice@example.org", "bob@example.org"


@dataclass
class Stores:
    mix: MixStore
    misc: MixMiscStore


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    if request.param == "memory":
        memory = MemoryMixStore()
        yield Stores(memory, MemoryMixMiscStore(memory))
        return
    if request.param == "postgresql":
        async with postgres_database(request) as pg:
            yield Stores(PostgresMixStore(pg), PostgresMixMiscStore(pg))
        return
    db = SQLiteDatabase(tmp_path / "mixd.sqlite")
    await db.open()
    try:
        yield Stores(SQLiteMixStore(db), SQLiteMixMiscStore(db))
    finally:
        await db.close()


async def channel(stores: Stores, jid: str = COFFEE) -> str:
    await stores.mix.create_channel(Channel(jid, False, 1, (ALICE,), b"k"))
    return jid


async def test_node_items_publish_replace_trim_retract(stores: Stores) -> None:
    misc = stores.misc
    jid = await channel(stores)
    assert await misc.node_items(jid, DATA) == []
    await misc.publish_item(jid, DATA, NodeItem("a", "<data>1</data>", 10), keep=2)
    await misc.publish_item(jid, DATA, NodeItem("b", "<data>2</data>", 20), keep=2)
    await misc.publish_item(jid, META, NodeItem("b", "<metadata/>", 20), keep=1)
    await misc.publish_item(jid, DATA, NodeItem("a", "<data>3</data>", 30), keep=2)
    assert await misc.node_items(jid, DATA) == [
        NodeItem("b", "<data>2</data>", 20),
        NodeItem("a", "<data>3</data>", 30),
    ]
    await misc.publish_item(jid, DATA, NodeItem("c", "<data>4</data>", 40), keep=2)
    assert [i.id for i in await misc.node_items(jid, DATA)] == ["a", "c"]
    assert await misc.retract_item(jid, DATA, "a")
    assert not await misc.retract_item(jid, DATA, "a")
    assert [i.id for i in await misc.node_items(jid, DATA)] == ["c"]
    assert [i.id for i in await misc.node_items(jid, META)] == ["b"]
    await misc.drop_channel(jid)
    assert await misc.node_items(jid, DATA) == [] and await misc.node_items(jid, META) == []


async def test_items_need_the_channel_and_go_with_it(stores: Stores) -> None:
    misc = stores.misc
    with pytest.raises(ChannelNotFound):
        await misc.publish_item(COFFEE, DATA, NodeItem("a", "<data/>", 1), keep=1)
    jid = await channel(stores)
    await misc.publish_item(jid, DATA, NodeItem("a", "<data/>", 1), keep=1)
    await stores.mix.delete_channel(jid)
    await misc.drop_channel(jid)
    await channel(stores)  # the same name again starts without an avatar
    assert await misc.node_items(jid, DATA) == []


async def test_registered_nicks_are_unique_per_service(stores: Stores) -> None:
    misc = stores.misc
    assert await misc.registered_nick(SERVICE, ALICE) is None
    alice = RegisteredNick(SERVICE, ALICE, "Witch", "witch")
    await misc.register_nick(alice)
    assert await misc.registered_nick(SERVICE, ALICE) == alice
    assert await misc.nick_holder(SERVICE, "witch") == ALICE
    with pytest.raises(NickTaken):
        await misc.register_nick(RegisteredNick(SERVICE, BOB, "WITCH", "witch"))
    await misc.register_nick(RegisteredNick(OTHER, BOB, "WITCH", "witch"))  # another service
    await misc.register_nick(RegisteredNick(SERVICE, ALICE, "WITCH", "witch"))  # own, recased
    renamed = RegisteredNick(SERVICE, ALICE, "Hag", "hag")
    await misc.register_nick(renamed)
    assert await misc.nick_holder(SERVICE, "witch") is None
    await misc.register_nick(RegisteredNick(SERVICE, BOB, "Witch", "witch"))
    assert await misc.unregister_nick(SERVICE, ALICE)
    assert not await misc.unregister_nick(SERVICE, ALICE)
    assert await misc.registered_nick(SERVICE, ALICE) is None
    assert await misc.nick_holder(SERVICE, "hag") is None


async def test_channels_of_a_user(stores: Stores) -> None:
    coffee = await channel(stores)
    tea = await channel(stores, f"tea@{SERVICE}")
    elsewhere = await channel(stores, f"tea@{OTHER}")
    for jid in (tea, coffee, elsewhere):
        await stores.mix.join(Participant(jid, ALICE, "pa", "alice", frozenset(), 1))
    await stores.mix.join(Participant(tea, BOB, "pb", "bob", frozenset(), 1))
    assert await stores.misc.channels_of(SERVICE, ALICE) == [coffee, tea]
    assert await stores.misc.channels_of(SERVICE, BOB) == [tea]
    assert await stores.misc.channels_of(OTHER, BOB) == []
