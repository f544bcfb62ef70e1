"""ArchiveStore on SQLite (schema: migrations 3 and 8).

An archive is its own entries plus, through `archive_feeds`, the spans of
followed archives' entries (by seq, which AUTOINCREMENT never reuses);
queries are in `archive_query.py`.

Every value reaches SQL as a parameter; the only text assembled at run time
is a fixed set of conditions and one `?` per requested id, so filter input
(JIDs, ids, SQL metacharacters, LIKE wildcards) cannot change a statement.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Sequence
from typing import Any

from mixd.storage.contracts.archive import (
    ArchiveConflict,
    ArchiveItemNotFound,
    ArchiveMessageNotFound,
    ArchivePage,
    ArchiveQuery,
    Bounds,
    DefaultMode,
    Direction,
    MessageRecord,
    NewEntry,
    Prefs,
    Stored,
    new_id,
)
from mixd.storage.sqlite.archive_query import NO_END, Archive, entry_count
from mixd.storage.sqlite.database import SQLiteDatabase

_INSERT_MESSAGE = """
    INSERT INTO messages (id, xml, ts, sender, type, origin_id) VALUES (?, ?, ?, ?, ?, ?)
"""
_INSERT_ENTRY = """
    INSERT INTO archive_entries (id, owner, message, with_jid, with_resource, direction, ts)
    VALUES (?, ?, ?, ?, ?, ?, ?)
"""
# The seq the next entry gets (AUTOINCREMENT keeps the high-water mark).
_NEXT_SEQ = """
    SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'archive_entries'), 0) + 1
"""

Row = tuple[Any, ...]


class SQLiteArchiveStore:
    """Messages in `messages`, archives in `archive_entries`, preferences in
    `archive_prefs`."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db

    async def store(self, message: MessageRecord, entries: Sequence[NewEntry]) -> Stored:
        if not entries:
            raise ValueError("a message needs at least one archive entry")
        message_id = new_id()
        entry_ids = tuple(new_id() for _ in entries)
        row = (
            message_id,
            message.xml,
            message.timestamp,
            message.sender,
            message.type,
            message.origin_id,
        )

        def job(conn: sqlite3.Connection) -> Stored:
            if message.origin_id is not None:
                earlier = _earlier_copy(conn, message, entries)
                if earlier is not None:
                    return earlier
            seq = conn.execute(_INSERT_MESSAGE, row).lastrowid
            assert seq is not None
            _insert_entries(conn, seq, entries, entry_ids)
            return Stored(message_id, entry_ids)

        return await self._db.run(job)

    async def retract(
        self,
        owner: str,
        entry_id: str,
        expected: str | None,
        tombstone: str,
        notice: MessageRecord,
        entries: Sequence[NewEntry],
    ) -> Stored:
        if not entries:
            raise ValueError("a message needs at least one archive entry")
        message_id = new_id()
        entry_ids = tuple(new_id() for _ in entries)
        row = (message_id, notice.xml, notice.timestamp, notice.sender, notice.type)

        def job(conn: sqlite3.Connection) -> Stored:
            if notice.origin_id is not None:
                earlier = _earlier_copy(conn, notice, entries)
                if earlier is not None:
                    return earlier
            found = conn.execute(
                "SELECT m.seq, m.xml FROM archive_entries x JOIN messages m ON m.seq = x.message"
                " WHERE x.owner = ? AND x.id = ?",
                (owner, entry_id),
            ).fetchone()
            if found is None:
                raise ArchiveItemNotFound(entry_id)
            if expected is None or found[1] != expected:
                raise ArchiveConflict(entry_id)
            conn.execute("UPDATE messages SET xml = ? WHERE seq = ?", (tombstone, found[0]))
            seq = conn.execute(_INSERT_MESSAGE, (*row, notice.origin_id)).lastrowid
            assert seq is not None
            _insert_entries(conn, seq, entries, entry_ids)
            return Stored(message_id, entry_ids)

        return await self._db.run(job)

    async def add_entries(self, message_id: str, entries: Sequence[NewEntry]) -> tuple[str, ...]:
        entry_ids = tuple(new_id() for _ in entries)

        def job(conn: sqlite3.Connection) -> tuple[str, ...]:
            row = conn.execute("SELECT seq FROM messages WHERE id = ?", (message_id,)).fetchone()
            if row is None:
                raise ArchiveMessageNotFound(message_id)
            _insert_entries(conn, int(row[0]), entries, entry_ids)
            return entry_ids

        return await self._db.run(job)

    async def query(self, query: ArchiveQuery) -> ArchivePage:
        return await self._db.run(lambda conn: Archive(conn, query.owner).page(query))

    async def bounds(self, owner: str) -> Bounds:
        def job(conn: sqlite3.Connection) -> Bounds:
            archive, everything = Archive(conn, owner), ArchiveQuery(owner, 1)
            first = archive.items(archive.rows(everything, None, 1, descending=False))
            last = archive.items(archive.rows(everything, None, 1, descending=True))
            return Bounds(first[0] if first else None, last[0] if last else None)

        return await self._db.run(job)

    async def get_prefs(self, owner: str) -> Prefs:
        def job(conn: sqlite3.Connection) -> Prefs:
            row = conn.execute(
                "SELECT default_mode, always, never FROM archive_prefs WHERE owner = ?", (owner,)
            ).fetchone()
            if row is None:
                return Prefs()
            return Prefs(DefaultMode(row[0]), _jids(row[1]), _jids(row[2]))

        return await self._db.run(job)

    async def set_prefs(self, owner: str, prefs: Prefs) -> None:
        row = (owner, str(prefs.default), json.dumps(prefs.always), json.dumps(prefs.never))

        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO archive_prefs (owner, default_mode, always, never)"
                " VALUES (?, ?, ?, ?)",
                row,
            )

        await self._db.run(job)

    async def follow(self, owner: str, feed: str) -> None:
        def job(conn: sqlite3.Connection) -> None:
            following = conn.execute(
                "SELECT 1 FROM archive_feeds WHERE owner = ? AND feed = ? AND to_seq IS NULL",
                (owner, feed),
            ).fetchone()
            if following is not None:
                return
            (next_seq,) = conn.execute(_NEXT_SEQ).fetchone()
            # Nothing committed since the last span ended: that span goes on.
            resumed = conn.execute(
                "UPDATE archive_feeds SET to_seq = NULL, to_count = NULL"
                " WHERE owner = ? AND feed = ? AND to_seq = ?",
                (owner, feed, next_seq),
            )
            if resumed.rowcount == 0:
                conn.execute(
                    "INSERT INTO archive_feeds (owner, feed, from_seq, from_count)"
                    " VALUES (?, ?, ?, ?)",
                    (owner, feed, next_seq, entry_count(conn, feed)),
                )

        await self._db.run(job)

    async def unfollow(self, owner: str, feed: str) -> None:
        def job(conn: sqlite3.Connection) -> None:
            (next_seq,) = conn.execute(_NEXT_SEQ).fetchone()
            conn.execute(
                "UPDATE archive_feeds SET to_seq = ?, to_count = ?"
                " WHERE owner = ? AND feed = ? AND to_seq IS NULL",
                (next_seq, entry_count(conn, feed), owner, feed),
            )
            conn.execute(
                "DELETE FROM archive_feeds WHERE owner = ? AND feed = ? AND to_seq = from_seq",
                (owner, feed),
            )

        await self._db.run(job)

    async def followers(self, feed: str) -> frozenset[str]:
        def job(conn: sqlite3.Connection) -> frozenset[str]:
            rows = conn.execute(
                "SELECT owner FROM archive_feeds WHERE feed = ? AND to_seq IS NULL", (feed,)
            ).fetchall()
            return frozenset(str(row[0]) for row in rows)

        return await self._db.run(job)

    async def delete_owner(self, owner: str) -> int:
        def job(conn: sqlite3.Connection) -> int:
            _copy_to_followers(conn, owner)
            conn.execute("DELETE FROM archive_feeds WHERE owner = ?1 OR feed = ?1", (owner,))
            messages = conn.execute(
                "SELECT DISTINCT message FROM archive_entries WHERE owner = ?", (owner,)
            ).fetchall()
            removed = conn.execute("DELETE FROM archive_entries WHERE owner = ?", (owner,))
            conn.execute("DELETE FROM archive_counts WHERE owner = ?", (owner,))
            conn.executemany(
                "DELETE FROM messages WHERE seq = ?1"
                " AND NOT EXISTS (SELECT 1 FROM archive_entries WHERE message = ?1)",
                messages,
            )
            conn.execute("DELETE FROM archive_prefs WHERE owner = ?", (owner,))
            return removed.rowcount

        return await self._db.run(job)

    async def trim(self, owner: str, keep: int) -> int:
        if keep < 1:
            raise ValueError("an archive quota keeps at least one entry")

        def job(conn: sqlite3.Connection) -> int:
            excess = entry_count(conn, owner) - keep
            if excess <= 0:
                return 0
            oldest = conn.execute(
                "SELECT seq, message FROM archive_entries WHERE owner = ? ORDER BY ts, seq LIMIT ?",
                (owner, excess),
            ).fetchall()
            conn.executemany("DELETE FROM archive_entries WHERE seq = ?", [(s,) for s, _ in oldest])
            conn.execute(
                "UPDATE archive_counts SET entries = entries - ? WHERE owner = ?",
                (len(oldest), owner),
            )
            conn.executemany(
                "DELETE FROM messages WHERE seq = ?1"
                " AND NOT EXISTS (SELECT 1 FROM archive_entries WHERE message = ?1)",
                {(message,) for _, message in oldest},
            )
            return len(oldest)

        return await self._db.run(job)


def _earlier_copy(
    conn: sqlite3.Connection, message: MessageRecord, entries: Sequence[NewEntry]
) -> Stored | None:
    """The message this sender stored before under the same origin-id, with
    an entry for every (owner, with) wanted now; None if there is none."""
    candidates = conn.execute(
        "SELECT seq, id FROM messages WHERE sender = ? AND origin_id = ?",
        (message.sender, message.origin_id),
    ).fetchall()
    for seq, message_id in candidates:
        rows = conn.execute(
            "SELECT owner, with_jid, id FROM archive_entries WHERE message = ?", (seq,)
        ).fetchall()
        held = {(str(owner), str(with_jid)): str(entry_id) for owner, with_jid, entry_id in rows}
        wanted = [(e.owner, e.with_jid) for e in entries]
        if all(key in held for key in wanted):
            ids = tuple(held[key] for key in wanted)
            holders = frozenset(owner for owner, _ in held)
            return Stored(str(message_id), ids, duplicate=True, holders=holders)
    return None


def _copy_to_followers(conn: sqlite3.Connection, feed: str) -> None:
    """What followers of `feed` were shown becomes their own entries."""
    rows = conn.execute(
        """
        SELECT f.owner, x.message, x.with_resource, x.ts
        FROM archive_feeds f JOIN archive_entries x
            ON x.owner = f.feed AND x.seq >= f.from_seq
            AND x.seq < coalesce(f.to_seq, ?)
        WHERE f.feed = ?
        ORDER BY x.seq
        """,
        (NO_END, feed),
    ).fetchall()
    conn.executemany(
        _INSERT_ENTRY,
        [
            (new_id(), owner, message, feed, resource, str(Direction.IN), ts)
            for owner, message, resource, ts in rows
        ],
    )
    _counted(conn, Counter(str(row[0]) for row in rows))


def _insert_entries(
    conn: sqlite3.Connection, message: int, entries: Sequence[NewEntry], ids: tuple[str, ...]
) -> None:
    rows = [
        (entry_id, e.owner, message, e.with_jid, e.with_resource, str(e.direction), e.timestamp)
        for entry_id, e in zip(ids, entries, strict=True)
    ]
    if len(rows) == 1:  # the common case (a channel message), without executemany's setup
        conn.execute(_INSERT_ENTRY, rows[0])
        conn.execute(_COUNT_ENTRIES, (entries[0].owner, 1))
        return
    conn.executemany(_INSERT_ENTRY, rows)
    _counted(conn, Counter(e.owner for e in entries))


_COUNT_ENTRIES = """
    INSERT INTO archive_counts (owner, entries) VALUES (?, ?)
    ON CONFLICT (owner) DO UPDATE SET entries = entries + excluded.entries
"""


def _counted(conn: sqlite3.Connection, added: Counter[str]) -> None:
    conn.executemany(_COUNT_ENTRIES, added.items())


def _jids(text: str) -> tuple[str, ...]:
    value = json.loads(text)
    return tuple(str(v) for v in value)
