"""XEP-0077 account creation and XEP-0198 stream management for client
connections: a slice of C2SConnection (mixed in), kept apart so the
connection driver itself stays about transport and negotiation."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import TYPE_CHECKING, cast

from mixd.core.server import Server
from mixd.errors import StanzaError, StanzaErrorCondition, StreamErrorCondition
from mixd.jid import JID
from mixd.logfmt import log_event
from mixd.net.session import ClientSession
from mixd.services.accounts import AccountError, AccountService
from mixd.storage.errors import AccountExists, StorageError
from mixd.stream import c2s, sm

if TYPE_CHECKING:
    from mixd.net.c2s import C2SConnection
    from mixd.net.policy import ConnectionPolicy

log = logging.getLogger("mixd.c2s")


class StreamExtras:
    """Mixed into C2SConnection; the attributes below are the connection's."""

    server: Server
    policy: ConnectionPolicy
    machine: c2s.C2SStream
    session: ClientSession | None
    loop: asyncio.AbstractEventLoop
    conn_id: int
    peer: str
    transport: asyncio.Transport | None
    _worker: asyncio.Task[None] | None
    _close_reason: str

    def _handle(self, events: list[c2s.C2SEvent]) -> None:
        raise NotImplementedError

    def _ip(self) -> str:
        raise NotImplementedError

    def write(self, data: str) -> None:
        raise NotImplementedError

    def close_stream(
        self,
        condition: StreamErrorCondition | None,
        text: str | None = None,
        extra: str | None = None,
    ) -> None:
        raise NotImplementedError

    def _timer_reset(self) -> None:
        raise NotImplementedError

    async def _work(self) -> None:
        raise NotImplementedError

    # -- XEP-0077 ----------------------------------------------------------------

    async def _register(self, event: c2s.RegisterRequested) -> None:
        limiter = self.policy.registrations
        ip = self._ip()
        if limiter is None or limiter.locked(ip):
            self._handle(
                self.machine.register_failed(
                    event.iq_id,
                    StanzaError(
                        StanzaErrorCondition.RESOURCE_CONSTRAINT,
                        "too many accounts created from your address, try later",
                    ),
                )
            )
            return
        service = AccountService(
            self.server.stores.accounts, self.server.hosts, self.policy.settings.scram_iterations
        )
        jid = JID(event.username, event.host, None)
        try:
            await service.add(jid, event.password)
        except AccountExists:
            error = StanzaError(StanzaErrorCondition.CONFLICT, "that username is taken")
        except AccountError as exc:
            error = StanzaError(StanzaErrorCondition.NOT_ACCEPTABLE, str(exc))
        except StorageError:
            error = StanzaError(StanzaErrorCondition.INTERNAL_SERVER_ERROR, "try again later")
        else:
            limiter.failure(ip)  # one more account from this address
            log_event(log, "register", conn=self.conn_id, peer=self.peer, jid=jid)
            self._handle(self.machine.registered(event.iq_id))
            return
        self._handle(self.machine.register_failed(event.iq_id, error))

    # -- XEP-0198 ----------------------------------------------------------------

    def _sm_enable(self, resume: bool) -> None:
        session = self.session
        assert session is not None
        if session.sm_enabled:
            self.write(sm.failed("unexpected-request"))
            return
        session.sm_enabled = True
        session.handled_in = 0  # XEP-0198 section 4: h counts from here
        if resume:
            session.sm_id = secrets.token_urlsafe(24)
            self.policy.resumable[session.sm_id] = session
        self.write(sm.enabled(session.sm_id, int(self.policy.resume_timeout)))

    def _sm_ack(self, h: int) -> None:
        session = self.session
        if session is None or not session.sm_enabled:
            return
        if not session.acknowledge(h):
            self.close_stream(
                StreamErrorCondition.UNDEFINED_CONDITION,
                "acknowledged more stanzas than were sent",
                sm.too_high(h, session.sm_sent),
            )

    async def _sm_resume(self, event: c2s.SmResume) -> None:
        old = self.policy.resumable.get(event.previd)
        # Never resume someone else's stream (RELIABILITY G2).
        if old is None or old.closed or old.jid.bare != event.jid.bare:
            self._handle(self.machine.resume_failed())
            return
        previous = old.connection
        if previous is not None and previous is not self:
            previous.handover()  # a half-open old connection: cut it
        if old.draining is not None:
            # Stanzas the old connection received must be counted before h is told.
            await asyncio.wait_for(asyncio.shield(old.draining), 30)
        if old.expiry is not None:
            old.expiry.cancel()
        if not old.acknowledge(event.h):
            self.close_stream(
                StreamErrorCondition.UNDEFINED_CONDITION,
                "acknowledged more stanzas than were sent",
                sm.too_high(event.h, old.sm_sent),
            )
            return
        old.connection = cast("C2SConnection", self)  # the mixin is a C2SConnection
        self.session = old
        self._handle(self.machine.resumed(old.jid, event.previd, old.handled_in))
        for data in old.sm_unacked:  # resent; they stay unacked until acked
            self.write(data)
        log_event(log, "resumed", conn=self.conn_id, jid=old.jid, resent=len(old.sm_unacked))
        self._timer_reset()
        self._worker = self.loop.create_task(self._work())

    def handover(self) -> None:
        """Another connection resumed our session: go without ending it."""
        # Stanzas this connection already received are still handled (and
        # counted) by its worker; the resuming side waits for that.
        if self.session is not None:
            self.session.draining = self._worker
            self.session.connection = None
        self._close_reason = "resumed on another connection"
        if self.transport is not None:
            self.transport.abort()
