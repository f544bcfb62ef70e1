"""PepStore on PostgreSQL (schema: migration 5).

A write is one transaction that first locks the account's row, so writes to
one account's nodes are serialized: a publish reads the node's configuration,
runs the caller's check, creates the node if needed, replaces or inserts the
item and drops the oldest beyond the limit without another writer between.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from mixd.storage.contracts.pep import (
    MAX_NODES,
    AccessModel,
    ConfigChange,
    LastItem,
    NodeConfig,
    NodeExists,
    NodeItems,
    NodeLimitReached,
    PepItem,
    PepNode,
    PublishCheck,
    Published,
    SendLast,
)
from mixd.storage.postgres.accounts import require_account
from mixd.storage.postgres.database import Connection, PostgresDatabase

_CONFIG = "access_model, max_items, persist_items, send_last, roster_groups"
_ITEM = "item_id, payload, published, publisher"

# The newest item of each node of the given owners (two parallel arrays).
_LAST_ITEMS = """
    SELECT * FROM (
        SELECT DISTINCT ON (n.id) n.host, n.username, n.node,
            n.access_model, n.max_items, n.persist_items, n.send_last, n.roster_groups,
            i.item_id, i.payload, i.published, i.publisher
        FROM pep_nodes n JOIN pep_items i ON i.node_id = n.id
        WHERE (n.host, n.username) IN (SELECT * FROM unnest($1::text[], $2::text[]))
        ORDER BY n.id, i.seq DESC
    ) newest
    ORDER BY host, username, node
"""


class PostgresPepStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def nodes(self, host: str, username: str) -> list[PepNode]:
        async def job(conn: Connection) -> list[PepNode]:
            rows = await conn.fetch(
                f"SELECT node, {_CONFIG} FROM pep_nodes WHERE host = $1 AND username = $2"
                " ORDER BY node",
                host,
                username,
            )
            return [PepNode(row["node"], _config(row)) for row in rows]

        return await self._db.run(job, read_only=True)

    async def node(self, host: str, username: str, node: str) -> PepNode | None:
        async def job(conn: Connection) -> PepNode | None:
            found = await _node(conn, host, username, node)
            return None if found is None else PepNode(node, found[1])

        return await self._db.run(job, read_only=True)

    async def create(self, host: str, username: str, node: str, config: NodeConfig) -> None:
        async def job(conn: Connection) -> None:
            await require_account(conn, host, username)
            if await _node(conn, host, username, node) is not None:
                raise NodeExists(node)
            await _insert_node(conn, host, username, node, config)

        await self._db.run(job)

    async def publish(
        self, host: str, username: str, node: str, item: PepItem, check: PublishCheck
    ) -> Published:
        async def job(conn: Connection) -> Published:
            await require_account(conn, host, username)
            found = await _node(conn, host, username, node)
            config = check(None if found is None else found[1])
            if found is None:
                node_id = await _insert_node(conn, host, username, node, config)
            else:
                node_id = found[0]
                if config != found[1]:
                    await _update_config(conn, node_id, config)
            await conn.execute(
                "DELETE FROM pep_items WHERE node_id = $1 AND item_id = $2", node_id, item.id
            )
            await conn.execute(
                f"INSERT INTO pep_items (node_id, {_ITEM}) VALUES ($1, $2, $3, $4, $5)",
                node_id,
                item.id,
                item.payload,
                item.published,
                item.publisher,
            )
            await _trim(conn, node_id, config.item_limit)
            return Published(config, found is None)

        return await self._db.run(job)

    async def retract(self, host: str, username: str, node: str, ids: Sequence[str]) -> list[str]:
        wanted = list(dict.fromkeys(ids))

        async def job(conn: Connection) -> list[str]:
            await require_account(conn, host, username)
            found = await _node(conn, host, username, node)
            if found is None:
                return []
            rows = await conn.fetch(
                "DELETE FROM pep_items WHERE node_id = $1 AND item_id = ANY($2::text[])"
                " RETURNING item_id",
                found[0],
                wanted,
            )
            removed = {row["item_id"] for row in rows}
            return [item_id for item_id in wanted if item_id in removed]

        return await self._db.run(job)

    async def items(
        self, host: str, username: str, node: str, ids: Sequence[str] = (), last: int | None = None
    ) -> NodeItems | None:
        async def job(conn: Connection) -> NodeItems | None:
            found = await _node(conn, host, username, node)
            if found is None:
                return None
            node_id, config = found
            if ids:
                rows = await conn.fetch(
                    f"SELECT {_ITEM} FROM pep_items"
                    " WHERE node_id = $1 AND item_id = ANY($2::text[]) ORDER BY seq",
                    node_id,
                    list(ids),
                )
            else:
                # LIMIT NULL is no limit.
                newest = await conn.fetch(
                    f"SELECT {_ITEM} FROM pep_items WHERE node_id = $1 ORDER BY seq DESC LIMIT $2",
                    node_id,
                    None if last is None else max(last, 0),
                )
                rows = newest[::-1]
            return NodeItems(PepNode(node, config), tuple(_item(row) for row in rows))

        return await self._db.run(job, read_only=True)

    async def configure(
        self, host: str, username: str, node: str, change: ConfigChange
    ) -> NodeConfig | None:
        async def job(conn: Connection) -> NodeConfig | None:
            await require_account(conn, host, username)
            found = await _node(conn, host, username, node)
            if found is None:
                return None
            node_id, old = found
            new = change(old)
            if new != old:
                await _update_config(conn, node_id, new)
                await _trim(conn, node_id, new.item_limit)
            return new

        return await self._db.run(job)

    async def delete(self, host: str, username: str, node: str) -> bool:
        async def job(conn: Connection) -> bool:
            await require_account(conn, host, username)
            deleted = await conn.fetchval(
                "DELETE FROM pep_nodes WHERE host = $1 AND username = $2 AND node = $3"
                " RETURNING true",
                host,
                username,
                node,
            )
            return bool(deleted)

        return await self._db.run(job)

    async def last_items(self, owners: Sequence[tuple[str, str]]) -> list[LastItem]:
        unique = list(dict.fromkeys(owners))
        hosts = [host for host, _ in unique]
        usernames = [username for _, username in unique]

        async def job(conn: Connection) -> list[LastItem]:
            rows = await conn.fetch(_LAST_ITEMS, hosts, usernames)
            return [
                LastItem(
                    row["host"], row["username"], PepNode(row["node"], _config(row)), _item(row)
                )
                for row in rows
            ]

        if not unique:
            return []
        return await self._db.run(job, read_only=True)

    async def vcard(self, host: str, username: str) -> str | None:
        async def job(conn: Connection) -> str | None:
            vcard = await conn.fetchval(
                "SELECT vcard FROM vcards WHERE host = $1 AND username = $2", host, username
            )
            return None if vcard is None else str(vcard)

        return await self._db.run(job, read_only=True)

    async def set_vcard(self, host: str, username: str, vcard: str) -> None:
        async def job(conn: Connection) -> None:
            await require_account(conn, host, username)
            await conn.execute(
                "INSERT INTO vcards (host, username, vcard) VALUES ($1, $2, $3)"
                " ON CONFLICT (host, username) DO UPDATE SET vcard = excluded.vcard",
                host,
                username,
                vcard,
            )

        await self._db.run(job)


async def _node(
    conn: Connection, host: str, username: str, node: str
) -> tuple[int, NodeConfig] | None:
    row = await conn.fetchrow(
        f"SELECT id, {_CONFIG} FROM pep_nodes WHERE host = $1 AND username = $2 AND node = $3",
        host,
        username,
        node,
    )
    return None if row is None else (int(row["id"]), _config(row))


async def _insert_node(
    conn: Connection, host: str, username: str, node: str, config: NodeConfig
) -> int:
    count = await conn.fetchval(
        "SELECT COUNT(*) FROM pep_nodes WHERE host = $1 AND username = $2", host, username
    )
    if count >= MAX_NODES:
        raise NodeLimitReached(f"at most {MAX_NODES} nodes")
    node_id = await conn.fetchval(
        f"INSERT INTO pep_nodes (host, username, node, {_CONFIG})"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        host,
        username,
        node,
        *_config_values(config),
    )
    return int(node_id)


async def _update_config(conn: Connection, node_id: int, config: NodeConfig) -> None:
    await conn.execute(
        "UPDATE pep_nodes SET access_model = $1, max_items = $2, persist_items = $3,"
        " send_last = $4, roster_groups = $5 WHERE id = $6",
        *_config_values(config),
        node_id,
    )


async def _trim(conn: Connection, node_id: int, keep: int) -> None:
    await conn.execute(
        "DELETE FROM pep_items WHERE node_id = $1 AND seq NOT IN"
        " (SELECT seq FROM pep_items WHERE node_id = $1 ORDER BY seq DESC LIMIT $2)",
        node_id,
        keep,
    )


def _config_values(config: NodeConfig) -> tuple[object, ...]:
    return (
        str(config.access_model),
        config.max_items,
        config.persist_items,
        str(config.send_last),
        list(config.roster_groups),
    )


def _config(row: asyncpg.Record) -> NodeConfig:
    return NodeConfig(
        access_model=AccessModel(row["access_model"]),
        max_items=row["max_items"],
        persist_items=bool(row["persist_items"]),
        send_last=SendLast(row["send_last"]),
        roster_groups=tuple(str(g) for g in row["roster_groups"]),
    )


def _item(row: asyncpg.Record) -> PepItem:
    return PepItem(
        str(row["item_id"]), str(row["payload"]), row["published"], str(row["publisher"])
    )
