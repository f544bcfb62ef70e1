"""XEP-0191 across two cluster nodes: a block made on one node is enforced
by the other, and pushed to the resources there that asked for the list."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from mixd.cluster.node import ClusterNode
from mixd.jid import JID
from tests.helpers import TIMEOUT, ServerHandle
from tests.mix_client import Inbox
from tests.pg_cluster import Cluster
from tests.redis_server import RedisServer

PLUGINS = ("xep_0030", "xep_0199", "xep_0191")


@pytest.fixture
async def nodes(
    postgres_cluster: Cluster, redis_service: RedisServer, server_factory: Any
) -> AsyncIterator[tuple[ServerHandle, ServerHandle]]:
    redis_service.flush()
    async with postgres_cluster.fresh_database() as dsn:
        started = []
        for name in ("alpha", "beta"):
            started.append(
                await server_factory(
                    storage={"backend": "postgresql", "postgresql_dsn": dsn},
                    cluster={
                        "enabled": True,
                        "node": name,
                        "redis_url": redis_service.url,
                        "heartbeat": 0.1,
                        "node_expiry": 0.5,
                    },
                )
            )
        for handle in started:
            node = node_of(handle)
            await node.wait_until(lambda node=node: node.live == {"alpha", "beta"}, TIMEOUT)
        for name in ("juliet", "romeo"):
            await started[0].add_user(f"{name}@localhost", "pw")
        yield started[0], started[1]
        for handle in started:
            await handle.close()


def node_of(handle: ServerHandle) -> ClusterNode:
    assert handle.app.cluster is not None
    return handle.app.cluster


async def test_block_on_one_node_holds_on_the_other(
    nodes: tuple[ServerHandle, ServerHandle],
) -> None:
    alpha, beta = nodes
    juliet_a = await alpha.client("juliet@localhost/a", "pw", plugins=PLUGINS)
    juliet_b = await beta.client("juliet@localhost/b", "pw", plugins=PLUGINS)
    romeo = await beta.client("romeo@localhost/r", "pw", plugins=PLUGINS)
    for handle, xmpp in ((alpha, romeo), (beta, juliet_a), (alpha, juliet_b)):
        node = node_of(handle)
        full = JID.parse(str(xmpp.boundjid))
        await node.wait_until(lambda n=node, j=full: n.directory.get(j) is not None, TIMEOUT)
    assert await juliet_b.plugin["xep_0191"].get_blocked_jids(timeout=TIMEOUT) == set()
    pushed = Inbox(juliet_b, "blocked")
    got = Inbox(juliet_a)
    # Beta reads and caches juliet's (empty) list while routing this.
    romeo.send_message(mto="juliet@localhost/a", mbody="before", mtype="chat")
    await got.wait(1)

    await juliet_a.plugin["xep_0191"].block("romeo@localhost", timeout=TIMEOUT)
    [push] = await pushed.wait(1)
    assert [str(i["jid"]) for i in push["block"]] == ["romeo@localhost"]
    # The push came through beta's copy being dropped first: romeo is refused now.
    errors: asyncio.Queue[Any] = asyncio.Queue()
    romeo.add_event_handler("message_error", errors.put_nowait)
    romeo.send_message(mto="juliet@localhost/a", mbody="after", mtype="chat")
    error = await asyncio.wait_for(errors.get(), TIMEOUT)
    assert error["error"]["condition"] == "service-unavailable"
    await juliet_a.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)
    assert [m["body"] for m in got.items] == ["before"]
