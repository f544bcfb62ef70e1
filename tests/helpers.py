"""Test helpers: start clients against a running App, raw sockets for wire
tests. Every wait is bounded."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slixmpp import ClientXMPP

from mixd.app import App
from mixd.jid import JID
from mixd.services.accounts import AccountService

TIMEOUT = 10.0


@dataclass
class ServerHandle:
    app: App
    ca_file: Path
    clients: list[ClientXMPP] = field(default_factory=list)
    closed: bool = False

    @property
    def port(self) -> int:
        return self.app.c2s_port

    @property
    def tls_port(self) -> int:
        return self.app.direct_tls_port

    async def add_user(self, jid: str, password: str) -> None:
        assert self.app.server is not None
        service = AccountService(self.app.server.stores.accounts, self.app.server.hosts, 4096)
        await service.add(JID.parse(jid), password)

    async def client(
        self,
        jid: str,
        password: str,
        *,
        direct_tls: bool = False,
        mechanism: str | None = None,
        plugins: tuple[str, ...] = ("xep_0030", "xep_0199"),
        presence: bool = True,
    ) -> ClientXMPP:
        """A logged-in slixmpp client; raises if login fails."""
        xmpp = ClientXMPP(jid, password, sasl_mech=mechanism)
        xmpp.ca_certs = self.ca_file
        xmpp.enable_direct_tls = direct_tls
        xmpp.enable_starttls = not direct_tls
        xmpp.enable_plaintext = False
        for plugin in plugins:
            xmpp.register_plugin(plugin)
        started: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def done(ok: bool) -> Any:
            def callback(*_: Any) -> None:
                if not started.done():
                    started.set_result(ok)

            return callback

        xmpp.add_event_handler("session_start", done(True))
        xmpp.add_event_handler("failed_all_auth", done(False))
        xmpp.add_event_handler("disconnected", done(False))
        xmpp.connect("127.0.0.1", self.tls_port if direct_tls else self.port)
        self.clients.append(xmpp)
        ok = await asyncio.wait_for(started, TIMEOUT)
        if not ok:
            raise LoginFailed(jid)
        if presence:
            xmpp.send_presence()
        return xmpp

    async def close(self) -> None:
        """Clients log out (a real close handshake), then the server stops."""
        if self.closed:
            return
        self.closed = True
        closing = [xmpp.disconnect(wait=2.0) for xmpp in self.clients]
        try:
            await asyncio.wait_for(asyncio.gather(*closing, return_exceptions=True), 5)
        finally:
            for xmpp in self.clients:
                xmpp.abort()
            await self.app.stop()


class LoginFailed(Exception):
    pass


STREAM_HEADER = (
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' to='{host}' version='1.0'>"
)


class RawClient:
    """A bare socket speaking bytes, for wire-level and bad-input tests."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.received = b""

    @classmethod
    async def connect(cls, port: int, ssl_context: ssl.SSLContext | None = None) -> RawClient:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=ssl_context, server_hostname="localhost" if ssl_context else None
        )
        return cls(reader, writer)

    async def send(self, data: bytes | str) -> None:
        self.writer.write(data.encode() if isinstance(data, str) else data)
        await self.writer.drain()

    async def open_stream(self, host: str = "localhost") -> bytes:
        await self.send(STREAM_HEADER.format(host=host))
        return await self.read_until(b"</stream:features>")

    async def read_until(self, marker: bytes, timeout: float = TIMEOUT) -> bytes:
        async def read() -> bytes:
            while marker not in self.received:
                chunk = await self.reader.read(65536)
                if not chunk:
                    raise ConnectionError(f"closed before {marker!r}; got {self.received!r}")
                self.received += chunk
            head, _, tail = self.received.partition(marker)
            self.received = tail
            return head + marker

        return await asyncio.wait_for(read(), timeout)

    async def read_to_close(self, timeout: float = TIMEOUT) -> bytes:
        async def read() -> bytes:
            while chunk := await self.reader.read(65536):
                self.received += chunk
            data, self.received = self.received, b""
            return data

        return await asyncio.wait_for(read(), timeout)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(TimeoutError, ConnectionError, ssl.SSLError):
            await asyncio.wait_for(self.writer.wait_closed(), 2)
