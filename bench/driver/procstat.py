"""CPU time and resident memory of a process, read from /proc (Linux)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of `pid`, in seconds."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    # The command name may contain spaces; the fields after it do not.
    fields = stat[stat.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(*pids: int) -> int:
    """Resident memory of these processes together (the nodes of a cluster)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
    return total


@dataclass(frozen=True, slots=True)
class CpuSample:
    wall: float
    cpu: float


class CpuMeter:
    """CPU use of processes (together) between `start()` and `percent()`, as %
    of one core."""

    def __init__(self, *pids: int) -> None:
        self.pids = pids
        self._start = CpuSample(0.0, 0.0)

    def sample(self) -> CpuSample:
        return CpuSample(time.monotonic(), sum(cpu_seconds(pid) for pid in self.pids))

    def start(self) -> None:
        self._start = self.sample()

    def percent(self) -> float:
        end = self.sample()
        wall = end.wall - self._start.wall
        return 100.0 * (end.cpu - self._start.cpu) / wall if wall > 0 else 0.0
