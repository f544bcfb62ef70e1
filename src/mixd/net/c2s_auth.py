"""Authentication and resource binding for client connections: the
connection driver's answers to the stream machine's AccountLookup,
PasswordCheck, AuthFailed and BindRequested decisions. A slice of
C2SConnection (mixed in), as `c2s_extras` and `c2s_limits` are."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, cast

from mixd.core.server import Server
from mixd.credentials import verify_password
from mixd.errors import StanzaError
from mixd.logfmt import log_event
from mixd.net.session import ClientSession
from mixd.storage.errors import StorageError
from mixd.stream import c2s
from mixd.stream.sasl import SaslCondition

if TYPE_CHECKING:
    from mixd.net.c2s import C2SConnection
    from mixd.net.policy import ConnectionPolicy

log = logging.getLogger("mixd.c2s")


class Authentication:
    """Mixed into C2SConnection; the attributes below are the connection's."""

    server: Server
    policy: ConnectionPolicy
    machine: c2s.C2SStream
    session: ClientSession | None
    loop: asyncio.AbstractEventLoop
    conn_id: int
    peer: str

    def _handle(self, events: list[c2s.C2SEvent]) -> None:
        raise NotImplementedError

    def _ip(self) -> str:
        raise NotImplementedError

    async def _lookup(self, event: c2s.AccountLookup) -> None:
        if self.policy.limiter.locked(self._ip()):
            log_event(log, "auth_locked", logging.WARNING, conn=self.conn_id, peer=self.peer)
            self._handle(
                self.machine.refuse_auth(
                    SaslCondition.TEMPORARY_AUTH_FAILURE, "too many failed logins, try later"
                )
            )
            return
        try:
            account = await self.server.stores.accounts.get(event.host, event.username)
        except StorageError:
            log.exception("account lookup failed")
            self._handle(
                self.machine.refuse_auth(SaslCondition.TEMPORARY_AUTH_FAILURE, "try again later")
            )
            return
        self._handle(self.machine.account_found(account))

    async def _check_password(self, event: c2s.PasswordCheck) -> None:
        # PBKDF2 is CPU work: keep it off the event loop.
        ok = await self.loop.run_in_executor(
            None, verify_password, event.credential, event.password
        )
        self._handle(self.machine.password_checked(ok))

    def _auth_failed(self, event: c2s.AuthFailed) -> None:
        if event.condition in (SaslCondition.NOT_AUTHORIZED, SaslCondition.INVALID_AUTHZID):
            self.policy.limiter.failure(self._ip())
        log_event(
            log,
            "auth_failed",
            logging.WARNING,
            conn=self.conn_id,
            peer=self.peer,
            user=event.username,
            host=event.host,
            mechanism=event.mechanism,
            reason=event.condition,
        )

    def _bind(self, event: c2s.BindRequested) -> None:
        session = ClientSession(self.server, event.jid, cast("C2SConnection", self))
        try:
            self.server.sessions.bind(session, event.jid, event.resource)
        except StanzaError as exc:
            self._handle(self.machine.bind_failed(event.iq_id, exc))
            return
        self.session = session
        self._handle(self.machine.bound(event.iq_id, session.jid))
