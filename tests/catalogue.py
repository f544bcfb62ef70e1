"""Helpers for the catalogue tests (tests/integration/test_catalogue_*.py):
raw sessions over the wire, and the check every bad-input case ends with,
that the server still serves everyone else."""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET

from tests.helpers import ServerHandle
from tests.wire import CLIENT, SASL, Wire, bind, raw_ping, scram_auth, starttls


async def user(server: ServerHandle, name: str) -> str:
    """Create name@localhost (password pw-name) unless it exists; its bare JID."""
    assert server.app.server is not None
    if await server.app.server.stores.accounts.get("localhost", name) is None:
        await server.add_user(f"{name}@localhost", f"pw-{name}")
    return f"{name}@localhost"


async def authenticated(server: ServerHandle, name: str, source: str = "127.0.0.1") -> Wire:
    """STARTTLS + SCRAM-SHA-256, stopped right after <success/> (before the restart)."""
    await user(server, name)
    wire = await Wire.open(server.port, source=source)
    await wire.start_stream()
    await starttls(wire, server)
    await wire.start_stream()
    success = await scram_auth(wire, name, f"pw-{name}")
    assert success.tag == f"{{{SASL}}}success", ET.tostring(success)
    return wire


async def session(
    server: ServerHandle, name: str, resource: str | None = None, source: str = "127.0.0.1"
) -> tuple[Wire, str]:
    """A bound raw session; returns the wire and the full JID."""
    wire = await authenticated(server, name, source)
    return wire, await bind(wire, await wire.start_stream(), resource)


async def still_serving(server: ServerHandle, *connected: Wire) -> None:
    """Sessions already up still get ping answers, a newcomer logs in and gets
    one too, and no connection without a session is left on the server."""
    for wire in connected:
        await raw_ping(wire)
    newcomer, _ = await session(server, f"newcomer-{secrets.token_hex(3)}")
    await raw_ping(newcomer)
    await newcomer.logout()
    stray = [conn.peer for conn in server.app.connections() if conn.session is None]
    assert not stray, f"closed connections still registered on the server: {stray}"


def messages(wire: Wire) -> list[ET.Element]:
    """The <message/> stanzas already parsed from `wire` (not consumed)."""
    return [el for el in wire.inbox if el.tag == f"{{{CLIENT}}}message"]


async def until_pong(wire: Wire) -> list[ET.Element]:
    """Everything `wire` receives before the answer to a ping sent now (the
    server answers in order, so this is everything routed to it before)."""
    iq_id = secrets.token_hex(4)
    await wire.send(
        f"<iq type='get' id='{iq_id}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>"
    )
    seen: list[ET.Element] = []
    while (element := await wire.next()).get("id") != iq_id:
        seen.append(element)
    assert element.get("type") == "result", ET.tostring(element)
    return seen
