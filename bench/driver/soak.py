"""Soak: many authenticated connections held for a long time while a
channel carries steady traffic; server memory is sampled throughout (it
must stop growing after the warm-up) and every connection must still answer
a ping at the end."""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import asdict, dataclass

from bench.driver.client import BenchClient
from bench.driver.fanout import steady_channel
from bench.driver.procstat import rss_bytes
from bench.driver.sessions import clients_for, close_all, keep_alive, log_in, write_json
from bench.driver.stats import Latency
from bench.driver.target import Target, say


@dataclass(frozen=True, slots=True)
class Sample:
    at_s: float
    rss_mb: float | None
    delivered: int  # channel deliveries so far


@dataclass(frozen=True, slots=True)
class SoakResult:
    idle_connections: int
    participants: int
    rate: float
    seconds: float
    samples: list[Sample]
    growth_after_warmup_mb: float | None  # last sample - first sample after the warm-up
    answered_pings: int
    ping: Latency
    delivered: int
    expected: int
    dropped: int


async def soak(args: argparse.Namespace, target: Target) -> None:
    n = args.participants
    fanout = steady_channel(
        target.endpoints, target.accounts[:n], target.service, target.pids, args.rate, args.seconds
    )
    idle = clients_for(target, args.clients, first=n)
    samples: list[Sample] = []
    started = time.monotonic()

    async def sample_memory() -> None:
        while True:
            rss = rss_bytes(*target.pids) / 2**20 if target.pids else None
            at = time.monotonic() - started
            samples.append(Sample(at, rss, len(fanout.tally.latencies_ns)))
            say(
                f"  {at:6.0f} s: server RSS {rss or 0:.0f} MB, deliveries {samples[-1].delivered:,}"
            )
            await asyncio.sleep(args.sample_every)

    try:
        await fanout.setup()
        login = await log_in(target, idle, 100)
        say(
            f"{len(idle)} idle connections in {login.seconds:.0f} s; {n} participants, "
            f"{args.rate:g} msg/s for {args.seconds:g} s"
        )
        loop = asyncio.get_running_loop()
        background = [
            loop.create_task(sample_memory()),
            loop.create_task(keep_alive(idle + fanout.clients, args.keepalive)),
        ]
        try:
            step = await fanout.step(1, args.rate)
        finally:
            for task in background:
                task.cancel()
        pings: list[int] = []
        limit = asyncio.Semaphore(100)

        async def ping(client: BenchClient) -> None:
            async with limit:
                if not client.lost:
                    pings.append(int(await client.ping() * 1e9))

        await asyncio.gather(*(ping(c) for c in idle), return_exceptions=True)
        dropped = sum(c.lost for c in idle) + step.dropped
    finally:
        fanout.close()
        await close_all(idle)
    warm = [s for s in samples if s.at_s >= args.warmup and s.rss_mb is not None]
    growth = None
    if len(warm) >= 2 and warm[0].rss_mb is not None and warm[-1].rss_mb is not None:
        growth = warm[-1].rss_mb - warm[0].rss_mb
    result = SoakResult(
        len(idle), n, args.rate, args.seconds, samples, growth, len(pings), Latency.of(pings),
        step.received, step.expected, dropped,
    )  # fmt: skip
    say(
        f"soak: {result.answered_pings}/{len(idle)} answered a ping at the end "
        f"(p99 {result.ping.p99:.1f} ms), deliveries {step.received:,}/{step.expected:,}, "
        f"RSS growth after {args.warmup:g} s: "
        f"{'-' if growth is None else f'{growth:+.1f} MB'}, {result.dropped} dropped"
    )
    write_json(args, "soak", {"result": asdict(result)})
