"""Limits and fairness (issue 10 item 4; RELIABILITY E4, F1-F5): each limit
is reached on a real server with small settings, the offender gets the
documented answer, and everyone else is still served.

Where the server gives no event to wait for (a connection forgotten, a
session ended), `eventually` polls its state, always within a bound.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from mixd.core.server import Server
from mixd.jid import JID
from mixd.net.c2s import C2SConnection
from mixd.net.flow import Hold
from mixd.services.roster import presence as presence_module
from tests.helpers import TIMEOUT, ServerHandle
from tests.wire import (
    BIND,
    CLIENT,
    SASL,
    Wire,
    bind,
    client_tls,
    raw_ping,
    scram_auth,
    stanza_error,
    starttls,
)

MakeServer = Callable[..., Awaitable[ServerHandle]]
XMPP_ERRORS = "urn:xmpp:errors"
MAM = "urn:xmpp:mam:2"


@pytest.fixture
async def make_server(server_factory: Any) -> AsyncIterator[MakeServer]:
    yield server_factory


# -- F1: connections per address, unauthenticated connections ---------------------


async def test_connections_per_address_are_capped_other_addresses_unaffected(
    make_server: MakeServer,
) -> None:
    server = await make_server(c2s={"max_connections_per_address": 3})
    # Someone on another address is logged in before the flood starts.
    bystander, _ = await login(server, "bystander", source="127.0.0.2")
    flood = [await Wire.open(server.port) for _ in range(3)]
    for wire in flood:
        await wire.start_stream()

    # One more from the same address is refused at once, before it says anything,
    # on either port.
    refused = await Wire.open(server.port)
    assert await refused.closed_with() == "policy-violation"
    refused_tls = await Wire.open(server.tls_port, tls=client_tls(server))
    assert await refused_tls.closed_with() == "policy-violation"
    assert count_from(server, "127.0.0.1") == 3  # refused ones hold nothing

    # Other addresses: a newcomer logs in, the bystander is still served.
    newcomer, _ = await login(server, "newcomer", source="127.0.0.3")
    await raw_ping(newcomer)
    await raw_ping(bystander)

    # A closed connection frees its place. The server closes this one (a stanza
    # before authentication is a stream error), so the count is settled by the
    # time the close is seen.
    await flood[0].send("<presence/>")
    await flood[0].read_to_close()
    assert count_from(server, "127.0.0.1") == 2
    again = await Wire.open(server.port)
    await again.start_stream()
    for wire in [*flood[1:], again, newcomer, bystander]:
        await wire.close()


async def test_authenticated_connections_count_per_address_too(make_server: MakeServer) -> None:
    server = await make_server(c2s={"max_connections_per_address": 2})
    first, _ = await login(server, "alice")
    second, _ = await login(server, "bob")
    refused = await Wire.open(server.port)
    assert await refused.closed_with() == "policy-violation"
    await first.logout()
    third, _ = await login(server, "carol")
    await raw_ping(second)
    await raw_ping(third)


async def test_connection_churn_leaves_nothing_behind(make_server: MakeServer) -> None:
    """Connections opened and closed over and over (within the per-address
    limit at every moment) are all admitted and all forgotten."""
    server = await make_server(c2s={"max_connections_per_address": 2})
    for _ in range(50):
        wire = await Wire.open(server.port)
        await wire.start_stream()
        await wire.logout()  # the server closes: settled once the close is seen
    assert count_from(server, "127.0.0.1") == 0
    assert server.app.policy is not None
    assert server.app.policy.admission.unauthenticated == 0
    assert not server.app.connections()


async def test_unauthenticated_connections_are_capped_overall(make_server: MakeServer) -> None:
    server = await make_server(c2s={"max_unauthenticated": 2})
    bystander, _ = await login(server, "bystander", source="127.0.0.9")
    waiting = []
    for source in ("127.0.0.1", "127.0.0.2"):
        wire = await Wire.open(server.port, source=source)
        await wire.start_stream()
        waiting.append(wire)
    refused = await Wire.open(server.port, source="127.0.0.3")
    assert await refused.closed_with() == "resource-constraint"
    await raw_ping(bystander)  # logged-in sessions are not affected

    # Once one of the waiting connections authenticates, there is room again.
    await server.add_user("alice@localhost", "pw-alice")
    await starttls(waiting[0], server)
    await waiting[0].start_stream()
    assert (await scram_auth(waiting[0], "alice", "pw-alice")).tag == f"{{{SASL}}}success"
    admitted = await Wire.open(server.port, source="127.0.0.3")
    await admitted.start_stream()
    for wire in [*waiting, admitted, bystander]:
        await wire.close()


# -- F2: inbound byte rate and stanza rate -------------------------------------------


async def test_byte_rate_pauses_reading_and_loses_nothing(make_server: MakeServer) -> None:
    """A client sending above c2s.byte_rate is read more slowly: after a read
    that overdraws its allowance the server stops reading (what follows waits
    in the socket) until the rate has paid for it; every stanza is answered,
    in order, and another client is served meanwhile."""
    rate, burst = 32768, 8192
    server = await make_server(c2s={"byte_rate": rate, "byte_burst": burst})
    bystander, _ = await login(server, "bystander", source="127.0.0.2")
    flooder, jid = await login(server, "flooder")
    conn = connection_of(server, jid)
    chunks, per_chunk, padding = 4, 16, " " * 1000  # whitespace between stanzas is allowed
    loop = asyncio.get_running_loop()
    started = loop.time()
    sent = 0
    for c in range(chunks):
        ids = [f"p{c}-{i}" for i in range(per_chunk)]
        chunk = "".join(ping_iq(iq_id) + padding for iq_id in ids)
        await flooder.send(chunk)
        # Chunk c is read only once the bytes before it are paid for.
        replies = [await flooder.next() for _ in ids]
        assert [(r.get("id"), r.get("type")) for r in replies] == [(i, "result") for i in ids]
        assert loop.time() - started >= 0.9 * (sent - burst) / rate
        sent += len(chunk)
        assert conn._reads.holds(Hold.RATE), "an overdrawn connection is not read"
        if c == 0:
            await raw_ping(bystander)  # served while the flooder waits
            assert conn._reads.holds(Hold.RATE)
    await raw_ping(flooder)  # kept
    await flooder.logout()


async def test_stanza_rate_delays_but_answers_everything(make_server: MakeServer) -> None:
    rate, burst, count = 20.0, 5, 25
    server = await make_server(c2s={"stanza_rate": rate, "stanza_burst": burst})
    bystander, _ = await login(server, "bystander", source="127.0.0.2")
    sender, _ = await login(server, "sender")
    loop = asyncio.get_running_loop()
    started = loop.time()
    await sender.send("".join(ping_iq(f"s{i}") for i in range(count)))
    replies = [await sender.next() for _ in range(count)]
    assert [(r.get("id"), r.get("type")) for r in replies] == [
        (f"s{i}", "result") for i in range(count)
    ]
    assert loop.time() - started >= 0.9 * (count - burst) / rate
    await raw_ping(bystander)
    await sender.logout()


# -- F3: resources per account ---------------------------------------------------------


async def test_too_many_resources_is_resource_constraint_with_xep0205_condition(
    make_server: MakeServer,
) -> None:
    server = await make_server(c2s={"max_resources_per_account": 2})
    first, _ = await login(server, "alice", resource="one")
    second, _ = await login(server, "alice", resource="two")
    third = await authenticated(server, "alice")
    features = await third.start_stream()
    assert features.find(f"{{{BIND}}}bind") is not None
    await third.send(
        f"<iq type='set' id='b3'><bind xmlns='{BIND}'><resource>three</resource></bind></iq>"
    )
    reply = await third.expect(lambda el: el.get("id") == "b3")
    assert stanza_error(reply) == ("cancel", "resource-constraint")
    error = reply.find(f"{{{CLIENT}}}error")
    assert error is not None
    assert error.find(f"{{{XMPP_ERRORS}}}resource-limit-exceeded") is not None, ET.tostring(reply)
    # Kept: once a resource is free, the same stream binds.
    await first.logout()
    assert await bind(third, features, "three")
    await raw_ping(third)
    await raw_ping(second)


# -- idle timeout (the pre-auth timeout is in test_bad_input.py) -------------------


async def test_idle_authenticated_stream_is_closed(make_server: MakeServer) -> None:
    server = await make_server(c2s={"idle_timeout": 0.5})
    idle, _ = await login(server, "idle")
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await idle.closed_with(timeout=5.0) == "connection-timeout"
    assert loop.time() - started >= 0.4


# -- slow reader: output buffer -------------------------------------------------------


async def test_slow_reader_is_disconnected_others_unaffected(make_server: MakeServer) -> None:
    """A client that stops reading while messages pour in is dropped once its
    unsent output passes c2s.max_output_buffer: the server takes on at most
    about that much for it, and the sender and a bystander carry on."""
    limit = 262144
    # Plain TCP, so that nothing but the kernel sits between the server's
    # buffer and a client that does not read.
    server = await make_server(c2s={"max_output_buffer": limit, "starttls_required": False})
    bystander, _ = await login(server, "bystander", source="127.0.0.2")
    sender, _ = await login(server, "sender", source="127.0.0.3")
    slow, slow_jid = await login(server, "slow", small_buffer=True)
    conn = connection_of(server, slow_jid)
    assert conn.transport is not None
    conn.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    slow.writer.transport.pause_reading()  # never reads again

    handed = 0  # bytes the server took on for the slow reader
    take = conn.machine.data_to_send

    def counted() -> bytes:
        nonlocal handed
        data = take()
        handed += len(data)
        return data

    conn.machine.data_to_send = counted  # type: ignore[method-assign]
    # Headlines: delivered to the resource and not archived.
    batch = "".join(
        f"<message type='headline' to='{slow_jid}'><body>{'x' * 4000}</body></message>"
        for _ in range(20)
    )
    for _ in range(40):  # 40 x 80 kB: far more than the limit
        if conn not in server.app.connections():
            break
        await sender.send(batch)
        await raw_ping(sender)  # the batch has been routed and flushed
    await eventually(lambda: conn not in server.app.connections())
    assert conn._close_reason == "output buffer overflow"
    # Dropped at the first flush over the limit: what it took on is the limit,
    # one batch, and what the kernel's small buffers held.
    assert handed <= limit + len(batch) + 65536, handed
    core = server_core(server)
    await eventually(lambda: core.sessions.get(JID.parse(slow_jid)) is None)
    await raw_ping(sender)
    await raw_ping(bystander)
    await slow.close()


# -- E4: MAM query rate -------------------------------------------------------------------


async def test_mam_queries_are_rate_limited_per_account_and_overall(
    make_server: MakeServer,
) -> None:
    server = await make_server(
        mam={
            "user_query_rate": 0.01,
            "user_query_burst": 2,
            "global_query_rate": 0.01,
            "global_query_burst": 3,
        }
    )
    alice, _ = await login(server, "alice")
    bob, _ = await login(server, "bob", source="127.0.0.2")
    assert await mam_query(alice, "a1") == "result"
    await alice.send(f"<iq type='get' id='form'><query xmlns='{MAM}'/></iq>")  # not counted
    assert (await alice.expect(lambda el: el.get("id") == "form")).get("type") == "result"
    assert await mam_query(alice, "a2") == "result"
    assert await mam_query(alice, "a3") == ("wait", "resource-constraint")
    # Bob has his own allowance, but only one query is left for the server.
    assert await mam_query(bob, "b1") == "result"
    assert await mam_query(bob, "b2") == ("wait", "resource-constraint")
    await raw_ping(alice)  # kept
    await raw_ping(bob)


# -- F5: bounded state keyed by what clients choose -----------------------------------


async def test_directed_presence_targets_are_bounded(
    make_server: MakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session remembers at most MAX_DIRECTED directed-presence targets (to
    send them unavailable later); beyond that, directed presence is not sent."""
    monkeypatch.setattr(presence_module, "MAX_DIRECTED", 3)
    server = await make_server()
    bob, _ = await login(server, "bob", source="127.0.0.2")
    carol, _ = await login(server, "carol", source="127.0.0.3")
    for wire in (bob, carol):
        await wire.send("<presence/>")
        await raw_ping(wire)
    alice, alice_jid = await login(server, "alice")  # no initial presence: all directed
    targets = ["bob@localhost", "x1@localhost", "x2@localhost", "carol@localhost"]
    await alice.send("".join(f"<presence to='{to}'/>" for to in targets))
    await raw_ping(alice)  # all four handled

    module = server_core(server).registry.modules["presence"]
    session = server_core(server).sessions.get(JID.parse(alice_jid))
    state = module._state(session)  # type: ignore[attr-defined]
    assert {str(j) for j in state.directed} == set(targets[:3])
    assert await presences_before_pong(bob) == [alice_jid]
    assert await presences_before_pong(carol) == []


# -- helpers ------------------------------------------------------------------------------


async def login(
    server: ServerHandle,
    name: str,
    *,
    resource: str | None = None,
    source: str = "127.0.0.1",
    small_buffer: bool = False,
) -> tuple[Wire, str]:
    """A raw session (SCRAM, bind) from `source`; see `authenticated`."""
    wire = await authenticated(server, name, source=source, small_buffer=small_buffer)
    return wire, await bind(wire, await wire.start_stream(), resource)


async def authenticated(
    server: ServerHandle, name: str, *, source: str = "127.0.0.1", small_buffer: bool = False
) -> Wire:
    """Logged in, stream not yet restarted. STARTTLS first unless the server
    allows plain TCP; `small_buffer`: a 4 kB socket receive buffer, set before
    connecting (afterwards the TCP window is already advertised)."""
    core = server_core(server)
    if await core.stores.accounts.get("localhost", name) is None:
        await server.add_user(f"{name}@localhost", f"pw-{name}")
    if small_buffer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", server.port)), TIMEOUT)
        reader, writer = await asyncio.open_connection(sock=sock)
        wire = Wire(reader, writer)
    else:
        wire = await Wire.open(server.port, source=source)
    await wire.start_stream()
    assert server.app.policy is not None
    if server.app.policy.settings.starttls_required:
        await starttls(wire, server)
        await wire.start_stream()
    success = await scram_auth(wire, name, f"pw-{name}")
    assert success.tag == f"{{{SASL}}}success", ET.tostring(success)
    return wire


def server_core(server: ServerHandle) -> Server:
    assert server.app.server is not None
    return server.app.server


def connection_of(server: ServerHandle, jid: str) -> C2SConnection:
    found = [c for c in server.app.connections() if c.session and str(c.session.jid) == jid]
    assert len(found) == 1, jid
    return found[0]


def count_from(server: ServerHandle, address: str) -> int:
    assert server.app.policy is not None
    return server.app.policy.admission.connections_from(address)


def ping_iq(iq_id: str) -> str:
    return f"<iq type='get' id='{iq_id}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>"


async def mam_query(wire: Wire, iq_id: str) -> str | tuple[str | None, str]:
    """A MAM query of the own archive: 'result', or the error's (type, condition)."""
    await wire.send(f"<iq type='set' id='{iq_id}'><query xmlns='{MAM}' queryid='{iq_id}'/></iq>")
    reply = await wire.expect(lambda el: el.tag == f"{{{CLIENT}}}iq" and el.get("id") == iq_id)
    if reply.get("type") == "error":
        return stanza_error(reply)
    assert reply.get("type") == "result", ET.tostring(reply)
    return "result"


async def presences_before_pong(wire: Wire) -> list[str]:
    """Senders of the presence stanzas that arrive before the answer to a ping
    sent now (which orders after everything already delivered to `wire`)."""
    iq_id = secrets.token_hex(4)
    await wire.send(ping_iq(iq_id))
    seen: list[str] = []
    while (element := await wire.next()).get("id") != iq_id:
        if element.tag == f"{{{CLIENT}}}presence":
            seen.append(element.get("from") or "")
    return seen


async def eventually(condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Wait, within `timeout`, for server state that no event announces."""

    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)
