"""Summaries of latency samples."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Latency:
    """Milliseconds; all zero when there were no samples."""

    p50: float
    p99: float
    max: float
    min: float = 0.0

    @classmethod
    def of(cls, samples_ns: list[int]) -> Latency:
        if not samples_ns:
            return cls(0.0, 0.0, 0.0)
        ordered = sorted(samples_ns)
        return cls(
            p50=percentile(ordered, 50) / 1e6,
            p99=percentile(ordered, 99) / 1e6,
            max=ordered[-1] / 1e6,
            min=ordered[0] / 1e6,
        )


def percentile(ordered: list[int], pct: float) -> int:
    """Nearest-rank percentile of an already sorted, non-empty list."""
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil(n * pct / 100)
    return ordered[int(rank) - 1]
