"""DumpStore on PostgreSQL: enumerates what export needs and writes archive
entries back with their original ids (see contracts/dump.py)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from mixd.storage.contracts.archive import ArchiveItemNotFound, Direction, MessageRecord
from mixd.storage.contracts.dump import DumpedEntry, FollowSpan
from mixd.storage.contracts.mix_misc import NodeItem, RegisteredNick
from mixd.storage.errors import AccountNotFound
from mixd.storage.postgres.archive import PostgresArchiveStore
from mixd.storage.postgres.database import Connection, PostgresDatabase

_ENTRIES = """
    SELECT x.id, m.id AS message_id, x.owner, x.with_jid, x.with_resource, x.direction, x.ts,
        m.xml, m.ts AS message_ts, m.sender, m.type, m.origin_id
    FROM archive_entries x JOIN messages m ON m.seq = x.message
    WHERE x.owner = $1
        AND x.seq > coalesce((SELECT seq FROM archive_entries WHERE id = $2 AND owner = $1), 0)
    ORDER BY x.seq LIMIT $3
"""
_SPANS = """
    SELECT f.owner, f.to_seq IS NULL AS open,
        (SELECT id FROM archive_entries WHERE owner = f.feed AND seq >= f.from_seq
            AND (f.to_seq IS NULL OR seq < f.to_seq) ORDER BY seq LIMIT 1) AS first,
        (SELECT id FROM archive_entries WHERE owner = f.feed AND seq >= f.from_seq
            AND (f.to_seq IS NULL OR seq < f.to_seq) ORDER BY seq DESC LIMIT 1) AS last
    FROM archive_feeds f WHERE f.feed = $1 ORDER BY f.owner, f.from_seq
"""
_LOCK_ARCHIVE = "SELECT pg_advisory_xact_lock(hashtextextended('archive:' || $1, 0))"
_LOCK_ARCHIVES_SHARED = """
    SELECT pg_advisory_xact_lock_shared(hashtextextended('archive:' || owner, 0))
    FROM unnest($1::text[]) AS owner
"""


class PostgresDumpStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def account_hosts(self) -> list[str]:
        return await self._column("SELECT DISTINCT host FROM accounts ORDER BY host")

    async def channel_services(self) -> list[str]:
        return await self._column(
            "SELECT service FROM mix_channels UNION SELECT service FROM mix_registered_nicks"
            " ORDER BY service"
        )

    async def registered_nicks(self, service: str) -> list[RegisteredNick]:
        async def job(conn: Connection) -> list[RegisteredNick]:
            rows = await conn.fetch(
                "SELECT jid, nick, nick_key FROM mix_registered_nicks WHERE service = $1"
                " ORDER BY jid",
                service,
            )
            return [RegisteredNick(service, r["jid"], r["nick"], r["nick_key"]) for r in rows]

        return await self._db.run(job, read_only=True)

    async def channel_node_items(self, channel: str) -> list[tuple[str, NodeItem]]:
        async def job(conn: Connection) -> list[tuple[str, NodeItem]]:
            rows = await conn.fetch(
                "SELECT node, id, xml, updated FROM mix_node_items WHERE channel = $1"
                " ORDER BY node, updated, id",
                channel,
            )
            return [(r["node"], NodeItem(r["id"], r["xml"], int(r["updated"]))) for r in rows]

        return await self._db.run(job, read_only=True)

    async def archive_owners(self, after: str | None, limit: int) -> list[str]:
        tables = ("archive_entries", "archive_prefs", "archive_feeds")

        async def job(conn: Connection) -> list[str]:
            found: set[str] = set()
            for table in tables:  # fixed names, not input
                rows = await conn.fetch(
                    f"SELECT DISTINCT owner FROM {table} WHERE owner > $1 ORDER BY owner LIMIT $2",
                    after or "",
                    limit,
                )
                found.update(str(row[0]) for row in rows)
            return sorted(found)[:limit]

        return await self._db.run(job, read_only=True)

    async def entries(self, owner: str, after: str | None, limit: int) -> list[DumpedEntry]:
        async def job(conn: Connection) -> list[DumpedEntry]:
            if after is not None:
                await _entry_seq(conn, owner, after)  # raises for an unknown id
            return [_entry(row) for row in await conn.fetch(_ENTRIES, owner, after, limit)]

        return await self._db.run(job, read_only=True)

    async def spans(self, feed: str) -> list[FollowSpan]:
        async def job(conn: Connection) -> list[FollowSpan]:
            rows = await conn.fetch(_SPANS, feed)
            return [
                FollowSpan(str(r["owner"]), feed, r["first"], r["last"], bool(r["open"]))
                for r in rows
                if r["open"] or r["first"] is not None
            ]

        return await self._db.run(job, read_only=True)

    async def restore_entries(self, entries: Sequence[DumpedEntry]) -> int:
        owners = sorted({e.owner for e in entries})

        async def job(conn: Connection) -> int:
            await conn.execute(_LOCK_ARCHIVES_SHARED, owners)
            written = 0
            for entry in entries:
                if await conn.fetchval("SELECT 1 FROM archive_entries WHERE id = $1", entry.id):
                    continue
                await conn.execute(
                    "INSERT INTO archive_entries"
                    " (id, owner, message, with_jid, with_resource, direction, ts)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    entry.id,
                    entry.owner,
                    await _message_seq(conn, entry),
                    entry.with_jid,
                    entry.with_resource,
                    str(entry.direction),
                    entry.timestamp,
                )
                written += 1
            return written

        return await self._db.run(job)

    async def restore_span(self, span: FollowSpan) -> None:
        if span.first is None or span.last is None:
            if span.open:
                await PostgresArchiveStore(self._db).follow(span.follower, span.feed)
            return
        first, last = span.first, span.last

        async def job(conn: Connection) -> None:
            await conn.execute(_LOCK_ARCHIVE, span.feed)
            start = await _entry_seq(conn, span.feed, first)
            end = None if span.open else await _entry_seq(conn, span.feed, last) + 1
            if end is None and await conn.fetchval(
                "SELECT 1 FROM archive_feeds WHERE owner = $1 AND feed = $2 AND to_seq IS NULL",
                span.follower,
                span.feed,
            ):
                return  # following already (an import merged twice)
            await conn.execute(
                "INSERT INTO archive_feeds (owner, feed, from_seq, to_seq) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT DO NOTHING",
                span.follower,
                span.feed,
                start,
                end,
            )

        await self._db.run(job)

    async def raise_roster_version(self, host: str, username: str, version: int) -> None:
        async def job(conn: Connection) -> None:
            if not await conn.fetchval(
                "SELECT 1 FROM accounts WHERE host = $1 AND username = $2", host, username
            ):
                raise AccountNotFound(f"no account {username}@{host}")
            await conn.execute(
                "INSERT INTO roster_versions AS v (host, username, version) VALUES ($1, $2, $3)"
                " ON CONFLICT (host, username) DO UPDATE"
                " SET version = greatest(v.version, excluded.version)",
                host,
                username,
                version,
            )

        await self._db.run(job)

    async def _column(self, sql: str) -> list[str]:
        async def job(conn: Connection) -> list[str]:
            return [str(row[0]) for row in await conn.fetch(sql)]

        return await self._db.run(job, read_only=True)


def _entry(row: asyncpg.Record) -> DumpedEntry:
    message = MessageRecord(
        row["xml"], int(row["message_ts"]), row["sender"], row["type"], row["origin_id"]
    )
    return DumpedEntry(
        row["id"], row["message_id"], row["owner"], row["with_jid"], row["with_resource"],
        Direction(row["direction"]), int(row["ts"]), message,
    )  # fmt: skip


async def _message_seq(conn: Connection, entry: DumpedEntry) -> int:
    seq = await conn.fetchval("SELECT seq FROM messages WHERE id = $1", entry.message_id)
    if seq is not None:
        return int(seq)
    m = entry.message
    seq = await conn.fetchval(
        "INSERT INTO messages (id, xml, ts, sender, type, origin_id)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
        entry.message_id,
        m.xml,
        m.timestamp,
        m.sender,
        m.type,
        m.origin_id,
    )
    return int(seq)


async def _entry_seq(conn: Connection, owner: str, entry_id: str) -> int:
    seq = await conn.fetchval(
        "SELECT seq FROM archive_entries WHERE owner = $1 AND id = $2", owner, entry_id
    )
    if seq is None:
        raise ArchiveItemNotFound(f"{entry_id} is not in the archive of {owner}")
    return int(seq)
