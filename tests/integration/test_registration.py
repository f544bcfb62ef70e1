"""XEP-0077 in-band registration: off by default, only over TLS, rate
limited per address, and a registered account can log in at once."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from mixd.storage.contracts.archive import ArchiveQuery
from tests.helpers import ServerHandle
from tests.wire import SASL, Wire, client_tls, raw_session, scram_auth, stanza_error

REGISTER = "jabber:iq:register"
FEATURE = "http://jabber.org/features/iq-register"


async def open_tls(server: ServerHandle) -> tuple[Wire, ET.Element]:
    wire = await Wire.open(server.tls_port, tls=client_tls(server))
    return wire, await wire.start_stream()


async def register(wire: Wire, username: str, password: str, iq_id: str = "r1") -> ET.Element:
    await wire.send(
        f"<iq type='set' id='{iq_id}'><query xmlns='{REGISTER}'>"
        f"<username>{username}</username><password>{password}</password></query></iq>"
    )
    return await wire.expect(lambda el: el.get("id") == iq_id)


async def test_register_then_log_in(server_factory: object) -> None:
    server: ServerHandle = await server_factory(registration={"enabled": True})  # type: ignore[operator]
    wire, features = await open_tls(server)
    assert features.find(f"{{{FEATURE}}}register") is not None
    await wire.send(f"<iq type='get' id='form'><query xmlns='{REGISTER}'/></iq>")
    form = await wire.expect(lambda el: el.get("id") == "form")
    assert form.find(f"{{{REGISTER}}}query/{{{REGISTER}}}username") is not None
    assert (await register(wire, "Newbie", "s3cret!")).get("type") == "result"
    # The same stream can now authenticate as the new (normalised) account.
    success = await scram_auth(wire, "newbie", "s3cret!")
    assert success.tag == f"{{{SASL}}}success"
    assert server.app.server is not None
    assert await server.app.server.stores.accounts.get("localhost", "newbie") is not None


async def test_taken_username_is_a_conflict(server_factory: object) -> None:
    server: ServerHandle = await server_factory(registration={"enabled": True})  # type: ignore[operator]
    await server.add_user("alice@localhost", "pw")
    wire, _ = await open_tls(server)
    assert stanza_error(await register(wire, "alice", "other")) == ("cancel", "conflict")


async def test_bad_username_is_not_acceptable(server_factory: object) -> None:
    server: ServerHandle = await server_factory(registration={"enabled": True})  # type: ignore[operator]
    wire, _ = await open_tls(server)
    reply = await register(wire, "a@b", "pw")
    assert stanza_error(reply)[1] == "not-acceptable"


async def test_rate_limited_per_address(server_factory: object) -> None:
    server: ServerHandle = await server_factory(  # type: ignore[operator]
        registration={"enabled": True, "max_per_address": 2}
    )
    wire, _ = await open_tls(server)
    assert (await register(wire, "one", "pw-1", "a")).get("type") == "result"
    assert (await register(wire, "two", "pw-2", "b")).get("type") == "result"
    reply = await register(wire, "three", "pw-3", "c")
    assert stanza_error(reply) == ("wait", "resource-constraint")
    assert server.app.server is not None
    assert await server.app.server.stores.accounts.get("localhost", "three") is None


async def test_off_by_default(server: ServerHandle) -> None:
    wire, features = await open_tls(server)
    assert features.find(f"{{{FEATURE}}}register") is None
    await wire.send(
        f"<iq type='set' id='r'><query xmlns='{REGISTER}'><username>x</username>"
        "<password>y</password></query></iq>"
    )
    assert await wire.closed_with() == "not-authorized"


async def test_never_offered_in_the_clear(server_factory: object) -> None:
    server: ServerHandle = await server_factory(  # type: ignore[operator]
        registration={"enabled": True}, c2s={"starttls_required": False}
    )
    wire = await Wire.open(server.port)
    features = await wire.start_stream()
    assert features.find(f"{{{FEATURE}}}register") is None
    await wire.send(
        f"<iq type='set' id='r'><query xmlns='{REGISTER}'><username>x</username>"
        "<password>y</password></query></iq>"
    )
    assert await wire.closed_with() == "not-authorized"


async def test_change_password_then_log_in_with_it(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "old-pw")
    alice = await server.client("alice@localhost", "old-pw")
    iq = alice.Iq(stype="set")
    iq.append(
        ET.fromstring(
            f"<query xmlns='{REGISTER}'><username>alice</username>"
            "<password>new-pw</password></query>"
        )
    )
    await iq.send(timeout=10)
    await server.client("alice@localhost/second", "new-pw")  # logs in with the new one


async def test_remove_account_ends_its_sessions(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw")
    wire, _ = await raw_session(server, "alice", "pw", "r")
    await server.add_user("bob@localhost", "pw-b")
    await wire.send("<message to='bob@localhost' type='chat' id='m1'><body>bye</body></message>")
    assert server.app.server is not None
    archive = server.app.server.stores.archive
    await wire.send(f"<iq type='set' id='rm'><query xmlns='{REGISTER}'><remove/></query></iq>")
    assert (await wire.expect(lambda el: el.get("id") == "rm")).get("type") == "result"
    assert await wire.closed_with() == "not-authorized"
    assert server.app.server is not None
    assert await server.app.server.stores.accounts.get("localhost", "alice") is None
    # Her archive went with the account; bob keeps his copy of the message.
    assert (await archive.query(ArchiveQuery(owner="alice@localhost", limit=10))).count == 0
    assert (await archive.query(ArchiveQuery(owner="bob@localhost", limit=10))).count == 1
