"""`python -m bench.idle`: N authenticated idle connections; server memory
per connection, and a ping from each at the end."""

from __future__ import annotations

import argparse
import sys

from bench.driver.cli import run_main
from bench.driver.sessions import idle_connections
from bench.driver.target import add_target_arguments, open_target


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.idle", description=__doc__)
    p.add_argument("-n", "--clients", type=int, default=10_000)
    p.add_argument("--concurrency", type=int, default=100, help="logins and pings in flight")
    p.add_argument("--settle", type=float, default=2.0, help="seconds before measuring RSS")
    p.add_argument("--hold", type=float, default=10.0, help="seconds idle before the pings")
    add_target_arguments(p)
    return p


async def run(args: argparse.Namespace) -> None:
    async with open_target(args, args.clients) as target:
        await idle_connections(args, target)


if __name__ == "__main__":
    sys.exit(run_main(parser(), run))
