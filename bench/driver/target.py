"""What a scenario runs against: a mixd the bench starts (generated config,
accounts imported once and cached) or another running server (`--connect`,
accounts made by `--account-command`). Every scenario CLI shares these
options and `open_target`."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.driver.accounts import (
    DEFAULT_COMMAND,
    DEFAULT_PASSWORD,
    Account,
    AccountCache,
    bench_accounts,
    create_accounts,
    import_accounts,
)
from bench.driver.client import Endpoint
from bench.driver.cluster import managed_cluster
from bench.driver.server import ManagedServer, knows_option, schema_dir

# MIXD_BENCH_CACHE moves it (the smoke tests use a temporary directory).
CACHE_DIR = Path(
    os.environ.get("MIXD_BENCH_CACHE") or Path(__file__).resolve().parent.parent / ".cache"
)


def say(text: str) -> None:
    print(text, flush=True)


def add_target_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tls", action="store_true", help="STARTTLS (and starttls_required=true)")
    p.add_argument("--mechanism", default="SCRAM-SHA-256", choices=["SCRAM-SHA-256", "PLAIN"])
    p.add_argument("--json", type=Path, help="also write the results here")
    accounts = p.add_argument_group("accounts")
    accounts.add_argument(
        "--account-command",
        default=DEFAULT_COMMAND,
        help="run once per account; {jid} {user} {domain} {password} {config}; "
        "the password is on stdin (default, for the bench's own mixd: one `mixd user import`)",
    )
    accounts.add_argument("--account-jobs", type=int, default=2, help="commands in parallel")
    accounts.add_argument("--password", default=DEFAULT_PASSWORD)
    accounts.add_argument(
        "--no-account-cache",
        action="store_true",
        help="always create the accounts (managed mixd only; default: reuse a cached db)",
    )
    accounts.add_argument("--skip-accounts", action="store_true", help="they already exist")
    external = p.add_argument_group("another server (default: the bench starts mixd)")
    external.add_argument(
        "--connect",
        metavar="HOST:PORT[,HOST:PORT...]",
        help="use this running server; several: the nodes of a cluster, clients spread evenly",
    )
    external.add_argument("--domain", default="localhost")
    external.add_argument("--service", help="MIX service (default: mix.<domain>)")
    external.add_argument(
        "--server-pid", type=int, action="append", default=[], help="for CPU and RSS (repeatable)"
    )
    external.add_argument("--server-config", help="value of {config} in --account-command")
    managed = p.add_argument_group("the mixd started by the bench")
    managed.add_argument(
        "--nodes",
        type=int,
        default=1,
        help="start a cluster of this many nodes on a throwaway PostgreSQL and Redis "
        "(docs/scaling.md); clients spread evenly over the nodes",
    )
    managed.add_argument("--keep", action="store_true", help="keep the temporary directory")
    managed.add_argument("--log-level", default="warning")
    managed.add_argument(
        "--mixd-src",
        type=Path,
        help="run mixd from this src directory (e.g. a `git archive` export) via PYTHONPATH",
    )
    managed.add_argument(
        "--server-option",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="extra mixd setting, VALUE in TOML (repeatable), e.g. c2s.idle_timeout=3600",
    )


def server_options(specs: list[str]) -> dict[str, dict[str, Any]]:
    """`section.key=value` settings (TOML values) as config sections."""
    sections: dict[str, dict[str, Any]] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        section, dot, key = name.strip().partition(".")
        if not (sep and dot and section and key):
            raise ValueError(f"--server-option {spec!r}: expected SECTION.KEY=VALUE")
        sections.setdefault(section, {})[key] = tomllib.loads(f"v = {value}")["v"]
    return sections


@dataclass(frozen=True, slots=True)
class Target:
    endpoints: tuple[Endpoint, ...]  # one per node; clients take them in turn
    accounts: list[Account]
    pids: tuple[int, ...]  # the server processes, for CPU and RSS figures (may be none)
    service: str  # the MIX service domain
    data_dir: Path | None  # the managed (single) server's data directory


async def _prepare_managed(
    args: argparse.Namespace, server: ManagedServer, accounts: list[Account]
) -> None:
    cache = AccountCache(CACHE_DIR, schema_dir(args.mixd_src), server.domain, args.password, 4096)
    if not args.no_account_cache and cache.restore(len(accounts), server.data_dir):
        say(f"accounts: {len(accounts)} restored from {CACHE_DIR} (key {cache.key})")
        return
    if args.account_command == DEFAULT_COMMAND:
        seconds = await import_accounts(accounts, server.config_path, server.env)
        say(f"accounts: {len(accounts)} created in {seconds:.1f} s (mixd user import)")
    else:
        seconds = await create_accounts(
            accounts, args.account_command, server.config_path, args.account_jobs, server.env
        )
        say(f"accounts: {len(accounts)} created in {seconds:.1f} s ({args.account_jobs} jobs)")
    cache.save(len(accounts), server.data_dir)


@asynccontextmanager
async def open_target(
    args: argparse.Namespace,
    count: int,
    settings: dict[str, dict[str, Any]] | None = None,
    prepare_data: Any = None,
) -> AsyncIterator[Target]:
    """A server with `count` accounts bench0..; a managed mixd gets
    `settings` (config sections) and `--server-option`s, and
    `prepare_data(data_dir)` (async) runs before it starts."""
    service = args.service or f"mix.{args.domain}"
    accounts = bench_accounts(count, args.domain, args.password)
    if args.connect:
        if not args.skip_accounts:
            seconds = await create_accounts(
                accounts, args.account_command, args.server_config, args.account_jobs
            )
            say(f"accounts: {len(accounts)} created in {seconds:.1f} s")
        endpoints: list[Endpoint] = []
        for address in args.connect.split(","):
            host, _, port = address.strip().rpartition(":")
            endpoints.append(Endpoint(host, int(port), args.domain, args.tls, args.mechanism))
        yield Target(tuple(endpoints), accounts, tuple(args.server_pid), service, None)
        return
    workdir = Path(tempfile.mkdtemp(prefix="mixd-bench-"))
    merged = dict(settings or {})
    if knows_option(args.mixd_src, "message_rate"):
        # The senders are load generators, not people: no per-sender limit.
        merged["mix"] = {"message_rate": 0} | merged.get("mix", {})
    for section, values in server_options(args.server_option).items():
        merged[section] = merged.get(section, {}) | values
    if args.nodes > 1:
        if prepare_data is not None:
            raise SystemExit("this scenario prepares a SQLite database: --nodes 1 only")
        async with managed_cluster(args, workdir, merged) as servers:
            await import_accounts(accounts, servers[0].config_path, servers[0].env)
            await asyncio.gather(*(s.start() for s in servers))
            for s in servers:
                say(f"mixd pid {s.pid} on {s.host}:{s.port} ({s.workdir})")
            nodes = tuple(
                Endpoint(s.host, s.port, args.domain, args.tls, args.mechanism) for s in servers
            )
            yield Target(nodes, accounts, tuple(s.pid for s in servers), service, None)
        return
    server = ManagedServer(
        workdir,
        domain=args.domain,
        starttls_required=args.tls,
        log_level=args.log_level,
        source=args.mixd_src,
        settings=merged,
    )
    failed = True
    try:
        if not args.skip_accounts:
            await _prepare_managed(args, server, accounts)
        if prepare_data is not None:
            await prepare_data(server.data_dir)
        await server.start()
        say(f"mixd pid {server.pid} on {server.host}:{server.port} (workdir {workdir})")
        endpoint = Endpoint(server.host, server.port, args.domain, args.tls, args.mechanism)
        yield Target((endpoint,), accounts, (server.pid,), service, server.data_dir)
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
