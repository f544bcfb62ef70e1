"""Results as a text table (stdout) and as JSON, with the machine they ran on."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.driver.fanout import SetupResult, StepResult

COLUMNS = (
    ("step", 4),
    ("offered msg/s", 13),
    ("sent msg/s", 10),
    ("offered dlv/s", 13),
    ("delivered/s", 11),
    ("ratio", 6),
    ("p50 ms", 8),
    ("p99 ms", 8),
    ("max ms", 8),
    ("srv CPU%", 8),
    ("drv CPU%", 8),
    ("RSS MB", 7),
)


def _optional(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def header() -> str:
    return " ".join(name.rjust(width) for name, width in COLUMNS)


def row(r: StepResult) -> str:
    cells = (
        str(r.step),
        f"{r.offered_rate:,.0f}",
        f"{r.sent_rate:,.0f}",
        f"{r.offered_deliveries:,.0f}",
        f"{r.deliveries_per_s:,.0f}",
        f"{r.ratio:.3f}",
        f"{r.latency.p50:.1f}",
        f"{r.latency.p99:.1f}",
        f"{r.latency.max:.1f}",
        _optional(r.server_cpu, ".0f"),
        f"{r.driver_cpu:.0f}",
        _optional(r.server_rss_mb, ".0f"),
    )
    return " ".join(cell.rjust(width) for cell, (_, width) in zip(cells, COLUMNS, strict=True))


def setup_line(s: SetupResult) -> str:
    rss = _optional(s.server_rss_mb, ".0f")
    return (
        f"setup: {s.clients} clients logged in in {s.login_seconds:.1f} s, joined in "
        f"{s.join_seconds:.1f} s (join p50 {s.join_latency.p50:.1f} ms, p99 "
        f"{s.join_latency.p99:.1f} ms), probe delivered to all in {s.probe_latency_ms:.1f} ms, "
        f"server RSS {rss} MB"
    )


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        info["uvloop"] = importlib.metadata.version("uvloop")
    except importlib.metadata.PackageNotFoundError:
        info["uvloop"] = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info["checkout"] = _git("rev-parse", "--short", "HEAD")  # of the driver, see mixd_src
    changed = _git("status", "--porcelain", "--", "src")
    info["src_changed_files"] = None if changed is None else len(changed.splitlines())
    return info


def _git(*args: str) -> str | None:
    """Read-only git queries about the checkout the bench runs from."""
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip()


def write_json(
    path: Path, options: dict[str, Any], setup: SetupResult, steps: list[StepResult]
) -> None:
    data = {
        "machine": machine(),
        "options": options,
        "setup": asdict(setup),
        "steps": [asdict(s) | {"offered_deliveries": s.offered_deliveries} for s in steps],
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
