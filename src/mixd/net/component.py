"""One external component's connection (XEP-0114): a gateway, a bridge or a
bot that serves a domain of its own through this server.

The component authenticates with its configured secret; from then on every
stanza for its domain (users at it included) is written to it, and every
stanza it sends is routed as if a remote server had sent it, after the
addressing checks in stream/component.py. One connection per domain: a
second one for a domain already connected is refused with `conflict`.
Stanzas are handled in the order they arrive, one at a time, like a client's.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field
from typing import cast

from mixd.codec.stanza import Stanza, error_reply
from mixd.core.server import Server
from mixd.errors import StanzaError, StreamError, StreamErrorCondition
from mixd.jid import JID
from mixd.logfmt import log_event
from mixd.stream import component as protocol
from mixd.stream.header import stream_close, stream_error
from mixd.xml.element import Element
from mixd.xml.parser import ElementReceived, Limits, StreamClosed, StreamOpened, StreamParser
from mixd.xml.serializer import serialize

log = logging.getLogger(__name__)

# Before the handshake a component has no business sending more than this.
PREAUTH_LIMITS = Limits(max_bytes=4096, max_depth=4, max_elements=8)
# Stanzas waiting to be routed: reading pauses above the first, resumes below
# the second, so a component that sends faster than it is served is slowed
# down instead of filling memory.
INBOX_HIGH, INBOX_LOW = 256, 32


@dataclass
class ComponentSettings:
    secrets: dict[str, str]  # component domain -> shared secret
    max_stanza_bytes: int
    max_output_buffer: int
    handshake_timeout: float
    connections: set[ComponentConnection] = field(default_factory=set)


class ComponentConnection(asyncio.Protocol):
    def __init__(self, server: Server, settings: ComponentSettings) -> None:
        self.server = server
        self.settings = settings
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.domain: str | None = None  # once the header named it
        self.authenticated = False
        self._stream_id = secrets.token_hex(16)
        self._header_sent = False
        self._parser = StreamParser(PREAUTH_LIMITS)
        self._inbox: asyncio.Queue[Stanza] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._paused = False
        self._timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol ------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = self.transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        self.settings.connections.add(self)
        self._timer = self.loop.call_later(self.settings.handshake_timeout, self._handshake_late)

    def data_received(self, data: bytes) -> None:
        try:
            for event in self._parser.feed(data):
                if self.transport is None or self.transport.is_closing():
                    return
                if isinstance(event, StreamOpened):
                    self._opened(event)
                elif isinstance(event, ElementReceived):
                    self._element(event.element)
                elif isinstance(event, StreamClosed):
                    self.close(None)
        except StreamError as exc:
            self.close(exc.condition, exc.text)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.settings.connections.discard(self)
        if self._timer is not None:
            self._timer.cancel()
        if self._worker is not None:
            self._worker.cancel()
        if self.authenticated and self.domain is not None:
            self.server.router.remove_service(self.domain)
            log_event(log, "component_disconnected", domain=self.domain, peer=self.peer)

    # -- the stream ------------------------------------------------------------

    def _opened(self, opened: StreamOpened) -> None:
        if self._header_sent:
            raise StreamError(StreamErrorCondition.INVALID_XML, "the stream is already open")
        self.domain = protocol.check_header(opened, self.settings.secrets)
        self._write(protocol.header(self.domain, self._stream_id))
        self._header_sent = True

    def _element(self, element: Element) -> None:
        if not self.authenticated:
            self._handshake(element)
            return
        try:
            stanza = protocol.incoming_stanza(element, cast(str, self.domain))
        except StanzaError as exc:
            if element.get("type") != "error":
                sender = JID.parse(cast(str, element.get("from")))
                server = JID.parse(min(self.server.hosts))
                self._write(serialize(error_reply(element, sender, server, exc)))
            return
        self._inbox.put_nowait(stanza)
        if self._inbox.qsize() >= INBOX_HIGH and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def _handshake(self, element: Element) -> None:
        domain = self.domain
        if domain is None or not protocol.handshake_ok(
            element, self._stream_id, self.settings.secrets[domain]
        ):
            log_event(log, "component_refused", domain=domain, peer=self.peer)
            raise StreamError(StreamErrorCondition.NOT_AUTHORIZED, "wrong handshake")
        try:
            self.server.router.add_service(domain, self._from_router)
        except ValueError:
            raise StreamError(
                StreamErrorCondition.CONFLICT, f"{domain} is already connected"
            ) from None
        self.authenticated = True
        if self._timer is not None:
            self._timer.cancel()
        self._parser.set_limits(Limits(max_bytes=self.settings.max_stanza_bytes))
        self._worker = self.loop.create_task(self._work())
        self._write("<handshake/>")
        log_event(log, "component_connected", domain=domain, peer=self.peer)

    async def _work(self) -> None:
        router = self.server.router
        while True:
            stanza = await self._inbox.get()
            await router.route(stanza)  # errors are answered by the router
            if self._paused and self._inbox.qsize() <= INBOX_LOW and self.transport is not None:
                self._paused = False
                self.transport.resume_reading()

    async def _from_router(self, stanza: Stanza) -> None:
        """A stanza for the component's domain. Written without a namespace
        declaration, so inside this stream it is `jabber:component:accept`."""
        self._write(serialize(stanza.element))

    def _handshake_late(self) -> None:
        if not self.authenticated:
            self.close(StreamErrorCondition.CONNECTION_TIMEOUT, "no handshake in time")

    # -- output ----------------------------------------------------------------

    def _write(self, data: str) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(data.encode())
        if transport.get_write_buffer_size() > self.settings.max_output_buffer:
            log_event(log, "component_overflow", domain=self.domain, peer=self.peer)
            transport.abort()  # a component this slow would make us buffer without bound

    def close(self, condition: StreamErrorCondition | None, text: str | None = None) -> None:
        """End the stream (with a stream error if `condition`) and the connection."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        out = ""
        if not self._header_sent:
            # RFC 6120 4.9.1.2: a header first, even to report an error in one.
            out += protocol.header(self.domain or "", self._stream_id)
            self._header_sent = True
        if condition is not None:
            out += stream_error(condition, text)
        transport.write((out + stream_close()).encode())
        transport.close()
