"""Login failure limiting with a fake clock (RELIABILITY B8)."""

from __future__ import annotations

from mixd.core.auth_limits import FailureLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def limiter(clock: Clock, **kwargs: float) -> FailureLimiter:
    options = {"max_failures": 3, "window": 60.0, "lockout": 300.0, **kwargs}
    return FailureLimiter(
        int(options["max_failures"]),
        options["window"],
        options["lockout"],
        max_entries=int(options.get("max_entries", 100_000)),
        clock=clock,
    )


def fail(lim: FailureLimiter, key: str, times: int) -> None:
    for _ in range(times):
        lim.failure(key)


def test_locked_after_max_failures_within_the_window() -> None:
    clock = Clock()
    lim = limiter(clock)
    assert not lim.locked("10.0.0.1")
    lim.failure("10.0.0.1")
    clock.advance(10)
    lim.failure("10.0.0.1")
    assert not lim.locked("10.0.0.1")
    clock.advance(10)
    lim.failure("10.0.0.1")
    assert lim.locked("10.0.0.1")


def test_failures_spread_beyond_the_window_never_lock() -> None:
    clock = Clock()
    lim = limiter(clock)
    for _ in range(20):
        lim.failure("10.0.0.1")
        clock.advance(31)  # two failures per window at most
        lim.failure("10.0.0.1")
        clock.advance(61)
        assert not lim.locked("10.0.0.1")


def test_window_expiry_resets_the_count() -> None:
    clock = Clock()
    lim = limiter(clock)
    fail(lim, "ip", 2)
    clock.advance(61)
    lim.failure("ip")  # first failure of a new window
    assert not lim.locked("ip")
    lim.failure("ip")
    assert not lim.locked("ip")
    lim.failure("ip")
    assert lim.locked("ip")


def test_lockout_expires() -> None:
    clock = Clock()
    lim = limiter(clock)
    fail(lim, "ip", 3)
    clock.advance(299)
    assert lim.locked("ip")
    clock.advance(2)
    assert not lim.locked("ip")
    # A fresh allowance after the lockout, not an immediate relock.
    lim.failure("ip")
    assert not lim.locked("ip")


def test_other_keys_unaffected() -> None:
    clock = Clock()
    lim = limiter(clock)
    fail(lim, "attacker", 3)
    assert lim.locked("attacker")
    assert not lim.locked("legit")
    fail(lim, "legit", 2)
    assert not lim.locked("legit")


def test_success_clears_failures() -> None:
    clock = Clock()
    lim = limiter(clock)
    fail(lim, "ip", 2)
    lim.success("ip")
    fail(lim, "ip", 2)
    assert not lim.locked("ip")
    lim.failure("ip")
    assert lim.locked("ip")


def test_success_does_not_lift_a_lockout() -> None:
    clock = Clock()
    lim = limiter(clock)
    fail(lim, "ip", 3)
    lim.success("ip")
    assert lim.locked("ip")


def test_failures_while_locked_keep_it_locked() -> None:
    clock = Clock()
    lim = limiter(clock)
    fail(lim, "ip", 3)
    clock.advance(200)
    fail(lim, "ip", 3)
    clock.advance(200)  # past the first lockout, inside the second
    assert lim.locked("ip")


def test_entries_are_bounded_oldest_forgotten_first() -> None:
    clock = Clock()
    lim = limiter(clock, max_failures=1, max_entries=3)
    for key in ("a", "b", "c"):
        lim.failure(key)
    assert all(lim.locked(k) for k in ("a", "b", "c"))
    lim.failure("a")  # touched again: now the newest
    lim.failure("d")  # evicts "b", the least recently failed
    assert lim.locked("a") and lim.locked("c") and lim.locked("d")
    assert not lim.locked("b")
    for i in range(1000):
        lim.failure(f"flood-{i}")
    assert sum(lim.locked(f"flood-{i}") for i in range(1000)) == 3


def test_max_failures_of_one_locks_at_once() -> None:
    clock = Clock()
    lim = limiter(clock, max_failures=1)
    lim.failure("ip")
    assert lim.locked("ip")
