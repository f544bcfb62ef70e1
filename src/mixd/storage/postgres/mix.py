"""MixStore on PostgreSQL (schema: migrations 6 and 9).

Owners, contacts and nodes are text arrays, config a JSON object; sets come
back sorted so every backend returns equal records. Writes to a channel's
participants first lock the channel's row, so the nick check and the write it
guards cannot race another join; the unique constraint on (channel, nick)
backs it up.
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

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
from mixd.storage.postgres.database import Connection, PostgresDatabase

_CHANNEL_COLUMNS = (
    "jid, adhoc, created, owners, secret,"
    " info_name, info_description, info_contact, info_updated, config,"
    " config_updated, end_of_life"
)

_PARTICIPANT_COLUMNS = "channel, jid, id, nick, nodes, joined, preferences"

_INSERT_CHANNEL = f"""
    INSERT INTO mix_channels (service, {_CHANNEL_COLUMNS})
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
    ON CONFLICT (jid) DO NOTHING
    RETURNING true
"""

# A participant already there keeps its id and join time.
_UPSERT_PARTICIPANT = f"""
    INSERT INTO mix_participants ({_PARTICIPANT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (channel, jid) DO UPDATE
    SET nick = excluded.nick, nodes = excluded.nodes, preferences = excluded.preferences
"""

_NICK_CONSTRAINT = "mix_participants_nick"


class PostgresMixStore:
    """Channels in `mix_channels`; participants in `mix_participants`."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def create_channel(self, channel: Channel) -> None:
        values = (
            service_of(channel.jid),
            channel.jid,
            channel.adhoc,
            channel.created,
            _sorted_set(channel.owners),
            bytes(channel.secret),
            *_info_values(channel.info),
            config_json(channel.config),
            channel.config_updated,
            channel.end_of_life,
        )

        async def job(conn: Connection) -> None:
            if not await conn.fetchval(_INSERT_CHANNEL, *values):
                raise ChannelExists(f"channel {channel.jid} already exists")

        await self._db.run(job)

    async def get_channel(self, jid: str) -> Channel | None:
        async def job(conn: Connection) -> Channel | None:
            row = await conn.fetchrow(
                f"SELECT {_CHANNEL_COLUMNS} FROM mix_channels WHERE jid = $1", jid
            )
            return None if row is None else _channel(row)

        return await self._db.run(job, read_only=True)

    async def list_channels(
        self, service: str, after: str | None, limit: int, *, adhoc: bool = False
    ) -> list[Channel]:
        if limit <= 0:
            return []

        async def job(conn: Connection) -> list[Channel]:
            rows = await conn.fetch(
                f"SELECT {_CHANNEL_COLUMNS} FROM mix_channels"
                " WHERE service = $1 AND (NOT adhoc OR $4) AND ($2::text IS NULL OR jid > $2)"
                " ORDER BY jid LIMIT $3",
                service,
                after,
                limit,
                adhoc,
            )
            return [_channel(row) for row in rows]

        return await self._db.run(job, read_only=True)

    async def delete_channel(self, jid: str) -> None:
        async def job(conn: Connection) -> None:
            # Participants go with it (ON DELETE CASCADE).
            await conn.execute("DELETE FROM mix_channels WHERE jid = $1", jid)

        await self._db.run(job)

    async def set_info(self, jid: str, info: ChannelInfo) -> None:
        values = _info_values(info)

        async def job(conn: Connection) -> None:
            updated = await conn.fetchval(
                "UPDATE mix_channels SET info_name = $1, info_description = $2,"
                " info_contact = $3, info_updated = $4 WHERE jid = $5 RETURNING true",
                *values,
                jid,
            )
            if not updated:
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
        values = (_sorted_set(owners), config_json(config), updated, end_of_life, jid)

        async def job(conn: Connection) -> None:
            changed = await conn.fetchval(
                "UPDATE mix_channels SET owners = $1, config = $2, config_updated = $3,"
                " end_of_life = $4 WHERE jid = $5 RETURNING true",
                *values,
            )
            if not changed:
                raise ChannelNotFound(f"no channel {jid}")

        await self._db.run(job)

    async def expired_channels(self, service: str, now: int, limit: int) -> list[str]:
        async def job(conn: Connection) -> list[str]:
            rows = await conn.fetch(
                "SELECT jid FROM mix_channels WHERE end_of_life IS NOT NULL"
                " AND end_of_life <= $1 AND service = $2 ORDER BY end_of_life, jid LIMIT $3",
                now,
                service,
                limit,
            )
            return [str(row["jid"]) for row in rows]

        return await self._db.run(job, read_only=True)

    async def access_list(self, channel: str, which: AccessList) -> list[str]:
        async def job(conn: Connection) -> list[str]:
            rows = await conn.fetch(
                "SELECT entry FROM mix_access WHERE channel = $1 AND list = $2 ORDER BY entry",
                channel,
                which,
            )
            return [str(row["entry"]) for row in rows]

        return await self._db.run(job, read_only=True)

    async def add_access(self, channel: str, which: AccessList, entry: str) -> list[Participant]:
        async def job(conn: Connection) -> list[Participant]:
            # The channel row lock also keeps a concurrent join out until the ban commits.
            if not await _lock_channel(conn, channel):
                raise ChannelNotFound(f"no channel {channel}")
            await conn.execute(
                "INSERT INTO mix_access (channel, list, entry) VALUES ($1, $2, $3)"
                " ON CONFLICT DO NOTHING",
                channel,
                which,
                entry,
            )
            if which != "banned":
                return []
            rows = await conn.fetch(
                f"SELECT {_PARTICIPANT_COLUMNS} FROM mix_participants WHERE channel = $1"
                " ORDER BY joined, jid",
                channel,
            )
            removed = [p for p in map(_participant, rows) if jid_matches(entry, p.jid)]
            await conn.execute(
                "DELETE FROM mix_participants WHERE channel = $1 AND jid = ANY($2::text[])",
                channel,
                [p.jid for p in removed],
            )
            return removed

        return await self._db.run(job)

    async def remove_access(self, channel: str, which: AccessList, entry: str) -> bool:
        async def job(conn: Connection) -> bool:
            found = await conn.fetchval(
                "DELETE FROM mix_access WHERE channel = $1 AND list = $2 AND entry = $3"
                " RETURNING true",
                channel,
                which,
                entry,
            )
            return bool(found)

        return await self._db.run(job)

    async def clear_access(self, channel: str, which: AccessList) -> None:
        async def job(conn: Connection) -> None:
            await conn.execute(
                "DELETE FROM mix_access WHERE channel = $1 AND list = $2", channel, which
            )

        await self._db.run(job)

    async def participants(self, channel: str) -> list[Participant]:
        async def job(conn: Connection) -> list[Participant]:
            rows = await conn.fetch(
                f"SELECT {_PARTICIPANT_COLUMNS} FROM mix_participants WHERE channel = $1"
                " ORDER BY joined, jid",
                channel,
            )
            return [_participant(row) for row in rows]

        return await self._db.run(job, read_only=True)

    async def join(self, participant: Participant) -> None:
        p = participant
        values = (
            p.channel, p.jid, p.id, p.nick, _sorted_set(p.nodes), p.joined,
            preferences_json(p.preferences),
        )  # fmt: skip

        async def job(conn: Connection) -> None:
            if not await _lock_channel(conn, p.channel):
                raise ChannelNotFound(f"no channel {p.channel}")
            await _check_nick(conn, p.channel, p.jid, p.nick)
            if await _load(conn, p.channel, p.jid) is None:
                holder = await conn.fetchval(
                    "SELECT jid FROM mix_participants WHERE channel = $1 AND id = $2",
                    p.channel,
                    p.id,
                )
                if holder is not None:
                    raise ValueError(f"participant id {p.id} of {p.channel} is {holder}'s")
            await _write(conn, p.channel, p.nick, _UPSERT_PARTICIPANT, *values)

        await self._db.run(job)

    async def leave(self, channel: str, jid: str) -> Participant | None:
        async def job(conn: Connection) -> Participant | None:
            row = await conn.fetchrow(
                "DELETE FROM mix_participants WHERE channel = $1 AND jid = $2"
                f" RETURNING {_PARTICIPANT_COLUMNS}",
                channel,
                jid,
            )
            return None if row is None else _participant(row)

        return await self._db.run(job)

    async def set_nick(self, channel: str, jid: str, nick: str) -> None:
        async def job(conn: Connection) -> None:
            if not await _lock_channel(conn, channel) or await _load(conn, channel, jid) is None:
                return
            await _check_nick(conn, channel, jid, nick)
            await _write(
                conn,
                channel,
                nick,
                "UPDATE mix_participants SET nick = $1 WHERE channel = $2 AND jid = $3",
                nick,
                channel,
                jid,
            )

        await self._db.run(job)

    async def set_nodes(self, channel: str, jid: str, nodes: frozenset[str]) -> None:
        values = _sorted_set(nodes)

        async def job(conn: Connection) -> None:
            await conn.execute(
                "UPDATE mix_participants SET nodes = $1 WHERE channel = $2 AND jid = $3",
                values,
                channel,
                jid,
            )

        await self._db.run(job)

    async def set_preferences(
        self, channel: str, jid: str, preferences: tuple[tuple[str, str], ...]
    ) -> bool:
        text = preferences_json(preferences)

        async def job(conn: Connection) -> bool:
            status = await conn.execute(
                "UPDATE mix_participants SET preferences = $1 WHERE channel = $2 AND jid = $3",
                text,
                channel,
                jid,
            )
            return str(status) != "UPDATE 0"

        return bool(await self._db.run(job))


async def _lock_channel(conn: Connection, jid: str) -> bool:
    """Hold the channel's row until the transaction ends; False if there is none."""
    row = await conn.fetchrow("SELECT 1 FROM mix_channels WHERE jid = $1 FOR NO KEY UPDATE", jid)
    return row is not None


async def _check_nick(conn: Connection, channel: str, jid: str, nick: str) -> None:
    taken = await conn.fetchval(
        "SELECT 1 FROM mix_participants WHERE channel = $1 AND nick = $2 AND jid != $3",
        channel,
        nick,
        jid,
    )
    if taken is not None:
        raise NickTaken(f"nick {nick!r} is taken in {channel}")


async def _write(conn: Connection, channel: str, nick: str, query: str, *args: object) -> None:
    """Run a participant write; the unique nick constraint becomes NickTaken."""
    try:
        await conn.execute(query, *args)
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == _NICK_CONSTRAINT:
            raise NickTaken(f"nick {nick!r} is taken in {channel}") from exc
        raise


async def _load(conn: Connection, channel: str, jid: str) -> Participant | None:
    row = await conn.fetchrow(
        f"SELECT {_PARTICIPANT_COLUMNS} FROM mix_participants WHERE channel = $1 AND jid = $2",
        channel,
        jid,
    )
    return None if row is None else _participant(row)


def _info_values(info: ChannelInfo) -> tuple[str | None, str | None, list[str], int]:
    return (info.name, info.description, _sorted_set(info.contact), info.updated)


def _sorted_set(values: Iterable[str]) -> list[str]:
    return sorted(set(values))


def _channel(row: asyncpg.Record) -> Channel:
    end_of_life = row["end_of_life"]
    return Channel(
        jid=str(row["jid"]),
        adhoc=bool(row["adhoc"]),
        created=int(row["created"]),
        owners=tuple(row["owners"]),
        secret=bytes(row["secret"]),
        info=ChannelInfo(
            row["info_name"],
            row["info_description"],
            tuple(row["info_contact"]),
            int(row["info_updated"]),
        ),
        config=config_of(row["config"]),
        config_updated=int(row["config_updated"]),
        end_of_life=None if end_of_life is None else int(end_of_life),
    )


def _participant(row: asyncpg.Record) -> Participant:
    return Participant(
        str(row["channel"]),
        str(row["jid"]),
        str(row["id"]),
        str(row["nick"]),
        frozenset(row["nodes"]),
        int(row["joined"]),
        preferences_of(row["preferences"]),
    )
