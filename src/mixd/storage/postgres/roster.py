"""RosterStore on PostgreSQL (schema: migrations 2 and 7).

An update is one transaction: lock the account's row, read the entry,
compute the new one with the caller's pure function, write it and bump the
version, so two sessions changing the same roster cannot lose an update.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from mixd.storage.contracts.roster import (
    LastPresence,
    Roster,
    RosterChange,
    RosterItem,
    RosterUpdate,
    Subscription,
)
from mixd.storage.postgres.accounts import require_account
from mixd.storage.postgres.database import Connection, PostgresDatabase

_COLUMNS = "jid, name, subscription, ask, pending_in, approved, request, listed, mix_participant_id"

_UPSERT_ITEM = f"""
    INSERT INTO roster_items (host, username, {_COLUMNS})
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
    ON CONFLICT (host, username, jid) DO UPDATE SET
        name = excluded.name,
        subscription = excluded.subscription,
        ask = excluded.ask,
        pending_in = excluded.pending_in,
        approved = excluded.approved,
        request = excluded.request,
        listed = excluded.listed,
        mix_participant_id = excluded.mix_participant_id
"""

_BUMP_VERSION = """
    INSERT INTO roster_versions AS v (host, username, version) VALUES ($1, $2, 1)
    ON CONFLICT (host, username) DO UPDATE SET version = v.version + 1
    RETURNING version
"""


class PostgresRosterStore:
    """Rosters in `roster_items`, `roster_groups` and `roster_versions`; the
    last unavailable presence in `last_presence`."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def roster(self, host: str, username: str) -> Roster:
        async def job(conn: Connection) -> Roster:
            groups: dict[str, list[str]] = {}
            for row in await conn.fetch(
                "SELECT jid, name FROM roster_groups WHERE host = $1 AND username = $2"
                " ORDER BY jid, position",
                host,
                username,
            ):
                groups.setdefault(row["jid"], []).append(row["name"])
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM roster_items WHERE host = $1 AND username = $2"
                " ORDER BY jid",
                host,
                username,
            )
            items = tuple(_item(row, tuple(groups.get(row["jid"], ()))) for row in rows)
            return Roster(await _version(conn, host, username), items)

        return await self._db.run(job, read_only=True)

    async def get(self, host: str, username: str, jid: str) -> RosterItem | None:
        async def job(conn: Connection) -> RosterItem | None:
            return await _load(conn, host, username, jid)

        return await self._db.run(job, read_only=True)

    async def update(
        self, host: str, username: str, jid: str, change: RosterUpdate
    ) -> RosterChange:
        async def job(conn: Connection) -> RosterChange:
            await require_account(conn, host, username)
            old = await _load(conn, host, username, jid)
            new = change(old)
            if new is not None and new.jid != jid:
                raise ValueError(f"roster update for {jid} returned an item for {new.jid}")
            if new == old:
                return RosterChange(old, new, await _version(conn, host, username))
            if new is None:
                # Its groups go with it (ON DELETE CASCADE).
                await conn.execute(
                    "DELETE FROM roster_items WHERE host = $1 AND username = $2 AND jid = $3",
                    host,
                    username,
                    jid,
                )
            else:
                await _store(conn, host, username, new)
            version = await conn.fetchval(_BUMP_VERSION, host, username)
            return RosterChange(old, new, int(version))

        return await self._db.run(job)

    async def set_last_presence(self, host: str, username: str, presence: LastPresence) -> None:
        async def job(conn: Connection) -> None:
            await require_account(conn, host, username)
            await conn.execute(
                "INSERT INTO last_presence (host, username, stanza, stamp) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (host, username) DO UPDATE"
                " SET stanza = excluded.stanza, stamp = excluded.stamp",
                host,
                username,
                presence.stanza,
                presence.stamp,
            )

        await self._db.run(job)

    async def last_presence(self, host: str, username: str) -> LastPresence | None:
        async def job(conn: Connection) -> LastPresence | None:
            row = await conn.fetchrow(
                "SELECT stanza, stamp FROM last_presence WHERE host = $1 AND username = $2",
                host,
                username,
            )
            if row is None:
                return None
            stamp = row["stamp"]
            assert isinstance(stamp, datetime)
            return LastPresence(str(row["stanza"]), stamp)

        return await self._db.run(job, read_only=True)


async def _version(conn: Connection, host: str, username: str) -> int:
    version = await conn.fetchval(
        "SELECT version FROM roster_versions WHERE host = $1 AND username = $2", host, username
    )
    return 0 if version is None else int(version)


async def _load(conn: Connection, host: str, username: str, jid: str) -> RosterItem | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM roster_items WHERE host = $1 AND username = $2 AND jid = $3",
        host,
        username,
        jid,
    )
    if row is None:
        return None
    groups = await conn.fetch(
        "SELECT name FROM roster_groups WHERE host = $1 AND username = $2 AND jid = $3"
        " ORDER BY position",
        host,
        username,
        jid,
    )
    return _item(row, tuple(str(g["name"]) for g in groups))


async def _store(conn: Connection, host: str, username: str, item: RosterItem) -> None:
    await conn.execute(
        _UPSERT_ITEM,
        host,
        username,
        item.jid,
        item.name,
        str(item.subscription),
        item.ask,
        item.pending_in,
        item.approved,
        item.request,
        item.listed,
        item.mix_participant_id,
    )
    await conn.execute(
        "DELETE FROM roster_groups WHERE host = $1 AND username = $2 AND jid = $3",
        host,
        username,
        item.jid,
    )
    await conn.executemany(
        "INSERT INTO roster_groups (host, username, jid, position, name)"
        " VALUES ($1, $2, $3, $4, $5)",
        [(host, username, item.jid, pos, group) for pos, group in enumerate(item.groups)],
    )


def _item(row: asyncpg.Record, groups: tuple[str, ...]) -> RosterItem:
    return RosterItem(
        jid=str(row["jid"]),
        name=row["name"],
        groups=groups,
        subscription=Subscription(row["subscription"]),
        ask=bool(row["ask"]),
        pending_in=bool(row["pending_in"]),
        approved=bool(row["approved"]),
        request=row["request"],
        listed=bool(row["listed"]),
        mix_participant_id=row["mix_participant_id"],
    )
