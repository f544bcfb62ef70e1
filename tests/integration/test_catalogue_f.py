"""RELIABILITY group F cases beyond test_limits.py and test_offline.py: the
XEP-0198 queue limit (F4), IQs the server cannot decode (F6), and memory
back at its baseline after many bad connections (F1 and the rule every
catalogue case shares)."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from mixd.net import session as session_module
from tests.catalogue import session, still_serving, until_pong
from tests.helpers import STREAM_HEADER, ServerHandle
from tests.wire import Wire, raw_ping, stanza_error

SM = "urn:xmpp:sm:3"
BAD = ("modify", "bad-request")
UNAVAILABLE = ("cancel", "service-unavailable")


async def test_unacknowledged_queue_over_its_limit_is_policy_violation(
    server: ServerHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """F4: a client that enables stream management and never acknowledges
    is cut off once its queue of unacknowledged stanzas passes the limit
    (10,000; 5 here); the sender and others carry on."""
    monkeypatch.setattr(session_module, "MAX_UNACKED", 5)
    sender, _ = await session(server, "sender")
    hoarder, hoarder_jid = await session(server, "hoarder", "r")
    await hoarder.send(f"<enable xmlns='{SM}'/>")
    await hoarder.expect(lambda el: el.tag == f"{{{SM}}}enabled")
    await sender.send(
        "".join(
            f"<message to='{hoarder_jid}' type='headline'><body>{n}</body></message>"
            for n in range(8)
        )
    )
    await raw_ping(sender)
    assert await hoarder.closed_with() == "policy-violation"
    delivered = [el for el in hoarder.inbox if el.tag.endswith("}message")]
    assert len(delivered) == 5
    await still_serving(server, sender)


@pytest.mark.parametrize(
    ("iq", "expected"),
    [
        ("<iq type='wrong' id='w1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>", BAD),
        ("<iq type='get' id='w1' to='localhost'/>", BAD),
        (
            "<iq type='get' id='w1' to='localhost'><ping xmlns='urn:xmpp:ping'/>"
            "<ping xmlns='urn:xmpp:ping'/></iq>",
            BAD,
        ),
        (
            "<iq type='get' id='w1' to='localhost'><query xmlns='urn:example:unknown'/></iq>",
            UNAVAILABLE,
        ),
        ("<iq type='get' id='w1'><query xmlns='urn:example:unknown'/></iq>", UNAVAILABLE),
        (
            "<iq type='set' id='w1'><query xmlns='jabber:iq:roster'>"
            "<item jid='a@b@c'/></query></iq>",
            ("modify", "jid-malformed"),
        ),
    ],
    ids=[
        "type-wrong",
        "no-payload",
        "two-payloads",
        "unknown-namespace-host",
        "unknown-namespace-account",
        "codec-failure",
    ],
)
async def test_undecodable_iq_is_an_error_and_the_stream_is_kept(
    server: ServerHandle, iq: str, expected: tuple[str, str]
) -> None:
    alice, _ = await session(server, "alice")
    await alice.send(iq)
    reply = await alice.expect(lambda el: el.get("id") == "w1")
    assert stanza_error(reply) == expected
    await raw_ping(alice)  # kept
    await still_serving(server, alice)


async def test_memory_returns_to_baseline_after_bad_connections(server: ServerHandle) -> None:
    """F1 and the shared rule: rounds of bad or abandoned connections
    (garbage, oversized and bomb stanzas, connect/disconnect churn, logins
    that never bind) leave nothing behind: after a warm-up round, later
    rounds grow the server's traced memory by less than 2 kB per connection."""
    first, _ = await session(server, "alice")
    await first.logout()

    async def one_round() -> int:
        count = 0
        for garbage in (
            b"<'/>",
            b"<message>" + b"<a>" * 2000,
            b"<message a='" + b"v" * 9000 + b"'/>",
            b"<!-- x -->",
        ):
            wire = await Wire.open(server.port)
            await wire.start_stream()
            await wire.send(garbage)
            await wire.closed_with()
            count += 1
        for _ in range(10):
            wire = await Wire.open(server.port)
            await wire.send(STREAM_HEADER.format(host="localhost"))
            await wire.next()
            await wire.logout()
            count += 1
        bound, _ = await session(server, "alice")
        await until_pong(bound)
        await bound.logout()
        return count + 1

    tracemalloc.start()
    try:
        await one_round()
        gc.collect()
        baseline = tracemalloc.get_traced_memory()[0]
        connections = 0
        for _ in range(5):
            connections += await one_round()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    print(f"grown {grown} bytes over {connections} connections")
    assert grown < 2048 * connections, (grown, connections)
    assert not server.app.connections()
