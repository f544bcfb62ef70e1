"""RosterStore on SQLite (schema: migrations 2 and 7).

An update is one job on the writer thread: read the entry, compute the new one
with the caller's pure function, write it and bump the version, all in one
transaction, so two sessions changing the same roster cannot lose an update.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from mixd.storage.contracts.roster import (
    LastPresence,
    Roster,
    RosterChange,
    RosterItem,
    RosterUpdate,
    Subscription,
)
from mixd.storage.errors import AccountNotFound
from mixd.storage.sqlite.database import SQLiteDatabase

_COLUMNS = "jid, name, subscription, ask, pending_in, approved, request, listed, mix_participant_id"

_UPSERT_ITEM = f"""
    INSERT INTO roster_items (host, username, {_COLUMNS})
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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
    INSERT INTO roster_versions (host, username, version) VALUES (?, ?, 1)
    ON CONFLICT (host, username) DO UPDATE SET version = version + 1
"""


class SQLiteRosterStore:
    """Rosters in `roster_items`, `roster_groups` and `roster_versions`; the
    last unavailable presence in `last_presence`."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db

    async def roster(self, host: str, username: str) -> Roster:
        def job(conn: sqlite3.Connection) -> Roster:
            groups: dict[str, list[str]] = {}
            for jid, name in conn.execute(
                "SELECT jid, name FROM roster_groups WHERE host = ? AND username = ?"
                " ORDER BY jid, position",
                (host, username),
            ):
                groups.setdefault(jid, []).append(name)
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM roster_items WHERE host = ? AND username = ? ORDER BY jid",
                (host, username),
            ).fetchall()
            items = tuple(_item(row, tuple(groups.get(row[0], ()))) for row in rows)
            return Roster(_version(conn, host, username), items)

        return await self._db.run(job)

    async def get(self, host: str, username: str, jid: str) -> RosterItem | None:
        def job(conn: sqlite3.Connection) -> RosterItem | None:
            return _load(conn, host, username, jid)

        return await self._db.run(job)

    async def update(
        self, host: str, username: str, jid: str, change: RosterUpdate
    ) -> RosterChange:
        def job(conn: sqlite3.Connection) -> RosterChange:
            if not _account_exists(conn, host, username):
                raise AccountNotFound(f"no account {username}@{host}")
            old = _load(conn, host, username, jid)
            new = change(old)
            if new is not None and new.jid != jid:
                raise ValueError(f"roster update for {jid} returned an item for {new.jid}")
            if new == old:
                return RosterChange(old, new, _version(conn, host, username))
            if new is None:
                # Its groups go with it (ON DELETE CASCADE).
                conn.execute(
                    "DELETE FROM roster_items WHERE host = ? AND username = ? AND jid = ?",
                    (host, username, jid),
                )
            else:
                _store(conn, host, username, new)
            conn.execute(_BUMP_VERSION, (host, username))
            return RosterChange(old, new, _version(conn, host, username))

        return await self._db.run(job)

    async def set_last_presence(self, host: str, username: str, presence: LastPresence) -> None:
        def job(conn: sqlite3.Connection) -> None:
            if not _account_exists(conn, host, username):
                raise AccountNotFound(f"no account {username}@{host}")
            conn.execute(
                "INSERT INTO last_presence (host, username, stanza, stamp) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (host, username) DO UPDATE"
                " SET stanza = excluded.stanza, stamp = excluded.stamp",
                (host, username, presence.stanza, presence.stamp.isoformat()),
            )

        await self._db.run(job)

    async def last_presence(self, host: str, username: str) -> LastPresence | None:
        def job(conn: sqlite3.Connection) -> LastPresence | None:
            row = conn.execute(
                "SELECT stanza, stamp FROM last_presence WHERE host = ? AND username = ?",
                (host, username),
            ).fetchone()
            return None if row is None else LastPresence(row[0], datetime.fromisoformat(row[1]))

        return await self._db.run(job)


def _account_exists(conn: sqlite3.Connection, host: str, username: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM accounts WHERE host = ? AND username = ?", (host, username)
    ).fetchone()
    return row is not None


def _version(conn: sqlite3.Connection, host: str, username: str) -> int:
    row = conn.execute(
        "SELECT version FROM roster_versions WHERE host = ? AND username = ?", (host, username)
    ).fetchone()
    return 0 if row is None else int(row[0])


def _load(conn: sqlite3.Connection, host: str, username: str, jid: str) -> RosterItem | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM roster_items WHERE host = ? AND username = ? AND jid = ?",
        (host, username, jid),
    ).fetchone()
    if row is None:
        return None
    groups = conn.execute(
        "SELECT name FROM roster_groups WHERE host = ? AND username = ? AND jid = ?"
        " ORDER BY position",
        (host, username, jid),
    ).fetchall()
    return _item(row, tuple(str(g[0]) for g in groups))


def _store(conn: sqlite3.Connection, host: str, username: str, item: RosterItem) -> None:
    conn.execute(
        _UPSERT_ITEM,
        (
            host,
            username,
            item.jid,
            item.name,
            str(item.subscription),
            int(item.ask),
            int(item.pending_in),
            int(item.approved),
            item.request,
            int(item.listed),
            item.mix_participant_id,
        ),
    )
    conn.execute(
        "DELETE FROM roster_groups WHERE host = ? AND username = ? AND jid = ?",
        (host, username, item.jid),
    )
    conn.executemany(
        "INSERT INTO roster_groups (host, username, jid, position, name) VALUES (?, ?, ?, ?, ?)",
        [(host, username, item.jid, pos, group) for pos, group in enumerate(item.groups)],
    )


def _item(row: tuple[object, ...], groups: tuple[str, ...]) -> RosterItem:
    jid, name, subscription, ask, pending_in, approved, request, listed, participant_id = row
    assert isinstance(jid, str)
    assert name is None or isinstance(name, str)
    assert request is None or isinstance(request, str)
    assert participant_id is None or isinstance(participant_id, str)
    assert isinstance(subscription, str)
    return RosterItem(
        jid=jid,
        name=name,
        groups=groups,
        subscription=Subscription(subscription),
        ask=bool(ask),
        pending_in=bool(pending_in),
        approved=bool(approved),
        request=request,
        listed=bool(listed),
        mix_participant_id=participant_id,
    )
