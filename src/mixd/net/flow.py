"""Inbound flow control for one connection: reading from the socket pauses
while any reason holds it and resumes when none is left.

Pausing leaves unread bytes in the kernel's socket buffer, where TCP flow
control slows the sender down: the server never buffers more than one read
per connection beyond what it is working on, and never drops anything.
"""

from __future__ import annotations

import asyncio
import enum

from mixd.core.rate import TokenBucket


class Hold(enum.Enum):
    INBOX = "inbox"  # the session has too many stanzas waiting
    RATE = "rate"  # the connection read more bytes than its rate allows
    DECISION = "decision"  # the stream waits for storage (login, resumption)
    SHUTDOWN = "shutdown"  # graceful stop: only what was received is handled


class ReadControl:
    def __init__(self, loop: asyncio.AbstractEventLoop, bytes_bucket: TokenBucket) -> None:
        self.loop = loop
        self.bucket = bytes_bucket
        self.transport: asyncio.Transport | None = None
        self._holds: set[Hold] = set()
        self._rate_timer: asyncio.TimerHandle | None = None

    @property
    def paused(self) -> bool:
        return bool(self._holds)

    def holds(self, reason: Hold) -> bool:
        return reason in self._holds

    def attach(self, transport: asyncio.Transport) -> None:
        """Use `transport` from now on (also after STARTTLS replaced it)."""
        self.transport = transport
        if self._holds:
            transport.pause_reading()

    def detach(self) -> None:
        self.transport = None
        if self._rate_timer is not None:
            self._rate_timer.cancel()
            self._rate_timer = None

    def hold(self, reason: Hold) -> None:
        if not self._holds and self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()
        self._holds.add(reason)

    def release(self, reason: Hold) -> None:
        if reason not in self._holds:
            return
        self._holds.discard(reason)
        if not self._holds and self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def received(self, size: int) -> None:
        """Charge `size` bytes just read; over the rate, stop reading until
        the debt is repaid."""
        wait = self.bucket.consume(size)
        if wait > 0 and self._rate_timer is None:
            self.hold(Hold.RATE)
            self._rate_timer = self.loop.call_later(wait, self._rate_repaid)

    def _rate_repaid(self) -> None:
        self._rate_timer = None
        wait = self.bucket.consume(0)  # bytes read meanwhile (before the pause took) count too
        if wait > 0:
            self._rate_timer = self.loop.call_later(wait, self._rate_repaid)
        else:
            self.release(Hold.RATE)
