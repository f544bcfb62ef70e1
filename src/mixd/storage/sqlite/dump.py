"""DumpStore on SQLite: enumerates what export needs and writes archive
entries back with their original ids (see contracts/dump.py)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from typing import Any

from mixd.storage.contracts.archive import ArchiveItemNotFound, Direction, MessageRecord
from mixd.storage.contracts.dump import DumpedEntry, FollowSpan
from mixd.storage.contracts.mix_misc import NodeItem, RegisteredNick
from mixd.storage.errors import AccountNotFound
from mixd.storage.sqlite.archive import SQLiteArchiveStore
from mixd.storage.sqlite.archive_query import NO_END
from mixd.storage.sqlite.database import SQLiteDatabase

_ENTRIES = """
    SELECT x.id, m.id, x.owner, x.with_jid, x.with_resource, x.direction, x.ts,
        m.xml, m.ts, m.sender, m.type, m.origin_id
    FROM archive_entries x JOIN messages m ON m.seq = x.message
    WHERE x.owner = ?1
        AND x.seq > coalesce((SELECT seq FROM archive_entries WHERE id = ?2 AND owner = ?1), 0)
    ORDER BY x.seq LIMIT ?3
"""
_SPANS = """
    SELECT f.owner, f.to_seq IS NULL,
        (SELECT id FROM archive_entries WHERE owner = f.feed AND seq >= f.from_seq
            AND seq < coalesce(f.to_seq, ?2) ORDER BY seq LIMIT 1),
        (SELECT id FROM archive_entries WHERE owner = f.feed AND seq >= f.from_seq
            AND seq < coalesce(f.to_seq, ?2) ORDER BY seq DESC LIMIT 1)
    FROM archive_feeds f WHERE f.feed = ?1 ORDER BY f.owner, f.from_seq
"""


class SQLiteDumpStore:
    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db

    async def account_hosts(self) -> list[str]:
        return await self._column("SELECT DISTINCT host FROM accounts ORDER BY host")

    async def channel_services(self) -> list[str]:
        return await self._column(
            "SELECT service FROM mix_channels UNION SELECT service FROM mix_registered_nicks"
            " ORDER BY service"
        )

    async def registered_nicks(self, service: str) -> list[RegisteredNick]:
        def job(conn: sqlite3.Connection) -> list[RegisteredNick]:
            rows = conn.execute(
                "SELECT jid, nick, nick_key FROM mix_registered_nicks WHERE service = ?"
                " ORDER BY jid",
                (service,),
            )
            return [RegisteredNick(service, str(j), str(n), str(k)) for j, n, k in rows]

        return await self._db.run(job)

    async def channel_node_items(self, channel: str) -> list[tuple[str, NodeItem]]:
        def job(conn: sqlite3.Connection) -> list[tuple[str, NodeItem]]:
            rows = conn.execute(
                "SELECT node, id, xml, updated FROM mix_node_items WHERE channel = ?"
                " ORDER BY node, updated, id",
                (channel,),
            )
            return [(str(n), NodeItem(str(i), str(x), int(u))) for n, i, x, u in rows]

        return await self._db.run(job)

    async def archive_owners(self, after: str | None, limit: int) -> list[str]:
        # archive_counts holds a row for every owner that ever had entries.
        tables = ("archive_counts", "archive_prefs", "archive_feeds")

        def job(conn: sqlite3.Connection) -> list[str]:
            found: set[str] = set()
            for table in tables:  # fixed names, not input
                rows = conn.execute(
                    f"SELECT DISTINCT owner FROM {table} WHERE owner > ? ORDER BY owner LIMIT ?",
                    (after or "", limit),
                )
                found.update(str(row[0]) for row in rows)
            return sorted(found)[:limit]

        return await self._db.run(job)

    async def entries(self, owner: str, after: str | None, limit: int) -> list[DumpedEntry]:
        def job(conn: sqlite3.Connection) -> list[DumpedEntry]:
            if after is not None:
                _entry_seq(conn, owner, after)  # raises for an unknown id
            return [_entry(row) for row in conn.execute(_ENTRIES, (owner, after, limit))]

        return await self._db.run(job)

    async def spans(self, feed: str) -> list[FollowSpan]:
        def job(conn: sqlite3.Connection) -> list[FollowSpan]:
            rows = conn.execute(_SPANS, (feed, NO_END)).fetchall()
            return [
                FollowSpan(str(owner), feed, first, last, bool(open_))
                for owner, open_, first, last in rows
                if open_ or first is not None
            ]

        return await self._db.run(job)

    async def restore_entries(self, entries: Sequence[DumpedEntry]) -> int:
        def job(conn: sqlite3.Connection) -> int:
            written: Counter[str] = Counter()
            for entry in entries:
                if conn.execute(
                    "SELECT 1 FROM archive_entries WHERE id = ?", (entry.id,)
                ).fetchone():
                    continue
                conn.execute(
                    "INSERT INTO archive_entries"
                    " (id, owner, message, with_jid, with_resource, direction, ts)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        entry.id,
                        entry.owner,
                        _message_seq(conn, entry),
                        entry.with_jid,
                        entry.with_resource,
                        str(entry.direction),
                        entry.timestamp,
                    ),
                )
                written[entry.owner] += 1
            conn.executemany(
                "INSERT INTO archive_counts (owner, entries) VALUES (?, ?)"
                " ON CONFLICT (owner) DO UPDATE SET entries = entries + excluded.entries",
                written.items(),
            )
            return sum(written.values())

        return await self._db.run(job)

    async def restore_span(self, span: FollowSpan) -> None:
        if span.first is None or span.last is None:
            if span.open:
                await SQLiteArchiveStore(self._db).follow(span.follower, span.feed)
            return
        first, last = span.first, span.last

        def job(conn: sqlite3.Connection) -> None:
            start = _entry_seq(conn, span.feed, first)
            end = None if span.open else _entry_seq(conn, span.feed, last) + 1
            if (
                end is None
                and conn.execute(
                    "SELECT 1 FROM archive_feeds WHERE owner = ? AND feed = ? AND to_seq IS NULL",
                    (span.follower, span.feed),
                ).fetchone()
            ):
                return  # following already (an import merged twice)
            conn.execute(
                "INSERT OR IGNORE INTO archive_feeds"
                " (owner, feed, from_seq, to_seq, from_count, to_count) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    span.follower,
                    span.feed,
                    start,
                    end,
                    _count_before(conn, span.feed, start),
                    None if end is None else _count_before(conn, span.feed, end),
                ),
            )

        await self._db.run(job)

    async def raise_roster_version(self, host: str, username: str, version: int) -> None:
        def job(conn: sqlite3.Connection) -> None:
            if not conn.execute(
                "SELECT 1 FROM accounts WHERE host = ? AND username = ?", (host, username)
            ).fetchone():
                raise AccountNotFound(f"no account {username}@{host}")
            conn.execute(
                "INSERT INTO roster_versions (host, username, version) VALUES (?, ?, ?)"
                " ON CONFLICT (host, username) DO UPDATE"
                " SET version = max(version, excluded.version)",
                (host, username, version),
            )

        await self._db.run(job)

    async def _column(self, sql: str) -> list[str]:
        return await self._db.run(lambda conn: [str(row[0]) for row in conn.execute(sql)])


def _entry(row: tuple[Any, ...]) -> DumpedEntry:
    entry_id, message_id, owner, with_jid, resource, direction, ts = row[:7]
    xml, message_ts, sender, type_, origin_id = row[7:]
    message = MessageRecord(str(xml), int(message_ts), str(sender), str(type_), origin_id)
    return DumpedEntry(
        str(entry_id), str(message_id), str(owner), str(with_jid), resource,
        Direction(direction), int(ts), message,
    )  # fmt: skip


def _message_seq(conn: sqlite3.Connection, entry: DumpedEntry) -> int:
    row = conn.execute("SELECT seq FROM messages WHERE id = ?", (entry.message_id,)).fetchone()
    if row is not None:
        return int(row[0])
    m = entry.message
    seq = conn.execute(
        "INSERT INTO messages (id, xml, ts, sender, type, origin_id) VALUES (?, ?, ?, ?, ?, ?)",
        (entry.message_id, m.xml, m.timestamp, m.sender, m.type, m.origin_id),
    ).lastrowid
    assert seq is not None
    return seq


def _entry_seq(conn: sqlite3.Connection, owner: str, entry_id: str) -> int:
    row = conn.execute(
        "SELECT seq FROM archive_entries WHERE owner = ? AND id = ?", (owner, entry_id)
    ).fetchone()
    if row is None:
        raise ArchiveItemNotFound(f"{entry_id} is not in the archive of {owner}")
    return int(row[0])


def _count_before(conn: sqlite3.Connection, feed: str, seq: int) -> int:
    row = conn.execute(
        "SELECT COUNT(*) FROM archive_entries WHERE owner = ? AND seq < ?", (feed, seq)
    ).fetchone()
    return int(row[0])
