"""Every bench scenario, tiny, as its command line runs it: seconds, no
thresholds. It keeps the drivers working as mixd changes; the figures
themselves come from full runs (docs/performance.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCENARIOS = {
    "fanout": [
        "fanout",
        "-n",
        "3",
        "--rates",
        "20",
        "--step-seconds",
        "0.5",
        "--drain-seconds",
        "2",
    ],
    # Two nodes on a throwaway PostgreSQL and Redis (docs/scaling.md).
    "fanout-cluster": [
        "fanout",
        "--nodes",
        "2",
        "-n",
        "4",
        "--rates",
        "20",
        "--step-seconds",
        "0.5",
    ],
    "fanout-channels": ["fanout", "-n", "4", "-c", "2", "--rates", "20", "--step-seconds", "0.5"],
    "logins": ["logins", "-n", "4", "--rounds", "1", "--tls"],
    "idle": ["idle", "-n", "4", "--hold", "0", "--settle", "0"],
    "joins": ["joins", "-n", "3", "--joiners", "2", "--rate", "10", "--seconds", "0.3"],
    "soak": [
        "soak",
        "-n",
        "4",
        "--participants",
        "2",
        "--rate",
        "10",
        "--seconds",
        "1",
        "--warmup",
        "0",
        "--sample-every",
        "0.5",
    ],
    "archive-write": ["archive", "write", "--messages", "100", "--followers", "1,10"],
    "archive-mam": ["archive", "mam", "--messages", "200", "--queries", "4", "--participants", "2"],
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_scenario_runs(scenario: str, tmp_path: Path) -> None:
    argv = [sys.executable, "-m", f"bench.{SCENARIOS[scenario][0]}", *SCENARIOS[scenario][1:]]
    argv += ["--json", str(tmp_path / "result.json")]
    env = os.environ | {"MIXD_BENCH_CACHE": str(tmp_path / "cache")}
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "failed" not in done.stdout
    assert (tmp_path / "result.json").is_file()
