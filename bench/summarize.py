"""Medians over repeated fan-out runs: `python -m bench.summarize RUN.json...`.

Rows are grouped by (participants, offered messages/s); each cell is the
median over the runs that reached that step. `runs` says how many did, and
`sat` how many of them found that step saturated (delivery ratio or p99
over the limit), so a step only some runs survived is visible as such.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

Getter = Callable[[dict[str, Any]], Any]
FIELDS: tuple[tuple[str, Getter, str, int], ...] = (
    ("delivered/s", lambda s: s["deliveries_per_s"], ",.0f", 11),
    ("ratio", lambda s: s["ratio"], ".3f", 6),
    ("p50 ms", lambda s: s["latency"]["p50"], ".1f", 8),
    ("p99 ms", lambda s: s["latency"]["p99"], ".1f", 8),
    ("max ms", lambda s: s["latency"]["max"], ".1f", 8),
    ("srv CPU%", lambda s: s["server_cpu"], ".0f", 8),
    ("drv CPU%", lambda s: s["driver_cpu"], ".0f", 8),
    ("RSS MB", lambda s: s["server_rss_mb"], ".0f", 7),
)


def saturated(step: dict[str, Any], options: dict[str, Any]) -> bool:
    return bool(
        step["ratio"] < options["min_ratio"]
        or step["latency"]["p99"] > options["max_p99_ms"]
        or step["dropped"] > 0
    )


def summarize(paths: list[Path], markdown: bool) -> str:
    groups: dict[tuple[int, float], list[tuple[dict[str, Any], bool]]] = defaultdict(list)
    for path in paths:
        run = json.loads(path.read_text())
        for step in run["steps"]:
            key = (run["options"]["participants"], step["offered_rate"])
            groups[key].append((step, saturated(step, run["options"])))
    names = ["N", "offered msg/s", "offered dlv/s", "runs", "sat"] + [f[0] for f in FIELDS]
    widths = [5, 13, 13, 4, 3] + [f[3] for f in FIELDS]
    lines = [_line(names, widths, markdown)]
    if markdown:
        lines.append("|" + "|".join("---:" for _ in names) + "|")
    for (n, rate), steps in sorted(groups.items()):
        cells = [str(n), f"{rate:,.0f}", f"{rate * n:,.0f}", str(len(steps))]
        cells.append(str(sum(1 for _, sat in steps if sat)))
        for _, get, fmt, _ in FIELDS:
            values = [get(s) for s, _ in steps if get(s) is not None]
            cells.append(format(statistics.median(values), fmt) if values else "-")
        lines.append(_line(cells, widths, markdown))
    return "\n".join(lines)


def _line(cells: list[str], widths: list[int], markdown: bool) -> str:
    if markdown:
        return "| " + " | ".join(cells) + " |"
    return " ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.summarize", description=__doc__)
    p.add_argument("runs", nargs="+", type=Path, help="JSON files written by --json")
    p.add_argument("--markdown", action="store_true")
    args = p.parse_args()
    print(summarize(args.runs, args.markdown))


if __name__ == "__main__":
    main()
