"""Top functions of a py-spy raw profile: `python -m bench.profile_top FILE`.

py-spy's `--format raw` writes one collapsed stack per line
(`frame;frame;...;leaf COUNT`). Self time is the leaf's samples;
inclusive time counts each function once per stack it appears in.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# "func (path/to/file.py:123)" -> "func (path/to/file.py)": group by function.
LINE_NO = re.compile(r":\d+\)$")


def frames(stack: str) -> list[str]:
    return [LINE_NO.sub(")", frame.strip()) for frame in stack.split(";")]


def load(path: Path, thread: str | None) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        if thread is not None and thread not in stack:
            continue
        stacks.append((frames(stack), int(count)))
    return stacks


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.profile_top", description=__doc__)
    p.add_argument("profile", type=Path)
    p.add_argument("-n", "--top", type=int, default=25)
    p.add_argument("--grep", help="only stacks containing this text (e.g. a thread's entry)")
    args = p.parse_args()
    stacks = load(args.profile, args.grep)
    total = sum(count for _, count in stacks) or 1
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for stack, count in stacks:
        own[stack[-1]] += count
        for frame in set(stack):
            inclusive[frame] += count
    print(f"{total} samples")
    print(f"{'self %':>7}  function")
    for frame, count in own.most_common(args.top):
        print(f"{100 * count / total:7.1f}  {frame}")
    print(f"\n{'incl %':>7}  function")
    for frame, count in inclusive.most_common(args.top):
        print(f"{100 * count / total:7.1f}  {frame}")


if __name__ == "__main__":
    main()
