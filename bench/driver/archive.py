"""Archive scenarios.

- `write`: the storage cost of one channel message when 10 or 1,000 local
  participants' archives follow the channel (it must not grow with them):
  messages stored through `SQLiteArchiveStore` on a fresh database, with
  many in flight (group commit), as the channel service stores them.
- `mam`: MAM page latency on a large channel archive: a channel with
  participants is set up through the server, M messages are added to its
  archive through the same store from the bench process (SQLite in WAL
  mode lets the running server and the bench share the file), then
  participants page their own archive (filtered by the channel) and the
  channel's archive over XMPP.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.driver.client import Tally, bench_client
from bench.driver.sessions import close_all, log_in, write_json
from bench.driver.stanzas import mam_query
from bench.driver.stats import Latency
from bench.driver.target import Target, say
from mixd.storage.contracts.archive import ArchiveQuery, Direction, MessageRecord, NewEntry
from mixd.storage.sqlite.archive import SQLiteArchiveStore
from mixd.storage.sqlite.database import SQLiteDatabase

IN_FLIGHT = 512
BODY = "x" * 64


def channel_message(channel: str, n: int) -> tuple[MessageRecord, list[NewEntry]]:
    now = time.time_ns() // 1000
    xml = (
        f"<message from='{channel}' type='groupchat'><body>archived {n} {BODY}</body>"
        f"<mix xmlns='urn:xmpp:mix:core:1'><nick>p{n % 10}</nick></mix></message>"
    )
    sender = f"bench{n % 10}@localhost"
    record = MessageRecord(xml, now, sender, "groupchat", f"origin-{n}")
    return record, [NewEntry(channel, sender, Direction.IN, now, f"pid{n % 10}")]


async def fill(store: SQLiteArchiveStore, channel: str, start: int, count: int) -> float:
    """Store `count` channel messages, IN_FLIGHT at a time; messages/s."""
    began = time.monotonic()
    for chunk in range(start, start + count, IN_FLIGHT):
        batch = range(chunk, min(chunk + IN_FLIGHT, start + count))
        await asyncio.gather(*(store.store(*channel_message(channel, n)) for n in batch))
    return count / (time.monotonic() - began)


@dataclass(frozen=True, slots=True)
class WriteCost:
    followers: int
    messages: int
    messages_per_s: float
    us_per_message: float
    follower_sees: int | None  # one follower's archive size afterwards (proves they follow)


async def write_cost(args: argparse.Namespace) -> None:
    results = []
    for followers in args.followers:
        with tempfile.TemporaryDirectory(prefix="mixd-bench-archive-") as tmp:
            db = SQLiteDatabase(Path(tmp) / "mixd.sqlite")
            await db.open()
            try:
                store = SQLiteArchiveStore(db)
                channel = "room@mix.localhost"
                for i in range(followers):
                    await store.follow(f"user{i}@localhost", channel)
                await fill(store, channel, 0, IN_FLIGHT)  # warm-up
                rate = await fill(store, channel, IN_FLIGHT, args.messages)
                seen = await store.query(ArchiveQuery("user0@localhost", 0))
            finally:
                await db.close()
        result = WriteCost(followers, args.messages, rate, 1e6 / rate, seen.count)
        results.append(result)
        say(
            f"{followers:>5} followers: {rate:,.0f} messages/s stored "
            f"({result.us_per_message:.0f} us each), a follower's archive holds {seen.count:,}"
        )
    write_json(args, "archive-write", {"results": [asdict(r) for r in results]})


@dataclass(frozen=True, slots=True)
class PageLatency:
    archive: str
    messages: int
    queries: int
    latency: Latency


async def mam_pages(args: argparse.Namespace, target: Target) -> None:
    assert target.data_dir is not None, "mam needs the bench's own mixd (no --connect)"
    clients = [
        bench_client(a, target.endpoints, i, Tally())
        for i, a in enumerate(target.accounts[: args.participants])
    ]
    channel = f"archive@{target.service}"
    results = []
    try:
        await log_in(target, clients, 50)
        await clients[0].create_channel(target.service, "archive")
        for i, client in enumerate(clients):
            await client.join(channel, f"p{i}")
        db = SQLiteDatabase(target.data_dir / "mixd.sqlite")
        await db.open()
        try:
            rate = await fill(SQLiteArchiveStore(db), channel, 0, args.messages)
            ids = await db.run(
                lambda c: [
                    str(r[0])
                    for r in c.execute("SELECT id FROM archive_entries WHERE owner = ?", (channel,))
                ]
            )
        finally:
            await db.close()
        say(f"archive: {args.messages:,} messages stored at {rate:,.0f}/s")
        rng = random.Random(args.seed)
        for archive, to in (("own archive, with=channel", None), ("channel archive", channel)):
            samples = []
            for q in range(args.queries):
                client = clients[q % len(clients)]
                after = None if q % 2 else rng.choice(ids)  # the last page, or catching up
                started = time.perf_counter_ns()
                query = mam_query(f"q{q}", to, channel if to is None else None, after)
                count = await client.mam(query)
                samples.append(time.perf_counter_ns() - started)
                if count < args.messages:
                    raise RuntimeError(f"{archive}: the server counts {count} messages")
            result = PageLatency(archive, args.messages, args.queries, Latency.of(samples))
            results.append(result)
            say(
                f"{archive}: {args.queries} pages of 50 (the last, or after a random id), "
                f"p50 {result.latency.p50:.1f} ms, p99 {result.latency.p99:.1f} ms"
            )
    finally:
        await close_all(clients)
    write_json(args, "archive-mam", {"results": [asdict(r) for r in results]})
