"""The fan-out scenario: N participants in one channel (or spread over C
channels of N/C), S senders at a stepped offered rate; each step reports
what arrived and how late.

Every participant subscribes to the messages node only (no participant
notifications, so joining stays O(N)). A message is expected N/C times: the
channel reflects it to every subscriber, the sender included. Participant i
is in channel i mod C, so senders 0..S-1 cover min(S, C) channels.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.driver.accounts import Account
from bench.driver.client import BenchClient, Endpoint, Tally, bench_client
from bench.driver.procstat import CpuMeter, rss_bytes
from bench.driver.stanzas import GroupchatTemplate
from bench.driver.stats import Latency

TICK = 0.002  # pacing interval of the senders (s)
PROBE_TIMEOUT = 15.0
SETUP_TIMEOUT = 120.0
# Default steps: offered deliveries/s (messages/s x participants).
DELIVERY_LADDER = (
    1_000, 2_000, 5_000, 10_000, 15_000, 20_000, 30_000, 50_000, 70_000, 100_000, 150_000,
    200_000, 300_000,
)  # fmt: skip


def default_rates(participants: int) -> list[float]:
    return [d / participants for d in DELIVERY_LADDER]


@dataclass(frozen=True, slots=True)
class FanoutOptions:
    participants: int
    senders: int
    rates: list[float]
    step_seconds: float = 5.0
    drain_seconds: float = 3.0
    body_bytes: int = 64
    concurrency: int = 50
    min_ratio: float = 0.99
    max_p99_ms: float = 200.0
    max_seconds: float = 240.0  # budget for the steps; later steps are skipped
    service: str = "mix.localhost"
    channels: int = 1

    @property
    def per_channel(self) -> int:
        return self.participants // self.channels


@dataclass(frozen=True, slots=True)
class StepResult:
    step: int
    participants: int
    offered_rate: float  # messages/s asked for
    sent: int
    sent_rate: float  # messages/s actually written
    expected: int  # sent x participants per channel
    received: int
    deliveries_per_s: float  # received / (last delivery - step start)
    ratio: float
    latency: Latency
    server_cpu: float | None  # % of one core
    driver_cpu: float
    server_rss_mb: float | None
    stale: int  # deliveries of earlier steps that arrived during this one
    dropped: int  # connections lost so far

    channels: int = 1

    @property
    def offered_deliveries(self) -> float:
        return self.offered_rate * self.participants / self.channels


@dataclass(slots=True)
class SetupResult:
    clients: int = 0
    login_seconds: float = 0.0
    join_seconds: float = 0.0
    join_latency: Latency = field(default_factory=lambda: Latency(0.0, 0.0, 0.0))
    probe_latency_ms: float = 0.0
    server_rss_mb: float | None = None


class Fanout:
    def __init__(
        self,
        options: FanoutOptions,
        endpoints: tuple[Endpoint, ...],
        accounts: list[Account],
        server_pids: tuple[int, ...],
    ) -> None:
        assert len(accounts) >= options.participants
        assert options.participants % options.channels == 0, "N must be a multiple of C"
        self.options = options
        self.tally = Tally()
        self.clients = [
            bench_client(a, endpoints, i, self.tally)
            for i, a in enumerate(accounts[: options.participants])
        ]
        self.server_pids = server_pids
        prefix = f"bench-{secrets.token_hex(4)}"
        names = [
            prefix if options.channels == 1 else f"{prefix}-{k}" for k in range(options.channels)
        ]
        self.channels = [f"{name}@{options.service}" for name in names]
        self.channel = self.channels[0]
        self.templates = [GroupchatTemplate(c, options.body_bytes) for c in self.channels]
        self.setup_result = SetupResult(clients=len(self.clients))

    # -- setup -------------------------------------------------------------------

    async def setup(self) -> SetupResult:
        result = self.setup_result
        limit = asyncio.Semaphore(self.options.concurrency)

        async def login(client: BenchClient) -> None:
            async with limit:
                await client.login()

        started = time.monotonic()
        async with asyncio.timeout(SETUP_TIMEOUT):
            await asyncio.gather(*(login(c) for c in self.clients))
        result.login_seconds = time.monotonic() - started

        async def create(index: int, channel: str) -> None:
            async with limit:
                await self.clients[index].create_channel(
                    self.options.service, channel.split("@")[0]
                )

        async with asyncio.timeout(SETUP_TIMEOUT):
            await asyncio.gather(*(create(k, c) for k, c in enumerate(self.channels)))
        latencies: list[float] = []

        async def join(index: int, client: BenchClient) -> None:
            channel = self.channels[index % len(self.channels)]
            async with limit:
                latencies.append(await client.join(channel, f"p{index}"))
            client.start_counting()

        started = time.monotonic()
        async with asyncio.timeout(SETUP_TIMEOUT):
            await asyncio.gather(*(join(i, c) for i, c in enumerate(self.clients)))
        result.join_seconds = time.monotonic() - started
        result.join_latency = Latency.of([int(s * 1e9) for s in latencies])
        result.probe_latency_ms = await self.probe()
        if self.server_pids:
            result.server_rss_mb = rss_bytes(*self.server_pids) / 2**20
        return result

    async def probe(self) -> float:
        """One message that every participant must receive before stepping
        (also proves caps were resolved); returns its slowest delivery (ms)."""
        self.tally.begin(0)
        for k, template in enumerate(self.templates):
            self.clients[k].send(template.render(0, time.monotonic_ns()))
        deadline = time.monotonic() + PROBE_TIMEOUT
        while len(self.tally.latencies_ns) < len(self.clients):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"probe message reached {len(self.tally.latencies_ns)} of "
                    f"{len(self.clients)} participants within {PROBE_TIMEOUT} s"
                )
            await asyncio.sleep(0.01)
        return max(self.tally.latencies_ns) / 1e6

    # -- steps -------------------------------------------------------------------

    async def step(self, index: int, rate: float) -> StepResult:
        options = self.options
        channels = len(self.channels)
        senders = [
            (c.send, self.templates[i % channels].render)
            for i, c in enumerate(self.clients[: options.senders])
        ]
        tally = self.tally
        tally.begin(index)
        server = CpuMeter(*self.server_pids) if self.server_pids else None
        driver = CpuMeter(os.getpid())
        if server is not None:
            server.start()
        driver.start()
        start = time.monotonic_ns()
        end = start + int(options.step_seconds * 1e9)
        sent = 0
        turn = 0
        while (now := time.monotonic_ns()) < end:
            due = int((now - start) * rate / 1e9) + 1
            while sent < due:
                send, render = senders[turn]
                send(render(index, time.monotonic_ns()))
                turn = (turn + 1) % len(senders)
                sent += 1
            await asyncio.sleep(TICK)
        sent_seconds = (time.monotonic_ns() - start) / 1e9
        expected = sent * options.per_channel
        deadline = time.monotonic() + options.drain_seconds
        while len(tally.latencies_ns) < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        received = len(tally.latencies_ns)
        # The send window, or longer when the last delivery came after it.
        window = max(sent_seconds, (tally.last_ns - start) / 1e9)
        return StepResult(
            step=index,
            participants=len(self.clients),
            channels=channels,
            offered_rate=rate,
            sent=sent,
            sent_rate=sent / sent_seconds,
            expected=expected,
            received=received,
            deliveries_per_s=received / window,
            ratio=received / expected if expected else 0.0,
            latency=Latency.of(tally.latencies_ns),
            server_cpu=server.percent() if server is not None else None,
            driver_cpu=driver.percent(),
            server_rss_mb=(rss_bytes(*self.server_pids) / 2**20 if self.server_pids else None),
            stale=tally.stale,
            dropped=tally.dropped,
        )

    def saturated(self, result: StepResult) -> bool:
        return (
            result.ratio < self.options.min_ratio
            or result.latency.p99 > self.options.max_p99_ms
            or result.dropped > 0
        )

    async def run_steps(
        self,
        on_start: Callable[[int, float], None] | None = None,
        on_done: Callable[[StepResult], None] | None = None,
    ) -> list[StepResult]:
        """Step through the rates until saturation, the last rate or the budget."""
        results: list[StepResult] = []
        budget_end = time.monotonic() + self.options.max_seconds
        for index, rate in enumerate(self.options.rates, start=1):
            if time.monotonic() > budget_end:
                break
            if on_start is not None:
                on_start(index, rate)
            result = await self.step(index, rate)
            results.append(result)
            if on_done is not None:
                on_done(result)
            if self.saturated(result):
                break
        return results

    def close(self) -> None:
        for client in self.clients:
            client.close()


def steady_channel(
    endpoints: tuple[Endpoint, ...],
    accounts: list[Account],
    service: str,
    server_pids: tuple[int, ...],
    rate: float,
    seconds: float,
    senders: int = 10,
) -> Fanout:
    """One channel of these accounts set to carry `rate` messages/s for
    `seconds` (its single step): the background load of other scenarios."""
    options = FanoutOptions(
        participants=len(accounts),
        senders=min(len(accounts), senders),
        rates=[rate],
        step_seconds=seconds,
        drain_seconds=5.0,
        service=service,
    )
    return Fanout(options, endpoints, accounts, server_pids)
