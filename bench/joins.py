"""`python -m bench.joins`: client-join latency on an idle channel, then
while the channel carries a steady message rate."""

from __future__ import annotations

import argparse
import sys

from bench.driver.cli import run_main
from bench.driver.joins import joins_under_load
from bench.driver.target import add_target_arguments, open_target


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.joins", description=__doc__)
    p.add_argument("-n", "--participants", type=int, default=100)
    p.add_argument("--senders", type=int, default=10)
    p.add_argument("--rate", type=float, default=500.0, help="background messages/s")
    p.add_argument("--joiners", type=int, default=20, help="users that join and leave in turn")
    p.add_argument("--seconds", type=float, default=5.0, help="per round")
    add_target_arguments(p)
    return p


async def run(args: argparse.Namespace) -> None:
    async with open_target(args, args.participants + args.joiners) as target:
        await joins_under_load(args, target)


if __name__ == "__main__":
    sys.exit(run_main(parser(), run))
