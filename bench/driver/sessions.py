"""Scenarios about sessions rather than messages: a login storm (logins/s
with SCRAM over TLS) and idle connections (memory per authenticated idle
connection, and whether all still answer a ping)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from dataclasses import asdict, dataclass

from bench.driver import report
from bench.driver.client import BenchClient, Tally, bench_client
from bench.driver.procstat import CpuMeter, rss_bytes
from bench.driver.stats import Latency
from bench.driver.target import Target, say

LOGIN_TIMEOUT = 600.0


@dataclass(frozen=True, slots=True)
class LoginRound:
    clients: int
    seconds: float
    logins_per_s: float
    latency: Latency  # one login: connect .. bound and presence sent
    server_cpu: float | None
    driver_cpu: float


async def log_in(target: Target, clients: list[BenchClient], concurrency: int) -> LoginRound:
    limit = asyncio.Semaphore(concurrency)
    samples: list[int] = []
    meter = CpuMeter(*target.pids) if target.pids else None
    if meter is not None:
        meter.start()
    driver = CpuMeter(os.getpid())
    driver.start()

    async def one(client: BenchClient) -> None:
        async with limit:
            started = time.perf_counter_ns()
            await client.login()
            samples.append(time.perf_counter_ns() - started)

    started = time.monotonic()
    async with asyncio.timeout(LOGIN_TIMEOUT):
        await asyncio.gather(*(one(c) for c in clients))
    seconds = time.monotonic() - started
    return LoginRound(
        len(clients),
        seconds,
        len(clients) / seconds,
        Latency.of(samples),
        meter.percent() if meter is not None else None,
        driver.percent(),
    )


def clients_for(target: Target, count: int, first: int = 0) -> list[BenchClient]:
    """Clients for accounts first..first+count-1 (not yet connected)."""
    tally = Tally()
    return [
        bench_client(a, target.endpoints, first + i, tally)
        for i, a in enumerate(target.accounts[first : first + count])
    ]


async def keep_alive(clients: list[BenchClient], every: float) -> None:
    """Whitespace keepalives (RFC 6120 4.6.1), as real clients send them:
    servers close streams that stay silent (mixd: c2s.idle_timeout)."""
    while True:
        await asyncio.sleep(every)
        for client in clients:
            if not client.lost and client.transport is not None:
                client.transport.write(b" ")


async def close_all(clients: list[BenchClient]) -> None:
    for client in clients:
        client.close()
    await asyncio.sleep(0.5)  # let the server see the closes before the next round


def write_json(args: argparse.Namespace, name: str, results: dict[str, object]) -> None:
    if args.json:
        data = {
            "machine": report.machine(),
            "scenario": name,
            "options": vars(args) | {"json": str(args.json), "mixd_src": str(args.mixd_src or "")},
        } | results
        args.json.write_text(json.dumps(data, indent=2, default=str) + "\n")
        say(f"wrote {args.json}")


async def login_storm(args: argparse.Namespace, target: Target) -> None:
    rounds = []
    for number in range(1, args.rounds + 1):
        clients = clients_for(target, args.clients)
        try:
            result = await log_in(target, clients, args.concurrency)
        finally:
            await close_all(clients)
        rounds.append(result)
        cpu = "-" if result.server_cpu is None else f"{result.server_cpu:.0f}"
        say(
            f"round {number}: {result.clients} logins in {result.seconds:.2f} s = "
            f"{result.logins_per_s:,.0f}/s, login p50 {result.latency.p50:.1f} ms, "
            f"p99 {result.latency.p99:.1f} ms, CPU server {cpu} %, driver "
            f"{result.driver_cpu:.0f} %"
        )
    write_json(args, "logins", {"rounds": [asdict(r) for r in rounds]})


@dataclass(frozen=True, slots=True)
class IdleResult:
    connections: int
    login_seconds: float
    rss_before_mb: float | None
    rss_after_mb: float | None
    kib_per_connection: float | None  # right after the logins
    held_seconds: float
    rss_held_mb: float | None  # after the hold (idle connections may shrink)
    kib_per_connection_held: float | None
    answered_pings: int
    ping: Latency
    dropped: int


async def idle_connections(args: argparse.Namespace, target: Target) -> None:
    pids = target.pids
    before = rss_bytes(*pids) if pids else None
    clients = clients_for(target, args.clients)
    try:
        login = await log_in(target, clients, args.concurrency)
        say(f"{login.clients} logged in in {login.seconds:.1f} s ({login.logins_per_s:,.0f}/s)")
        await asyncio.sleep(args.settle)  # caps lookups and presence finish
        after = rss_bytes(*pids) if pids else None
        if args.hold > 0:
            say(f"holding {len(clients)} idle connections for {args.hold:g} s")
            keeper = asyncio.get_running_loop().create_task(keep_alive(clients, 60.0))
            try:
                await asyncio.sleep(args.hold)
            finally:
                keeper.cancel()
        held = rss_bytes(*pids) if pids else None
        limit = asyncio.Semaphore(args.concurrency)
        samples: list[int] = []

        async def ping(client: BenchClient) -> None:
            async with limit:
                if not client.lost:
                    samples.append(int(await client.ping() * 1e9))

        async with asyncio.timeout(LOGIN_TIMEOUT):
            await asyncio.gather(*(ping(c) for c in clients), return_exceptions=True)
        dropped = sum(c.lost for c in clients)
    finally:
        await close_all(clients)

    def per_connection(rss: int | None) -> float | None:
        return None if before is None or rss is None else (rss - before) / len(clients) / 1024

    per, per_held = per_connection(after), per_connection(held)
    result = IdleResult(
        len(clients),
        login.seconds,
        None if before is None else before / 2**20,
        None if after is None else after / 2**20,
        per,
        args.hold,
        None if held is None else held / 2**20,
        per_held,
        len(samples),
        Latency.of(samples),
        dropped,
    )
    mib = "-" if result.rss_after_mb is None else f"{result.rss_after_mb:.0f} MiB"
    kib = "-" if per is None else f"{per:.1f} KiB"
    kib_held = "-" if per_held is None else f"{per_held:.1f} KiB"
    say(
        f"idle: {result.connections} connections, server RSS {mib}, {kib} per connection "
        f"after the logins, {kib_held} after {args.hold:g} s idle; "
        f"{result.answered_pings} answered a ping after {args.hold:g} s "
        f"(p50 {result.ping.p50:.1f} ms, p99 {result.ping.p99:.1f} ms), {dropped} dropped"
    )
    write_json(args, "idle", {"result": asdict(result)})
