"""MixMiscStore on PostgreSQL (schema: migration 11)."""

from __future__ import annotations

from asyncpg import exceptions as pgerrors

from mixd.storage.contracts.mix_misc import ChannelNotFound, NickTaken, NodeItem, RegisteredNick
from mixd.storage.postgres.database import Connection, PostgresDatabase

# Beyond the `keep` most recently updated items of one node.
_TRIM = """
    DELETE FROM mix_node_items WHERE channel = $1 AND node = $2 AND id NOT IN (
        SELECT id FROM mix_node_items WHERE channel = $1 AND node = $2
        ORDER BY updated DESC, id DESC LIMIT $3)
"""


class PostgresMixMiscStore:
    """Avatar node items in `mix_node_items`, nicks in `mix_registered_nicks`."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def node_items(self, channel: str, node: str) -> list[NodeItem]:
        async def job(conn: Connection) -> list[NodeItem]:
            rows = await conn.fetch(
                "SELECT id, xml, updated FROM mix_node_items WHERE channel = $1 AND node = $2"
                " ORDER BY updated, id",
                channel,
                node,
            )
            return [NodeItem(r["id"], r["xml"], int(r["updated"])) for r in rows]

        return await self._db.run(job, read_only=True)

    async def publish_item(self, channel: str, node: str, item: NodeItem, keep: int) -> None:
        async def job(conn: Connection) -> None:
            # The channel row is locked so a destroy cannot slip in between.
            found = await conn.fetchval(
                "SELECT 1 FROM mix_channels WHERE jid = $1 FOR SHARE", channel
            )
            if found is None:
                raise ChannelNotFound(f"no channel {channel}")
            await conn.execute(
                "INSERT INTO mix_node_items (channel, node, id, xml, updated)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (channel, node, id)"
                " DO UPDATE SET xml = excluded.xml, updated = excluded.updated",
                channel,
                node,
                item.id,
                item.xml,
                item.updated,
            )
            await conn.execute(_TRIM, channel, node, keep)

        await self._db.run(job)

    async def retract_item(self, channel: str, node: str, item_id: str) -> bool:
        async def job(conn: Connection) -> bool:
            removed = await conn.fetchval(
                "DELETE FROM mix_node_items WHERE channel = $1 AND node = $2 AND id = $3"
                " RETURNING true",
                channel,
                node,
                item_id,
            )
            return bool(removed)

        return await self._db.run(job)

    async def drop_channel(self, channel: str) -> None:
        async def job(conn: Connection) -> None:
            await conn.execute("DELETE FROM mix_node_items WHERE channel = $1", channel)

        await self._db.run(job)

    async def registered_nick(self, service: str, user: str) -> RegisteredNick | None:
        async def job(conn: Connection) -> RegisteredNick | None:
            row = await conn.fetchrow(
                "SELECT nick, nick_key FROM mix_registered_nicks WHERE service = $1 AND jid = $2",
                service,
                user,
            )
            return None if row is None else RegisteredNick(service, user, row[0], row[1])

        return await self._db.run(job, read_only=True)

    async def nick_holder(self, service: str, key: str) -> str | None:
        async def job(conn: Connection) -> str | None:
            holder = await conn.fetchval(
                "SELECT jid FROM mix_registered_nicks WHERE service = $1 AND nick_key = $2",
                service,
                key,
            )
            return None if holder is None else str(holder)

        return await self._db.run(job, read_only=True)

    async def register_nick(self, nick: RegisteredNick) -> None:
        async def job(conn: Connection) -> None:
            holder = await conn.fetchval(
                "SELECT jid FROM mix_registered_nicks WHERE service = $1 AND nick_key = $2",
                nick.service,
                nick.key,
            )
            if holder is not None and holder != nick.user:
                raise NickTaken(nick.nick)
            await conn.execute(
                "INSERT INTO mix_registered_nicks (service, jid, nick, nick_key)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (service, jid)"
                " DO UPDATE SET nick = excluded.nick, nick_key = excluded.nick_key",
                nick.service,
                nick.user,
                nick.nick,
                nick.key,
            )

        try:
            await self._db.run(job)
        except pgerrors.UniqueViolationError:
            # Registered by another user at the same moment.
            raise NickTaken(nick.nick) from None

    async def unregister_nick(self, service: str, user: str) -> bool:
        async def job(conn: Connection) -> bool:
            removed = await conn.fetchval(
                "DELETE FROM mix_registered_nicks WHERE service = $1 AND jid = $2 RETURNING true",
                service,
                user,
            )
            return bool(removed)

        return await self._db.run(job)

    async def channels_of(self, service: str, user: str) -> list[str]:
        async def job(conn: Connection) -> list[str]:
            rows = await conn.fetch(
                "SELECT p.channel FROM mix_participants p JOIN mix_channels c ON c.jid = p.channel"
                " WHERE p.jid = $1 AND c.service = $2 ORDER BY p.channel",
                user,
                service,
            )
            return [str(row["channel"]) for row in rows]

        return await self._db.run(job, read_only=True)
