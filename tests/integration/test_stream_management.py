"""XEP-0198 stream management over real sockets: acks count only handled
stanzas, resumption replays what the client never acknowledged, misuse is
refused (RELIABILITY G1-G2), and an expired session loses nothing."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

from mixd.codec.stanza import Stanza
from mixd.core.events import SessionClosed
from mixd.core.pipeline import MessageStage
from mixd.core.sessions import Session
from tests.helpers import TIMEOUT, ServerHandle
from tests.wire import SASL, STREAM, Wire, bind, raw_session, scram_auth, starttls

SM = "urn:xmpp:sm:3"
CLIENT = "jabber:client"


async def authenticated(server: ServerHandle, user: str, password: str) -> tuple[Wire, ET.Element]:
    """STARTTLS + SCRAM, stopped before bind (where <resume/> goes)."""
    wire = await Wire.open(server.port)
    await wire.start_stream()
    await starttls(wire, server)
    await wire.start_stream()
    success = await scram_auth(wire, user, password)
    assert success.tag == f"{{{SASL}}}success", ET.tostring(success)
    return wire, await wire.start_stream()


async def enable(wire: Wire) -> str:
    await wire.send(f"<enable xmlns='{SM}' resume='true'/>")
    enabled = await wire.expect(lambda el: el.tag == f"{{{SM}}}enabled")
    assert enabled.get("resume") == "true" and enabled.get("id")
    return enabled.get("id") or ""


def is_message(el: ET.Element) -> bool:
    return el.tag == f"{{{CLIENT}}}message"


async def test_sm_is_offered_after_authentication(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw-a")
    _, features = await authenticated(server, "alice", "pw-a")
    assert features.find(f"{{{SM}}}sm") is not None


async def test_ack_counts_handled_stanzas_including_rejected(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw-a")
    wire, _ = await raw_session(server, "alice", "pw-a", "r")
    await enable(wire)
    await wire.send("<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
    await wire.send("<message to='a@b@c' id='bad'><body>x</body></message>")  # jid-malformed
    await wire.send(f"<r xmlns='{SM}'/>")
    seen = [await wire.next() for _ in range(3)]
    assert [el.get("id") for el in seen[:2]] == ["p1", "bad"]  # answers first, in order
    assert seen[2].tag == f"{{{SM}}}a" and seen[2].get("h") == "2"


async def test_ack_counts_from_enable_even_when_pipelined(server: ServerHandle) -> None:
    """h counts only stanzas sent after <enable/> (XEP-0198 section 4), also
    when the stanzas before it are still being handled as it arrives; with a
    count from bind, a client would drop stanzas the server never handled."""
    await server.add_user("alice@localhost", "pw-a")
    wire, _ = await raw_session(server, "alice", "pw-a", "r")
    await wire.send(
        "<iq type='get' id='p0' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>"
        "<presence/>"
        f"<enable xmlns='{SM}'/>"
        "<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>"
        f"<r xmlns='{SM}'/>"
    )
    ack = await wire.expect(lambda el: el.tag == f"{{{SM}}}a")
    assert ack.get("h") == "1"
    # A second <r/> still counts from <enable/>.
    await wire.send(f"<r xmlns='{SM}'/>")
    again = await wire.expect(lambda el: el.tag == f"{{{SM}}}a")
    assert again.get("h") == "1"


async def test_acking_more_than_sent_is_a_stream_error(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw-a")
    wire, _ = await raw_session(server, "alice", "pw-a", "r")
    await enable(wire)
    await wire.send("<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
    await wire.expect(lambda el: el.get("id") == "p1")
    await wire.send(f"<a xmlns='{SM}' h='1'/>")  # fine: one stanza was sent
    await wire.send(f"<a xmlns='{SM}' h='7'/>")
    assert await wire.closed_with() == "undefined-condition"
    error = wire.inbox[-1]
    too_high = error.find(f"{{{SM}}}handled-count-too-high")
    assert too_high is not None and too_high.get("send-count") == "1"


async def test_resume_replays_unacked_without_loss_or_duplicates(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw-a")
    await server.add_user("bob@localhost", "pw-b")
    bob = await server.client("bob@localhost/b", "pw-b")
    wire, _ = await raw_session(server, "alice", "pw-a", "phone")
    previd = await enable(wire)
    await wire.send("<presence/>")
    await wire.send(
        "<message to='bob@localhost' type='chat' id='from-alice'><body>hi</body></message>"
    )
    await wire.send(f"<r xmlns='{SM}'/>")
    assert (await wire.expect(lambda el: el.tag == f"{{{SM}}}a")).get("h") == "2"
    for n in range(3):
        bob.send_message(mto="alice@localhost", mbody=f"before drop {n}", mtype="chat")
    for _ in range(3):
        await wire.expect(is_message)  # delivered, but never acknowledged
    # The connection dies without a goodbye.
    wire.writer.transport.abort()
    for n in range(2):
        bob.send_message(mto="alice@localhost", mbody=f"while away {n}", mtype="chat")
    await bob.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)

    again, _ = await authenticated(server, "alice", "pw-a")
    await again.send(f"<resume xmlns='{SM}' previd='{previd}' h='0'/>")
    resumed = await again.next()
    assert resumed.tag == f"{{{SM}}}resumed", ET.tostring(resumed)
    assert resumed.get("h") == "2"  # the server had handled both of alice's stanzas
    bodies = [(await again.expect(is_message)).findtext(f"{{{CLIENT}}}body") for _ in range(5)]
    assert bodies == [f"before drop {n}" for n in range(3)] + [f"while away {n}" for n in range(2)]
    await again.send(f"<a xmlns='{SM}' h='5'/>")
    await again.send("<iq type='get' id='p2' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
    pong = await again.next()
    assert pong.get("id") == "p2"  # nothing replayed twice before it
    await again.logout()


async def test_resume_of_someone_elses_stream_fails(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw-a")
    await server.add_user("mallory@localhost", "pw-m")
    wire, _ = await raw_session(server, "alice", "pw-a", "phone")
    previd = await enable(wire)
    thief, features = await authenticated(server, "mallory", "pw-m")
    await thief.send(f"<resume xmlns='{SM}' previd='{previd}' h='0'/>")
    failed = await thief.next()
    assert failed.tag == f"{{{SM}}}failed" and failed.find("*") is not None
    assert failed[0].tag.endswith("item-not-found")
    # mallory can still bind normally; alice's stream is untouched.
    assert (await bind(thief, features)).startswith("mallory@localhost/")
    await wire.send("<iq type='get' id='p' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
    assert (await wire.expect(lambda el: el.get("id") == "p")).get("type") == "result"


async def test_resume_with_unknown_id_fails(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw-a")
    wire, _ = await authenticated(server, "alice", "pw-a")
    await wire.send(f"<resume xmlns='{SM}' previd='no-such-stream' h='0'/>")
    failed = await wire.next()
    assert failed.tag == f"{{{SM}}}failed" and failed[0].tag.endswith("item-not-found")


async def test_enable_before_bind_is_refused(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw-a")
    wire, _ = await authenticated(server, "alice", "pw-a")
    await wire.send(f"<enable xmlns='{SM}'/>")
    failed = await wire.next()
    assert failed.tag == f"{{{SM}}}failed" and failed[0].tag.endswith("unexpected-request")


async def test_expired_session_keeps_unacked_messages_offline(server_factory: object) -> None:
    server: ServerHandle = await server_factory(c2s={"resume_timeout": 0.2})  # type: ignore[operator]
    await server.add_user("alice@localhost", "pw-a")
    await server.add_user("bob@localhost", "pw-b")
    bob = await server.client("bob@localhost/b", "pw-b")
    assert server.app.server is not None
    closed: asyncio.Future[object] = asyncio.get_running_loop().create_future()

    async def on_closed(event: SessionClosed) -> None:
        if event.session.jid.local == "alice" and not closed.done():
            closed.set_result(event)

    server.app.server.hooks.on(SessionClosed, on_closed)
    wire, _ = await raw_session(server, "alice", "pw-a", "phone")
    await enable(wire)
    await wire.send("<presence/>")
    await wire.send(f"<r xmlns='{SM}'/>")
    await wire.expect(lambda el: el.tag == f"{{{SM}}}a")
    bob.send_message(mto="alice@localhost", mbody="unacked", mtype="chat")
    await wire.expect(is_message)
    wire.writer.transport.abort()
    await asyncio.wait_for(closed, TIMEOUT)
    assert await server.app.server.stores.offline.count("alice@localhost") == 1
    # Next login gets it.
    back, _ = await raw_session(server, "alice", "pw-a", "laptop")
    await back.send("<presence/>")
    message = await back.expect(is_message)
    assert message.findtext(f"{{{CLIENT}}}body") == "unacked"


class Gate(MessageStage):
    """Holds the first message a client sends until released."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def outbound(self, stanza: Stanza, session: Session) -> None:
        if not self.entered.is_set():
            self.entered.set()
            await self.release.wait()


async def test_graceful_stop_acks_what_was_received_then_system_shutdown(
    server: ServerHandle,
) -> None:
    """RELIABILITY G9: on a graceful stop the stanzas a client already sent
    are handled, the final <a h/> says so, and only then comes
    system-shutdown, so the client resends nothing that was stored."""
    assert server.app.server is not None
    await server.add_user("alice@localhost", "pw-a")
    await server.add_user("bob@localhost", "pw-b")
    wire, _ = await raw_session(server, "alice", "pw-a", "r")
    await wire.send(f"<enable xmlns='{SM}'/>")
    await wire.expect(lambda el: el.tag == f"{{{SM}}}enabled")
    gate = Gate()
    server.app.server.router.message_stages.insert(0, gate)
    # One write: all three are received before the first one is handled.
    await wire.send(
        "".join(
            f"<message to='bob@localhost' type='chat' id='m{n}'><body>{n}</body></message>"
            for n in range(3)
        )
    )
    await asyncio.wait_for(gate.entered.wait(), TIMEOUT)
    server.closed = True  # stopped here, not by the fixture
    stopping = asyncio.create_task(server.app.stop())
    # Runs after the stop task's first step, which asks every connection to
    # shut down, so the held message is still being handled by then.
    asyncio.get_running_loop().call_soon(gate.release.set)
    assert await wire.closed_with() == "system-shutdown"
    ack, error = wire.inbox
    assert ack.tag == f"{{{SM}}}a" and ack.get("h") == "3", ET.tostring(ack)
    assert error.tag == f"{{{STREAM}}}error"
    await asyncio.wait_for(stopping, TIMEOUT)
