"""RELIABILITY group G cases beyond test_stream_management.py and
tests/reliability/: resumption refused in every other way (G2), a resume
pipelined with new stanzas (G3), and storage failing under a client that
uses stream management (G6)."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

import pytest

from mixd.core.events import SessionClosed
from mixd.services.mam import MamModule
from mixd.storage.errors import StorageUnavailable
from tests.catalogue import authenticated, session, still_serving, until_pong
from tests.helpers import TIMEOUT, ServerHandle
from tests.wire import CLIENT, STREAM, Wire, bind, stanza_error

SM = "urn:xmpp:sm:3"
PING = "<iq type='get' id='{}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>"


async def enable(wire: Wire) -> str:
    await wire.send(f"<enable xmlns='{SM}' resume='true'/>")
    enabled = await wire.expect(lambda el: el.tag == f"{{{SM}}}enabled")
    return enabled.get("id") or ""


def is_message(el: ET.Element) -> bool:
    return el.tag == f"{{{CLIENT}}}message"


def bound_sessions(server: ServerHandle) -> list[str]:
    return sorted(str(c.session.jid) for c in server.app.connections() if c.session is not None)


async def test_resume_with_h_above_what_was_sent_is_refused(server: ServerHandle) -> None:
    bob, _ = await session(server, "bob", "desk")
    alice, _ = await session(server, "alice", "phone")
    previd = await enable(alice)
    await bob.send("<message to='alice@localhost/phone' type='chat'><body>one</body></message>")
    await alice.expect(is_message)
    alice.writer.transport.abort()
    again = await authenticated(server, "alice")
    await again.start_stream()
    await again.send(f"<resume xmlns='{SM}' previd='{previd}' h='5'/>")
    assert await again.closed_with() == "undefined-condition"
    too_high = again.inbox[-1].find(f"{{{SM}}}handled-count-too-high")
    assert too_high is not None and too_high.get("send-count") == "1"
    assert bound_sessions(server) == ["bob@localhost/desk"]
    await still_serving(server, bob)


async def test_resume_of_an_expired_session_is_item_not_found(
    server_factory: object,
) -> None:
    server: ServerHandle = await server_factory(c2s={"resume_timeout": 0.2})  # type: ignore[operator]
    assert server.app.server is not None
    closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def on_closed(event: SessionClosed) -> None:
        if event.session.jid.local == "alice" and not closed.done():
            closed.set_result(None)

    server.app.server.hooks.on(SessionClosed, on_closed)
    alice, _ = await session(server, "alice", "phone")
    previd = await enable(alice)
    alice.writer.transport.abort()
    await asyncio.wait_for(closed, TIMEOUT)
    again = await authenticated(server, "alice")
    features = await again.start_stream()
    await again.send(f"<resume xmlns='{SM}' previd='{previd}' h='0'/>")
    failed = await again.next()
    assert failed.tag == f"{{{SM}}}failed" and failed[0].tag.endswith("item-not-found")
    # The stream goes on as a new session.
    assert (await bind(again, features, "phone")) == "alice@localhost/phone"
    await still_serving(server, again)


@pytest.mark.parametrize("stage", ["before-auth", "wrong-namespace"])
async def test_resume_before_auth_or_in_another_namespace_gets_no_session(
    server: ServerHandle, stage: str
) -> None:
    alice, _ = await session(server, "alice", "phone")
    previd = await enable(alice)
    alice.writer.transport.abort()
    if stage == "before-auth":
        wire = await Wire.open(server.port)
        await wire.start_stream()
        await wire.send(f"<resume xmlns='{SM}' previd='{previd}' h='0'/>")
    else:
        wire = await authenticated(server, "alice")
        await wire.start_stream()
        await wire.send(f"<resume xmlns='urn:xmpp:sm:2' previd='{previd}' h='0'/>")
    condition = await wire.closed_with()
    assert condition == "unsupported-stanza-type"
    assert not [el for el in wire.inbox if el.tag == f"{{{SM}}}resumed"]
    assert bound_sessions(server) == []
    await still_serving(server)


async def test_pipelined_resume_keeps_order_without_loss_or_duplicates(
    server: ServerHandle,
) -> None:
    """G3: <resume/> and new stanzas in one write, while messages for the
    session keep arriving: the replay comes first, then the new stanzas are
    handled in order; the peer gets each message once."""
    bob, _ = await session(server, "bob", "desk")
    alice, _ = await session(server, "alice", "phone")
    previd = await enable(alice)
    await alice.send("<presence/>")
    for n in range(3):
        await bob.send(f"<message to='alice@localhost' type='chat'><body>b{n}</body></message>")
    for _ in range(3):
        await alice.expect(is_message)
    alice.writer.transport.abort()
    for n in range(3, 5):
        await bob.send(f"<message to='alice@localhost' type='chat'><body>b{n}</body></message>")
    await until_pong(bob)

    again = await authenticated(server, "alice")
    await again.start_stream()
    await again.send(
        f"<resume xmlns='{SM}' previd='{previd}' h='0'/>"
        + "".join(
            f"<message to='bob@localhost/desk' type='chat' id='a{n}'><body>a{n}</body></message>"
            for n in range(3)
        )
        + PING.format("p1")
        + f"<r xmlns='{SM}'/>"
    )
    # Meanwhile more arrive for alice.
    await bob.send("<message to='alice@localhost' type='chat'><body>b5</body></message>")
    resumed = await again.next()
    assert resumed.tag == f"{{{SM}}}resumed", ET.tostring(resumed)
    seen: list[str] = []
    while True:
        el = await again.next()
        if el.tag == f"{{{SM}}}a":
            break
        if is_message(el):
            seen.append(el.findtext(f"{{{CLIENT}}}body") or "")
        elif el.get("id") == "p1":
            seen.append("pong")
    ack = el
    assert ack.get("h") == str(1 + 3 + 1)  # presence before the drop, 3 messages, ping
    if "b5" not in seen:
        seen.append((await again.expect(is_message)).findtext(f"{{{CLIENT}}}body") or "")
    assert seen[:5] == ["b0", "b1", "b2", "b3", "b4"]  # the replay first, in order
    assert sorted(seen) == sorted(["b0", "b1", "b2", "b3", "b4", "b5", "pong"])
    got = [el.findtext(f"{{{CLIENT}}}body") for el in await until_pong(bob) if is_message(el)]
    assert got == ["a0", "a1", "a2"]
    await still_serving(server, again, bob)


async def test_storage_failure_is_answered_and_acked_then_recovers(
    server: ServerHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """G6 with stream management: a message the archive cannot store gets
    internal-server-error (wait), counts as handled in the next <a/>, is not
    delivered; once storage is back the same stream works as before."""
    assert server.app.server is not None
    module = server.app.server.registry.modules["mam"]
    assert isinstance(module, MamModule)
    bob, _ = await session(server, "bob", "desk")
    await bob.send("<presence/>")
    alice, _ = await session(server, "alice", "phone")
    await enable(alice)
    await until_pong(bob)

    async def unavailable(*args: object) -> None:
        raise StorageUnavailable("database is locked")

    monkeypatch.setattr(module.stage.store, "store", unavailable)
    await alice.send(
        "<message to='bob@localhost' type='chat' id='m1'><body>lost?</body></message>"
        f"<r xmlns='{SM}'/>"
    )
    error = await alice.next()
    assert error.get("id") == "m1" and stanza_error(error) == ("wait", "internal-server-error")
    ack = await alice.next()
    assert ack.tag == f"{{{SM}}}a" and ack.get("h") == "1"
    assert [el for el in await until_pong(bob) if is_message(el)] == []

    monkeypatch.undo()
    await alice.send(
        "<message to='bob@localhost' type='chat' id='m2'><body>again</body></message>"
        f"<r xmlns='{SM}'/>"
    )
    ack = await alice.expect(lambda el: el.tag == f"{{{SM}}}a")
    assert ack.get("h") == "2"
    got = [el.findtext(f"{{{CLIENT}}}body") for el in await until_pong(bob) if is_message(el)]
    assert got == ["again"]
    assert not [el for el in alice.inbox if el.tag == f"{{{STREAM}}}error"]
    await still_serving(server, alice, bob)
