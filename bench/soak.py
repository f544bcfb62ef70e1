"""`python -m bench.soak`: idle connections held for a long time while a
channel carries steady traffic; memory over time, a ping from each at the end."""

from __future__ import annotations

import argparse
import sys

from bench.driver.cli import run_main
from bench.driver.soak import soak
from bench.driver.target import add_target_arguments, open_target


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    p.add_argument("-n", "--clients", type=int, default=10_000, help="idle connections")
    p.add_argument("--participants", type=int, default=100, help="in the busy channel")
    p.add_argument("--rate", type=float, default=20.0, help="channel messages/s")
    p.add_argument("--seconds", type=float, default=600.0)
    p.add_argument("--warmup", type=float, default=120.0, help="seconds before growth counts")
    p.add_argument("--sample-every", type=float, default=30.0)
    p.add_argument("--keepalive", type=float, default=60.0, help="whitespace keepalive interval")
    add_target_arguments(p)
    return p


async def run(args: argparse.Namespace) -> None:
    async with open_target(args, args.participants + args.clients) as target:
        await soak(args, target)


if __name__ == "__main__":
    sys.exit(run_main(parser(), run))
