"""XEP-0160: messages to an offline user wait for their next login."""

from __future__ import annotations

import asyncio

from slixmpp import ClientXMPP

from mixd.services import offline
from tests.helpers import TIMEOUT, ServerHandle


def collect(xmpp: ClientXMPP, count: int) -> asyncio.Future[list[object]]:
    got: list[object] = []
    done: asyncio.Future[list[object]] = asyncio.get_running_loop().create_future()

    def on_message(msg: object) -> None:
        got.append(msg)
        if len(got) == count and not done.done():
            done.set_result(got)

    xmpp.add_event_handler("message", on_message)
    return done


async def test_messages_to_offline_user_arrive_at_login(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw-a")
    await server.add_user("bob@localhost", "pw-b")
    alice = await server.client("alice@localhost/a", "pw-a")
    for n in range(3):
        alice.send_message(mto="bob@localhost", mbody=f"while you were out {n}", mtype="chat")
    # The ping answer comes after all three messages were stored (in order).
    await alice.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)

    bob = await server.client("bob@localhost/b", "pw-b", presence=False)
    arrived = collect(bob, 3)
    bob.send_presence()
    messages = await asyncio.wait_for(arrived, TIMEOUT)
    assert [m["body"] for m in messages] == [f"while you were out {n}" for n in range(3)]  # type: ignore[index]
    assert all(m.xml.find("{urn:xmpp:delay}delay") is not None for m in messages)  # type: ignore[attr-defined]
    assert str(messages[0]["from"]) == "alice@localhost/a"  # type: ignore[index]
    # Delivered once: nothing left in the queue.
    assert server.app.server is not None
    assert await server.app.server.stores.offline.count("bob@localhost") == 0


async def test_negative_priority_does_not_take_offline_messages(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw-a")
    await server.add_user("bob@localhost", "pw-b")
    alice = await server.client("alice@localhost/a", "pw-a")
    alice.send_message(mto="bob@localhost", mbody="later", mtype="chat")
    await alice.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)
    bob = await server.client("bob@localhost/b", "pw-b", presence=False)
    bob.send_presence(ppriority=-1)
    await bob.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)
    assert server.app.server is not None
    assert await server.app.server.stores.offline.count("bob@localhost") == 1


async def test_full_queue_answers_resource_constraint(
    server: ServerHandle, monkeypatch: object
) -> None:
    monkeypatch.setattr(offline, "QUEUE_LIMIT", 2)  # type: ignore[attr-defined]
    await server.add_user("alice@localhost", "pw-a")
    await server.add_user("bob@localhost", "pw-b")
    alice = await server.client("alice@localhost/a", "pw-a")
    errors: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    alice.add_event_handler("message_error", lambda m: errors.done() or errors.set_result(m))
    for n in range(3):
        alice.send_message(mto="bob@localhost", mbody=f"m{n}", mtype="chat")
    error = await asyncio.wait_for(errors, TIMEOUT)
    assert error["error"]["condition"] == "resource-constraint"  # type: ignore[index]
    assert server.app.server is not None
    assert await server.app.server.stores.offline.count("bob@localhost") == 2


async def test_headline_to_offline_user_is_not_stored(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw-a")
    await server.add_user("bob@localhost", "pw-b")
    alice = await server.client("alice@localhost/a", "pw-a")
    alice.send_message(mto="bob@localhost", mbody="news", mtype="headline")
    await alice.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)
    assert server.app.server is not None
    assert await server.app.server.stores.offline.count("bob@localhost") == 0
