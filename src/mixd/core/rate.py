"""Token buckets: the rate limits and shapers of the server.

A bucket holds up to `burst` tokens and gains `rate` tokens per second. Two
ways to spend them:

- `consume(n)` always takes the tokens, going into debt if needed, and says
  how long the debt takes to repay. Shapers use it: bytes already read (or a
  stanza already parsed) cannot be refused, only the next read delayed.
- `try_take(n)` takes them only if they are there. Limits that answer with an
  error use it: a refused request costs nothing.

The clock is injected so tests drive time by hand.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

Clock = Callable[[], float]


class TokenBucket:
    __slots__ = ("_clock", "_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float, *, clock: Clock = time.monotonic) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError("rate and burst must be positive")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._stamp = clock()

    @property
    def tokens(self) -> float:
        """Tokens available now (negative while in debt)."""
        self._refill()
        return self._tokens

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def consume(self, amount: float = 1.0) -> float:
        """Take `amount`; returns the seconds until the balance is back to
        zero (0.0 when there was enough)."""
        self._refill()
        self._tokens -= amount
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def try_take(self, amount: float = 1.0) -> bool:
        """Take `amount` if available; otherwise take nothing."""
        self._refill()
        if self._tokens < amount:
            return False
        self._tokens -= amount
        return True


class KeyedBuckets:
    """One bucket per key (e.g. per account), created full on first use.

    Bounded: beyond `max_keys` the least recently used bucket is forgotten.
    Forgetting only ever hands a key a fresh allowance, so the bound cannot
    be used to lock anyone out; keys should still be authenticated names, or
    an attacker could cycle through keys to get fresh buckets.
    """

    def __init__(
        self,
        rate: float,
        burst: float,
        *,
        max_keys: int = 100_000,
        clock: Clock = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def try_take(self, key: str, amount: float = 1.0) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, clock=self._clock)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket.try_take(amount)

    def __len__(self) -> int:
        return len(self._buckets)
