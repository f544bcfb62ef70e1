"""ArchiveStore on SQLite (schema: migration 3).

Every value reaches SQL as a parameter; the only text assembled at run time
is a fixed set of conditions and one `?` per requested id, so filter input
(JIDs, ids, SQL metacharacters, LIKE wildcards) cannot change a statement.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from mixd.storage.contracts.archive import (
    ArchiveItem,
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
from mixd.storage.sqlite.database import SQLiteDatabase

_INSERT_MESSAGE = """
    INSERT INTO messages (id, xml, ts, sender, type, origin_id) VALUES (?, ?, ?, ?, ?, ?)
"""
_INSERT_ENTRY = """
    INSERT INTO archive_entries (id, owner, message, with_jid, with_resource, direction, ts)
    VALUES (?, ?, ?, ?, ?, ?, ?)
"""
_ITEM_COLUMNS = """
    SELECT e.id, e.ts, e.seq, e.with_jid, e.with_resource, e.direction, m.id, m.xml
    FROM archive_entries e JOIN messages m ON m.seq = e.message
"""
_ASC = " ORDER BY e.ts, e.seq"
_DESC = " ORDER BY e.ts DESC, e.seq DESC"

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
            seq = conn.execute(_INSERT_MESSAGE, row).lastrowid
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
        return await self._db.run(lambda conn: _query(conn, query))

    async def bounds(self, owner: str) -> Bounds:
        def job(conn: sqlite3.Connection) -> Bounds:
            ends = []
            for order in (_ASC, _DESC):
                sql = _ITEM_COLUMNS + " WHERE e.owner = ?" + order + " LIMIT 1"
                row = conn.execute(sql, (owner,)).fetchone()
                ends.append(None if row is None else _item(row))
            return Bounds(ends[0], ends[1])

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

    async def delete_owner(self, owner: str) -> int:
        def job(conn: sqlite3.Connection) -> int:
            messages = conn.execute(
                "SELECT DISTINCT message FROM archive_entries WHERE owner = ?", (owner,)
            ).fetchall()
            removed = conn.execute("DELETE FROM archive_entries WHERE owner = ?", (owner,))
            conn.executemany(
                "DELETE FROM messages WHERE seq = ?1"
                " AND NOT EXISTS (SELECT 1 FROM archive_entries WHERE message = ?1)",
                messages,
            )
            conn.execute("DELETE FROM archive_prefs WHERE owner = ?", (owner,))
            return removed.rowcount

        return await self._db.run(job)


def _insert_entries(
    conn: sqlite3.Connection, message: int, entries: Sequence[NewEntry], ids: tuple[str, ...]
) -> None:
    conn.executemany(
        _INSERT_ENTRY,
        [
            (
                entry_id,
                e.owner,
                message,
                e.with_jid,
                e.with_resource,
                str(e.direction),
                e.timestamp,
            )
            for entry_id, e in zip(ids, entries, strict=True)
        ],
    )


def _count(conn: sqlite3.Connection, condition: str, params: Sequence[Any]) -> int:
    row = conn.execute("SELECT COUNT(*) FROM archive_entries e" + condition, params).fetchone()
    return int(row[0])


def _query(conn: sqlite3.Connection, q: ArchiveQuery) -> ArchivePage:
    def position(item_id: str) -> tuple[int, int]:
        row = conn.execute(
            "SELECT ts, seq FROM archive_entries WHERE id = ? AND owner = ?", (item_id, q.owner)
        ).fetchone()
        if row is None:
            raise ArchiveItemNotFound(item_id)
        return int(row[0]), int(row[1])

    # The full result set: these conditions, ANDed.
    where = ["e.owner = ?"]
    params: list[Any] = [q.owner]
    for column, value in (
        ("e.with_jid = ?", q.with_jid),
        ("e.with_resource = ?", q.with_resource),
        ("e.ts >= ?", q.start),
        ("e.ts <= ?", q.end),
    ):
        if value is not None:
            where.append(column)
            params.append(value)
    for condition, item_id in (("> (?, ?)", q.after_id), ("< (?, ?)", q.before_id)):
        if item_id is not None:
            where.append("(e.ts, e.seq) " + condition)
            params.extend(position(item_id))
    if q.ids:
        for item_id in q.ids:
            position(item_id)
        where.append(f"e.id IN ({', '.join('?' * len(q.ids))})")
        params.extend(q.ids)
    full = " WHERE " + " AND ".join(where)
    count = _count(conn, full, params)

    # The page within it: after a cursor, from an index, or before a cursor / the end.
    page, page_params, cursor = full, list(params), None
    if q.from_end and q.before:
        cursor = position(q.before)
        page += " AND (e.ts, e.seq) < (?, ?)"
    elif not q.from_end and q.after is not None:
        cursor = position(q.after)
        page += " AND (e.ts, e.seq) > (?, ?)"
    if cursor is not None:
        page_params.extend(cursor)
    offset = 0 if q.from_end or cursor is not None else (q.index or 0)
    sql = _ITEM_COLUMNS + page + (_DESC if q.from_end else _ASC) + " LIMIT ? OFFSET ?"
    rows = conn.execute(sql, [*page_params, q.limit + 1, offset]).fetchall()
    complete = len(rows) <= q.limit
    rows = rows[: q.limit]
    if q.from_end:
        rows.reverse()
    first_index: int | None = None
    if rows and cursor is None:
        first_index = count - len(rows) if q.from_end else offset
    elif rows:
        before_first = full + " AND (e.ts, e.seq) < (?, ?)"
        first_index = _count(conn, before_first, [*params, rows[0][1], rows[0][2]])
    return ArchivePage(tuple(_item(row) for row in rows), count, first_index, complete)


def _item(row: Row) -> ArchiveItem:
    entry_id, ts, _seq, with_jid, with_resource, direction, message_id, xml = row
    return ArchiveItem(
        str(entry_id),
        str(message_id),
        int(ts),
        str(with_jid),
        None if with_resource is None else str(with_resource),
        Direction(direction),
        str(xml),
    )


def _jids(text: str) -> tuple[str, ...]:
    value = json.loads(text)
    return tuple(str(v) for v in value)
