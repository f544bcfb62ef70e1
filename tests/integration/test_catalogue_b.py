"""RELIABILITY group B cases beyond test_bad_input.py and test_login.py, on
real connections: TLS versions against the server's own TLS context (B2),
SCRAM misuse over the wire (B3) and SASL EXTERNAL (B7)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ssl
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import scramp

from mixd.app import App
from mixd.config import parse_config
from tests.catalogue import session, still_serving, user
from tests.helpers import TIMEOUT, ServerHandle
from tests.wire import (
    SASL,
    TLS_NS,
    ScramWithAuthzid,
    Wire,
    b64,
    bind,
    client_tls,
    mechanisms,
    sasl_condition,
)


@pytest.fixture
async def own_tls(tmp_path: Path, ca_file: Path) -> AsyncIterator[ServerHandle]:
    """A server with the TLS context mixd builds itself (generated
    certificate, [tls] defaults), not the test suite's."""
    config = parse_config(
        {
            "server": {"hosts": ["localhost"], "data_dir": str(tmp_path)},
            "c2s": {"port": 0, "direct_tls_port": 0},
        },
        "test",
    )
    handle = ServerHandle(App(config), ca_file)
    await handle.app.start()
    try:
        yield handle
    finally:
        await handle.close()


def tls11_client() -> ssl.SSLContext:
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    client.minimum_version = ssl.TLSVersion.TLSv1_1
    client.maximum_version = ssl.TLSVersion.TLSv1_1
    client.set_ciphers("DEFAULT:@SECLEVEL=0")
    return client


def unverified_client() -> ssl.SSLContext:
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    return client


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
async def test_tls_below_1_2_is_refused_on_both_ports(own_tls: ServerHandle) -> None:
    """B2 against the listening server: a TLS 1.1 client fails the handshake
    on the direct-TLS port and after STARTTLS; a TLS 1.2+ client on the same
    server gets no TLS compression; nobody is left registered."""
    server = own_tls
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await Wire.open(server.tls_port, tls=tls11_client())
    wire = await Wire.open(server.port)
    await wire.start_stream()
    await wire.send(f"<starttls xmlns='{TLS_NS}'/>")
    assert (await wire.next()).tag == f"{{{TLS_NS}}}proceed"
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await asyncio.wait_for(wire.writer.start_tls(tls11_client()), TIMEOUT)
    wire.writer.transport.abort()

    await user(server, "alice")
    good = await Wire.open(server.tls_port, tls=unverified_client())
    ssl_object = good.writer.get_extra_info("ssl_object")
    assert ssl_object.version() in ("TLSv1.2", "TLSv1.3")
    assert ssl_object.compression() is None
    features = await good.start_stream()
    assert "PLAIN" in mechanisms(features)
    await good.logout()
    assert not [c for c in server.app.connections() if c.session is None]


async def scram_first(wire: Wire, client_first: str) -> ET.Element:
    await wire.send(f"<auth xmlns='{SASL}' mechanism='SCRAM-SHA-256'>{b64(client_first)}</auth>")
    return await wire.next()


async def scram_final(wire: Wire, client_final: str) -> ET.Element:
    await wire.send(f"<response xmlns='{SASL}'>{b64(client_final)}</response>")
    return await wire.next()


def decoded(challenge: ET.Element) -> str:
    assert challenge.tag == f"{{{SASL}}}challenge", ET.tostring(challenge)
    return base64.b64decode(challenge.text or "").decode()


async def tls_stream(server: ServerHandle) -> Wire:
    wire = await Wire.open(server.tls_port, tls=client_tls(server))
    await wire.start_stream()
    return wire


async def assert_no_session(server: ServerHandle, wire: Wire) -> None:
    assert not [c for c in server.app.connections() if c.session is not None]
    await wire.send("<iq type='get' id='p' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
    assert await wire.closed_with() == "not-authorized"


async def test_scram_wrong_proof_is_not_authorized(server: ServerHandle) -> None:
    await user(server, "alice")
    wire = await tls_stream(server)
    client = scramp.ScramClient(["SCRAM-SHA-256"], "alice", "not the password")
    client.set_server_first(decoded(await scram_first(wire, client.get_client_first())))
    assert sasl_condition(await scram_final(wire, client.get_client_final())) == "not-authorized"
    await assert_no_session(server, wire)
    await still_serving(server)


async def test_scram_replayed_client_final_is_not_authorized(server: ServerHandle) -> None:
    """A client-final captured from a successful login, replayed on a new
    stream with the same client-first: the server's nonce differs, so the
    proof no longer fits."""
    await user(server, "alice")
    first = await tls_stream(server)
    client = scramp.ScramClient(["SCRAM-SHA-256"], "alice", "pw-alice")
    client_first = client.get_client_first()
    client.set_server_first(decoded(await scram_first(first, client_first)))
    captured = client.get_client_final()
    assert (await scram_final(first, captured)).tag == f"{{{SASL}}}success"
    await bind(first, await first.start_stream())

    replay = await tls_stream(server)
    server_first = decoded(await scram_first(replay, client_first))
    assert server_first.split(",")[0] != captured.split(",")[1]  # a fresh server nonce
    assert sasl_condition(await scram_final(replay, captured)) == "not-authorized"
    assert len([c for c in server.app.connections() if c.session is not None]) == 1
    await replay.send("<iq type='get' id='p' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
    assert await replay.closed_with() == "not-authorized"
    await still_serving(server, first)


async def test_scram_wrong_nonce_is_not_authorized(server: ServerHandle) -> None:
    await user(server, "alice")
    wire = await tls_stream(server)
    client = scramp.ScramClient(["SCRAM-SHA-256"], "alice", "pw-alice")
    client.set_server_first(decoded(await scram_first(wire, client.get_client_first())))
    final = client.get_client_final()
    nonce = final.split(",r=")[1].split(",")[0]
    tampered = final.replace(nonce, nonce[:-4] + "AAAA")
    assert sasl_condition(await scram_final(wire, tampered)) == "not-authorized"
    await assert_no_session(server, wire)


@pytest.mark.parametrize(
    "client_first",
    ["p=tls-exporter,,n=alice,r=abcdefghijkl", "p=tls-unique,,n=alice,r=abcdefghijkl"],
    ids=["tls-exporter", "tls-unique"],
)
async def test_scram_channel_binding_is_refused_when_not_offered(
    server: ServerHandle, client_first: str
) -> None:
    """-PLUS is never offered, so a client asking for channel binding gets a
    failure, never a session."""
    await user(server, "alice")
    wire = await Wire.open(server.tls_port, tls=client_tls(server))
    assert not [m for m in mechanisms(await wire.start_stream()) if m.endswith("-PLUS")]
    assert sasl_condition(await scram_first(wire, client_first)) == "malformed-request"
    await assert_no_session(server, wire)


async def test_scram_downgrade_protection_hash_matches_the_features(server: ServerHandle) -> None:
    """XEP-0474: the server-first message's "h" is the hash of the mechanism
    list this stream advertised, so a client can tell a list stripped by a
    man in the middle (here: the client's view without PLAIN) from the real
    one, and the login still succeeds."""
    await user(server, "alice")
    for mechanism, digest in (("SCRAM-SHA-256", hashlib.sha256), ("SCRAM-SHA-1", hashlib.sha1)):
        wire = await Wire.open(server.tls_port, tls=client_tls(server))
        advertised = mechanisms(await wire.start_stream())
        assert "PLAIN" in advertised

        def ssdp(names: list[str], digest: Any = digest) -> str:
            joined = "\x1e".join(sorted(names)).encode()
            return base64.b64encode(digest(joined).digest()).decode()

        client = scramp.ScramClient([mechanism], "alice", "pw-alice")
        await wire.send(
            f"<auth xmlns='{SASL}' mechanism='{mechanism}'>{b64(client.get_client_first())}</auth>"
        )
        first = decoded(await wire.next())
        fields = dict(item.split("=", 1) for item in first.split(","))
        assert fields["h"] == ssdp(advertised)
        assert fields["h"] != ssdp([m for m in advertised if m != "PLAIN"])
        client.set_server_first(first)
        reply = await scram_final(wire, client.get_client_final())
        assert reply.tag == f"{{{SASL}}}success", ET.tostring(reply)
        await bind(wire, await wire.start_stream())
        await wire.logout()


async def test_scram_server_first_without_its_hash_fails(server: ServerHandle) -> None:
    """The hash is inside the signed AuthMessage: a man in the middle who
    strips it from the server-first message breaks the client's proof."""
    await user(server, "alice")
    wire = await tls_stream(server)
    client = scramp.ScramClient(["SCRAM-SHA-256"], "alice", "pw-alice")
    first = decoded(await scram_first(wire, client.get_client_first()))
    client.set_server_first(first.rsplit(",h=", 1)[0])
    assert sasl_condition(await scram_final(wire, client.get_client_final())) == "not-authorized"
    await assert_no_session(server, wire)


async def test_scram_flag_y_without_plus_offered_is_accepted(server: ServerHandle) -> None:
    """RFC 5802 6: 'y' means the client supports channel binding but thinks
    the server does not; with no -PLUS offered that is the truth, so the login
    succeeds (the GS2 header is covered by the proof), and a proof made over
    another header fails."""
    await user(server, "alice")
    for header, expected in (("y,,", "success"), ("n,,", "failure")):
        wire = await tls_stream(server)
        client = ScramWithAuthzid("alice", "pw-alice", "")
        client.gs2_header = header
        first = "y,," + client.bare
        client.set_server_first(decoded(await scram_first(wire, first)))
        final = client.get_client_final()
        if header != "y,,":  # proof over 'n,,', channel-binding field says 'y,,'
            final = final.replace("c=" + b64(header), "c=" + b64("y,,"), 1)
        reply = await scram_final(wire, final)
        assert reply.tag == f"{{{SASL}}}{expected}", ET.tostring(reply)
        if expected == "success":
            client.set_server_final(base64.b64decode(reply.text or "").decode())
            await bind(wire, await wire.start_stream())
            await wire.logout()
        else:
            assert sasl_condition(reply) == "not-authorized"
            await assert_no_session(server, wire)


@pytest.mark.parametrize(
    "payload",
    ["=", "alice@localhost", "alice@elsewhere.example", "not@@a@jid", "CN=alice@localhost,O=x"],
    ids=["no-jid", "own-jid", "other-server", "malformed-jid", "crafted-dn"],
)
async def test_sasl_external_is_never_offered_and_always_fails(
    server: ServerHandle, ca: object, payload: str
) -> None:
    """B7: mixd does not offer EXTERNAL (no client certificates are asked
    for); whatever identity a client claims with it, and whatever certificate
    it presents, it gets invalid-mechanism and no session."""
    await user(server, "alice")
    tls = client_tls(server)
    issued = ca.issue_cert("alice@localhost", common_name=payload)  # type: ignore[attr-defined]
    issued.configure_cert(tls)
    wire = await Wire.open(server.tls_port, tls=tls)
    features = await wire.start_stream()
    assert "EXTERNAL" not in mechanisms(features)
    await wire.send(f"<auth xmlns='{SASL}' mechanism='EXTERNAL'>{b64(payload)}</auth>")
    assert sasl_condition(await wire.next()) == "invalid-mechanism"
    await assert_no_session(server, wire)
    await still_serving(server)


async def test_session_of_a_bystander_survives_sasl_failures(server: ServerHandle) -> None:
    """Failures on other streams change nothing for a bound session."""
    bystander, _ = await session(server, "bystander")
    await user(server, "alice")
    for _ in range(2):
        wire = await tls_stream(server)
        await wire.send(f"<auth xmlns='{SASL}' mechanism='EXTERNAL'>=</auth>")
        assert sasl_condition(await wire.next()) == "invalid-mechanism"
        await wire.close()
    await still_serving(server, bystander)
