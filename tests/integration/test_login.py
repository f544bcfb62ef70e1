"""Logging in with slixmpp: every SASL mechanism over STARTTLS and direct TLS,
bind, ping, and a message between two users."""

from __future__ import annotations

import asyncio

import pytest
from slixmpp.exceptions import IqError

from tests.helpers import TIMEOUT, LoginFailed, ServerHandle


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"])
@pytest.mark.parametrize("direct_tls", [False, True], ids=["starttls", "direct-tls"])
async def test_login_each_mechanism(server: ServerHandle, mechanism: str, direct_tls: bool) -> None:
    await server.add_user("alice@localhost", "correct horse")
    xmpp = await server.client(
        "alice@localhost", "correct horse", mechanism=mechanism, direct_tls=direct_tls
    )
    assert xmpp.boundjid.bare == "alice@localhost"
    assert xmpp.boundjid.resource  # the server generated one
    assert xmpp.transport.get_extra_info("ssl_object") is not None


async def test_wrong_password_is_not_authorized(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "correct horse")
    with pytest.raises(LoginFailed):
        await server.client("alice@localhost", "battery staple")


async def test_unknown_user_is_not_authorized(server: ServerHandle) -> None:
    with pytest.raises(LoginFailed):
        await server.client("nobody@localhost", "whatever")


async def test_requested_resource_is_bound(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw-alice")
    xmpp = await server.client("alice@localhost/phone", "pw-alice")
    assert str(xmpp.boundjid) == "alice@localhost/phone"


async def test_ping_server(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw-alice")
    xmpp = await server.client("alice@localhost", "pw-alice")
    rtt = await xmpp.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)
    assert rtt >= 0


async def test_unhandled_iq_gets_service_unavailable(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw-alice")
    xmpp = await server.client("alice@localhost", "pw-alice")
    iq = xmpp.make_iq_get(queryxmlns="urn:example:nothing", ito="localhost")
    with pytest.raises(IqError) as err:
        await iq.send(timeout=TIMEOUT)
    assert err.value.condition == "service-unavailable"
    assert err.value.etype == "cancel"


async def test_remote_domain_gets_remote_server_not_found(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw-alice")
    xmpp = await server.client("alice@localhost", "pw-alice")
    with pytest.raises(IqError) as err:
        await xmpp.plugin["xep_0199"].send_ping("elsewhere.example", timeout=TIMEOUT)
    assert err.value.condition == "remote-server-not-found"


async def test_disco_info_on_server_lists_loaded_features(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw-alice")
    xmpp = await server.client("alice@localhost", "pw-alice")
    info = await xmpp.plugin["xep_0030"].get_info(jid="localhost", timeout=TIMEOUT)
    features = set(info["disco_info"]["features"])
    assert {"urn:xmpp:ping", "http://jabber.org/protocol/disco#info"} <= features
    identities = info["disco_info"]["identities"]
    assert ("server", "im", None, "mixd") in identities


async def test_message_between_two_users(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw-alice")
    await server.add_user("bob@localhost", "pw-bob")
    alice = await server.client("alice@localhost/home", "pw-alice")
    bob = await server.client("bob@localhost/work", "pw-bob")
    got: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    bob.add_event_handler("message", lambda msg: got.done() or got.set_result(msg))
    # The presence bob sent must be processed before alice's message reaches
    # the server: a ping round trip from bob orders that.
    await bob.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)
    alice.send_message(mto="bob@localhost", mbody="hello bob", mtype="chat")
    msg = await asyncio.wait_for(got, TIMEOUT)
    assert msg["body"] == "hello bob"  # type: ignore[index]
    assert str(msg["from"]) == "alice@localhost/home"  # type: ignore[index]


async def test_message_to_full_jid(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw-alice")
    await server.add_user("bob@localhost", "pw-bob")
    alice = await server.client("alice@localhost/home", "pw-alice")
    bob = await server.client("bob@localhost/work", "pw-bob", presence=False)
    got: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    bob.add_event_handler("message", lambda msg: got.done() or got.set_result(msg))
    alice.send_message(mto="bob@localhost/work", mbody="direct", mtype="chat")
    msg = await asyncio.wait_for(got, TIMEOUT)
    assert msg["body"] == "direct"  # type: ignore[index]
