"""`python -m bench.archive write|mam`: archive write cost against the
number of participants, and MAM page latency on a large channel archive."""

from __future__ import annotations

import argparse
import sys

from bench.driver.archive import mam_pages, write_cost
from bench.driver.cli import run_main
from bench.driver.target import add_target_arguments, open_target


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.archive", description=__doc__)
    p.add_argument("scenario", choices=["write", "mam"])
    p.add_argument("--messages", type=int, default=20_000, help="messages to store")
    p.add_argument(
        "--followers",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[10, 1000],
        help="write: comma-separated participant counts",
    )
    p.add_argument("--participants", type=int, default=10, help="mam: users in the channel")
    p.add_argument("--queries", type=int, default=200, help="mam: pages per archive")
    p.add_argument("--seed", type=int, default=1)
    add_target_arguments(p)
    return p


async def run(args: argparse.Namespace) -> None:
    if args.scenario == "write":
        await write_cost(args)
        return
    async with open_target(args, args.participants) as target:
        await mam_pages(args, target)


if __name__ == "__main__":
    sys.exit(run_main(parser(), run))
