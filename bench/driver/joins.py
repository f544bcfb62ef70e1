"""Join latency under load: N participants receive a steady stream of
channel messages while J other users each join (MIX-PAM client-join,
subscribing to messages) and leave again, one join in flight at a time;
the same joins are first measured on the idle channel for comparison."""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import asdict, dataclass

from bench.driver.client import BenchClient
from bench.driver.fanout import StepResult, steady_channel
from bench.driver.sessions import clients_for, close_all, log_in, write_json
from bench.driver.stats import Latency
from bench.driver.target import Target, say


@dataclass(frozen=True, slots=True)
class JoinRound:
    load_msgs_per_s: float
    joins: int
    join: Latency
    leave: Latency
    background: StepResult | None


async def join_and_leave(joiners: list[BenchClient], channel: str, until: float) -> JoinRound:
    joins: list[int] = []
    leaves: list[int] = []
    turn = 0
    while time.monotonic() < until or turn == 0:
        client = joiners[turn % len(joiners)]
        joins.append(int(await client.join(channel, f"j{turn}") * 1e9))
        leaves.append(int(await client.leave(channel) * 1e9))
        turn += 1
    return JoinRound(0.0, len(joins), Latency.of(joins), Latency.of(leaves), None)


async def joins_under_load(args: argparse.Namespace, target: Target) -> None:
    n = args.participants
    fanout = steady_channel(
        target.endpoints, target.accounts[:n], target.service, target.pids, args.rate,
        args.seconds, args.senders,
    )  # fmt: skip
    joiners = clients_for(target, args.joiners, first=n)
    rounds = []
    try:
        await fanout.setup()
        await log_in(target, joiners, 50)
        idle = await join_and_leave(joiners, fanout.channel, time.monotonic() + args.seconds)
        rounds.append(idle)
        say(_line(idle))
        until = time.monotonic() + args.seconds
        background, loaded = await asyncio.gather(
            fanout.step(1, args.rate), join_and_leave(joiners, fanout.channel, until)
        )
        loaded = JoinRound(args.rate, loaded.joins, loaded.join, loaded.leave, background)
        rounds.append(loaded)
        say(_line(loaded))
    finally:
        fanout.close()
        await close_all(joiners)
    write_json(args, "joins", {"rounds": [asdict(r) for r in rounds]})


def _line(r: JoinRound) -> str:
    load = "idle channel" if r.background is None else (
        f"{r.load_msgs_per_s:,.0f} msg/s into {r.background.participants} participants "
        f"({r.background.deliveries_per_s:,.0f} dlv/s, p99 {r.background.latency.p99:.1f} ms)"
    )  # fmt: skip
    return (
        f"{load}: {r.joins} joins, join p50 {r.join.p50:.1f} ms, p99 {r.join.p99:.1f} ms; "
        f"leave p50 {r.leave.p50:.1f} ms, p99 {r.leave.p99:.1f} ms"
    )
