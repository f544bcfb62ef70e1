"""Token buckets, per-key buckets, connection admission, the MAM query
limiter and read pausing, driven by a hand-moved clock."""

from __future__ import annotations

from typing import Any

import pytest

from mixd.core.admission import Admission, Refusal
from mixd.core.rate import KeyedBuckets, TokenBucket
from mixd.errors import ErrorType, StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.net.flow import Hold, ReadControl
from mixd.services.mam.limits import MamLimits, QueryLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_bucket_starts_full_and_refills_at_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=10, burst=5, clock=clock)
    assert [bucket.try_take() for _ in range(6)] == [True] * 5 + [False]
    clock.advance(0.1)  # one token back
    assert bucket.try_take()
    assert not bucket.try_take()


def test_bucket_never_holds_more_than_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=10, burst=5, clock=clock)
    clock.advance(3600)
    assert bucket.tokens == 5
    assert not bucket.try_take(6)
    assert bucket.tokens == 5  # a refused take costs nothing


def test_consume_goes_into_debt_and_says_how_long_to_repay() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=100, burst=200, clock=clock)
    assert bucket.consume(150) == 0.0
    assert bucket.consume(250) == pytest.approx(2.0)  # 200 short at 100/s
    assert not bucket.try_take()
    clock.advance(1.0)
    assert bucket.consume(0) == pytest.approx(1.0)
    clock.advance(1.0)
    assert bucket.consume(0) == 0.0
    assert bucket.tokens == pytest.approx(0.0)


def test_bucket_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=1)
    with pytest.raises(ValueError):
        TokenBucket(rate=1, burst=0)


def test_keyed_buckets_are_independent() -> None:
    clock = Clock()
    buckets = KeyedBuckets(rate=1, burst=2, clock=clock)
    assert buckets.try_take("alice") and buckets.try_take("alice")
    assert not buckets.try_take("alice")
    assert buckets.try_take("bob")
    clock.advance(1.0)
    assert buckets.try_take("alice")


def test_keyed_buckets_are_bounded_least_recently_used_first() -> None:
    clock = Clock()
    buckets = KeyedBuckets(rate=1, burst=1, max_keys=3, clock=clock)
    for key in ("a", "b", "c"):
        assert buckets.try_take(key)
    assert not buckets.try_take("a")  # a is now the most recently used
    assert buckets.try_take("d")  # evicts b
    assert len(buckets) == 3
    assert not buckets.try_take("a")  # kept, still empty
    assert buckets.try_take("b")  # forgotten: a fresh allowance, never a lockout


# -- connection admission -------------------------------------------------------


def test_admission_per_address() -> None:
    admission = Admission(max_per_address=2, max_unauthenticated=0)
    assert admission.admit("192.0.2.1") is None
    assert admission.admit("192.0.2.1") is None
    assert admission.admit("192.0.2.1") is Refusal.TOO_MANY_FROM_ADDRESS
    assert admission.admit("192.0.2.2") is None  # other addresses unaffected
    # Authenticated connections count too: the limit is on connections.
    admission.authenticated()
    assert admission.admit("192.0.2.1") is Refusal.TOO_MANY_FROM_ADDRESS
    admission.closed("192.0.2.1", authenticated=True)
    assert admission.admit("192.0.2.1") is None


def test_admission_unauthenticated_overall() -> None:
    admission = Admission(max_per_address=0, max_unauthenticated=2)
    assert admission.admit("192.0.2.1") is None
    assert admission.admit("192.0.2.2") is None
    assert admission.admit("192.0.2.3") is Refusal.TOO_MANY_UNAUTHENTICATED
    admission.authenticated()  # one logs in: room for another
    assert admission.admit("192.0.2.3") is None
    admission.closed("192.0.2.3", authenticated=False)
    assert admission.unauthenticated == 1


def test_admission_forgets_addresses_without_connections() -> None:
    admission = Admission(max_per_address=5, max_unauthenticated=5)
    for i in range(3):
        assert admission.admit(f"192.0.2.{i}") is None
    for i in range(3):
        admission.closed(f"192.0.2.{i}", authenticated=False)
    assert [admission.connections_from(f"192.0.2.{i}") for i in range(3)] == [0, 0, 0]
    assert admission._per_address == {}
    assert admission.unauthenticated == 0


def test_admission_zero_means_no_limit() -> None:
    admission = Admission(max_per_address=0, max_unauthenticated=0)
    for _ in range(1000):
        assert admission.admit("192.0.2.1") is None


# -- MAM queries ------------------------------------------------------------------


def test_mam_query_limit_per_account_then_global() -> None:
    clock = Clock()
    limiter = QueryLimiter(MamLimits(1.0, 2, 10.0, 3), clock=clock)
    alice, bob = JID.parse("alice@localhost/a"), JID.parse("bob@localhost/b")
    limiter.admit(alice)
    limiter.admit(JID.parse("alice@localhost/other"))  # per account, not per resource
    with pytest.raises(StanzaError) as info:
        limiter.admit(alice)
    error = info.value
    assert error.condition is StanzaErrorCondition.RESOURCE_CONSTRAINT
    assert error.error_type is ErrorType.WAIT
    limiter.admit(bob)  # bob has his own allowance; the server's third token
    with pytest.raises(StanzaError, match="busy"):
        limiter.admit(bob)  # bob is within his limit, the server is not
    clock.advance(1.0)
    limiter.admit(alice)


# -- read control (net/flow.py) ---------------------------------------------------------


class FakeTransport:
    def __init__(self) -> None:
        self.reading = True
        self.closing = False

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_closing(self) -> bool:
        return self.closing


class FakeLoop:
    """call_later that only records; the test fires the callbacks."""

    def __init__(self) -> None:
        self.timers: list[tuple[float, Any]] = []

    def call_later(self, delay: float, callback: Any) -> Any:
        self.timers.append((delay, callback))
        return _Handle()

    def fire(self) -> float:
        delay, callback = self.timers.pop(0)
        callback()
        return float(delay)


class _Handle:
    def cancel(self) -> None:
        pass


def read_control(rate: float, burst: float) -> tuple[ReadControl, FakeTransport, FakeLoop, Clock]:
    clock, loop, transport = Clock(), FakeLoop(), FakeTransport()
    reads = ReadControl(loop, TokenBucket(rate, burst, clock=clock))  # type: ignore[arg-type]
    reads.attach(transport)  # type: ignore[arg-type]
    return reads, transport, loop, clock


def test_reading_pauses_over_the_byte_rate_until_the_debt_is_repaid() -> None:
    reads, transport, loop, clock = read_control(rate=1000, burst=2000)
    reads.received(1500)
    assert transport.reading and not loop.timers
    reads.received(1500)  # 1000 over: one second
    assert not transport.reading and reads.holds(Hold.RATE)
    clock.advance(0.5)
    reads.received(500)  # read before the pause took effect: counts too
    clock.advance(0.5)
    assert loop.fire() == pytest.approx(1.0)
    assert not transport.reading  # 500 still owed
    assert loop.timers[0][0] == pytest.approx(0.5)
    clock.advance(0.5)
    loop.fire()
    assert transport.reading and not reads.paused


def test_reading_resumes_only_when_every_hold_is_released() -> None:
    reads, transport, loop, clock = read_control(rate=1000, burst=1000)
    reads.hold(Hold.INBOX)
    reads.received(2000)
    assert not transport.reading
    clock.advance(1.0)
    loop.fire()  # the rate is repaid, the inbox is still full
    assert not transport.reading
    reads.release(Hold.INBOX)
    assert transport.reading
    reads.release(Hold.INBOX)  # releasing twice changes nothing
    assert transport.reading


def test_a_new_transport_inherits_the_pause() -> None:
    reads, old, _, _ = read_control(rate=1000, burst=1000)
    reads.hold(Hold.DECISION)
    reads.detach()  # e.g. STARTTLS: the handshake owns the old transport now
    upgraded = FakeTransport()
    reads.attach(upgraded)  # type: ignore[arg-type]
    assert not upgraded.reading
    reads.release(Hold.DECISION)
    assert upgraded.reading
    assert not old.reading  # no longer ours to resume
