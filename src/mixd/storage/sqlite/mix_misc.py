"""MixMiscStore on SQLite (schema: migration 11)."""

from __future__ import annotations

import sqlite3

from mixd.storage.contracts.mix_misc import ChannelNotFound, NickTaken, NodeItem, RegisteredNick
from mixd.storage.sqlite.database import SQLiteDatabase

# Beyond the `keep` most recently updated items of one node.
_TRIM = """
    DELETE FROM mix_node_items WHERE channel = ?1 AND node = ?2 AND id NOT IN (
        SELECT id FROM mix_node_items WHERE channel = ?1 AND node = ?2
        ORDER BY updated DESC, id DESC LIMIT ?3)
"""


class SQLiteMixMiscStore:
    """Avatar node items in `mix_node_items`, nicks in `mix_registered_nicks`."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db

    async def node_items(self, channel: str, node: str) -> list[NodeItem]:
        def job(conn: sqlite3.Connection) -> list[NodeItem]:
            rows = conn.execute(
                "SELECT id, xml, updated FROM mix_node_items WHERE channel = ? AND node = ?"
                " ORDER BY updated, id",
                (channel, node),
            ).fetchall()
            return [NodeItem(str(r[0]), str(r[1]), int(r[2])) for r in rows]

        return await self._db.run(job)

    async def publish_item(self, channel: str, node: str, item: NodeItem, keep: int) -> None:
        def job(conn: sqlite3.Connection) -> None:
            exists = conn.execute("SELECT 1 FROM mix_channels WHERE jid = ?", (channel,))
            if exists.fetchone() is None:
                raise ChannelNotFound(f"no channel {channel}")
            conn.execute(
                "INSERT INTO mix_node_items (channel, node, id, xml, updated)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel, node, id)"
                " DO UPDATE SET xml = excluded.xml, updated = excluded.updated",
                (channel, node, item.id, item.xml, item.updated),
            )
            conn.execute(_TRIM, (channel, node, keep))

        await self._db.run(job)

    async def retract_item(self, channel: str, node: str, item_id: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            removed = conn.execute(
                "DELETE FROM mix_node_items WHERE channel = ? AND node = ? AND id = ?",
                (channel, node, item_id),
            )
            return removed.rowcount > 0

        return await self._db.run(job)

    async def drop_channel(self, channel: str) -> None:
        await self._db.run(
            lambda conn: conn.execute("DELETE FROM mix_node_items WHERE channel = ?", (channel,))
        )

    async def registered_nick(self, service: str, user: str) -> RegisteredNick | None:
        def job(conn: sqlite3.Connection) -> RegisteredNick | None:
            row = conn.execute(
                "SELECT nick, nick_key FROM mix_registered_nicks WHERE service = ? AND jid = ?",
                (service, user),
            ).fetchone()
            return None if row is None else RegisteredNick(service, user, row[0], row[1])

        return await self._db.run(job)

    async def nick_holder(self, service: str, key: str) -> str | None:
        def job(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT jid FROM mix_registered_nicks WHERE service = ? AND nick_key = ?",
                (service, key),
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._db.run(job)

    async def register_nick(self, nick: RegisteredNick) -> None:
        def job(conn: sqlite3.Connection) -> None:
            holder = conn.execute(
                "SELECT jid FROM mix_registered_nicks WHERE service = ? AND nick_key = ?",
                (nick.service, nick.key),
            ).fetchone()
            if holder is not None and holder[0] != nick.user:
                raise NickTaken(nick.nick)
            conn.execute(
                "INSERT INTO mix_registered_nicks (service, jid, nick, nick_key)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (service, jid)"
                " DO UPDATE SET nick = excluded.nick, nick_key = excluded.nick_key",
                (nick.service, nick.user, nick.nick, nick.key),
            )

        await self._db.run(job)

    async def unregister_nick(self, service: str, user: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            removed = conn.execute(
                "DELETE FROM mix_registered_nicks WHERE service = ? AND jid = ?", (service, user)
            )
            return removed.rowcount > 0

        return await self._db.run(job)

    async def channels_of(self, service: str, user: str) -> list[str]:
        def job(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT p.channel FROM mix_participants p JOIN mix_channels c ON c.jid = p.channel"
                " WHERE p.jid = ? AND c.service = ? ORDER BY p.channel",
                (user, service),
            ).fetchall()
            return [str(row[0]) for row in rows]

        return await self._db.run(job)
