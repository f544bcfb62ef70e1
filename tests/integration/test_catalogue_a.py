"""RELIABILITY group A cases not covered by test_bad_input.py, over real
connections: XML declarations and encodings (A3), the namespace separator
(A4), attribute bombs after authentication (A7) and protocol violations
after bind (A9). Each ends with the server still serving others."""

from __future__ import annotations

import pytest

from mixd.jid import JID
from tests.catalogue import session, still_serving
from tests.helpers import STREAM_HEADER, ServerHandle
from tests.wire import PING, SASL, TLS_NS, XML_DECL, Wire, stanza_error

BARE_HEADER = STREAM_HEADER.format(host="localhost").removeprefix(XML_DECL)


@pytest.mark.parametrize(
    ("data", "conditions"),
    [
        ("<?xml version='1.1'?>" + BARE_HEADER, {"restricted-xml"}),
        ("<?xml version='1.0' encoding='ISO-8859-1'?>" + BARE_HEADER, {"unsupported-encoding"}),
        ("<?xml version='1.0' encoding='UTF-16'?>" + BARE_HEADER, {"unsupported-encoding"}),
        (XML_DECL + BARE_HEADER + XML_DECL, {"restricted-xml", "not-well-formed"}),
        (XML_DECL + "<?pi before the stream?>" + BARE_HEADER, {"restricted-xml"}),
        (XML_DECL + "<!-- before the stream -->" + BARE_HEADER, {"restricted-xml"}),
    ],
    ids=["xml-1.1", "latin-1", "utf-16-declared", "misplaced-declaration", "pi-prolog", "comment"],
)
async def test_declarations_and_encodings_are_refused(
    server: ServerHandle, data: str, conditions: set[str]
) -> None:
    bystander, _ = await session(server, "bystander")
    wire = await Wire.open(server.port)
    await wire.send(data)
    assert await wire.closed_with() in conditions
    await still_serving(server, bystander)


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
async def test_utf16_stream_is_refused(server: ServerHandle, codec: str) -> None:
    bystander, _ = await session(server, "bystander")
    wire = await Wire.open(server.port)
    await wire.send(("\ufeff" + XML_DECL + BARE_HEADER).encode(codec))
    # The server answers in UTF-8 whatever the client sent, so the error is readable.
    assert await wire.closed_with() in ("unsupported-encoding", "not-well-formed")
    await still_serving(server, bystander)


@pytest.mark.parametrize(
    "stanza",
    [
        f"<iq type='get' id='ns' to='localhost'><ping xmlns='{PING}&#x1;ping'/></iq>",
        f"<iq type='get' id='ns' to='localhost'><p:ping xmlns:p='{PING}&#1;x'/></iq>",
        "<message xmlns='jabber:client&#x1;message' to='bystander@localhost'/>",
    ],
    ids=["default-namespace", "prefixed-namespace", "stanza-namespace"],
)
async def test_namespace_separator_in_a_uri_is_not_well_formed(
    server: ServerHandle, stanza: str
) -> None:
    """CVE-2022-25236 class: the parser splits names at a separator character
    that no XML 1.0 document can contain, even as a character reference; a
    URI that tries is refused and nothing is answered or delivered."""
    bystander, _ = await session(server, "bystander", "desk")
    wire, _ = await session(server, "alice")
    await wire.send(stanza)
    assert await wire.closed_with() == "not-well-formed"
    assert not [el for el in wire.inbox if el.get("id") == "ns"]
    await still_serving(server, bystander)
    assert not [el for el in bystander.inbox if el.tag.endswith("}message")]


@pytest.mark.parametrize(
    "bomb",
    [
        "<message a='" + "v" * 1_048_576 + "'/>",
        "<message " + " ".join(f"xmlns:p{i}='urn:x'" for i in range(10_000)) + "/>",
        "<message " + " ".join(f"a{i}='x'" for i in range(10_000)) + "/>",
    ],
    ids=["one-megabyte-value", "namespace-declarations", "attributes"],
)
async def test_attribute_bombs_after_authentication_are_policy_violation(
    server: ServerHandle, bomb: str
) -> None:
    bystander, _ = await session(server, "bystander")
    wire, _ = await session(server, "alice")
    await wire.send(bomb)
    assert await wire.closed_with() == "policy-violation"
    await still_serving(server, bystander)


@pytest.mark.parametrize(
    ("element", "condition"),
    [
        (f"<starttls xmlns='{TLS_NS}'/>", "unsupported-stanza-type"),
        (
            f"<auth xmlns='{SASL}' mechanism='PLAIN'>AGFsaWNlAHB3LWFsaWNl</auth>",
            "unsupported-stanza-type",
        ),
        (
            "<iq type='set' id='bind2'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
            "<resource>second</resource></bind></iq>",
            None,
        ),
    ],
    ids=["starttls-after-bind", "auth-after-bind", "second-bind"],
)
async def test_negotiation_after_bind_is_refused(
    server: ServerHandle, element: str, condition: str | None
) -> None:
    """A9: STARTTLS or SASL once the session is bound ends the stream; a
    second bind is answered with a stanza error and the session stays as it
    was (one resource)."""
    bystander, _ = await session(server, "bystander")
    wire, full = await session(server, "alice", "first")
    await wire.send(element)
    if condition is None:
        reply = await wire.expect(lambda el: el.get("id") == "bind2")
        assert stanza_error(reply) == ("cancel", "service-unavailable")
        assert server.app.server is not None
        bound = server.app.server.sessions.resources(JID.parse("alice@localhost"))
        assert [str(s.jid) for s in bound] == [full]
        await wire.logout()
    else:
        assert await wire.closed_with() == condition
    await still_serving(server, bystander)
