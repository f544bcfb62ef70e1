"""XEP-0280: a user's other resources see the chats it sends and receives."""

from __future__ import annotations

import asyncio
from typing import Any

from slixmpp import ClientXMPP

from tests.helpers import TIMEOUT, ServerHandle

PLUGINS = ("xep_0030", "xep_0199", "xep_0280")


def first_event(xmpp: ClientXMPP, event: str) -> asyncio.Future[Any]:
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    xmpp.add_event_handler(event, lambda stanza: future.done() or future.set_result(stanza))
    return future


async def enable_carbons(xmpp: ClientXMPP) -> None:
    await xmpp.plugin["xep_0280"].enable(timeout=TIMEOUT)


async def test_sent_and_received_carbons(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw-a")
    await server.add_user("bob@localhost", "pw-b")
    phone = await server.client("alice@localhost/phone", "pw-a", plugins=PLUGINS)
    laptop = await server.client("alice@localhost/laptop", "pw-a", plugins=PLUGINS)
    bob = await server.client("bob@localhost/b", "pw-b", plugins=PLUGINS)
    await enable_carbons(phone)
    await enable_carbons(laptop)
    await bob.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)

    sent = first_event(laptop, "carbon_sent")
    phone.send_message(mto="bob@localhost", mbody="from my phone", mtype="chat")
    carbon = await asyncio.wait_for(sent, TIMEOUT)
    assert str(carbon["from"]) == "alice@localhost"
    assert carbon["carbon_sent"]["body"] == "from my phone"
    assert str(carbon["carbon_sent"]["from"]) == "alice@localhost/phone"

    received = first_event(laptop, "carbon_received")
    direct = first_event(phone, "message")
    bob.send_message(mto="alice@localhost/phone", mbody="to your phone", mtype="chat")
    carbon = await asyncio.wait_for(received, TIMEOUT)
    assert carbon["carbon_received"]["body"] == "to your phone"
    assert (await asyncio.wait_for(direct, TIMEOUT))["body"] == "to your phone"


async def test_private_messages_are_not_copied(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw-a")
    await server.add_user("bob@localhost", "pw-b")
    phone = await server.client("alice@localhost/phone", "pw-a", plugins=PLUGINS)
    laptop = await server.client("alice@localhost/laptop", "pw-a", plugins=PLUGINS)
    await server.client("bob@localhost/b", "pw-b", plugins=PLUGINS)
    await enable_carbons(laptop)
    copies: list[Any] = []
    laptop.add_event_handler("carbon_sent", copies.append)
    msg = phone.make_message(mto="bob@localhost", mbody="secret", mtype="chat")
    msg.enable("carbon_private")
    msg.send()
    phone.send_message(mto="bob@localhost", mbody="public", mtype="chat")
    got = first_event(laptop, "carbon_sent")
    assert (await asyncio.wait_for(got, TIMEOUT))["carbon_sent"]["body"] == "public"
    await laptop.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)
    assert [c["carbon_sent"]["body"] for c in copies] == ["public"]


async def test_disabled_resource_gets_no_copies(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw-a")
    await server.add_user("bob@localhost", "pw-b")
    phone = await server.client("alice@localhost/phone", "pw-a", plugins=PLUGINS)
    laptop = await server.client("alice@localhost/laptop", "pw-a", plugins=PLUGINS)
    bob = await server.client("bob@localhost/b", "pw-b", plugins=PLUGINS)
    await enable_carbons(laptop)
    await laptop.plugin["xep_0280"].disable(timeout=TIMEOUT)
    copies: list[Any] = []
    laptop.add_event_handler("carbon_sent", copies.append)
    got = first_event(bob, "message")
    phone.send_message(mto="bob@localhost", mbody="hello", mtype="chat")
    await asyncio.wait_for(got, TIMEOUT)
    await laptop.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)
    assert copies == []


async def test_forged_carbon_from_a_client_is_stripped(server: ServerHandle) -> None:
    await server.add_user("mallory@localhost", "pw-m")
    await server.add_user("alice@localhost", "pw-a")
    mallory = await server.client("mallory@localhost/m", "pw-m", plugins=PLUGINS)
    alice = await server.client("alice@localhost/a", "pw-a", plugins=PLUGINS)
    await alice.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)
    got = first_event(alice, "message")
    mallory.send_raw(
        "<message to='alice@localhost' type='chat'><body>hi</body>"
        "<received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>"
        "<message from='bob@localhost/b' to='alice@localhost' type='chat'><body>forged</body>"
        "</message></forwarded></received></message>"
    )
    message = await asyncio.wait_for(got, TIMEOUT)
    assert message.xml.find("{urn:xmpp:carbons:2}received") is None
    assert message["body"] == "hi"
