"""Two mixd nodes on loopback sharing one PostgreSQL database and one Redis
(both real, started by the tests), with slixmpp clients spread across them:
1:1 chat both ways, presence, an IQ to a full JID on the other node, a
channel with participants on both nodes, and a node that dies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slixmpp import ClientXMPP

from mixd.cluster.node import ClusterNode, owner_of
from mixd.jid import JID
from mixd.storage.errors import StorageUnavailable
from tests.catalogue import session
from tests.helpers import TIMEOUT, ServerHandle
from tests.mam_client import MAM_PLUGINS, mam_query
from tests.mix_client import SERVICE, Inbox, create
from tests.pam_client import client_join, pam_client
from tests.pg_cluster import Cluster
from tests.redis_server import RedisServer
from tests.roster_client import befriend, from_, next_event, push_for, sync, wait
from tests.wire import stanza_error

SM = "urn:xmpp:sm:3"
HEARTBEAT = 0.1
EXPIRY = 0.5


@pytest.fixture
async def dsn(postgres_cluster: Cluster, redis_service: RedisServer) -> AsyncIterator[str]:
    redis_service.flush()
    async with postgres_cluster.fresh_database() as fresh:
        yield fresh


@pytest.fixture
async def nodes(
    dsn: str, redis_service: RedisServer, server_factory: Any
) -> tuple[ServerHandle, ServerHandle]:
    started = []
    for name in ("alpha", "beta"):
        handle: ServerHandle = await server_factory(
            storage={"backend": "postgresql", "postgresql_dsn": dsn, "postgresql_pool_size": 4},
            cluster={
                "enabled": True,
                "node": name,
                "redis_url": redis_service.url,
                "heartbeat": HEARTBEAT,
                "node_expiry": EXPIRY,
            },
        )
        started.append(handle)
    a, b = started
    for handle in started:
        node = cluster(handle)
        await node.wait_until(lambda node=node: node.live == {"alpha", "beta"}, TIMEOUT)
    for name in ("alice", "bob", "carol", "dave"):
        await a.add_user(f"{name}@localhost", f"pw-{name}")
    return a, b


def cluster(handle: ServerHandle) -> ClusterNode:
    assert handle.app.cluster is not None
    return handle.app.cluster


async def sees(handle: ServerHandle, *clients: ClientXMPP, available: bool = False) -> None:
    """Wait until `handle`'s node knows these clients' sessions (elsewhere)."""
    node = cluster(handle)

    def known() -> bool:
        for xmpp in clients:
            session = node.directory.get(JID.parse(str(xmpp.boundjid)))
            if session is None or (available and not session.available):
                return False
        return True

    await node.wait_until(known, TIMEOUT)


async def test_chat_both_ways_archived_once(nodes: tuple[ServerHandle, ServerHandle]) -> None:
    a, b = nodes
    alice = await a.client("alice@localhost/home", "pw-alice", plugins=MAM_PLUGINS)
    bob = await b.client("bob@localhost/work", "pw-bob", plugins=MAM_PLUGINS)
    await sees(a, bob, available=True)
    await sees(b, alice, available=True)

    got_bob = next_event(bob, "message")
    alice.send_message(mto="bob@localhost", mbody="hi from alpha", mtype="chat")
    assert (await wait(got_bob))["body"] == "hi from alpha"
    got_alice = next_event(alice, "message")
    bob.send_message(mto="alice@localhost/home", mbody="hi from beta", mtype="chat")
    assert (await wait(got_alice))["body"] == "hi from beta"

    # One entry per message in each archive, whichever node stored it.
    for xmpp in (alice, bob):
        page = await mam_query(xmpp, max=10)
        assert page.bodies == ["hi from alpha", "hi from beta"]


async def test_presence_across_nodes(nodes: tuple[ServerHandle, ServerHandle]) -> None:
    a, b = nodes
    await befriend(a, "alice@localhost", "bob@localhost")
    bob = await b.client("bob@localhost/work", "pw-bob", presence=False)
    await bob.get_roster(timeout=TIMEOUT)
    bob.send_presence(pstatus="at work")
    await sync(bob)
    await sees(a, bob, available=True)

    # alice logs in on the other node: her probe is answered with bob's
    # presence, and bob gets her initial presence.
    alice = await a.client("alice@localhost/home", "pw-alice", presence=False)
    await alice.get_roster(timeout=TIMEOUT)
    bob_seen = next_event(alice, "presence_available", from_("bob@localhost/work"))
    alice_seen = next_event(bob, "presence_available", from_("alice@localhost/home"))
    alice.send_presence()
    assert (await wait(bob_seen))["status"] == "at work"
    await wait(alice_seen)

    gone = next_event(alice, "presence_unavailable", from_("bob@localhost/work"))
    bob.send_presence(ptype="unavailable")
    await wait(gone)


async def test_iq_to_full_jid_on_other_node(nodes: tuple[ServerHandle, ServerHandle]) -> None:
    a, b = nodes
    alice = await a.client("alice@localhost/home", "pw-alice")
    bob = await b.client("bob@localhost/work", "pw-bob")
    await sees(a, bob)
    await sees(b, alice)
    await alice.plugin["xep_0199"].ping("bob@localhost/work", timeout=TIMEOUT)
    await bob.plugin["xep_0199"].ping("alice@localhost/home", timeout=TIMEOUT)
    info = await alice.plugin["xep_0030"].get_info(jid="bob@localhost/work", timeout=TIMEOUT)
    assert "urn:xmpp:ping" in info["disco_info"]["features"]


async def test_channel_spans_both_nodes(nodes: tuple[ServerHandle, ServerHandle]) -> None:
    a, b = nodes
    channel = f"coven@{SERVICE}"
    users = [
        await pam_client(a, "alice@localhost/r", "pw-alice"),
        await pam_client(a, "bob@localhost/r", "pw-bob"),
        await pam_client(b, "carol@localhost/r", "pw-carol"),
        await pam_client(b, "dave@localhost/r", "pw-dave"),
    ]
    await sees(a, *users[2:], available=True)
    await sees(b, *users[:2], available=True)
    await create(users[0], "coven")
    for i, xmpp in enumerate(users):
        await client_join(xmpp, channel, f"witch {i}")
    inboxes = [Inbox(xmpp, kind="groupchat") for xmpp in users]
    for i, xmpp in enumerate(users):
        xmpp.send_message(mto=channel, mbody=f"from {i}", mtype="groupchat")
    for inbox in inboxes:
        await inbox.wait(len(users))
    # Everything the servers sent before answering a ping has arrived: no
    # second copy is on its way.
    await sync(*users)
    for inbox in inboxes:
        bodies = sorted(m["body"] for m in inbox.items)
        assert bodies == [f"from {i}" for i in range(len(users))]


async def test_dead_node_sessions_cleaned_up(nodes: tuple[ServerHandle, ServerHandle]) -> None:
    a, b = nodes
    await befriend(a, "alice@localhost", "bob@localhost")
    alice = await a.client("alice@localhost/home", "pw-alice", presence=False)
    await alice.get_roster(timeout=TIMEOUT)
    alice.send_presence()
    bob = await b.client("bob@localhost/work", "pw-bob")
    await sync(bob)
    await sees(a, bob, available=True)
    node = cluster(a)
    gone = next_event(alice, "presence_unavailable", from_("bob@localhost/work"))

    # beta stops beating and says nothing: alpha must notice within the
    # expiry plus a heartbeat, remove beta's sessions and tell bob's contacts.
    loop = asyncio.get_running_loop()
    died = loop.time()
    await cluster(b).abandon()
    await node.wait_until(lambda: node.live == {"alpha"}, EXPIRY + 4 * HEARTBEAT + 2)
    assert node.directory.get(JID.parse("bob@localhost/work")) is None
    assert loop.time() - died <= EXPIRY + 4 * HEARTBEAT + 1
    await wait(gone)
    assert not await node_sessions(a, "beta")


async def node_sessions(handle: ServerHandle, node: str) -> dict[str, str]:
    """The directory of `node` as Redis holds it."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(handle.app.config.cluster.redis_url, decode_responses=True)
    try:
        result: dict[str, str] = await client.hgetall(f"mixd:sessions:{node}")
        return result
    finally:
        await client.aclose()


async def test_channel_message_acked_after_the_owner_stored_it(
    nodes: tuple[ServerHandle, ServerHandle], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Acknowledged means stored across nodes: a message sent on beta to a
    channel alpha owns is acknowledged (XEP-0198) only once alpha has
    handled it. Alpha's archive fails here, so the sender must get the
    error first and then the <a/> that counts it, and nobody the message."""
    a, b = nodes
    both = frozenset({"alpha", "beta"})
    name = next(f"room{n}" for n in range(100) if owner_of(f"room{n}@{SERVICE}", both) == "alpha")
    channel = f"{name}@{SERVICE}"
    alice = await pam_client(b, "alice@localhost/r", "pw-alice")
    bob = await pam_client(a, "bob@localhost/r", "pw-bob")
    await create(alice, name)
    await client_join(alice, channel, "alice")
    await client_join(bob, channel, "bob")
    bob_inbox = Inbox(bob, kind="groupchat")

    mix = a.app.server.registry.modules["mix"]  # type: ignore[union-attr]
    service = mix.services[SERVICE]  # type: ignore[attr-defined]

    async def unavailable(*args: object) -> None:
        raise StorageUnavailable("database is locked")

    monkeypatch.setattr(service.archive, "store", unavailable)
    wire, _ = await session(b, "alice", "raw")
    await wire.send(f"<enable xmlns='{SM}'/>")
    await wire.expect(lambda el: el.tag == f"{{{SM}}}enabled")
    await wire.send(
        f"<message to='{channel}' type='groupchat' id='g1'><body>kept?</body></message>"
        f"<r xmlns='{SM}'/>"
    )
    error = await wire.expect(lambda el: el.tag != f"{{{SM}}}r")
    assert error.get("id") == "g1" and stanza_error(error) == ("wait", "internal-server-error")
    ack = await wire.next()
    assert ack.tag == f"{{{SM}}}a" and ack.get("h") == "1"

    monkeypatch.undo()
    await wire.send(
        f"<message to='{channel}' type='groupchat' id='g2'><body>stored</body></message>"
        f"<r xmlns='{SM}'/>"
    )
    ack = await wire.expect(lambda el: el.tag == f"{{{SM}}}a")
    assert ack.get("h") == "2"
    await bob_inbox.wait(1)
    await sync(bob)
    assert [m["body"] for m in bob_inbox.items] == ["stored"]


async def test_roster_push_reaches_every_node(nodes: tuple[ServerHandle, ServerHandle]) -> None:
    """A roster change made through one node is pushed to the user's
    resources on the other node that asked for the roster (RFC 6121 2.1.6):
    pushes are per account, not per node (AccountNotices; the blocklist's
    are in test_blocking_cluster.py)."""
    a, b = nodes
    home = await a.client("alice@localhost/home", "pw-alice")
    work = await b.client("alice@localhost/work", "pw-alice")
    for xmpp in (home, work):
        await xmpp.get_roster(timeout=TIMEOUT)
    pushed = next_event(work, "roster_update", push_for("bob@localhost"))
    await home.update_roster("bob@localhost", name="Bob", groups=["Friends"])
    item = (await wait(pushed))["roster"]["items"]["bob@localhost"]
    assert (item["name"], item["groups"]) == ("Bob", ["Friends"])
