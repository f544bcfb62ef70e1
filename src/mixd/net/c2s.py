"""Asyncio driver for client connections: feeds bytes to the sans-I/O
C2SStream, answers its decisions, and writes its output.

Writes are coalesced: stanzas queued during one loop iteration leave in one
`transport.write`. Each session handles its stanzas in order on its own task,
so a slow storage call delays only that session.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, cast

from mixd.backlog import Backlog
from mixd.codec.stanza import Stanza
from mixd.core.events import SessionBound
from mixd.core.server import Server
from mixd.errors import StanzaError, StanzaErrorCondition, StreamErrorCondition
from mixd.jid import JID
from mixd.logfmt import log_event
from mixd.net.c2s_auth import Authentication
from mixd.net.c2s_extras import StreamExtras
from mixd.net.c2s_limits import ConnectionLimits
from mixd.net.flow import Hold
from mixd.net.policy import ConnectionPolicy
from mixd.net.session import ClientSession
from mixd.stream import c2s, sm
from mixd.xml.element import Element

log = logging.getLogger("mixd.c2s")

# Pause reading when this many stanzas wait for the session task.
INBOX_HIGH, INBOX_LOW = 256, 32


@dataclass(frozen=True, slots=True)
class _Rejected:
    reply: Element | None


@dataclass(frozen=True, slots=True)
class _AckRequest:
    pass


@dataclass(frozen=True, slots=True)
class _SmEnable:
    resume: bool


@dataclass(frozen=True, slots=True)
class _Shutdown:
    pass


@dataclass(frozen=True, slots=True)
class _Answered:
    """An answer to a server request, already handed over (counted in order)."""


_InboxItem = Stanza | _Rejected | _AckRequest | _SmEnable | _Shutdown | _Answered


class C2SConnection(Authentication, StreamExtras, ConnectionLimits, asyncio.Protocol):
    _next_id = 0

    def __init__(self, server: Server, policy: ConnectionPolicy, *, direct_tls: bool) -> None:
        C2SConnection._next_id += 1
        self.conn_id = C2SConnection._next_id
        self.server = server
        self.policy = policy
        self.machine = c2s.C2SStream(policy.settings, tls_active=direct_tls)
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.session: ClientSession | None = None  # once bound (or resumed)
        self._inbox: Backlog[_InboxItem] = Backlog()
        self._wakeup: asyncio.Future[None] | None = None  # the worker waits for input
        self._worker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._flush_scheduled = False
        self._init_limits()
        self._closing = False
        self._close_reason = "unknown"
        self._last_rx = self.loop.time()
        self._timer: asyncio.TimerHandle | None = None
        self._upgrading = False  # a STARTTLS handshake is under way
        self._gone = False
        self._stream_ended = False  # closed by protocol, not dropped: no resumption
        self._replaced = False

    # -- asyncio.Protocol ----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        peer = self.transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        self._reads.attach(self.transport)
        if not self._admit():
            return
        self.policy.connections.add(self)
        log_event(log, "connect", conn=self.conn_id, peer=self.peer, tls=self.machine.tls_active)
        self._timer = self.loop.call_later(self.policy.preauth_timeout, self._check_timeouts)

    def data_received(self, data: bytes) -> None:
        self._last_rx = self.loop.time()
        self._reads.received(len(data))
        self._handle(self.machine.receive(data))

    def eof_received(self) -> bool | None:
        # TCP closed without </stream:stream>: a dropped connection (the
        # session may be resumed), not the end of the stream.
        if self._close_reason == "unknown":
            self._close_reason = "peer closed the connection"
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        # Also called by _start_tls when a handshake dies: asyncio does not
        # report connection_lost for a transport lost mid-upgrade.
        if self._gone:
            return
        self._gone = True
        self.transport = None
        self._count_closed()
        self.policy.connections.discard(self)
        if self._timer is not None:
            self._timer.cancel()
        for task in self._tasks:
            task.cancel()
        if exc is not None and self._close_reason == "unknown":
            self._close_reason = f"connection lost: {exc}"
        log_event(
            log,
            "close",
            conn=self.conn_id,
            peer=self.peer,
            jid=str(self.session.jid) if self.session else None,
            reason=self._close_reason,
        )
        # Stanzas already received are still handled; the session ends (or
        # waits for resumption) once the worker has drained them.
        self._wake_worker()
        if self._worker is None:
            self._end_session()

    def _end_session(self) -> None:
        session = self.session
        if session is None or session.closed or session.connection is not self:
            return
        resumable = session.sm_id is not None and not self._stream_ended and not self._replaced
        if resumable:
            session.detach(self.policy.resume_timeout, self.policy.resumable)
        else:
            if session.sm_id is not None:
                self.policy.resumable.pop(session.sm_id, None)
            session.close()

    # -- what the session asks of its connection -------------------------------

    @property
    def worker(self) -> asyncio.Task[None] | None:
        return self._worker

    def write(self, data: str) -> None:
        self.machine.send_raw(data)
        self._schedule_flush()

    def shut_down(self) -> None:
        """Graceful server stop: read no more, handle what was received, tell
        an XEP-0198 client how much that was, then end with system-shutdown."""
        if self._worker is None:
            self.close_stream(StreamErrorCondition.SYSTEM_SHUTDOWN, "server shutting down")
            return
        self._reads.hold(Hold.SHUTDOWN)  # never released
        self._enqueue(_Shutdown())

    def session_replaced(self) -> None:
        self._close_reason = "replaced by a new session"
        self._replaced = True
        self.close_stream(StreamErrorCondition.CONFLICT, "replaced by a new connection")

    # -- server side -----------------------------------------------------------

    def close_stream(
        self,
        condition: StreamErrorCondition | None,
        text: str | None = None,
        extra: str | None = None,
    ) -> None:
        if condition is not None and self._close_reason == "unknown":
            self._close_reason = f"stream error {condition}"
        self.machine.close(condition, text, extra)
        self._handle(self.machine.take_events())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        data = self.machine.data_to_send()
        if data:
            transport.write(data)
        if self._closing:
            transport.close()
        elif transport.get_write_buffer_size() > self.policy.max_output_buffer:
            # A reader this slow would make us buffer without bound.
            self._close_reason = "output buffer overflow"
            transport.abort()

    def _check_timeouts(self) -> None:
        now = self.loop.time()
        if self._upgrading:
            # Nothing can be written mid-handshake; just drop the connection.
            self._close_reason = "TLS handshake too slow"
            if self.transport is not None:
                self.transport.abort()
            return
        if self.session is None and not self._closing:
            self.close_stream(StreamErrorCondition.CONNECTION_TIMEOUT, "authentication too slow")
            return
        idle = self.policy.idle_timeout
        if now - self._last_rx >= idle:
            self.close_stream(StreamErrorCondition.CONNECTION_TIMEOUT, "idle")
            return
        self._timer = self.loop.call_later(idle - (now - self._last_rx), self._check_timeouts)

    # -- machine events ----------------------------------------------------------

    def _handle(self, events: list[c2s.C2SEvent]) -> None:
        for event in events:
            self._handle_one(event)
        self._schedule_flush()

    def _handle_one(self, event: c2s.C2SEvent) -> None:
        if isinstance(event, c2s.StanzaReceived):
            answered = self.session is not None and self.server.router.answer_now(event.stanza)
            self._enqueue(_Answered() if answered else event.stanza)
        elif isinstance(event, c2s.StanzaRejected):
            self._enqueue(_Rejected(event.reply))
        elif isinstance(event, c2s.SmAckRequest):
            self._enqueue(_AckRequest())
        elif isinstance(event, c2s.SmAck):
            self._sm_ack(event.h)
        elif isinstance(event, c2s.SmEnable):
            # In order: h counts the stanzas handled after <enable/>, so
            # the ones received before it must be handled first.
            self._enqueue(_SmEnable(event.resume))
        elif isinstance(event, c2s.RegisterRequested):
            self._decide(self._register(event))
        elif isinstance(event, c2s.SmResume):
            self._decide(self._sm_resume(event))
        elif isinstance(event, c2s.StartTLS):
            self._spawn(self._start_tls())
        elif isinstance(event, c2s.AccountLookup):
            self._decide(self._lookup(event))
        elif isinstance(event, c2s.PasswordCheck):
            self._decide(self._check_password(event))
        elif isinstance(event, c2s.AuthFailed):
            self._auth_failed(event)
        elif isinstance(event, c2s.Authenticated):
            self.policy.limiter.success(self._ip())
            self._count_authenticated()
            log_event(log, "auth", conn=self.conn_id, jid=event.jid, mechanism=event.mechanism)
        elif isinstance(event, c2s.BindRequested):
            self._bind(event)
        elif isinstance(event, c2s.Bound):
            self._bound(event.jid)
        elif isinstance(event, c2s.Closed):
            if self._close_reason == "unknown":
                self._close_reason = event.reason
            self._closing = True
            self._stream_ended = True

    def _ip(self) -> str:
        return self.peer.rsplit(":", 1)[0]

    async def _start_tls(self) -> None:
        assert self.transport is not None
        self.transport.write(self.machine.data_to_send())  # <proceed/> in the clear
        self._reads.detach()  # the handshake owns the socket until it is done
        self._upgrading = True
        try:
            transport = await self.loop.start_tls(
                self.transport,
                self,
                self.policy.ssl_context,
                server_side=True,
                ssl_handshake_timeout=self.policy.preauth_timeout,
            )
        except (TimeoutError, OSError, ssl.SSLError, ConnectionError) as exc:
            transport = None
            if self._close_reason == "unknown":
                self._close_reason = f"TLS handshake failed: {exc}"
        finally:
            self._upgrading = False
        if transport is None:
            if self.transport is not None:
                self.transport.abort()
            self.connection_lost(None)
            return
        self.transport = transport
        self._reads.attach(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        version = ssl_object.version() if ssl_object else None
        log_event(log, "tls", conn=self.conn_id, version=version)
        self._handle(self.machine.tls_established())

    def _bound(self, jid: JID) -> None:
        log_event(log, "bind", conn=self.conn_id, jid=jid)
        self._timer_reset()
        self._worker = self.loop.create_task(self._work())
        assert self.session is not None
        self._spawn(self.server.hooks.emit(SessionBound(self.session)))

    def _timer_reset(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_later(self.policy.idle_timeout, self._check_timeouts)

    # -- in-order stanza processing -----------------------------------------------

    def _enqueue(self, item: _InboxItem) -> None:
        self._inbox.append(item)
        self._wake_worker()
        if len(self._inbox) >= INBOX_HIGH:
            self._reads.hold(Hold.INBOX)

    def _wake_worker(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    async def _work(self) -> None:
        """Handle received stanzas in order; after the connection is lost,
        finish what was received, then end (or detach) the session."""
        try:
            while True:
                if not self._inbox and not self._gone:
                    self._wakeup = self.loop.create_future()
                    try:
                        await self._wakeup
                    finally:
                        self._wakeup = None
                while self._inbox:
                    item = self._inbox.popleft()
                    if len(self._inbox) <= INBOX_LOW:
                        self._reads.release(Hold.INBOX)
                    if isinstance(item, Stanza):
                        await self._shape_stanza()
                    await self._handle_item(item)
                if self._gone:
                    return
        finally:
            self._worker = None
            if self._gone:
                self._end_session()

    async def _handle_item(self, item: _InboxItem) -> None:
        session = self.session
        if session is None:
            return
        if isinstance(item, _AckRequest):
            if session.sm_enabled and session.connection is self:
                self.write(sm.ack(session.handled_in))
            return
        if isinstance(item, _SmEnable):
            self._sm_enable(item.resume)
            return
        if isinstance(item, _Shutdown):
            if session.sm_enabled and session.connection is self:
                self.write(sm.ack(session.handled_in))
            self.close_stream(StreamErrorCondition.SYSTEM_SHUTDOWN, "server shutting down")
            return
        if isinstance(item, _Rejected):
            if item.reply is not None:
                session.deliver(item.reply)
        elif isinstance(item, _Answered):
            pass  # handled as it arrived
        else:
            router = self.server.router
            try:
                await router.route(item, session)
            except Exception:  # the router answers errors itself; this is a bug
                log.exception("unhandled error routing stanza")
                router.reply_error(item, StanzaError(StanzaErrorCondition.INTERNAL_SERVER_ERROR))
        session.handled_in += 1
