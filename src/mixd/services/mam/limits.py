"""Archive query rate limits (RELIABILITY E4).

A MAM query is the most expensive thing a client can ask for (a read
transaction over its whole archive), so each account has its own allowance
and all accounts together share one, which keeps storage available for
archiving while some clients page through their history.

Over either limit the query is answered `resource-constraint` (type
`wait`, RFC 6120 8.3.3.18: the server lacks the resources to serve it now;
retry later): XEP-0313 defines no error of its own for this.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from mixd.core.rate import Clock, KeyedBuckets, TokenBucket
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID


@dataclass(frozen=True, slots=True)
class MamLimits:
    """Queries per second and burst, per account and for the whole server."""

    user_rate: float = 5.0
    user_burst: int = 30
    global_rate: float = 500.0
    global_burst: int = 1000


class QueryLimiter:
    def __init__(self, limits: MamLimits, *, clock: Clock = time.monotonic) -> None:
        # Keyed by authenticated bare JIDs, so the keys are accounts that exist.
        self.users = KeyedBuckets(limits.user_rate, limits.user_burst, clock=clock)
        self.server = TokenBucket(limits.global_rate, limits.global_burst, clock=clock)

    def admit(self, requester: JID) -> None:
        """Count one query by `requester`; raises when over a limit. The
        account's own allowance is checked first, so one account over its
        limit does not use up the shared one."""
        if not self.users.try_take(str(requester.bare)):
            raise StanzaError(
                StanzaErrorCondition.RESOURCE_CONSTRAINT, "too many archive queries, try later"
            )
        if not self.server.try_take():
            raise StanzaError(
                StanzaErrorCondition.RESOURCE_CONSTRAINT, "the archive is busy, try later"
            )
