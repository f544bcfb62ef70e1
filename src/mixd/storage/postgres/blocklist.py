"""BlocklistStore on PostgreSQL (schema: migration 10). A change locks the
account's row first, so the size check and the insert of two concurrent
changes of one list cannot interleave."""

from __future__ import annotations

from collections.abc import Sequence

from mixd.storage.contracts.blocklist import BlocklistChange, unique
from mixd.storage.postgres.accounts import account_exists, require_account
from mixd.storage.postgres.database import Connection, PostgresDatabase

_SELECT = "SELECT jid FROM blocklist WHERE host = $1 AND username = $2 ORDER BY jid"


async def _items(conn: Connection, host: str, username: str) -> tuple[str, ...]:
    return tuple(str(row[0]) for row in await conn.fetch(_SELECT, host, username))


class PostgresBlocklistStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def blocklist(self, host: str, username: str) -> tuple[str, ...]:
        async def job(conn: Connection) -> tuple[str, ...]:
            return await _items(conn, host, username)

        return await self._db.run(job, read_only=True)

    async def owners(self) -> list[tuple[str, str]]:
        async def job(conn: Connection) -> list[tuple[str, str]]:
            rows = await conn.fetch(
                "SELECT DISTINCT host, username FROM blocklist ORDER BY host, username"
            )
            return [(str(row[0]), str(row[1])) for row in rows]

        return await self._db.run(job, read_only=True)

    async def block(
        self, host: str, username: str, jids: Sequence[str], limit: int
    ) -> BlocklistChange | None:
        async def job(conn: Connection) -> BlocklistChange | None:
            await require_account(conn, host, username)
            current = set(await _items(conn, host, username))
            added = [jid for jid in unique(jids) if jid not in current]
            if len(current) + len(added) > limit:
                return None
            await conn.executemany(
                "INSERT INTO blocklist (host, username, jid) VALUES ($1, $2, $3)",
                [(host, username, jid) for jid in added],
            )
            return BlocklistChange(tuple(added), tuple(sorted(current.union(added))))

        return await self._db.run(job)

    async def unblock(self, host: str, username: str, jids: Sequence[str]) -> BlocklistChange:
        async def job(conn: Connection) -> BlocklistChange:
            await account_exists(conn, host, username, lock=True)
            current = set(await _items(conn, host, username))
            removed = [jid for jid in unique(jids) if jid in current]
            await conn.execute(
                "DELETE FROM blocklist WHERE host = $1 AND username = $2 AND jid = ANY($3::text[])",
                host,
                username,
                removed,
            )
            return BlocklistChange(tuple(removed), tuple(sorted(current.difference(removed))))

        return await self._db.run(job)

    async def unblock_all(self, host: str, username: str) -> BlocklistChange:
        async def job(conn: Connection) -> BlocklistChange:
            rows = await conn.fetch(
                "DELETE FROM blocklist WHERE host = $1 AND username = $2 RETURNING jid",
                host,
                username,
            )
            return BlocklistChange(tuple(sorted(str(row[0]) for row in rows)), ())

        return await self._db.run(job)
