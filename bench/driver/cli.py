"""`python -m bench.fanout`: start mixd (or use a running server), prepare
accounts, run the fan-out steps, print the table (and write JSON)."""

from __future__ import annotations

import argparse
import asyncio
import math
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.driver import report
from bench.driver.accounts import AccountCommandFailed
from bench.driver.client import SetupError
from bench.driver.fanout import Fanout, FanoutOptions, StepResult, default_rates
from bench.driver.target import Target, add_target_arguments, open_target, say


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.fanout",
        description="MIX fan-out: N participants in one channel (or C channels of N/C), "
        "S senders at stepped rates.",
    )
    p.add_argument("-n", "--participants", type=int, default=100, help="in all channels")
    p.add_argument("-c", "--channels", type=int, default=1)
    p.add_argument("--senders", type=int, help="default: min(participants, max(10, channels))")
    p.add_argument(
        "--rates",
        help="comma-separated offered messages/s per step; default: 1k..200k deliveries/s / N",
    )
    p.add_argument("--step-seconds", type=float, default=5.0)
    p.add_argument("--drain-seconds", type=float, default=3.0)
    p.add_argument("--body-bytes", type=int, default=64, help="padding in each message body")
    p.add_argument("--concurrency", type=int, default=50, help="logins/joins in flight")
    p.add_argument("--min-ratio", type=float, default=0.99, help="saturated below this")
    p.add_argument("--max-p99-ms", type=float, default=200.0, help="saturated above this")
    p.add_argument("--max-seconds", type=float, default=240.0, help="time budget for the steps")
    add_target_arguments(p)
    profile = p.add_argument_group("profiling (py-spy)")
    profile.add_argument("--profile-step", type=int, help="record the server during this step")
    profile.add_argument("--profile-out", type=Path, default=Path("/tmp/mixd-profile.txt"))
    profile.add_argument(
        "--profile-format", default="raw", choices=["raw", "flamegraph", "speedscope"]
    )
    return p


def fanout_options(args: argparse.Namespace, service: str) -> FanoutOptions:
    n, channels = args.participants, args.channels
    rates = (
        [float(r) for r in args.rates.split(",")] if args.rates else default_rates(n // channels)
    )  # fmt: skip
    return FanoutOptions(
        participants=n,
        channels=channels,
        senders=args.senders or min(n, max(10, channels)),
        rates=rates,
        step_seconds=args.step_seconds,
        drain_seconds=args.drain_seconds,
        body_bytes=args.body_bytes,
        concurrency=args.concurrency,
        min_ratio=args.min_ratio,
        max_p99_ms=args.max_p99_ms,
        max_seconds=args.max_seconds,
        service=service,
    )


class Profiler:
    """py-spy attached to the server for one step."""

    def __init__(self, args: argparse.Namespace, pid: int | None) -> None:
        self.args = args
        self.pid = pid
        self.proc: subprocess.Popen[bytes] | None = None

    def on_start(self, index: int, _rate: float) -> None:
        if index != self.args.profile_step or self.pid is None:
            return
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        argv = [exe, "record", "--pid", str(self.pid), "--nonblocking", "--rate", "200"]
        argv += ["--duration", str(math.ceil(self.args.step_seconds))]
        argv += ["--format", self.args.profile_format, "-o", str(self.args.profile_out)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        say(f"profiling step {index} with py-spy -> {self.args.profile_out}")

    def finish(self) -> None:
        if self.proc is not None:
            _, err = self.proc.communicate(timeout=60)
            if self.proc.returncode != 0:
                say(f"py-spy failed: {err.decode().strip()}")


async def measure(args: argparse.Namespace, target: Target) -> None:
    """Log in, join, step; print each row as it comes; clients closed after."""
    options = fanout_options(args, target.service)
    fanout = Fanout(options, target.endpoints, target.accounts, target.pids)
    profiler = Profiler(args, target.pids[0] if target.pids else None)  # the first node
    try:
        setup = await fanout.setup()
        say(report.setup_line(setup))
        say(
            f"fan-out: {options.participants} participants in {options.channels} channel(s), "
            f"{options.senders} senders, {options.step_seconds:g} s per step, "
            f"channel {fanout.channel}{' ...' if options.channels > 1 else ''}"
        )
        say(report.header())
        steps: list[StepResult] = await fanout.run_steps(
            profiler.on_start, lambda r: say(report.row(r))
        )
        if steps and fanout.saturated(steps[-1]):
            say(f"saturated at step {steps[-1].step} ({steps[-1].offered_rate:,.0f} msg/s)")
        if args.json:
            source = str(args.mixd_src or "")
            extra = {"mixd_src": source, "tls": args.tls, "mechanism": args.mechanism}
            report.write_json(args.json, asdict(options) | extra, setup, steps)
            say(f"wrote {args.json}")
    finally:
        fanout.close()
        profiler.finish()
        await asyncio.sleep(0.2)  # let the close handshakes leave


async def run(args: argparse.Namespace) -> None:
    async with open_target(args, args.participants) as target:
        await measure(args, target)


def run_main(
    p: argparse.ArgumentParser,
    work: Callable[[argparse.Namespace], Coroutine[Any, Any, None]],
    argv: list[str] | None = None,
) -> int:
    """Parse, run `work` on uvloop, report failures as one line; exit code."""
    args = p.parse_args(argv)
    if args.mixd_src is not None and not (args.mixd_src / "mixd" / "cli.py").is_file():
        p.error(f"--mixd-src {args.mixd_src}: no mixd/cli.py there (give the src directory)")
    started = time.monotonic()
    try:
        try:
            import uvloop
        except ImportError:
            asyncio.run(work(args))
        else:
            uvloop.run(work(args))
    except (SetupError, AccountCommandFailed, RuntimeError, TimeoutError, OSError) as exc:
        say(f"failed: {type(exc).__name__}: {exc}")
        return 1
    finally:
        say(f"total {time.monotonic() - started:.0f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_main(parser(), run, argv)
