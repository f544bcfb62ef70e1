"""Raw XMPP over a socket for wire-level tests: a client that parses what the
server sends, and the few negotiation steps (STARTTLS, SASL, bind) written
out by hand so tests can deviate from them anywhere."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import ssl
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable
from typing import Any

import scramp

from tests.helpers import STREAM_HEADER, TIMEOUT, RawClient, ServerHandle

STREAM = "http://etherx.jabber.org/streams"


CLIENT = "jabber:client"


STREAMS_ERR = "urn:ietf:params:xml:ns:xmpp-streams"


STANZAS_ERR = "urn:ietf:params:xml:ns:xmpp-stanzas"


TLS_NS = "urn:ietf:params:xml:ns:xmpp-tls"


SASL = "urn:ietf:params:xml:ns:xmpp-sasl"


BIND = "urn:ietf:params:xml:ns:xmpp-bind"


LIMITS = "urn:xmpp:stream-limits:0"


PING = "urn:xmpp:ping"


XML_DECL = "<?xml version='1.0'?>"


class _Tap:
    """A StreamReader stand-in that hands every chunk read to `sink` too."""

    def __init__(self, reader: asyncio.StreamReader, sink: Callable[[bytes], None]) -> None:
        self._reader = reader
        self._sink = sink

    async def read(self, n: int = -1) -> bytes:
        chunk = await self._reader.read(n)
        self._sink(chunk)
        return chunk


class Wire(RawClient):
    """A RawClient that parses what the server sends: top-level elements of
    the current stream queue up in `inbox`; `transcript` keeps every byte."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(_Tap(reader, self._feed), writer)  # type: ignore[arg-type]
        self.transcript = b""
        self.inbox: deque[ET.Element] = deque()
        self._new_stream()

    @classmethod
    async def open(
        cls, port: int, *, tls: ssl.SSLContext | None = None, source: str = "127.0.0.1"
    ) -> Wire:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                "127.0.0.1",
                port,
                ssl=tls,
                server_hostname="localhost" if tls else None,
                local_addr=(source, 0),
            ),
            TIMEOUT,
        )
        return cls(reader, writer)

    def _new_stream(self) -> None:
        self._parser = ET.XMLPullParser(["start", "end"])
        self._depth = 0
        self.stream_closed = False
        self.root: ET.Element | None = None  # the server's stream header
        self.inbox.clear()

    def _feed(self, chunk: bytes) -> None:
        self.transcript += chunk
        self._parser.feed(chunk)
        for event, element in self._parser.read_events():
            self._depth += 1 if event == "start" else -1
            if event == "start" and self._depth == 1:
                self.root = element
            elif event == "end" and self._depth == 1:
                self.inbox.append(element)
            elif event == "end" and self._depth == 0:
                self.stream_closed = True

    async def restart(self, header: str) -> None:
        """Send a (new) stream header; the server answers with a new document."""
        self._new_stream()
        await self.send(header)

    async def start_stream(self, header: str | None = None) -> ET.Element:
        """Send a (new) stream header; return the server's features."""
        await self.restart(header or STREAM_HEADER.format(host="localhost"))
        features = await self.next()
        assert features.tag == f"{{{STREAM}}}features", ET.tostring(features)
        return features

    async def opened(self, timeout: float = TIMEOUT) -> ET.Element:
        """The server's stream header (its attributes), once it arrived."""

        async def wait() -> ET.Element:
            while self.root is None:
                if not await self.reader.read(65536):
                    raise ConnectionError(f"closed; received {self.transcript[-500:]!r}")
            return self.root

        return await asyncio.wait_for(wait(), timeout)

    async def next(self, timeout: float = TIMEOUT) -> ET.Element:
        """The next top-level element from the server."""

        async def wait() -> ET.Element:
            while not self.inbox:
                if not await self.reader.read(65536):
                    raise ConnectionError(f"closed; received {self.transcript[-500:]!r}")
            return self.inbox.popleft()

        return await asyncio.wait_for(wait(), timeout)

    async def expect(self, match: Callable[[ET.Element], bool]) -> ET.Element:
        """The next element that matches (others, like presence, are skipped)."""

        async def wait() -> ET.Element:
            while not match(element := await self.next()):
                pass
            return element

        return await asyncio.wait_for(wait(), TIMEOUT)

    async def logout(self) -> None:
        """Close the stream politely; the server must answer in kind and close
        the connection (proof it was still up)."""
        await self.send("</stream:stream>")
        await self.read_to_close()
        await self.close()
        assert self.stream_closed, self.transcript[-500:]
        assert not [el for el in self.inbox if el.tag == f"{{{STREAM}}}error"]

    async def closed_with(self, timeout: float = TIMEOUT) -> str:
        """Read until the server closes the TCP connection; the stream must end
        with exactly one stream error followed by </stream:stream>. Returns
        the error's defined condition."""
        try:
            await self.read_to_close(timeout)
        except TimeoutError:
            raise AssertionError(
                f"still open after {timeout} s; last received: {self.transcript[-300:]!r}"
            ) from None
        await self.close()
        assert self.stream_closed, f"no </stream:stream>; got {self.transcript[-500:]!r}"
        errors = [el for el in self.inbox if el.tag == f"{{{STREAM}}}error"]
        assert len(errors) == 1 and self.inbox[-1] is errors[0], self.transcript[-500:]
        return defined_condition(errors[0], STREAMS_ERR)


def client_tls(server: ServerHandle) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(server.ca_file))


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode() or "="


def defined_condition(error: ET.Element, ns: str) -> str:
    """The one defined condition child of a stream, stanza or SASL error."""
    conditions = [
        child.tag.removeprefix(f"{{{ns}}}")
        for child in error
        if child.tag.startswith(f"{{{ns}}}") and child.tag != f"{{{ns}}}text"
    ]
    assert len(conditions) == 1, ET.tostring(error)
    return conditions[0]


def sasl_condition(failure: ET.Element) -> str:
    assert failure.tag == f"{{{SASL}}}failure", ET.tostring(failure)
    return defined_condition(failure, SASL)


def stanza_error(stanza: ET.Element) -> tuple[str | None, str]:
    assert stanza.get("type") == "error", ET.tostring(stanza)
    error = stanza.find(f"{{{CLIENT}}}error")
    assert error is not None, ET.tostring(stanza)
    return error.get("type"), defined_condition(error, STANZAS_ERR)


def mechanisms(features: ET.Element) -> list[str]:
    return [m.text or "" for m in features.iterfind(f"{{{SASL}}}mechanisms/{{{SASL}}}mechanism")]


async def starttls(wire: Wire, server: ServerHandle) -> None:
    """Upgrade an open, not yet encrypted stream (features already read)."""
    await wire.send(f"<starttls xmlns='{TLS_NS}'/>")
    assert (await wire.next()).tag == f"{{{TLS_NS}}}proceed"
    await asyncio.wait_for(
        wire.writer.start_tls(client_tls(server), server_hostname="localhost"), TIMEOUT
    )


async def plain_auth(wire: Wire, user: str, password: str, authzid: str = "") -> ET.Element:
    """One PLAIN attempt; returns <success/> or <failure/>."""
    payload = b64("\0".join((authzid, user, password)))
    await wire.send(f"<auth xmlns='{SASL}' mechanism='PLAIN'>{payload}</auth>")
    return await wire.next()


async def scram_auth(
    wire: Wire, user: str, password: str, authzid: str | None = None
) -> ET.Element:
    """One SCRAM-SHA-256 exchange; returns <success/> (verified) or <failure/>."""
    client: Any = (
        scramp.ScramClient(["SCRAM-SHA-256"], user, password)
        if authzid is None
        else ScramWithAuthzid(user, password, authzid)
    )
    first = client.get_client_first()
    await wire.send(f"<auth xmlns='{SASL}' mechanism='SCRAM-SHA-256'>{b64(first)}</auth>")
    reply = await wire.next()
    if reply.tag != f"{{{SASL}}}challenge":
        return reply
    client.set_server_first(base64.b64decode(reply.text or "").decode())
    await wire.send(f"<response xmlns='{SASL}'>{b64(client.get_client_final())}</response>")
    reply = await wire.next()
    if reply.tag == f"{{{SASL}}}success":
        client.set_server_final(base64.b64decode(reply.text or "").decode())
    return reply


class ScramWithAuthzid:
    """SCRAM-SHA-256 client side (RFC 5802/7677) sending an authzid in the GS2
    header, which scramp's client cannot do; same methods as ScramClient."""

    def __init__(self, user: str, password: str, authzid: str) -> None:
        self.gs2_header = f"n,a={authzid.replace('=', '=3D').replace(',', '=2C')},"
        self.bare = f"n={user},r={secrets.token_urlsafe(18)}"
        self.password = password.encode()
        self.server_signature = b""

    def get_client_first(self) -> str:
        return self.gs2_header + self.bare

    def set_server_first(self, message: str) -> None:
        self.server_first = message

    def get_client_final(self) -> str:
        attrs = dict(item.split("=", 1) for item in self.server_first.split(","))
        assert attrs["r"].startswith(self.bare.rsplit("r=", 1)[1])
        salted = hashlib.pbkdf2_hmac(
            "sha256", self.password, base64.b64decode(attrs["s"]), int(attrs["i"])
        )
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        channel = base64.b64encode(self.gs2_header.encode()).decode()
        without_proof = f"c={channel},r={attrs['r']}"
        message = f"{self.bare},{self.server_first},{without_proof}".encode()
        signature = hmac.digest(hashlib.sha256(client_key).digest(), message, "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        server_key = hmac.digest(salted, b"Server Key", "sha256")
        self.server_signature = hmac.digest(server_key, message, "sha256")
        return f"{without_proof},p={base64.b64encode(proof).decode()}"

    def set_server_final(self, message: str) -> None:
        assert message == "v=" + base64.b64encode(self.server_signature).decode()


async def bind(wire: Wire, features: ET.Element, resource: str | None = None) -> str:
    """Bind a resource on a freshly restarted authenticated stream."""
    assert features.find(f"{{{BIND}}}bind") is not None, ET.tostring(features)
    inner = f"<resource>{resource}</resource>" if resource else ""
    await wire.send(f"<iq type='set' id='bind'><bind xmlns='{BIND}'>{inner}</bind></iq>")
    reply = await wire.expect(lambda el: el.get("id") == "bind")
    assert reply.get("type") == "result", ET.tostring(reply)
    jid = reply.findtext(f"{{{BIND}}}bind/{{{BIND}}}jid")
    assert jid, ET.tostring(reply)
    return jid


async def raw_session(
    server: ServerHandle, user: str, password: str, resource: str | None = None
) -> tuple[Wire, str]:
    """A Wire logged in the way a client does it: STARTTLS, SCRAM-SHA-256,
    bind. Returns the connection and its full JID."""
    wire = await Wire.open(server.port)
    await wire.start_stream()
    await starttls(wire, server)
    await wire.start_stream()
    success = await scram_auth(wire, user, password)
    assert success.tag == f"{{{SASL}}}success", ET.tostring(success)
    jid = await bind(wire, await wire.start_stream(), resource)
    return wire, jid


async def raw_ping(wire: Wire) -> None:
    iq_id = secrets.token_hex(4)
    await wire.send(
        f"<iq type='get' id='{iq_id}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>"
    )
    reply = await wire.expect(lambda el: el.get("id") == iq_id)
    assert reply.get("type") == "result", ET.tostring(reply)
