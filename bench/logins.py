"""`python -m bench.logins`: a login storm, logins/s with SCRAM (over TLS with --tls)."""

from __future__ import annotations

import argparse
import sys

from bench.driver.cli import run_main
from bench.driver.sessions import login_storm
from bench.driver.target import add_target_arguments, open_target


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.logins", description=__doc__)
    p.add_argument("-n", "--clients", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=50, help="logins in flight")
    p.add_argument("--rounds", type=int, default=3)
    add_target_arguments(p)
    return p


async def run(args: argparse.Namespace) -> None:
    async with open_target(args, args.clients) as target:
        await login_storm(args, target)


if __name__ == "__main__":
    sys.exit(run_main(parser(), run))
