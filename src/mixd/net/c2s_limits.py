"""Per-connection limits for client connections (a slice of C2SConnection,
mixed in): admission at accept, inbound byte and stanza shaping, no
reading while the stream waits for a decision, and no parser kept for a
silent stream. See "Limits and bounded state" in docs/architecture.md."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from mixd.core.admission import Refusal
from mixd.core.rate import TokenBucket
from mixd.errors import StreamErrorCondition
from mixd.logfmt import log_event
from mixd.net.flow import Hold, ReadControl
from mixd.stream import c2s

if TYPE_CHECKING:
    from mixd.net.policy import ConnectionPolicy

log = logging.getLogger("mixd.c2s")

_REFUSAL_CONDITION = {
    # XEP-0205: too many connections from one address is a policy matter...
    Refusal.TOO_MANY_FROM_ADDRESS: StreamErrorCondition.POLICY_VIOLATION,
    # ...too many waiting overall is the server running short.
    Refusal.TOO_MANY_UNAUTHENTICATED: StreamErrorCondition.RESOURCE_CONSTRAINT,
}


class ConnectionLimits:
    """Mixed into C2SConnection; the attributes below are the connection's."""

    policy: ConnectionPolicy
    loop: asyncio.AbstractEventLoop
    peer: str
    _close_reason: str
    _gone: bool
    _last_rx: float
    transport: asyncio.Transport | None
    machine: c2s.C2SStream

    def _ip(self) -> str:
        raise NotImplementedError

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        raise NotImplementedError

    def close_stream(
        self,
        condition: StreamErrorCondition | None,
        text: str | None = None,
        extra: str | None = None,
    ) -> None:
        raise NotImplementedError

    def release_parser_if_quiet(self, quiet_since: float) -> bool:
        """Memory for idle connections: free the XML parser of a stream that
        has been silent since `quiet_since` (net/policy.release_idle_parsers)."""
        return (
            self._last_rx <= quiet_since
            and self.transport is not None
            and self.machine.release_parser()
        )

    def _init_limits(self) -> None:
        policy = self.policy
        clock = self.loop.time
        self._reads = ReadControl(
            self.loop, TokenBucket(policy.byte_rate, policy.byte_burst, clock=clock)
        )
        self._stanzas = TokenBucket(policy.stanza_rate, policy.stanza_burst, clock=clock)
        self._deciding = 0
        self._admitted = False
        self._authenticated = False

    # -- admission -----------------------------------------------------------

    def _admit(self) -> bool:
        """Count this new connection, or refuse it: before anything is read,
        the header, the error and the close go out at once."""
        refusal = self.policy.admission.admit(self._ip())
        if refusal is None:
            self._admitted = True
            return True
        log_event(log, "refused", logging.WARNING, peer=self.peer, reason=refusal.value)
        self._close_reason = refusal.value
        self.close_stream(_REFUSAL_CONDITION[refusal], refusal.value)
        return False

    def _count_authenticated(self) -> None:
        if self._admitted and not self._authenticated:
            self._authenticated = True
            self.policy.admission.authenticated()

    def _count_closed(self) -> None:
        self._reads.detach()
        if self._admitted:
            self._admitted = False
            self.policy.admission.closed(self._ip(), authenticated=self._authenticated)

    # -- shaping ---------------------------------------------------------------

    async def _shape_stanza(self) -> None:
        """Above the stanza rate the session waits before its next stanza (its
        inbox fills, then reading pauses); nothing is refused. Once the
        connection is gone, what it sent is finished without delay."""
        if self._gone:
            return
        delay = self._stanzas.consume()
        if delay > 0:
            await asyncio.sleep(delay)

    # -- decisions ---------------------------------------------------------------

    def _decide(self, decision: Coroutine[Any, Any, None]) -> None:
        """Run a decision the stream waits for (account lookup, password,
        registration, resumption). Meanwhile the machine would queue whatever
        arrives, without bound: stop reading until every decision is answered
        (one answer may start the next)."""
        self._deciding += 1
        self._reads.hold(Hold.DECISION)
        self._spawn(self._decided(decision))

    async def _decided(self, decision: Coroutine[Any, Any, None]) -> None:
        try:
            await decision
        finally:
            self._deciding -= 1
            if not self._deciding:
                self._reads.release(Hold.DECISION)
