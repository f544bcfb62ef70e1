"""PepStore on SQLite (schema: migration 5).

A publish is one job on the writer thread: read the node's configuration,
run the caller's check, create the node if needed, replace or insert the item
and drop the oldest beyond the limit, all in one transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime

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
from mixd.storage.errors import AccountNotFound
from mixd.storage.sqlite.database import SQLiteDatabase

_CONFIG = "access_model, max_items, persist_items, send_last, roster_groups"
_ITEM = "item_id, payload, published, publisher"
_OWNERS_PER_QUERY = 400  # (host, username) pairs: two parameters each


class SQLitePepStore:
    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db

    async def nodes(self, host: str, username: str) -> list[PepNode]:
        def job(conn: sqlite3.Connection) -> list[PepNode]:
            rows = conn.execute(
                f"SELECT node, {_CONFIG} FROM pep_nodes WHERE host = ? AND username = ?"
                " ORDER BY node",
                (host, username),
            ).fetchall()
            return [PepNode(row[0], _config(row[1:])) for row in rows]

        return await self._db.run(job)

    async def node(self, host: str, username: str, node: str) -> PepNode | None:
        def job(conn: sqlite3.Connection) -> PepNode | None:
            found = _node(conn, host, username, node)
            return None if found is None else PepNode(node, found[1])

        return await self._db.run(job)

    async def create(self, host: str, username: str, node: str, config: NodeConfig) -> None:
        def job(conn: sqlite3.Connection) -> None:
            _require_account(conn, host, username)
            if _node(conn, host, username, node) is not None:
                raise NodeExists(node)
            _insert_node(conn, host, username, node, config)

        await self._db.run(job)

    async def publish(
        self, host: str, username: str, node: str, item: PepItem, check: PublishCheck
    ) -> Published:
        def job(conn: sqlite3.Connection) -> Published:
            _require_account(conn, host, username)
            found = _node(conn, host, username, node)
            config = check(None if found is None else found[1])
            if found is None:
                node_id = _insert_node(conn, host, username, node, config)
            else:
                node_id = found[0]
                if config != found[1]:
                    _update_config(conn, node_id, config)
            conn.execute(
                "DELETE FROM pep_items WHERE node_id = ? AND item_id = ?", (node_id, item.id)
            )
            conn.execute(
                f"INSERT INTO pep_items (node_id, {_ITEM}) VALUES (?, ?, ?, ?, ?)",
                (node_id, item.id, item.payload, item.published.isoformat(), item.publisher),
            )
            _trim(conn, node_id, config.item_limit)
            return Published(config, found is None)

        return await self._db.run(job)

    async def retract(self, host: str, username: str, node: str, ids: Sequence[str]) -> list[str]:
        def job(conn: sqlite3.Connection) -> list[str]:
            _require_account(conn, host, username)
            found = _node(conn, host, username, node)
            if found is None:
                return []
            removed = []
            for item_id in dict.fromkeys(ids):
                cursor = conn.execute(
                    "DELETE FROM pep_items WHERE node_id = ? AND item_id = ?", (found[0], item_id)
                )
                if cursor.rowcount:
                    removed.append(item_id)
            return removed

        return await self._db.run(job)

    async def items(
        self, host: str, username: str, node: str, ids: Sequence[str] = (), last: int | None = None
    ) -> NodeItems | None:
        def job(conn: sqlite3.Connection) -> NodeItems | None:
            found = _node(conn, host, username, node)
            if found is None:
                return None
            node_id, config = found
            if ids:
                marks = ", ".join("?" * len(ids))
                rows = conn.execute(
                    f"SELECT {_ITEM} FROM pep_items WHERE node_id = ? AND item_id IN ({marks})"
                    " ORDER BY seq",
                    (node_id, *ids),
                ).fetchall()
            else:
                limit = -1 if last is None else max(last, 0)
                rows = conn.execute(
                    f"SELECT {_ITEM} FROM pep_items WHERE node_id = ? ORDER BY seq DESC LIMIT ?",
                    (node_id, limit),
                ).fetchall()
                rows.reverse()
            return NodeItems(PepNode(node, config), tuple(_item(row) for row in rows))

        return await self._db.run(job)

    async def configure(
        self, host: str, username: str, node: str, change: ConfigChange
    ) -> NodeConfig | None:
        def job(conn: sqlite3.Connection) -> NodeConfig | None:
            _require_account(conn, host, username)
            found = _node(conn, host, username, node)
            if found is None:
                return None
            node_id, old = found
            new = change(old)
            if new != old:
                _update_config(conn, node_id, new)
                _trim(conn, node_id, new.item_limit)
            return new

        return await self._db.run(job)

    async def delete(self, host: str, username: str, node: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            _require_account(conn, host, username)
            cursor = conn.execute(
                "DELETE FROM pep_nodes WHERE host = ? AND username = ? AND node = ?",
                (host, username, node),
            )
            return cursor.rowcount > 0

        return await self._db.run(job)

    async def last_items(self, owners: Sequence[tuple[str, str]]) -> list[LastItem]:
        unique = list(dict.fromkeys(owners))

        def job(conn: sqlite3.Connection) -> list[LastItem]:
            out: list[LastItem] = []
            for start in range(0, len(unique), _OWNERS_PER_QUERY):
                chunk = unique[start : start + _OWNERS_PER_QUERY]
                values = ", ".join("(?, ?)" for _ in chunk)
                rows = conn.execute(
                    f"SELECT n.host, n.username, n.node, {_prefixed('n', _CONFIG)},"
                    f" {_prefixed('i', _ITEM)}"
                    " FROM pep_nodes n JOIN pep_items i ON i.node_id = n.id"
                    f" WHERE (n.host, n.username) IN (VALUES {values})"
                    " AND i.seq = (SELECT MAX(seq) FROM pep_items WHERE node_id = n.id)"
                    " ORDER BY n.host, n.username, n.node",
                    [part for owner in chunk for part in owner],
                ).fetchall()
                out.extend(
                    LastItem(row[0], row[1], PepNode(row[2], _config(row[3:8])), _item(row[8:]))
                    for row in rows
                )
            return out

        return await self._db.run(job)

    async def vcard(self, host: str, username: str) -> str | None:
        def job(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT vcard FROM vcards WHERE host = ? AND username = ?", (host, username)
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._db.run(job)

    async def set_vcard(self, host: str, username: str, vcard: str) -> None:
        def job(conn: sqlite3.Connection) -> None:
            _require_account(conn, host, username)
            conn.execute(
                "INSERT INTO vcards (host, username, vcard) VALUES (?, ?, ?)"
                " ON CONFLICT (host, username) DO UPDATE SET vcard = excluded.vcard",
                (host, username, vcard),
            )

        await self._db.run(job)


def _prefixed(alias: str, columns: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))


def _require_account(conn: sqlite3.Connection, host: str, username: str) -> None:
    row = conn.execute(
        "SELECT 1 FROM accounts WHERE host = ? AND username = ?", (host, username)
    ).fetchone()
    if row is None:
        raise AccountNotFound(f"no account {username}@{host}")


def _node(
    conn: sqlite3.Connection, host: str, username: str, node: str
) -> tuple[int, NodeConfig] | None:
    row = conn.execute(
        f"SELECT id, {_CONFIG} FROM pep_nodes WHERE host = ? AND username = ? AND node = ?",
        (host, username, node),
    ).fetchone()
    return None if row is None else (int(row[0]), _config(row[1:]))


def _insert_node(
    conn: sqlite3.Connection, host: str, username: str, node: str, config: NodeConfig
) -> int:
    (count,) = conn.execute(
        "SELECT COUNT(*) FROM pep_nodes WHERE host = ? AND username = ?", (host, username)
    ).fetchone()
    if count >= MAX_NODES:
        raise NodeLimitReached(f"at most {MAX_NODES} nodes")
    cursor = conn.execute(
        f"INSERT INTO pep_nodes (host, username, node, {_CONFIG}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (host, username, node, *_config_row(config)),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _update_config(conn: sqlite3.Connection, node_id: int, config: NodeConfig) -> None:
    conn.execute(
        "UPDATE pep_nodes SET access_model = ?, max_items = ?, persist_items = ?,"
        " send_last = ?, roster_groups = ? WHERE id = ?",
        (*_config_row(config), node_id),
    )


def _trim(conn: sqlite3.Connection, node_id: int, keep: int) -> None:
    conn.execute(
        "DELETE FROM pep_items WHERE node_id = ? AND seq NOT IN"
        " (SELECT seq FROM pep_items WHERE node_id = ? ORDER BY seq DESC LIMIT ?)",
        (node_id, node_id, keep),
    )


def _config_row(config: NodeConfig) -> tuple[object, ...]:
    return (
        str(config.access_model),
        config.max_items,
        int(config.persist_items),
        str(config.send_last),
        json.dumps(list(config.roster_groups)),
    )


def _config(row: Sequence[object]) -> NodeConfig:
    access, max_items, persist, send_last, groups = row
    assert isinstance(access, str) and isinstance(send_last, str) and isinstance(groups, str)
    assert max_items is None or isinstance(max_items, int)
    return NodeConfig(
        access_model=AccessModel(access),
        max_items=max_items,
        persist_items=bool(persist),
        send_last=SendLast(send_last),
        roster_groups=tuple(str(g) for g in json.loads(groups)),
    )


def _item(row: Sequence[object]) -> PepItem:
    item_id, payload, published, publisher = row
    assert isinstance(item_id, str) and isinstance(payload, str)
    assert isinstance(published, str) and isinstance(publisher, str)
    return PepItem(item_id, payload, datetime.fromisoformat(published), publisher)
