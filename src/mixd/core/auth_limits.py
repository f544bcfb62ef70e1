"""Slows down password guessing: too many failed logins from one address in a
window locks that address out for a while. Other addresses are unaffected.
Memory is bounded: the oldest entries are forgotten first."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class FailureLimiter:
    def __init__(
        self,
        max_failures: int,
        window: float,
        lockout: float,
        *,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.lockout = lockout
        self.max_entries = max_entries
        self._clock = clock
        # key -> (failures in the current window, window start, locked until)
        self._entries: OrderedDict[str, tuple[int, float, float]] = OrderedDict()

    def locked(self, key: str) -> bool:
        entry = self._entries.get(key)
        return entry is not None and entry[2] > self._clock()

    def failure(self, key: str) -> None:
        now = self._clock()
        count, start, until = self._entries.pop(key, (0, now, 0.0))
        if now - start > self.window:
            count, start = 0, now
        count += 1
        if count >= self.max_failures:
            until, count, start = now + self.lockout, 0, now
        self._entries[key] = (count, start, until)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def success(self, key: str) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry[2] <= self._clock():
            del self._entries[key]
