"""Bad input from one client (RELIABILITY.md groups A, B and C).

Each case checks three things: the exact error the offender gets (stream
error, SASL failure or stanza error), that its connection is closed when it
should be (or kept when it should be), and that the server still serves
everyone else: an already-connected bystander still gets ping answers and a
newcomer can still log in.

Raw connections are `Wire`s: a RawClient that also parses what the server
sends, so assertions are made on elements, not on byte patterns. Helpers are
at the end of the file.
"""

from __future__ import annotations

import asyncio
import secrets
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from slixmpp import ClientXMPP
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from mixd.jid import JID
from tests.helpers import STREAM_HEADER, TIMEOUT, ServerHandle
from tests.wire import (
    CLIENT,
    LIMITS,
    PING,
    SASL,
    STREAM,
    STREAMS_ERR,
    TLS_NS,
    XML_DECL,
    Wire,
    bind,
    client_tls,
    defined_condition,
    mechanisms,
    plain_auth,
    raw_ping,
    raw_session,
    sasl_condition,
    scram_auth,
    stanza_error,
    starttls,
)

COMPRESS = "http://jabber.org/protocol/compress"
COMPRESS_FEATURE = "http://jabber.org/protocol/feature/compress"

PREAUTH_MAX = 8192  # c2s.max_stanza_bytes_preauth default
MAX = 262_144  # c2s.max_stanza_bytes default


# -- A. Stream and XML layer ----------------------------------------------------


@pytest.mark.parametrize(
    "garbage",
    [
        b"<'/>",
        b"<message><body>\xff\xfe</body></message>",  # not UTF-8
        b"<message><body>a\x00b</body></message>",  # NUL is not an XML character
        b"<message><body>hi</message>",  # mismatched end tag
        b"<message to='bob@localhost' <body/>",  # truncated tag
    ],
    ids=["quote-tag", "bad-utf8", "nul", "mismatched-tag", "truncated-tag"],
)
async def test_not_well_formed_closes_stream(
    server: ServerHandle, bystander: ClientXMPP, garbage: bytes
) -> None:
    wire = await Wire.open(server.port)
    await wire.start_stream()
    await wire.send(garbage)
    assert await wire.closed_with() == "not-well-formed"
    await assert_still_serving(server, bystander)


BILLION_LAUGHS = (
    "<!DOCTYPE lolz [<!ENTITY lol 'lol'>"
    + "".join(
        f"<!ENTITY lol{i} '{(f'&lol{i - 1};' if i > 1 else '&lol;') * 10}'>" for i in range(1, 10)
    )
    + "]>"
)


@pytest.mark.parametrize(
    ("prologue", "stanza", "condition"),
    [
        (BILLION_LAUGHS, "<message><body>&lol9;</body></message>", "restricted-xml"),
        ("<!DOCTYPE x SYSTEM 'file:///etc/passwd'>", "<message>&ext;</message>", "restricted-xml"),
        # A DOCTYPE cannot occur inside the stream element at all.
        ("", BILLION_LAUGHS, "not-well-formed"),
        # An entity that was never declared is not expanded either.
        ("", "<message><body>&lol9;</body></message>", "not-well-formed"),
    ],
    ids=["billion-laughs", "external-entity", "doctype-inside-stream", "undeclared-entity"],
)
async def test_doctype_and_entities_are_refused_without_expansion(
    server: ServerHandle, bystander: ClientXMPP, prologue: str, stanza: str, condition: str
) -> None:
    wire = await Wire.open(server.port)
    started = asyncio.get_running_loop().time()
    header = STREAM_HEADER.format(host="localhost").removeprefix(XML_DECL)
    await wire.send(XML_DECL + prologue + header + stanza)
    assert await wire.closed_with() == condition
    assert asyncio.get_running_loop().time() - started < 2.0  # no expansion work
    assert b"lollol" not in wire.transcript and len(wire.transcript) < 2048
    await assert_still_serving(server, bystander)


@pytest.mark.parametrize(
    "restricted",
    [
        "<!-- a comment -->",
        "<message><!-- inside a stanza --><body>hi</body></message>",
        "<message><?target data?></message>",
    ],
    ids=["comment", "comment-in-stanza", "processing-instruction"],
)
async def test_comment_and_processing_instruction_are_restricted_xml(
    server: ServerHandle, bystander: ClientXMPP, restricted: str
) -> None:
    wire = await Wire.open(server.port)
    await wire.start_stream()
    await wire.send(restricted)
    assert await wire.closed_with() == "restricted-xml"
    await assert_still_serving(server, bystander)


@pytest.mark.parametrize("finished", [True, False], ids=["complete", "never-finished"])
async def test_oversized_stanza_before_auth_is_policy_violation(
    server: ServerHandle, bystander: ClientXMPP, finished: bool
) -> None:
    wire = await Wire.open(server.port)
    await wire.start_stream()
    # Never finished: the limit must hold while the stanza is still arriving.
    tail = "</body></message>" if finished else ""
    await wire.send("<message to='bystander@localhost'><body>" + "x" * (PREAUTH_MAX + 1024) + tail)
    assert await wire.closed_with() == "policy-violation"
    await assert_still_serving(server, bystander)


async def test_oversized_stanza_after_auth_is_policy_violation(server: ServerHandle) -> None:
    await server.add_user("alice@localhost", "pw-alice")
    wire, _ = await raw_session(server, "alice", "pw-alice")
    carol = await login(server, "carol", "desk")
    bob = await login(server, "bob", "desk")
    received = spy_messages(bob)
    await wire.send("<message to='bob@localhost/desk' type='chat'><body>")
    chunk = "x" * 16384
    for _ in range((MAX + 4096) // len(chunk)):  # stop just past the limit
        await wire.send(chunk)
    assert await wire.closed_with() == "policy-violation"
    # An ordinary large message from an authenticated client still goes through.
    body = "y" * 100 * 1024
    got = message_future(bob)
    carol.send_message(mto="bob@localhost/desk", mbody=body, mtype="chat")
    msg = await asyncio.wait_for(got, TIMEOUT)
    assert msg["body"] == body
    assert [m["body"] for m in received] == [body]  # nothing from the offender
    await assert_still_serving(server, carol, bob)


@pytest.mark.parametrize(
    ("stage", "bomb"),
    [
        ("preauth", "<a>" * 2000),  # 6000 bytes: under the 8 KiB pre-auth limit
        ("postauth", "<message>" + "<a>" * 10_000),  # depth 10^4 in 30 kB
        ("postauth", "<message>" + "<a/>" * 20_000 + "</message>"),  # 2x10^4 elements
        ("postauth", "<message " + " ".join(f"a{i}=''" for i in range(10_000)) + "/>"),
    ],
    ids=["depth-preauth", "depth-postauth", "element-count", "attribute-count"],
)
async def test_structure_bombs_are_policy_violation(
    server: ServerHandle, bystander: ClientXMPP, stage: str, bomb: str
) -> None:
    if stage == "preauth":
        wire = await Wire.open(server.port)
        await wire.start_stream()
    else:
        await server.add_user("alice@localhost", "pw-alice")
        wire, _ = await raw_session(server, "alice", "pw-alice")
    assert len(bomb) < (PREAUTH_MAX if stage == "preauth" else MAX)
    await wire.send(bomb)
    assert await wire.closed_with() == "policy-violation"
    await assert_still_serving(server, bystander)


@pytest.mark.parametrize(
    ("stanza", "tls"),
    [
        ("<message to='bystander@localhost/desk' type='chat'><body>early</body></message>", False),
        ("<presence/>", False),
        ("<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>", True),
    ],
    ids=["message-plain", "presence-plain", "iq-tls"],
)
async def test_stanza_before_authentication_is_not_authorized(
    server: ServerHandle, bystander: ClientXMPP, stanza: str, tls: bool
) -> None:
    received = spy_messages(bystander)
    wire = await Wire.open(server.port)
    if tls:
        await wire.start_stream()
        await starttls(wire, server)
    await wire.start_stream()
    await wire.send(stanza)
    assert await wire.closed_with() == "not-authorized"
    assert not [el for el in wire.inbox if el.tag.startswith("{" + CLIENT)]  # no answer
    await assert_still_serving(server, bystander)
    assert received == []


@pytest.mark.parametrize(
    ("header", "condition"),
    [
        (
            "<stream:stream xmlns='jabber:client' xmlns:stream='urn:wrong' "
            "to='localhost' version='1.0'>",
            "invalid-namespace",
        ),
        (
            "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'"
            " to='localhost' version='1.0'>",
            "invalid-namespace",
        ),
        (
            "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
            " version='1.0'>",
            "improper-addressing",
        ),
        (
            "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
            " to='elsewhere.example' version='1.0'>",
            "host-unknown",
        ),
        (
            "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
            " to='localhost'>",
            "unsupported-version",
        ),
        (
            "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
            f" to='localhost' version='1.0' xml:lang='{'x' * 200}'>",
            "invalid-xml",
        ),
    ],
    ids=[
        "stream-namespace",
        "default-namespace",
        "missing-to",
        "unknown-host",
        "pre-1.0",
        "long-lang",
    ],
)
async def test_bad_stream_header(
    server: ServerHandle, bystander: ClientXMPP, header: str, condition: str
) -> None:
    wire = await Wire.open(server.port)
    await wire.send("<?xml version='1.0'?>" + header)
    assert await wire.closed_with() == condition
    await assert_still_serving(server, bystander)


async def test_preauth_timeout_closes_idle_connections(make_server: MakeServer) -> None:
    """Every way of sitting on a connection without authenticating ends at the
    pre-auth deadline (all four run at once, so the test takes one timeout)."""
    server = await make_server(c2s={"preauth_timeout": 0.5})
    bystander = await login(server, "bystander", "desk")
    await server.add_user("alice@localhost", "pw-alice")
    tls = client_tls(server)
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def stream_open() -> str:
        wire = await Wire.open(server.port)
        await wire.start_stream()
        return await wire.closed_with(timeout=3.0)

    async def direct_tls_stream_open() -> str:
        wire = await Wire.open(server.tls_port, tls=tls)
        await wire.start_stream()
        return await wire.closed_with(timeout=3.0)

    async def authenticated_never_bound() -> str:
        wire = await Wire.open(server.tls_port, tls=tls)
        await wire.start_stream()
        assert (await plain_auth(wire, "alice", "pw-alice")).tag == f"{{{SASL}}}success"
        await wire.start_stream()
        return await wire.closed_with(timeout=3.0)

    async def tls_port_never_handshaken() -> str:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.tls_port)
        data = await asyncio.wait_for(reader.read(), 3.0)
        writer.close()
        return f"closed after {len(data)} bytes"

    results = await asyncio.gather(
        stream_open(),
        direct_tls_stream_open(),
        authenticated_never_bound(),
        tls_port_never_handshaken(),
    )
    assert results == [
        "connection-timeout",
        "connection-timeout",
        "connection-timeout",
        "closed after 0 bytes",
    ]
    assert 0.5 <= loop.time() - started < 1.5
    await assert_still_serving(server, bystander)


async def test_preauth_timeout_during_starttls_handshake_frees_the_connection(
    make_server: MakeServer,
) -> None:
    """A client that asks for STARTTLS and then never does the handshake is
    cut off at the pre-auth deadline, and the server forgets the connection
    (it must not stay registered: one leaked entry per such connection)."""
    server = await make_server(c2s={"preauth_timeout": 0.5})
    bystander = await login(server, "bystander", "desk")
    loop = asyncio.get_running_loop()
    started = loop.time()
    wire = await Wire.open(server.port)
    await wire.start_stream()
    await wire.send(f"<starttls xmlns='{TLS_NS}'/>")
    assert (await wire.next()).tag == f"{{{TLS_NS}}}proceed"
    await wire.read_to_close(timeout=3.0)  # what is sent here is not TLS; only the close counts
    await wire.close()
    assert loop.time() - started < 1.5
    await assert_still_serving(server, bystander)


async def test_preauth_timeout_closes_slow_loris(make_server: MakeServer) -> None:
    server = await make_server(c2s={"preauth_timeout": 0.5})
    bystander = await login(server, "bystander", "desk")
    loop = asyncio.get_running_loop()
    started = loop.time()
    wire = await Wire.open(server.port)
    await wire.start_stream()

    async def drip() -> None:
        # Each byte is valid and the stanza never ends: only the timer can stop it.
        for byte in b"<message to='bystander@localhost'><body>" + b"x" * 1000:
            await wire.send(bytes([byte]))
            await asyncio.sleep(0.1)

    dripping = asyncio.create_task(drip())
    try:
        assert await wire.closed_with(timeout=3.0) == "connection-timeout"
    finally:
        dripping.cancel()
        await asyncio.gather(dripping, return_exceptions=True)
    assert loop.time() - started < 1.5  # the drip did not extend the deadline
    await assert_still_serving(server, bystander)


@pytest.mark.parametrize("stage", ["plain", "tls", "authenticated", "bound"])
async def test_compression_is_never_offered_and_refused_if_asked(
    server: ServerHandle, bystander: ClientXMPP, stage: str
) -> None:
    await server.add_user("alice@localhost", "pw-alice")
    wire = await Wire.open(server.port)
    features = await wire.start_stream()
    if stage != "plain":
        await starttls(wire, server)
        assert wire.writer.get_extra_info("ssl_object").compression() is None  # no TLS compression
        features = await wire.start_stream()
    if stage in ("authenticated", "bound"):
        assert (await scram_auth(wire, "alice", "pw-alice")).tag == f"{{{SASL}}}success"
        features = await wire.start_stream()
    if stage == "bound":
        await bind(wire, features)
    assert features.find(f"{{{COMPRESS_FEATURE}}}compression") is None
    await wire.send(f"<compress xmlns='{COMPRESS}'><method>zlib</method></compress>")
    failure = await wire.next()
    assert failure.tag == f"{{{COMPRESS}}}failure"
    assert [child.tag for child in failure] == [f"{{{COMPRESS}}}unsupported-method"]
    # The connection is kept and still usable at the same stage.
    if stage == "bound":
        await raw_ping(wire)
    elif stage == "authenticated":
        await bind(wire, features)
    elif stage == "tls":
        assert (await scram_auth(wire, "alice", "pw-alice")).tag == f"{{{SASL}}}success"
        await wire.start_stream()
    else:
        await starttls(wire, server)
        await wire.start_stream()
    await wire.logout()
    await assert_still_serving(server, bystander)


@pytest.mark.parametrize("size_over", [0, 1], ids=["at-limit", "one-over"])
async def test_advertised_preauth_limit_is_enforced_limit(
    server: ServerHandle, size_over: int
) -> None:
    """XEP-0478: before authentication, max-bytes is exactly the size of the
    largest top-level element accepted (a padded <compress/> request)."""
    wire = await Wire.open(server.port)
    await wire.start_stream()  # only <starttls><required/> is offered here
    await starttls(wire, server)
    features = await wire.start_stream()
    assert advertised_max_bytes(features) == PREAUTH_MAX
    head = f"<compress xmlns='{COMPRESS}'><method>zlib</method>"
    await wire.send(padded(head, "</compress>", PREAUTH_MAX + size_over))
    reply = await wire.next()
    if size_over:
        assert reply.tag == f"{{{STREAM}}}error", ET.tostring(reply)
        assert defined_condition(reply, STREAMS_ERR) == "policy-violation"
    else:
        assert reply.tag == f"{{{COMPRESS}}}failure", ET.tostring(reply)
        await wire.logout()
    await assert_still_serving(server)


@pytest.mark.parametrize("size_over", [0, 1], ids=["at-limit", "one-over"])
async def test_advertised_limit_after_auth_is_enforced_limit(
    server: ServerHandle, size_over: int
) -> None:
    """XEP-0478: after authentication, max-bytes is exactly the size of the
    largest stanza accepted (a ping padded with whitespace)."""
    await server.add_user("alice@localhost", "pw-alice")
    wire = await Wire.open(server.port)
    await wire.start_stream()
    await starttls(wire, server)
    await wire.start_stream()
    assert (await scram_auth(wire, "alice", "pw-alice")).tag == f"{{{SASL}}}success"
    features = await wire.start_stream()
    assert advertised_max_bytes(features) == MAX
    await bind(wire, features)
    head = f"<iq type='get' id='big' to='localhost'><ping xmlns='{PING}'/>"
    await wire.send(padded(head, "</iq>", MAX + size_over))
    reply = await wire.expect(lambda el: el.get("id") == "big" or el.tag.startswith(f"{{{STREAM}"))
    if size_over:
        assert reply.tag == f"{{{STREAM}}}error", ET.tostring(reply)
        assert defined_condition(reply, STREAMS_ERR) == "policy-violation"
    else:
        assert reply.get("type") == "result", ET.tostring(reply)
        await wire.logout()
    await assert_still_serving(server)


async def test_long_end_tag_does_not_stretch_the_size_limit(
    server: ServerHandle, bystander: ClientXMPP
) -> None:
    """The end tag counts too: an element whose name is nearly as long as the
    limit is twice the limit in total and must be refused."""
    wire = await Wire.open(server.port)
    await wire.start_stream()
    name = "n" * (PREAUTH_MAX - 100)
    element = f"<{name}></{name}>"
    assert len(element) > 1.9 * PREAUTH_MAX
    await wire.send(element)
    assert await wire.closed_with() == "policy-violation"
    await assert_still_serving(server, bystander)


@pytest.mark.parametrize(
    "nonza",
    [
        "<foo xmlns='urn:example:unknown'/>",
        "<message xmlns='jabber:server' to='bystander@localhost/desk'><body>s2s?</body></message>",
    ],
    ids=["unknown-element", "server-namespace-message"],
)
async def test_unknown_top_level_element_after_bind_is_unsupported_stanza_type(
    server: ServerHandle, bystander: ClientXMPP, nonza: str
) -> None:
    received = spy_messages(bystander)
    await server.add_user("alice@localhost", "pw-alice")
    wire, _ = await raw_session(server, "alice", "pw-alice")
    await wire.send(nonza)
    assert await wire.closed_with() == "unsupported-stanza-type"
    await assert_still_serving(server, bystander)
    assert received == []


async def test_second_stream_header_after_bind_closes_stream(
    server: ServerHandle, bystander: ClientXMPP
) -> None:
    """A <stream:stream> inside the open stream is a protocol violation
    (RELIABILITY A9). The stream machine answers a second header with
    `conflict`; what must not happen is the header being taken as the start
    of an ordinary element that silently swallows every later stanza."""
    await server.add_user("alice@localhost", "pw-alice")
    wire, _ = await raw_session(server, "alice", "pw-alice")
    await wire.send(STREAM_HEADER.format(host="localhost").removeprefix(XML_DECL))
    await wire.send(f"<iq type='get' id='after' to='localhost'><ping xmlns='{PING}'/></iq>")
    assert await wire.closed_with(timeout=2.0) == "conflict"
    await assert_still_serving(server, bystander)


async def test_restart_after_auth_with_another_host_is_refused(
    server: ServerHandle, bystander: ClientXMPP
) -> None:
    await server.add_user("alice@localhost", "pw-alice")
    await server.add_user("alice@example.org", "pw-other")
    wire = await Wire.open(server.port)
    await wire.start_stream()
    await starttls(wire, server)
    await wire.start_stream()
    assert (await scram_auth(wire, "alice", "pw-alice")).tag == f"{{{SASL}}}success"
    await wire.restart(STREAM_HEADER.format(host="example.org"))
    assert await wire.closed_with() == "not-authorized"
    assert not [
        conn
        for conn in server.app.connections()
        if conn.session is not None and conn.session.jid.domain == "example.org"
    ]
    await assert_still_serving(server, bystander)


# -- B. TLS and SASL ------------------------------------------------------------


@pytest.mark.parametrize("authzid", ["bob@localhost", "alice@example.org", "localhost"])
async def test_plain_authzid_of_another_account_is_invalid_authzid(
    server: ServerHandle, bystander: ClientXMPP, authzid: str
) -> None:
    await server.add_user("alice@localhost", "pw-alice")
    await server.add_user("bob@localhost", "pw-bob")
    await server.add_user("alice@example.org", "pw-alice")
    wire = await Wire.open(server.tls_port, tls=client_tls(server))
    features = await wire.start_stream()
    assert "PLAIN" in mechanisms(features)
    failure = await plain_auth(wire, "alice", "pw-alice", authzid=authzid)
    assert sasl_condition(failure) == "invalid-authzid"
    await assert_unauthenticated(server, wire)
    await assert_still_serving(server, bystander)


@pytest.mark.parametrize("authzid", ["bob@localhost", "alice@example.org"])
async def test_scram_authzid_of_another_account_is_invalid_authzid(
    server: ServerHandle, bystander: ClientXMPP, authzid: str
) -> None:
    await server.add_user("alice@localhost", "pw-alice")
    await server.add_user("bob@localhost", "pw-bob")
    wire = await Wire.open(server.port)
    await wire.start_stream()
    await starttls(wire, server)
    await wire.start_stream()
    failure = await scram_auth(wire, "alice", "pw-alice", authzid=authzid)
    assert sasl_condition(failure) == "invalid-authzid"
    await assert_unauthenticated(server, wire)
    await assert_still_serving(server, bystander)


async def test_own_authzid_is_accepted_with_plain(server: ServerHandle) -> None:
    """PLAIN tolerates an authzid naming the account itself."""
    await server.add_user("alice@localhost", "pw-alice")
    wire = await Wire.open(server.tls_port, tls=client_tls(server))
    await wire.start_stream()
    success = await plain_auth(wire, "alice", "pw-alice", authzid="alice@localhost")
    assert success.tag == f"{{{SASL}}}success", ET.tostring(success)
    assert (await bind(wire, await wire.start_stream())).startswith("alice@localhost/")


async def test_own_authzid_with_scram_is_invalid_authzid(server: ServerHandle) -> None:
    """RFC 6120 6.3.8: a client acting as itself sends no authzid. SCRAM
    refuses one with a clear invalid-authzid (not a confusing malformed-request)."""
    await server.add_user("alice@localhost", "pw-alice")
    wire = await Wire.open(server.tls_port, tls=client_tls(server))
    await wire.start_stream()
    failure = await scram_auth(wire, "alice", "pw-alice", authzid="alice@localhost")
    assert sasl_condition(failure) == "invalid-authzid"


async def test_plain_is_never_offered_or_accepted_before_tls(make_server: MakeServer) -> None:
    server = await make_server(c2s={"starttls_required": False})
    bystander = await login(server, "bystander", "desk")
    await server.add_user("alice@localhost", "pw-alice")
    wire = await Wire.open(server.port)
    features = await wire.start_stream()
    assert features.find(f"{{{TLS_NS}}}starttls") is not None
    offered = mechanisms(features)
    assert "PLAIN" not in offered and "SCRAM-SHA-256" in offered
    failure = await plain_auth(wire, "alice", "pw-alice")  # the right password, in the clear
    assert sasl_condition(failure) == "invalid-mechanism"
    await assert_unauthenticated(server, wire)
    await assert_still_serving(server, bystander)


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
async def test_auth_before_required_starttls_is_encryption_required(
    server: ServerHandle, bystander: ClientXMPP, mechanism: str
) -> None:
    await server.add_user("alice@localhost", "pw-alice")
    wire = await Wire.open(server.port)
    features = await wire.start_stream()
    assert features.find(f"{{{TLS_NS}}}starttls/{{{TLS_NS}}}required") is not None
    assert features.find(f"{{{SASL}}}mechanisms") is None
    if mechanism == "PLAIN":
        failure = await plain_auth(wire, "alice", "pw-alice")
    else:
        failure = await scram_auth(wire, "alice", "pw-alice")
    assert sasl_condition(failure) == "encryption-required"
    # Kept: the client can still do the right thing.
    await starttls(wire, server)
    await wire.start_stream()
    assert (await scram_auth(wire, "alice", "pw-alice")).tag == f"{{{SASL}}}success"
    await bind(wire, await wire.start_stream())
    await wire.logout()
    await assert_still_serving(server, bystander)


async def test_repeated_failures_lock_out_the_address_only(make_server: MakeServer) -> None:
    server = await make_server(auth={"max_failures": 3})
    bystander = await login(server, "bystander", "desk")
    await server.add_user("alice@localhost", "pw-alice")
    tls = client_tls(server)

    attacker = await Wire.open(server.tls_port, tls=tls)
    await attacker.start_stream()
    for _ in range(3):
        assert sasl_condition(await plain_auth(attacker, "alice", "guess")) == "not-authorized"
    # Three failures on one stream also end that stream.
    assert await attacker.closed_with() == "policy-violation"

    # From the same address, even the right password is now refused...
    for mechanism in ("PLAIN", "SCRAM-SHA-256"):
        again = await Wire.open(server.tls_port, tls=tls)
        await again.start_stream()
        if mechanism == "PLAIN":
            failure = await plain_auth(again, "alice", "pw-alice")
        else:
            failure = await scram_auth(again, "alice", "pw-alice")
        assert sasl_condition(failure) == "temporary-auth-failure", mechanism
        await assert_unauthenticated(server, again)

    # ...while the legitimate user on another address logs in...
    elsewhere = await Wire.open(server.tls_port, tls=tls, source="127.0.0.2")
    await elsewhere.start_stream()
    assert (await plain_auth(elsewhere, "alice", "pw-alice")).tag == f"{{{SASL}}}success"
    assert await bind(elsewhere, await elsewhere.start_stream())
    await raw_ping(elsewhere)
    # ...and sessions already established are not affected.
    await ping(bystander)


# -- C. Addressing and spoofing -------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "to"),
    [
        ("message", "a@b@c"),
        ("message", "b\x7fob@localhost"),  # a control character in the localpart
        ("iq", "@localhost"),
        ("presence", "bob@"),
    ],
    ids=["two-at", "control-char", "empty-local", "empty-domain"],
)
async def test_malformed_to_is_jid_malformed_and_stream_kept(
    server: ServerHandle, bystander: ClientXMPP, to: str, kind: str
) -> None:
    await server.add_user("alice@localhost", "pw-alice")
    wire, _ = await raw_session(server, "alice", "pw-alice")
    body = {
        "message": "<body>hi</body>",
        "iq": "<ping xmlns='urn:xmpp:ping'/>",
        "presence": "",
    }[kind]
    kind_type = {"message": "chat", "iq": "get", "presence": "subscribe"}[kind]
    to_attr = to.replace("\x7f", "&#x7f;")
    await wire.send(f"<{kind} to='{to_attr}' id='bad' type='{kind_type}'>{body}</{kind}>")
    reply = await wire.expect(lambda el: el.get("id") == "bad")
    assert reply.tag == f"{{{CLIENT}}}{kind}"
    assert stanza_error(reply) == ("modify", "jid-malformed")
    await raw_ping(wire)  # kept
    await wire.logout()
    await assert_still_serving(server, bystander)


@pytest.mark.parametrize(
    "spoofed",
    [
        "bob@localhost",
        "bob@localhost/desk",
        "alice@example.org",  # same name, other hosted domain
        "alice@localhost/other",  # own account, another resource
        "localhost",
        "not a jid@@",
    ],
)
async def test_from_naming_someone_else_is_invalid_from(server: ServerHandle, spoofed: str) -> None:
    await server.add_user("alice@localhost", "pw-alice")
    bob = await login(server, "bob", "desk")
    received = spy_messages(bob)
    wire, _ = await raw_session(server, "alice", "pw-alice", "raw")
    await wire.send(
        f"<message from='{spoofed}' to='bob@localhost/desk' type='chat'>"
        "<body>forged</body></message>"
    )
    assert await wire.closed_with() == "invalid-from"
    await assert_still_serving(server, bob)  # bob's ping round trip orders any delivery
    assert received == []


@pytest.mark.parametrize("own", ["alice@localhost", "alice@localhost/raw", "ALICE@LocalHost"])
async def test_from_naming_self_is_stamped_with_full_jid(server: ServerHandle, own: str) -> None:
    await server.add_user("alice@localhost", "pw-alice")
    bob = await login(server, "bob", "desk")
    got = message_future(bob)
    wire, full = await raw_session(server, "alice", "pw-alice", "raw")
    assert full == "alice@localhost/raw"
    await wire.send(
        f"<message from='{own}' to='bob@localhost/desk' type='chat'><body>me</body></message>"
    )
    msg = await asyncio.wait_for(got, TIMEOUT)
    assert msg["body"] == "me"
    assert str(msg["from"]) == "alice@localhost/raw"
    await raw_ping(wire)  # kept
    await wire.logout()
    await assert_still_serving(server, bob)


# -- G. Session replacement and shutdown --------------------------------------


async def test_same_resource_replaces_old_session_without_kicking_new(
    server: ServerHandle,
) -> None:
    await server.add_user("alice@localhost", "pw-alice")
    old, full = await raw_session(server, "alice", "pw-alice", "phone")
    new = await server.client("alice@localhost/phone", "pw-alice")
    assert str(new.boundjid) == full
    assert await old.closed_with() == "conflict"
    # The old connection is gone; the new session is the one registered and
    # it still works.
    await ping(new)
    sessions = server.app.server.sessions  # type: ignore[union-attr]
    [session] = sessions.resources(JID.parse("alice@localhost"))
    connection = session.connection  # type: ignore[attr-defined]
    assert connection is not None and not connection.transport.is_closing()
    bob = await login(server, "bob", "desk")
    got = message_future(new)
    bob.send_message(mto=full, mbody="to the new one", mtype="chat")
    assert (await asyncio.wait_for(got, TIMEOUT))["body"] == "to the new one"
    await assert_still_serving(server, new, bob)


async def test_graceful_shutdown_sends_system_shutdown(server_factory: Any) -> None:
    server: ServerHandle = await server_factory()
    stopped = False
    try:
        await server.add_user("alice@localhost", "pw-alice")
        waiting = await Wire.open(server.port)
        await waiting.start_stream()
        bound, _ = await raw_session(server, "alice", "pw-alice")
        stopped = True
        await server.app.stop()
        assert await waiting.closed_with() == "system-shutdown"
        assert await bound.closed_with() == "system-shutdown"
    finally:
        if not stopped:
            await server.close()


# -- helpers --------------------------------------------------------------------


MakeServer = Callable[..., Awaitable[ServerHandle]]


@pytest.fixture
async def make_server(server_factory: Any) -> AsyncIterator[MakeServer]:
    """server_factory, typed for this file (it stops what it starts)."""
    yield server_factory


@pytest.fixture
async def bystander(server: ServerHandle) -> ClientXMPP:
    """Someone already logged in before the bad input arrives."""
    return await login(server, "bystander", "desk")


async def login(server: ServerHandle, name: str, resource: str | None = None) -> ClientXMPP:
    await server.add_user(f"{name}@localhost", f"pw-{name}")
    jid = f"{name}@localhost" + (f"/{resource}" if resource else "")
    return await server.client(jid, f"pw-{name}")


async def ping(xmpp: ClientXMPP) -> None:
    """Raises unless the server answers with a result."""
    await xmpp.plugin["xep_0199"].send_ping("localhost", timeout=TIMEOUT)


async def assert_still_serving(server: ServerHandle, *connected: ClientXMPP) -> None:
    """Existing slixmpp sessions still get ping answers (with none given, a
    new slixmpp client must log in and get one), a newcomer can still log in
    over the wire, and no unauthenticated connection is left on the server."""
    if not connected:
        connected = (await login(server, f"witness-{secrets.token_hex(3)}"),)
    for xmpp in connected:
        await ping(xmpp)
    name = f"newcomer-{secrets.token_hex(3)}"
    await server.add_user(f"{name}@localhost", "pw")
    newcomer, _ = await raw_session(server, name, "pw")
    await raw_ping(newcomer)
    await newcomer.logout()
    stray = [conn.peer for conn in server.app.connections() if conn.session is None]
    assert not stray, f"closed connections still registered on the server: {stray}"


def spy_messages(xmpp: ClientXMPP) -> list[Any]:
    """Every <message/> this client receives, body or not."""
    seen: list[Any] = []
    xmpp.register_handler(
        Callback(f"spy-{secrets.token_hex(3)}", MatchXPath(f"{{{CLIENT}}}message"), seen.append)
    )
    return seen


def message_future(xmpp: ClientXMPP) -> asyncio.Future[Any]:
    got: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    xmpp.add_event_handler("message", lambda msg: got.done() or got.set_result(msg))
    return got


def advertised_max_bytes(features: ET.Element) -> int:
    text = features.findtext(f"{{{LIMITS}}}limits/{{{LIMITS}}}max-bytes")
    assert text is not None, ET.tostring(features)
    return int(text)


def padded(head: str, tail: str, size: int) -> str:
    """`head` + whitespace + `tail`, exactly `size` bytes long."""
    return head + " " * (size - len(head) - len(tail)) + tail


async def assert_unauthenticated(server: ServerHandle, wire: Wire) -> None:
    """No session was created: nobody is bound but the bystanders, and a
    stanza on this stream is still refused as unauthenticated."""
    assert not [
        conn
        for conn in server.app.connections()
        if conn.session is not None and "alice" in str(conn.session.jid)
    ]
    await wire.send("<iq type='get' id='p' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
    assert await wire.closed_with() == "not-authorized"
