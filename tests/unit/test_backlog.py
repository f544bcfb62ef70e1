from __future__ import annotations

import pytest

from mixd.backlog import COMPACT_AFTER, Backlog


def test_first_in_first_out() -> None:
    backlog: Backlog[int] = Backlog()
    assert not backlog and len(backlog) == 0
    backlog.append(1)
    backlog.extend([2, 3])
    assert backlog and len(backlog) == 3
    assert [backlog.popleft() for _ in range(2)] == [1, 2]
    backlog.append(4)
    assert len(backlog) == 2 and list(backlog) == [3, 4]
    assert [backlog.popleft(), backlog.popleft()] == [3, 4]
    assert not backlog
    with pytest.raises(IndexError):
        backlog.popleft()


def test_long_runs_stay_in_order_and_compact() -> None:
    backlog: Backlog[int] = Backlog()
    taken = []
    for n in range(5 * COMPACT_AFTER):
        backlog.append(n)
        backlog.append(-n)
        taken.append(backlog.popleft())
    assert len(backlog) == 5 * COMPACT_AFTER
    # Consumed items kept at the front are at most half the list.
    assert backlog._head <= max(COMPACT_AFTER, len(backlog._items) // 2)
    while backlog:
        taken.append(backlog.popleft())
    assert taken == [x for n in range(5 * COMPACT_AFTER) for x in (n, -n)]


def test_steady_queue_does_not_keep_consumed_items() -> None:
    backlog: Backlog[int] = Backlog()
    backlog.extend(range(10))
    for n in range(10, 10 * COMPACT_AFTER):
        backlog.append(n)
        assert backlog.popleft() == n - 10
    assert len(backlog._items) < COMPACT_AFTER + 20


def test_clear() -> None:
    backlog: Backlog[str] = Backlog()
    backlog.extend("abc")
    backlog.popleft()
    backlog.clear()
    assert not backlog and len(backlog) == 0
