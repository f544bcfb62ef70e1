"""OfflineStore on PostgreSQL (schema: migration 4)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from mixd.storage.contracts.offline import OfflineMessage
from mixd.storage.postgres.database import Connection, PostgresDatabase

# Serializes pushes to one queue so two at once cannot both pass the limit;
# the key is derived from the owner (advisory locks end with the transaction).
_LOCK_QUEUE = "SELECT pg_advisory_xact_lock(hashtextextended('offline:' || $1, 0))"


class PostgresOfflineStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def push(self, owner: str, stanza: str, stamp: datetime, limit: int) -> bool:
        async def push(conn: Connection) -> bool:
            await conn.execute(_LOCK_QUEUE, owner)
            waiting = await conn.fetchval(
                "SELECT COUNT(*) FROM offline_messages WHERE owner = $1", owner
            )
            if waiting >= limit:
                return False
            await conn.execute(
                "INSERT INTO offline_messages (owner, stanza, stamp) VALUES ($1, $2, $3)",
                owner,
                stanza,
                stamp,
            )
            return True

        return await self._db.run(push)

    async def fetch(self, owner: str, limit: int) -> list[OfflineMessage]:
        async def fetch(conn: Connection) -> list[OfflineMessage]:
            rows = await conn.fetch(
                "SELECT id, stanza, stamp FROM offline_messages WHERE owner = $1"
                " ORDER BY id LIMIT $2",
                owner,
                limit,
            )
            return [
                OfflineMessage(int(row["id"]), owner, str(row["stanza"]), row["stamp"])
                for row in rows
            ]

        return await self._db.run(fetch, read_only=True)

    async def delete(self, owner: str, ids: Sequence[int]) -> None:
        id_list = list(ids)

        async def delete(conn: Connection) -> None:
            await conn.execute(
                "DELETE FROM offline_messages WHERE owner = $1 AND id = ANY($2::bigint[])",
                owner,
                id_list,
            )

        await self._db.run(delete)

    async def count(self, owner: str) -> int:
        async def count(conn: Connection) -> int:
            n = await conn.fetchval("SELECT COUNT(*) FROM offline_messages WHERE owner = $1", owner)
            return int(n)

        return await self._db.run(count, read_only=True)
