"""ArchiveStore on PostgreSQL (schema: migrations 3 and 8).

An archive is its own entries plus, through `archive_feeds`, the spans of
followed archives' entries (by seq, which the identity sequence never
reuses); queries are in `archive_query.py`.

Concurrent transactions take sequence values in one order and commit in
another, so a span's bound would not split a feed's entries into "committed
before" and "after" by itself. Writers of an archive's entries therefore hold
a shared advisory lock on that archive until they commit, and `follow`,
`unfollow` and `delete_owner` an exclusive one on the feed: a bound is taken
only when no entry of the feed is in flight. Stores of one sender's origin-id
are serialized the same way, so a resent message is found even when both
copies arrive at once.

Every value reaches SQL as a parameter; the only text assembled at run time
is a fixed set of conditions with their `$n` placeholders, so filter input
(JIDs, ids, SQL metacharacters, LIKE wildcards) cannot change a statement.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from mixd.storage.contracts.archive import (
    ArchiveConflict,
    ArchiveItemNotFound,
    ArchiveMessageNotFound,
    ArchivePage,
    ArchiveQuery,
    Bounds,
    DefaultMode,
    MessageRecord,
    NewEntry,
    Prefs,
    Stored,
    new_id,
)
from mixd.storage.postgres.archive_query import ASC, DESC, ITEM_COLUMNS, item, query_page
from mixd.storage.postgres.database import Connection, PostgresDatabase

_INSERT_MESSAGE = """
    INSERT INTO messages (id, xml, ts, sender, type, origin_id) VALUES ($1, $2, $3, $4, $5, $6)
    RETURNING seq
"""
_INSERT_ENTRY = """
    INSERT INTO archive_entries (id, owner, message, with_jid, with_resource, direction, ts)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
"""
# One archive ($1: the owner): its own entries and those it follows.
_NEXT_SEQ = "SELECT nextval(pg_get_serial_sequence('archive_entries', 'seq'))"
_LOCK_ARCHIVES_SHARED = """
    SELECT pg_advisory_xact_lock_shared(hashtextextended('archive:' || owner, 0))
    FROM unnest($1::text[]) AS owner
"""
_LOCK_ARCHIVE = "SELECT pg_advisory_xact_lock(hashtextextended('archive:' || $1, 0))"
_LOCK_ORIGIN = "SELECT pg_advisory_xact_lock(hashtextextended('origin:' || $1 || ' ' || $2, 0))"
# The feed has no entry at or after the span's end: the span can go on.
_RESUME_SPAN = """
    UPDATE archive_feeds f SET to_seq = NULL
    WHERE f.owner = $1 AND f.feed = $2
        AND f.from_seq = (SELECT max(from_seq) FROM archive_feeds WHERE owner = $1 AND feed = $2)
        AND NOT EXISTS (SELECT 1 FROM archive_entries x WHERE x.owner = $2 AND x.seq >= f.to_seq)
    RETURNING true
"""


class PostgresArchiveStore:
    """Messages in `messages`, archives in `archive_entries` and
    `archive_feeds`, preferences in `archive_prefs`."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def store(self, message: MessageRecord, entries: Sequence[NewEntry]) -> Stored:
        return await self._db.run(_storing(message, entries))

    async def retract(
        self,
        owner: str,
        entry_id: str,
        expected: str | None,
        tombstone: str,
        notice: MessageRecord,
        entries: Sequence[NewEntry],
    ) -> Stored:
        async def replace_with_tombstone(conn: Connection) -> None:
            # The row lock makes two retractions of one message take turns:
            # the second finds the tombstone, not what it expected.
            found = await conn.fetchrow(
                "SELECT m.seq, m.xml FROM archive_entries x JOIN messages m ON m.seq = x.message"
                " WHERE x.owner = $1 AND x.id = $2 FOR UPDATE OF m",
                owner,
                entry_id,
            )
            if found is None:
                raise ArchiveItemNotFound(entry_id)
            if expected is None or found["xml"] != expected:
                raise ArchiveConflict(entry_id)
            await conn.execute(
                "UPDATE messages SET xml = $1 WHERE seq = $2", tombstone, found["seq"]
            )

        return await self._db.run(_storing(notice, entries, replace_with_tombstone))

    async def add_entries(self, message_id: str, entries: Sequence[NewEntry]) -> tuple[str, ...]:
        entry_ids = tuple(new_id() for _ in entries)

        async def job(conn: Connection) -> tuple[str, ...]:
            seq = await conn.fetchval("SELECT seq FROM messages WHERE id = $1", message_id)
            if seq is None:
                raise ArchiveMessageNotFound(message_id)
            await _lock_owners(conn, entries)
            await _insert_entries(conn, int(seq), entries, entry_ids)
            return entry_ids

        return await self._db.run(job)

    async def query(self, query: ArchiveQuery) -> ArchivePage:
        async def job(conn: Connection) -> ArchivePage:
            return await query_page(conn, query)

        return await self._db.run(job, read_only=True)

    async def bounds(self, owner: str) -> Bounds:
        async def job(conn: Connection) -> Bounds:
            ends = []
            for order in (ASC, DESC):
                row = await conn.fetchrow(ITEM_COLUMNS + order + " LIMIT 1", owner)
                ends.append(None if row is None else item(row))
            return Bounds(ends[0], ends[1])

        return await self._db.run(job, read_only=True)

    async def get_prefs(self, owner: str) -> Prefs:
        async def job(conn: Connection) -> Prefs:
            row = await conn.fetchrow(
                "SELECT default_mode, always, never FROM archive_prefs WHERE owner = $1", owner
            )
            if row is None:
                return Prefs()
            return Prefs(
                DefaultMode(row["default_mode"]), tuple(row["always"]), tuple(row["never"])
            )

        return await self._db.run(job, read_only=True)

    async def set_prefs(self, owner: str, prefs: Prefs) -> None:
        async def job(conn: Connection) -> None:
            await conn.execute(
                "INSERT INTO archive_prefs (owner, default_mode, always, never)"
                " VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (owner) DO UPDATE SET default_mode = excluded.default_mode,"
                " always = excluded.always, never = excluded.never",
                owner,
                str(prefs.default),
                list(prefs.always),
                list(prefs.never),
            )

        await self._db.run(job)

    async def follow(self, owner: str, feed: str) -> None:
        async def job(conn: Connection) -> None:
            await conn.execute(_LOCK_ARCHIVE, feed)
            following = await conn.fetchval(
                "SELECT 1 FROM archive_feeds WHERE owner = $1 AND feed = $2 AND to_seq IS NULL",
                owner,
                feed,
            )
            if following is not None or await conn.fetchval(_RESUME_SPAN, owner, feed):
                return
            await conn.execute(
                f"INSERT INTO archive_feeds (owner, feed, from_seq) VALUES ($1, $2, ({_NEXT_SEQ}))",
                owner,
                feed,
            )

        await self._db.run(job)

    async def unfollow(self, owner: str, feed: str) -> None:
        async def job(conn: Connection) -> None:
            await conn.execute(_LOCK_ARCHIVE, feed)
            ended = await conn.fetchrow(
                f"UPDATE archive_feeds SET to_seq = ({_NEXT_SEQ})"
                " WHERE owner = $1 AND feed = $2 AND to_seq IS NULL"
                " RETURNING from_seq, to_seq",
                owner,
                feed,
            )
            if ended is None:
                return
            # A span that showed nothing is dropped.
            await conn.execute(
                "DELETE FROM archive_feeds f WHERE owner = $1 AND feed = $2 AND from_seq = $3"
                " AND NOT EXISTS (SELECT 1 FROM archive_entries x"
                " WHERE x.owner = $2 AND x.seq >= $3 AND x.seq < $4)",
                owner,
                feed,
                ended["from_seq"],
                ended["to_seq"],
            )

        await self._db.run(job)

    async def followers(self, feed: str) -> frozenset[str]:
        async def job(conn: Connection) -> frozenset[str]:
            rows = await conn.fetch(
                "SELECT owner FROM archive_feeds WHERE feed = $1 AND to_seq IS NULL", feed
            )
            return frozenset(str(row["owner"]) for row in rows)

        return await self._db.run(job, read_only=True)

    async def delete_owner(self, owner: str) -> int:
        async def job(conn: Connection) -> int:
            await conn.execute(_LOCK_ARCHIVE, owner)
            await _copy_to_followers(conn, owner)
            await conn.execute("DELETE FROM archive_feeds WHERE owner = $1 OR feed = $1", owner)
            removed = await conn.fetch(
                "DELETE FROM archive_entries WHERE owner = $1 RETURNING message", owner
            )
            await conn.execute(
                "DELETE FROM messages m WHERE m.seq = ANY($1::bigint[])"
                " AND NOT EXISTS (SELECT 1 FROM archive_entries x WHERE x.message = m.seq)",
                list({row["message"] for row in removed}),
            )
            await conn.execute("DELETE FROM archive_prefs WHERE owner = $1", owner)
            return len(removed)

        return await self._db.run(job)

    async def trim(self, owner: str, keep: int) -> int:
        if keep < 1:
            raise ValueError("an archive quota keeps at least one entry")

        async def job(conn: Connection) -> int:
            # The newest entry beyond the quota: it and everything older go.
            # Reading `keep` index entries is the cost, hence the quota
            # keeper's amortised calls.
            boundary = await conn.fetchrow(
                "SELECT ts, seq FROM archive_entries WHERE owner = $1"
                " ORDER BY ts DESC, seq DESC OFFSET $2 LIMIT 1",
                owner,
                keep,
            )
            if boundary is None:
                return 0
            removed = await conn.fetch(
                "DELETE FROM archive_entries WHERE owner = $1 AND (ts, seq) <= ($2, $3)"
                " RETURNING message",
                owner,
                boundary["ts"],
                boundary["seq"],
            )
            await conn.execute(
                "DELETE FROM messages m WHERE m.seq = ANY($1::bigint[])"
                " AND NOT EXISTS (SELECT 1 FROM archive_entries x WHERE x.message = m.seq)",
                sorted({row["message"] for row in removed}),
            )
            return len(removed)

        return await self._db.run(job)


async def _lock_owners(conn: Connection, entries: Sequence[NewEntry]) -> None:
    """Hold off `follow`/`unfollow` of these archives until this commit.
    Locks are taken in one (sorted) order, so writers cannot deadlock."""
    await conn.execute(_LOCK_ARCHIVES_SHARED, sorted({e.owner for e in entries}))


async def _earlier_copy(
    conn: Connection, message: MessageRecord, entries: Sequence[NewEntry]
) -> Stored | None:
    """The message this sender stored before under the same origin-id, with
    an entry for every (owner, with) wanted now; None if there is none."""
    candidates = await conn.fetch(
        "SELECT seq, id FROM messages WHERE sender = $1 AND origin_id = $2 ORDER BY seq",
        message.sender,
        message.origin_id,
    )
    wanted = [(e.owner, e.with_jid) for e in entries]
    for candidate in candidates:
        rows = await conn.fetch(
            "SELECT owner, with_jid, id FROM archive_entries WHERE message = $1 ORDER BY seq",
            candidate["seq"],
        )
        held = {(str(row["owner"]), str(row["with_jid"])): str(row["id"]) for row in rows}
        if all(key in held for key in wanted):
            ids = tuple(held[key] for key in wanted)
            holders = frozenset(owner for owner, _ in held)
            return Stored(str(candidate["id"]), ids, duplicate=True, holders=holders)
    return None


async def _copy_to_followers(conn: Connection, feed: str) -> None:
    """What followers of `feed` were shown becomes their own entries."""
    rows = await conn.fetch(
        """
        SELECT f.owner, x.message, x.with_resource, x.ts
        FROM archive_feeds f JOIN archive_entries x
            ON x.owner = f.feed AND x.seq >= f.from_seq
            AND (f.to_seq IS NULL OR x.seq < f.to_seq)
        WHERE f.feed = $1
        ORDER BY x.seq
        """,
        feed,
    )
    await conn.executemany(
        _INSERT_ENTRY,
        [
            (new_id(), row["owner"], row["message"], feed, row["with_resource"], "in", row["ts"])
            for row in rows
        ],
    )


async def _insert_entries(
    conn: Connection, message: int, entries: Sequence[NewEntry], ids: tuple[str, ...]
) -> None:
    await conn.executemany(
        _INSERT_ENTRY,
        [
            (
                entry_id,
                e.owner,
                message,
                e.with_jid,
                e.with_resource,
                str(e.direction),
                e.timestamp,
            )
            for entry_id, e in zip(ids, entries, strict=True)
        ],
    )


def _storing(
    message: MessageRecord,
    entries: Sequence[NewEntry],
    first: Callable[[Connection], Awaitable[None]] | None = None,
) -> Callable[[Connection], Awaitable[Stored]]:
    """The job storing `message` with its entries (after `first`, in the same
    transaction), or finding the copy a resend with its origin-id stored."""
    if not entries:
        raise ValueError("a message needs at least one archive entry")
    message_id = new_id()
    entry_ids = tuple(new_id() for _ in entries)
    values = (
        message_id,
        message.xml,
        message.timestamp,
        message.sender,
        message.type,
        message.origin_id,
    )

    async def job(conn: Connection) -> Stored:
        if message.origin_id is not None:
            await conn.execute(_LOCK_ORIGIN, message.sender, message.origin_id)
            earlier = await _earlier_copy(conn, message, entries)
            if earlier is not None:
                return earlier
        await _lock_owners(conn, entries)
        if first is not None:
            await first(conn)
        seq = await conn.fetchval(_INSERT_MESSAGE, *values)
        await _insert_entries(conn, int(seq), entries, entry_ids)
        return Stored(message_id, entry_ids)

    return job
