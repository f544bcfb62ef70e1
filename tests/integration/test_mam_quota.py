"""The archive quota (RELIABILITY E6) with real clients: over the quota the
oldest entries expire, every message is still delivered, and the newest are
in both archives with the ids the recipient was given."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.helpers import TIMEOUT
from tests.mam_client import MAM_PLUGINS, collect, mam_query, stanza_ids

PW = "pw"


async def test_oldest_entries_expire_newest_delivered_and_kept(server_factory: Any) -> None:
    server = await server_factory(mam={"archive_quota": 3})
    for name in ("alice", "bob"):
        await server.add_user(f"{name}@localhost", PW)
    alice = await server.client("alice@localhost/a", PW, plugins=MAM_PLUGINS)
    bob = await server.client("bob@localhost/b", PW, plugins=MAM_PLUGINS)
    await bob.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)
    received = collect(bob, 5)

    for n in range(5):
        alice.send_message(mto="bob@localhost", mbody=f"note {n}", mtype="chat")

    messages = await asyncio.wait_for(received, TIMEOUT)
    assert [str(m["body"]) for m in messages] == [f"note {n}" for n in range(5)]
    bob_ids = [dict((by, i) for i, by in stanza_ids(m))["bob@localhost"] for m in messages]
    sent = await mam_query(alice, max=10)
    got = await mam_query(bob, max=10)
    assert sent.bodies == got.bodies == ["note 2", "note 3", "note 4"]
    assert got.ids == bob_ids[2:]
    assert got.complete


async def test_a_quota_of_one_keeps_each_newest_message(server_factory: Any) -> None:
    server = await server_factory(mam={"archive_quota": 1})
    for name in ("alice", "bob"):
        await server.add_user(f"{name}@localhost", PW)
    alice = await server.client("alice@localhost/a", PW, plugins=MAM_PLUGINS)
    bob = await server.client("bob@localhost/b", PW, plugins=MAM_PLUGINS)
    await bob.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)
    for n in range(3):
        received = collect(bob, 1)
        alice.send_message(mto="bob@localhost", mbody=f"only {n}", mtype="chat")
        [message] = await asyncio.wait_for(received, TIMEOUT)
        [(bob_id, _)] = [(i, by) for i, by in stanza_ids(message) if by == "bob@localhost"]
        assert (await mam_query(alice, max=10)).bodies == [f"only {n}"]
        got = await mam_query(bob, max=10)
        assert (got.ids, got.bodies) == ([bob_id], [f"only {n}"])
