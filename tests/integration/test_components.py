"""External components (XEP-0114) driven by slixmpp's ComponentXMPP, and the
addressing rules a component's stream must follow (RELIABILITY C2, and the
component half of C3: a component may only speak for its own domain)."""

from __future__ import annotations

import asyncio
import hashlib
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slixmpp import Iq, Message, Presence
from slixmpp.componentxmpp import ComponentXMPP
from slixmpp.exceptions import IqError

from tests.catalogue import still_serving
from tests.helpers import TIMEOUT, ServerHandle
from tests.wire import STREAMS_ERR, Wire

GATEWAY = "gw.localhost"
SECRET = "gateway-secret"
STREAM_NS = "http://etherx.jabber.org/streams"
COMPONENT_HEADER = (
    "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept'"
    f" xmlns:stream='{STREAM_NS}' to='{{domain}}'>"
)


@pytest.fixture
async def server(server_factory: Any) -> AsyncIterator[ServerHandle]:
    handle: ServerHandle = await server_factory(
        components={"port": 0, "secrets": {GATEWAY: SECRET, "bot.localhost": "other"}}
    )
    yield handle


async def connect_component(
    server: ServerHandle, domain: str = GATEWAY, secret: str = SECRET
) -> ComponentXMPP:
    # fix_error_ns: slixmpp reads <error> in jabber:client only, unless told.
    component = ComponentXMPP(
        domain, secret, "127.0.0.1", server.app.component_port, fix_error_ns=True
    )
    component.register_plugin("xep_0030")
    started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    component.add_event_handler("session_start", lambda _: started.set_result(None))
    component.connect()
    server.clients.append(component)  # disconnected at teardown like the clients
    await asyncio.wait_for(started, TIMEOUT)
    return component


def next_stanza(xmpp: Any, event: str) -> asyncio.Future[Any]:
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def handler(stanza: Any) -> None:
        if not future.done():
            future.set_result(stanza)

    xmpp.add_event_handler(event, handler)
    return future


async def raw_component(server: ServerHandle, domain: str, secret: str | None) -> Wire:
    """A component stream by hand: header, and the handshake if `secret`."""
    wire = await Wire.open(server.app.component_port)
    await wire.send(COMPONENT_HEADER.format(domain=domain))
    if secret is not None:
        stream_id = await header_id(wire)
        digest = hashlib.sha1((stream_id + secret).encode()).hexdigest()
        await wire.send(f"<handshake>{digest}</handshake>")
        reply = await wire.next()
        assert reply.tag == "{jabber:component:accept}handshake", ET.tostring(reply)
    return wire


async def header_id(wire: Wire) -> str:
    opened = await wire.opened()
    return opened.get("id", "")


async def test_messages_both_ways(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw-alice")
    component = await connect_component(server)
    alice = await server.client("alice@localhost", "pw-alice")

    at_gateway = next_stanza(component, "message")
    alice.send_message(mto=f"bob@{GATEWAY}", mbody="hello gateway", mtype="chat")
    got: Message = await asyncio.wait_for(at_gateway, TIMEOUT)
    assert got["body"] == "hello gateway"
    assert got["from"] == alice.boundjid
    assert got["to"].bare == f"bob@{GATEWAY}"

    at_alice = next_stanza(alice, "message")
    component.send_message(
        mto="alice@localhost", mfrom=f"bob@{GATEWAY}/phone", mbody="hello alice", mtype="chat"
    )
    reply: Message = await asyncio.wait_for(at_alice, TIMEOUT)
    assert reply["body"] == "hello alice"
    assert str(reply["from"]) == f"bob@{GATEWAY}/phone"


async def test_client_queries_the_component(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw-alice")
    component = await connect_component(server)
    component.plugin["xep_0030"].add_identity(category="gateway", itype="irc", name="IRC")
    alice = await server.client("alice@localhost", "pw-alice")
    info: Iq = await alice.plugin["xep_0030"].get_info(jid=GATEWAY, timeout=TIMEOUT)
    assert ("gateway", "irc", None, "IRC") in info["disco_info"]["identities"]
    # While connected, the server lists it among its services.
    items: Iq = await alice.plugin["xep_0030"].get_items(jid="localhost", timeout=TIMEOUT)
    assert GATEWAY in {item[0] for item in items["disco_items"]["items"]}


async def test_presence_subscription_from_a_gateway_contact(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw-alice")
    component = await connect_component(server)
    alice = await server.client("alice@localhost", "pw-alice")
    request = next_stanza(alice, "presence_subscribe")
    component.send_presence(pto="alice@localhost", pfrom=f"bob@{GATEWAY}", ptype="subscribe")
    got: Presence = await asyncio.wait_for(request, TIMEOUT)
    assert got["from"].bare == f"bob@{GATEWAY}"

    # Alice approves: the gateway hears it, from her bare JID.
    approved = next_stanza(component, "presence_subscribed")
    alice.send_presence(pto=f"bob@{GATEWAY}", ptype="subscribed")
    answer: Presence = await asyncio.wait_for(approved, TIMEOUT)
    assert answer["from"].bare == "alice@localhost"


async def test_errors_come_back_to_the_component(server: ServerHandle) -> None:
    component = await connect_component(server)
    iq = component.make_iq_get(
        queryxmlns="urn:xmpp:ping", ito="nobody@localhost", ifrom=f"bot@{GATEWAY}"
    )
    with pytest.raises(IqError) as raised:
        await iq.send(timeout=TIMEOUT)
    assert raised.value.condition == "service-unavailable"
    assert raised.value.iq["from"] == "nobody@localhost"


async def test_wrong_secret_is_not_authorized(server: ServerHandle) -> None:
    wire = await raw_component(server, GATEWAY, None)
    await header_id(wire)
    await wire.send("<handshake>0000000000000000000000000000000000000000</handshake>")
    assert await wire.closed_with() == "not-authorized"
    assert GATEWAY not in server.app.server.router.services  # type: ignore[union-attr]


async def test_unknown_component_is_host_unknown(server: ServerHandle) -> None:
    wire = await raw_component(server, "nope.localhost", None)
    assert await wire.closed_with() == "host-unknown"


async def test_second_connection_for_a_domain_is_a_conflict(server: ServerHandle) -> None:
    first = await raw_component(server, GATEWAY, SECRET)
    second = await Wire.open(server.app.component_port)
    await second.send(COMPONENT_HEADER.format(domain=GATEWAY))
    digest = hashlib.sha1((await header_id(second) + SECRET).encode()).hexdigest()
    await second.send(f"<handshake>{digest}</handshake>")
    assert await second.closed_with() == "conflict"
    await first.send(
        f"<iq type='get' id='p1' from='{GATEWAY}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>"
    )
    pong = await first.next()
    assert pong.get("type") == "result" and pong.get("id") == "p1"


@pytest.mark.parametrize(
    ("stanza", "condition"),
    [
        # C2: a component's stanzas must carry both addresses.
        ("<message to='alice@localhost'><body>x</body></message>", "improper-addressing"),
        (f"<message from='bob@{GATEWAY}'><body>x</body></message>", "improper-addressing"),
        # C3 for components: only its own domain.
        (
            "<message from='admin@localhost' to='alice@localhost'><body>x</body></message>",
            "invalid-from",
        ),
        (
            "<message from='bot@bot.localhost' to='alice@localhost'><body>x</body></message>",
            "invalid-from",
        ),
        (
            f"<message from='bob@{GATEWAY}.evil' to='alice@localhost'><body>x</body></message>",
            "invalid-from",
        ),
    ],
)
async def test_addressing_rules(server: ServerHandle, stanza: str, condition: str) -> None:
    await server.add_user("alice@localhost", "pw-alice")
    alice = await server.client("alice@localhost", "pw-alice")
    received: list[Any] = []
    alice.add_event_handler("message", received.append)
    wire = await raw_component(server, GATEWAY, SECRET)
    await wire.send(stanza)
    assert await wire.closed_with() == condition
    # Nothing got through, the domain is free again, everyone else is served.
    assert GATEWAY not in server.app.server.router.services  # type: ignore[union-attr]
    await connect_component(server)
    assert not received
    await still_serving(server)


async def test_malformed_to_is_a_stanza_error(server: ServerHandle) -> None:
    wire = await raw_component(server, GATEWAY, SECRET)
    await wire.send(f"<message id='m1' from='bob@{GATEWAY}' to='a@b@c'><body>x</body></message>")
    error = await wire.next()
    assert error.get("type") == "error" and error.get("id") == "m1"
    assert error.find(f".//{{{STREAMS_ERR}}}text") is None
    assert error.find(".//{urn:ietf:params:xml:ns:xmpp-stanzas}jid-malformed") is not None


async def test_no_handshake_in_time(server_factory: Any) -> None:
    server: ServerHandle = await server_factory(
        components={"port": 0, "secrets": {GATEWAY: SECRET}, "handshake_timeout": 0.2}
    )
    wire = await raw_component(server, GATEWAY, None)
    assert await wire.closed_with() == "connection-timeout"
