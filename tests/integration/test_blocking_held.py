"""XEP-0191: what the server held back for a user is not delivered once
its sender is blocked (offline messages, subscription requests)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.helpers import TIMEOUT, ServerHandle
from tests.mix_client import Inbox
from tests.roster_client import collect, next_event

PLUGINS = ("xep_0030", "xep_0199", "xep_0191")


async def test_offline_messages_from_a_sender_blocked_since(server: ServerHandle) -> None:
    for name in ("juliet", "romeo", "nurse"):
        await server.add_user(f"{name}@localhost", "pw")
    romeo = await server.client("romeo@localhost/r", "pw", plugins=PLUGINS)
    nurse = await server.client("nurse@localhost/n", "pw", plugins=PLUGINS)
    romeo.send_message(mto="juliet@localhost", mbody="stored before the block", mtype="chat")
    nurse.send_message(mto="juliet@localhost", mbody="from the nurse", mtype="chat")
    for xmpp in (romeo, nurse):
        await xmpp.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)
    assert server.app.server is not None
    assert await server.app.server.stores.offline.count("juliet@localhost") == 2

    # Juliet blocks romeo from a resource that never becomes available.
    quiet = await server.client("juliet@localhost/q", "pw", plugins=PLUGINS, presence=False)
    await quiet.plugin["xep_0191"].block("romeo@localhost", timeout=TIMEOUT)
    juliet = await server.client("juliet@localhost/a", "pw", plugins=PLUGINS, presence=False)
    got = Inbox(juliet)
    juliet.send_presence()
    [message] = await got.wait(1)
    assert message["body"] == "from the nurse"
    await juliet.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)
    assert [m["body"] for m in got.items] == ["from the nurse"]
    assert await server.app.server.stores.offline.count("juliet@localhost") == 0


async def test_subscription_request_from_a_jid_blocked_since(server: ServerHandle) -> None:
    for name in ("juliet", "romeo", "nurse"):
        await server.add_user(f"{name}@localhost", "pw")
    romeo = await server.client("romeo@localhost/r", "pw", plugins=PLUGINS)
    nurse = await server.client("nurse@localhost/n", "pw", plugins=PLUGINS)
    for xmpp in (romeo, nurse):
        xmpp.send_presence(pto="juliet@localhost", ptype="subscribe")
        await xmpp.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)
    quiet = await server.client("juliet@localhost/q", "pw", plugins=PLUGINS, presence=False)
    await quiet.plugin["xep_0191"].block("romeo@localhost", timeout=TIMEOUT)

    juliet = await server.client("juliet@localhost/a", "pw", plugins=PLUGINS, presence=False)
    requests: list[Any] = collect(juliet, "presence_subscribe")
    juliet.send_presence()
    await juliet.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)
    assert [str(r["from"].bare) for r in requests] == ["nurse@localhost"]
    # Romeo asks again: dropped without an answer.
    romeo.send_presence(pto="juliet@localhost", ptype="subscribe")
    await romeo.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)
    await asyncio.wait_for(juliet.plugin["xep_0199"].ping("localhost"), TIMEOUT)
    assert [str(r["from"].bare) for r in requests] == ["nurse@localhost"]


async def test_request_to_a_blocking_user_pends_on_the_senders_side(server: ServerHandle) -> None:
    """The blocked user's own roster treats the request as sent (as for an
    offline contact): the block does not show."""
    for name in ("juliet", "romeo"):
        await server.add_user(f"{name}@localhost", "pw")
    juliet = await server.client("juliet@localhost/a", "pw", plugins=PLUGINS)
    await juliet.plugin["xep_0191"].block("romeo@localhost", timeout=TIMEOUT)
    requests: list[Any] = collect(juliet, "presence_subscribe")
    romeo = await server.client("romeo@localhost/r", "pw", plugins=PLUGINS)
    await romeo.get_roster(timeout=TIMEOUT)
    pushed = next_event(romeo, "roster_update")
    romeo.send_presence(pto="juliet@localhost", ptype="subscribe")
    push = await asyncio.wait_for(pushed, TIMEOUT)
    assert push["roster"]["items"]["juliet@localhost"]["ask"] == "subscribe"
    await juliet.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)
    assert requests == []
