"""BlocklistStore on SQLite (schema: migration 10). Each change is one job
on the writer thread, so the size check and the insert cannot interleave
with another change of the same list."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from mixd.storage.contracts.blocklist import BlocklistChange, unique
from mixd.storage.errors import AccountNotFound
from mixd.storage.sqlite.database import SQLiteDatabase

_SELECT = "SELECT jid FROM blocklist WHERE host = ? AND username = ? ORDER BY jid"


def _items(conn: sqlite3.Connection, host: str, username: str) -> tuple[str, ...]:
    return tuple(str(row[0]) for row in conn.execute(_SELECT, (host, username)))


class SQLiteBlocklistStore:
    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db

    async def blocklist(self, host: str, username: str) -> tuple[str, ...]:
        return await self._db.run(lambda conn: _items(conn, host, username))

    async def owners(self) -> list[tuple[str, str]]:
        def job(conn: sqlite3.Connection) -> list[tuple[str, str]]:
            rows = conn.execute(
                "SELECT DISTINCT host, username FROM blocklist ORDER BY host, username"
            )
            return [(str(host), str(user)) for host, user in rows]

        return await self._db.run(job)

    async def block(
        self, host: str, username: str, jids: Sequence[str], limit: int
    ) -> BlocklistChange | None:
        def job(conn: sqlite3.Connection) -> BlocklistChange | None:
            exists = conn.execute(
                "SELECT 1 FROM accounts WHERE host = ? AND username = ?", (host, username)
            ).fetchone()
            if exists is None:
                raise AccountNotFound(f"no account {username}@{host}")
            current = set(_items(conn, host, username))
            added = [jid for jid in unique(jids) if jid not in current]
            if len(current) + len(added) > limit:
                return None
            conn.executemany(
                "INSERT INTO blocklist (host, username, jid) VALUES (?, ?, ?)",
                [(host, username, jid) for jid in added],
            )
            return BlocklistChange(tuple(added), tuple(sorted(current.union(added))))

        return await self._db.run(job)

    async def unblock(self, host: str, username: str, jids: Sequence[str]) -> BlocklistChange:
        def job(conn: sqlite3.Connection) -> BlocklistChange:
            current = set(_items(conn, host, username))
            removed = [jid for jid in unique(jids) if jid in current]
            conn.executemany(
                "DELETE FROM blocklist WHERE host = ? AND username = ? AND jid = ?",
                [(host, username, jid) for jid in removed],
            )
            return BlocklistChange(tuple(removed), tuple(sorted(current.difference(removed))))

        return await self._db.run(job)

    async def unblock_all(self, host: str, username: str) -> BlocklistChange:
        def job(conn: sqlite3.Connection) -> BlocklistChange:
            removed = _items(conn, host, username)
            conn.execute("DELETE FROM blocklist WHERE host = ? AND username = ?", (host, username))
            return BlocklistChange(removed, ())

        return await self._db.run(job)
