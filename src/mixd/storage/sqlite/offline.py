"""OfflineStore on SQLite (schema: migration 4)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from mixd.storage.contracts.offline import OfflineMessage
from mixd.storage.sqlite.database import SQLiteDatabase


class SQLiteOfflineStore:
    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db

    async def push(self, owner: str, stanza: str, stamp: datetime, limit: int) -> bool:
        def push(conn: sqlite3.Connection) -> bool:
            (waiting,) = conn.execute(
                "SELECT COUNT(*) FROM offline_messages WHERE owner = ?", (owner,)
            ).fetchone()
            if waiting >= limit:
                return False
            conn.execute(
                "INSERT INTO offline_messages (owner, stanza, stamp) VALUES (?, ?, ?)",
                (owner, stanza, stamp.isoformat()),
            )
            return True

        return await self._db.run(push)

    async def fetch(self, owner: str, limit: int) -> list[OfflineMessage]:
        def fetch(conn: sqlite3.Connection) -> list[OfflineMessage]:
            rows = conn.execute(
                "SELECT id, stanza, stamp FROM offline_messages WHERE owner = ?"
                " ORDER BY id LIMIT ?",
                (owner, limit),
            ).fetchall()
            return [
                OfflineMessage(row[0], owner, row[1], datetime.fromisoformat(row[2]))
                for row in rows
            ]

        return await self._db.run(fetch)

    async def delete(self, owner: str, ids: Sequence[int]) -> None:
        params = [(owner, message_id) for message_id in ids]

        def delete(conn: sqlite3.Connection) -> None:
            conn.executemany("DELETE FROM offline_messages WHERE owner = ? AND id = ?", params)

        await self._db.run(delete)

    async def count(self, owner: str) -> int:
        def count(conn: sqlite3.Connection) -> int:
            (n,) = conn.execute(
                "SELECT COUNT(*) FROM offline_messages WHERE owner = ?", (owner,)
            ).fetchone()
            return int(n)

        return await self._db.run(count)
