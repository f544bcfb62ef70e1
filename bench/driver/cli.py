"""`python -m bench.fanout`: start mixd (or use a running server), prepare
accounts, run the fan-out steps, print the table (and write JSON)."""

from __future__ import annotations

import argparse
import asyncio
import math
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from bench.driver import report
from bench.driver.accounts import (
    DEFAULT_COMMAND,
    DEFAULT_PASSWORD,
    Account,
    AccountCache,
    AccountCommandFailed,
    bench_accounts,
    create_accounts,
)
from bench.driver.client import Endpoint, SetupError
from bench.driver.fanout import Fanout, FanoutOptions, StepResult, default_rates
from bench.driver.server import ManagedServer, schema_dir

CACHE_DIR = Path(__file__).resolve().parent.parent / ".cache"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.fanout",
        description="MIX fan-out: N participants in one channel, S senders at stepped rates.",
    )
    p.add_argument("-n", "--participants", type=int, default=100)
    p.add_argument("--senders", type=int, help="default: min(participants, 10)")
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
    p.add_argument("--tls", action="store_true", help="STARTTLS (and starttls_required=true)")
    p.add_argument("--mechanism", default="SCRAM-SHA-256", choices=["SCRAM-SHA-256", "PLAIN"])
    p.add_argument("--json", type=Path, help="also write the results here")
    accounts = p.add_argument_group("accounts")
    accounts.add_argument(
        "--account-command",
        default=DEFAULT_COMMAND,
        help="run once per account; {jid} {user} {domain} {password} {config}; "
        "the password is on stdin (default: %(default)s)",
    )
    accounts.add_argument("--account-jobs", type=int, default=2, help="commands in parallel")
    accounts.add_argument("--password", default=DEFAULT_PASSWORD)
    accounts.add_argument(
        "--no-account-cache",
        action="store_true",
        help="always run the account command (managed mixd only; default: reuse a cached db)",
    )
    accounts.add_argument("--skip-accounts", action="store_true", help="they already exist")
    external = p.add_argument_group("another server (default: the bench starts mixd)")
    external.add_argument("--connect", metavar="HOST:PORT", help="use this running server")
    external.add_argument("--domain", default="localhost")
    external.add_argument("--service", help="MIX service (default: mix.<domain>)")
    external.add_argument("--server-pid", type=int, help="for CPU and RSS figures")
    external.add_argument("--server-config", help="value of {config} in --account-command")
    managed = p.add_argument_group("the mixd started by the bench")
    managed.add_argument("--keep", action="store_true", help="keep the temporary directory")
    managed.add_argument("--log-level", default="warning")
    managed.add_argument(
        "--mixd-src",
        type=Path,
        help="run mixd from this src directory (e.g. a `git archive` export) via PYTHONPATH",
    )
    profile = p.add_argument_group("profiling (py-spy)")
    profile.add_argument("--profile-step", type=int, help="record the server during this step")
    profile.add_argument("--profile-out", type=Path, default=Path("/tmp/mixd-profile.txt"))
    profile.add_argument(
        "--profile-format", default="raw", choices=["raw", "flamegraph", "speedscope"]
    )
    return p


def fanout_options(args: argparse.Namespace, service: str) -> FanoutOptions:
    n = args.participants
    rates = (
        [float(r) for r in args.rates.split(",")] if args.rates else default_rates(n)
    )  # fmt: skip
    return FanoutOptions(
        participants=n,
        senders=args.senders or min(n, 10),
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


def say(text: str) -> None:
    print(text, flush=True)


async def prepare_managed(
    args: argparse.Namespace, server: ManagedServer, accounts: list[Account]
) -> None:
    schema = schema_dir(args.mixd_src)
    cache = AccountCache(CACHE_DIR, schema, server.domain, args.password, 4096)
    if not args.no_account_cache and cache.restore(len(accounts), server.data_dir):
        say(f"accounts: {len(accounts)} restored from {CACHE_DIR} (key {cache.key})")
        return
    seconds = await create_accounts(
        accounts, args.account_command, server.config_path, args.account_jobs, server.env
    )
    say(f"accounts: {len(accounts)} created in {seconds:.1f} s ({args.account_jobs} in parallel)")
    cache.save(len(accounts), server.data_dir)


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


async def measure(
    args: argparse.Namespace,
    options: FanoutOptions,
    endpoint: Endpoint,
    accounts: list[Account],
    pid: int | None,
) -> None:
    """Log in, join, step; print each row as it comes; clients closed after."""
    fanout = Fanout(options, endpoint, accounts, pid)
    profiler = Profiler(args, pid)
    try:
        setup = await fanout.setup()
        say(report.setup_line(setup))
        say(
            f"fan-out: {options.participants} participants, {options.senders} senders, "
            f"{options.step_seconds:g} s per step, channel {fanout.channel}"
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


async def run_external(args: argparse.Namespace, options: FanoutOptions) -> None:
    host, _, port = args.connect.rpartition(":")
    endpoint = Endpoint(host, int(port), args.domain, args.tls, args.mechanism)
    accounts = bench_accounts(options.participants, args.domain, args.password)
    if not args.skip_accounts:
        seconds = await create_accounts(
            accounts, args.account_command, args.server_config, args.account_jobs
        )
        say(f"accounts: {len(accounts)} created in {seconds:.1f} s")
    await measure(args, options, endpoint, accounts, args.server_pid)


async def run_managed(args: argparse.Namespace, options: FanoutOptions) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mixd-bench-"))
    server = ManagedServer(
        workdir,
        domain=args.domain,
        starttls_required=args.tls,
        log_level=args.log_level,
        source=args.mixd_src,
    )
    accounts = bench_accounts(options.participants, args.domain, args.password)
    failed = True
    try:
        if not args.skip_accounts:
            await prepare_managed(args, server, accounts)
        await server.start()
        say(f"mixd pid {server.pid} on {server.host}:{server.port} (workdir {workdir})")
        endpoint = Endpoint(server.host, server.port, args.domain, args.tls, args.mechanism)
        await measure(args, options, endpoint, accounts, server.pid)
        failed = False
    finally:
        code = await server.stop()
        if code not in (0, None):
            say(f"mixd exited with {code}")
            failed = True
        if args.keep or failed:
            say(f"kept {workdir} (mixd.toml, mixd.log, data/)")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


async def run(args: argparse.Namespace) -> None:
    options = fanout_options(args, args.service or f"mix.{args.domain}")
    if args.connect:
        await run_external(args, options)
    else:
        await run_managed(args, options)


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.mixd_src is not None and not (args.mixd_src / "mixd" / "cli.py").is_file():
        p.error(f"--mixd-src {args.mixd_src}: no mixd/cli.py there (give the src directory)")
    started = time.monotonic()
    try:
        try:
            import uvloop
        except ImportError:
            asyncio.run(run(args))
        else:
            uvloop.run(run(args))
    except (SetupError, AccountCommandFailed, RuntimeError, TimeoutError, OSError) as exc:
        say(f"failed: {type(exc).__name__}: {exc}")
        return 1
    finally:
        say(f"total {time.monotonic() - started:.0f} s")
    return 0
