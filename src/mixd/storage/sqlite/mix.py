"""MixStore on SQLite (schema: migrations 6 and 9).

Owners, contacts, nodes and config are JSON text; sets come back sorted so
both backends return equal records. Every check and the write it guards run
in one job on the writer thread, so the nick check cannot race another join.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from mixd.storage.contracts.mix import (
    AccessList,
    Channel,
    ChannelExists,
    ChannelInfo,
    ChannelNotFound,
    NickTaken,
    Participant,
    jid_matches,
)
from mixd.storage.mix_columns import (
    config_json,
    config_of,
    preferences_json,
    preferences_of,
    service_of,
)
from mixd.storage.sqlite.database import SQLiteDatabase

_CHANNEL_COLUMNS = (
    "jid, adhoc, created, owners, secret,"
    " info_name, info_description, info_contact, info_updated, config,"
    " config_updated, end_of_life"
)

_PARTICIPANT_COLUMNS = "channel, jid, id, nick, nodes, joined, preferences"

_INSERT_CHANNEL = f"""
    INSERT INTO mix_channels (service, {_CHANNEL_COLUMNS})
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (jid) DO NOTHING
"""

# A participant already there keeps its id and join time.
_UPSERT_PARTICIPANT = f"""
    INSERT INTO mix_participants ({_PARTICIPANT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (channel, jid) DO UPDATE
    SET nick = excluded.nick, nodes = excluded.nodes, preferences = excluded.preferences
"""


class SQLiteMixStore:
    """Channels in `mix_channels`; participants in `mix_participants`."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db

    async def create_channel(self, channel: Channel) -> None:
        row = (
            service_of(channel.jid),
            channel.jid,
            int(channel.adhoc),
            channel.created,
            _json_set(channel.owners),
            bytes(channel.secret),
            *_info_values(channel.info),
            config_json(channel.config),
            channel.config_updated,
            channel.end_of_life,
        )

        def job(conn: sqlite3.Connection) -> None:
            if conn.execute(_INSERT_CHANNEL, row).rowcount == 0:
                raise ChannelExists(f"channel {channel.jid} already exists")

        await self._db.run(job)

    async def get_channel(self, jid: str) -> Channel | None:
        def job(conn: sqlite3.Connection) -> Channel | None:
            row = conn.execute(
                f"SELECT {_CHANNEL_COLUMNS} FROM mix_channels WHERE jid = ?", (jid,)
            ).fetchone()
            return None if row is None else _channel(row)

        return await self._db.run(job)

    async def list_channels(
        self, service: str, after: str | None, limit: int, *, adhoc: bool = False
    ) -> list[Channel]:
        if limit <= 0:
            return []

        def job(conn: sqlite3.Connection) -> list[Channel]:
            rows = conn.execute(
                f"SELECT {_CHANNEL_COLUMNS} FROM mix_channels"
                " WHERE service = ? AND adhoc <= ? AND (? IS NULL OR jid > ?)"
                " ORDER BY jid LIMIT ?",
                (service, int(adhoc), after, after, limit),
            ).fetchall()
            return [_channel(row) for row in rows]

        return await self._db.run(job)

    async def delete_channel(self, jid: str) -> None:
        def job(conn: sqlite3.Connection) -> None:
            # Participants go with it (ON DELETE CASCADE).
            conn.execute("DELETE FROM mix_channels WHERE jid = ?", (jid,))

        await self._db.run(job)

    async def set_info(self, jid: str, info: ChannelInfo) -> None:
        values = _info_values(info)

        def job(conn: sqlite3.Connection) -> None:
            cursor = conn.execute(
                "UPDATE mix_channels SET info_name = ?, info_description = ?,"
                " info_contact = ?, info_updated = ? WHERE jid = ?",
                (*values, jid),
            )
            if cursor.rowcount == 0:
                raise ChannelNotFound(f"no channel {jid}")

        await self._db.run(job)

    async def set_config(
        self,
        jid: str,
        owners: tuple[str, ...],
        config: dict[str, tuple[str, ...]],
        updated: int,
        end_of_life: int | None,
    ) -> None:
        values = (_json_set(owners), config_json(config), updated, end_of_life, jid)

        def job(conn: sqlite3.Connection) -> None:
            cursor = conn.execute(
                "UPDATE mix_channels SET owners = ?, config = ?, config_updated = ?,"
                " end_of_life = ? WHERE jid = ?",
                values,
            )
            if cursor.rowcount == 0:
                raise ChannelNotFound(f"no channel {jid}")

        await self._db.run(job)

    async def expired_channels(self, service: str, now: int, limit: int) -> list[str]:
        def job(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT jid FROM mix_channels WHERE end_of_life IS NOT NULL"
                " AND end_of_life <= ? AND service = ? ORDER BY end_of_life, jid LIMIT ?",
                (now, service, limit),
            ).fetchall()
            return [str(row[0]) for row in rows]

        return await self._db.run(job)

    async def access_list(self, channel: str, which: AccessList) -> list[str]:
        def job(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT entry FROM mix_access WHERE channel = ? AND list = ? ORDER BY entry",
                (channel, which),
            ).fetchall()
            return [str(row[0]) for row in rows]

        return await self._db.run(job)

    async def add_access(self, channel: str, which: AccessList, entry: str) -> list[Participant]:
        def job(conn: sqlite3.Connection) -> list[Participant]:
            if not _channel_exists(conn, channel):
                raise ChannelNotFound(f"no channel {channel}")
            conn.execute(
                "INSERT INTO mix_access (channel, list, entry) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (channel, which, entry),
            )
            if which != "banned":
                return []
            # Banned wins: whoever the entry matches stops participating now.
            rows = conn.execute(
                f"SELECT {_PARTICIPANT_COLUMNS} FROM mix_participants WHERE channel = ?"
                " ORDER BY joined, jid",
                (channel,),
            ).fetchall()
            removed = [p for p in map(_participant, rows) if jid_matches(entry, p.jid)]
            conn.executemany(
                "DELETE FROM mix_participants WHERE channel = ? AND jid = ?",
                [(channel, p.jid) for p in removed],
            )
            return removed

        return await self._db.run(job)

    async def remove_access(self, channel: str, which: AccessList, entry: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "DELETE FROM mix_access WHERE channel = ? AND list = ? AND entry = ?",
                (channel, which, entry),
            )
            return cursor.rowcount > 0

        return await self._db.run(job)

    async def clear_access(self, channel: str, which: AccessList) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM mix_access WHERE channel = ? AND list = ?", (channel, which))

        await self._db.run(job)

    async def participants(self, channel: str) -> list[Participant]:
        def job(conn: sqlite3.Connection) -> list[Participant]:
            rows = conn.execute(
                f"SELECT {_PARTICIPANT_COLUMNS} FROM mix_participants WHERE channel = ?"
                " ORDER BY joined, jid",
                (channel,),
            ).fetchall()
            return [_participant(row) for row in rows]

        return await self._db.run(job)

    async def join(self, participant: Participant) -> None:
        p = participant
        row = (
            p.channel, p.jid, p.id, p.nick, _json_set(p.nodes), p.joined,
            preferences_json(p.preferences),
        )  # fmt: skip

        def job(conn: sqlite3.Connection) -> None:
            if not _channel_exists(conn, p.channel):
                raise ChannelNotFound(f"no channel {p.channel}")
            _check_nick(conn, p.channel, p.jid, p.nick)
            if _load(conn, p.channel, p.jid) is None:
                holder = conn.execute(
                    "SELECT jid FROM mix_participants WHERE channel = ? AND id = ?",
                    (p.channel, p.id),
                ).fetchone()
                if holder is not None:
                    raise ValueError(f"participant id {p.id} of {p.channel} is {holder[0]}'s")
            conn.execute(_UPSERT_PARTICIPANT, row)

        await self._db.run(job)

    async def leave(self, channel: str, jid: str) -> Participant | None:
        def job(conn: sqlite3.Connection) -> Participant | None:
            old = _load(conn, channel, jid)
            if old is not None:
                conn.execute(
                    "DELETE FROM mix_participants WHERE channel = ? AND jid = ?", (channel, jid)
                )
            return old

        return await self._db.run(job)

    async def set_nick(self, channel: str, jid: str, nick: str) -> None:
        def job(conn: sqlite3.Connection) -> None:
            if _load(conn, channel, jid) is None:
                return
            _check_nick(conn, channel, jid, nick)
            conn.execute(
                "UPDATE mix_participants SET nick = ? WHERE channel = ? AND jid = ?",
                (nick, channel, jid),
            )

        await self._db.run(job)

    async def set_nodes(self, channel: str, jid: str, nodes: frozenset[str]) -> None:
        text = _json_set(nodes)

        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE mix_participants SET nodes = ? WHERE channel = ? AND jid = ?",
                (text, channel, jid),
            )

        await self._db.run(job)

    async def set_preferences(
        self, channel: str, jid: str, preferences: tuple[tuple[str, str], ...]
    ) -> bool:
        text = preferences_json(preferences)

        def job(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE mix_participants SET preferences = ? WHERE channel = ? AND jid = ?",
                (text, channel, jid),
            )
            return cursor.rowcount > 0

        return await self._db.run(job)


def _channel_exists(conn: sqlite3.Connection, jid: str) -> bool:
    return conn.execute("SELECT 1 FROM mix_channels WHERE jid = ?", (jid,)).fetchone() is not None


def _check_nick(conn: sqlite3.Connection, channel: str, jid: str, nick: str) -> None:
    row = conn.execute(
        "SELECT 1 FROM mix_participants WHERE channel = ? AND nick = ? AND jid != ?",
        (channel, nick, jid),
    ).fetchone()
    if row is not None:
        raise NickTaken(f"nick {nick!r} is taken in {channel}")


def _load(conn: sqlite3.Connection, channel: str, jid: str) -> Participant | None:
    row = conn.execute(
        f"SELECT {_PARTICIPANT_COLUMNS} FROM mix_participants WHERE channel = ? AND jid = ?",
        (channel, jid),
    ).fetchone()
    return None if row is None else _participant(row)


def _info_values(info: ChannelInfo) -> tuple[str | None, str | None, str, int]:
    return (info.name, info.description, _json_set(info.contact), info.updated)


def _json_set(values: Iterable[str]) -> str:
    return json.dumps(sorted(set(values)))


def _strings(text: object) -> tuple[str, ...]:
    assert isinstance(text, str)
    return tuple(str(v) for v in json.loads(text))


def _opt_str(value: object) -> str | None:
    assert value is None or isinstance(value, str)
    return value


def _channel(row: tuple[object, ...]) -> Channel:
    jid, adhoc, created, owners, secret, name, description, contact, updated, config, *more = row
    config_updated, end_of_life = more
    assert isinstance(jid, str) and isinstance(secret, bytes) and isinstance(config, str)
    assert isinstance(created, int) and isinstance(updated, int)
    assert isinstance(config_updated, int)
    assert end_of_life is None or isinstance(end_of_life, int)
    return Channel(
        jid=jid,
        adhoc=bool(adhoc),
        created=created,
        owners=_strings(owners),
        secret=secret,
        info=ChannelInfo(_opt_str(name), _opt_str(description), _strings(contact), updated),
        config=config_of(config),
        config_updated=config_updated,
        end_of_life=end_of_life,
    )


def _participant(row: tuple[object, ...]) -> Participant:
    channel, jid, pid, nick, nodes, joined, preferences = row
    assert isinstance(channel, str) and isinstance(jid, str)
    assert isinstance(pid, str) and isinstance(nick, str) and isinstance(joined, int)
    return Participant(
        channel, jid, pid, nick, frozenset(_strings(nodes)), joined, preferences_of(preferences)
    )
