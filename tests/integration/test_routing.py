"""Routing between users and hosts, as clients see it."""

from __future__ import annotations

import asyncio

import pytest
from slixmpp.exceptions import IqError

from tests.helpers import TIMEOUT, ServerHandle


async def _two_users(server: ServerHandle, a: str, b: str) -> tuple[object, object]:
    await server.add_user(a, "pw-a")
    await server.add_user(b, "pw-b")
    return await server.client(f"{a}/one", "pw-a"), await server.client(f"{b}/two", "pw-b")


async def test_iq_to_full_jid_and_result_back(server: ServerHandle) -> None:
    alice, _bob = await _two_users(server, "alice@localhost", "bob@localhost")
    # bob's client answers XEP-0199 pings itself: the request and the result
    # both travel through the router.
    rtt = await alice.plugin["xep_0199"].ping("bob@localhost/two", timeout=TIMEOUT)  # type: ignore[attr-defined]
    assert rtt >= 0


async def test_iq_to_offline_full_jid_is_service_unavailable(server: ServerHandle) -> None:
    alice, _ = await _two_users(server, "alice@localhost", "bob@localhost")
    with pytest.raises(IqError) as err:
        await alice.plugin["xep_0199"].send_ping("bob@localhost/gone", timeout=TIMEOUT)  # type: ignore[attr-defined]
    assert err.value.condition == "service-unavailable"


async def test_virtual_hosts_exchange_messages(server: ServerHandle) -> None:
    alice, bob = await _two_users(server, "alice@localhost", "bob@example.org")
    assert str(bob.boundjid.bare) == "bob@example.org"  # type: ignore[attr-defined]
    got: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    alice.add_event_handler("message", lambda m: got.done() or got.set_result(m))  # type: ignore[attr-defined]
    await alice.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)  # type: ignore[attr-defined]
    bob.send_message(mto="alice@localhost", mbody="across hosts", mtype="chat")  # type: ignore[attr-defined]
    msg = await asyncio.wait_for(got, TIMEOUT)
    assert msg["body"] == "across hosts"  # type: ignore[index]
    assert str(msg["from"]) == "bob@example.org/two"  # type: ignore[index]


async def test_same_username_on_two_hosts_are_different_accounts(server: ServerHandle) -> None:
    await server.add_user("sam@localhost", "pw-local")
    await server.add_user("sam@example.org", "pw-org")
    local = await server.client("sam@localhost", "pw-local")
    org = await server.client("sam@example.org", "pw-org")
    assert local.boundjid.domain == "localhost" and org.boundjid.domain == "example.org"


async def test_message_to_user_without_available_resource(server: ServerHandle) -> None:
    alice, _ = await _two_users(server, "alice@localhost", "bob@localhost")
    errors: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    alice.add_event_handler("message_error", lambda m: errors.done() or errors.set_result(m))  # type: ignore[attr-defined]
    alice.send_message(mto="carol@localhost", mbody="anyone?", mtype="chat")  # type: ignore[attr-defined]
    reply = await asyncio.wait_for(errors, TIMEOUT)
    assert reply["error"]["condition"] == "service-unavailable"  # type: ignore[index]


async def test_whitespace_keepalive_keeps_stream_usable(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw-a")
    alice = await server.client("alice@localhost", "pw-a")
    alice.send_raw(" \n \t ")
    await alice.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)


async def test_server_stamps_from_on_client_stanzas(server: ServerHandle) -> None:
    alice, bob = await _two_users(server, "alice@localhost", "bob@localhost")
    got: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    bob.add_event_handler("message", lambda m: got.done() or got.set_result(m))  # type: ignore[attr-defined]
    # No 'from' at all: the server adds the full JID.
    alice.send_raw("<message to='bob@localhost/two' type='chat'><body>stamped</body></message>")  # type: ignore[attr-defined]
    msg = await asyncio.wait_for(got, TIMEOUT)
    assert str(msg["from"]) == "alice@localhost/one"  # type: ignore[index]
