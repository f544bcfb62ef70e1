"""MAM queries on SQLite: one archive is its own entries plus the spans of
followed archives it shows (`archive_feeds`). Each of those "arms" is
queried on its own, in index order with a LIMIT, and the arms are merged
here: a page costs the page, not the size of the archive, however large the
channel archives it follows are. (A UNION of the arms made SQLite
materialise and sort the whole archive for every page.)

Every value reaches SQL as a parameter; the only text assembled at run time
is a fixed set of conditions and one `?` per requested id.
"""

from __future__ import annotations

import heapq
import itertools
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mixd.storage.contracts.archive import (
    ArchiveItem,
    ArchiveItemNotFound,
    ArchivePage,
    ArchiveQuery,
    Direction,
)

NO_END = 2**63 - 1  # an open span's end
# Counting a filtered part, or the position of a cursor, scans index
# entries; it is done only where the archive holds at most this many
# entries, else left out (XEP-0059 makes <count/> and <first index/> optional).
EXACT_LIMIT = 20_000
_COLUMNS = "SELECT id, ts, seq, with_jid, with_resource, direction, message FROM archive_entries"

Row = tuple[Any, ...]
Key = tuple[int, int]  # (ts, seq): the order within an archive


def entry_count(conn: sqlite3.Connection, owner: str) -> int:
    row = conn.execute("SELECT entries FROM archive_counts WHERE owner = ?", (owner,)).fetchone()
    return 0 if row is None else int(row[0])


@dataclass(frozen=True, slots=True)
class Arm:
    owner: str  # whose entries these are
    feed: str | None  # None: the archive's own; else shown as from this followed archive
    start: int = 0  # seq span shown
    end: int = NO_END
    size: int = 0  # how many entries it shows, unfiltered

    def where(self, q: ArchiveQuery) -> tuple[list[str], list[Any]]:
        """The conditions selecting this arm's part of `q`'s result set."""
        where: list[str] = ["owner = ?"]
        params: list[Any] = [self.owner]
        if self.feed is not None:
            # `+seq`: no index on seq, so SQLite walks (owner, ts, seq) in
            # page order and stops at the LIMIT instead of sorting the span.
            where += ["+seq >= ?", "+seq < ?"]
            params += [self.start, self.end]
        elif q.with_jid is not None:
            where.append("with_jid = ?")
            params.append(q.with_jid)
        for condition, value in (
            ("with_resource = ?", q.with_resource),
            ("ts >= ?", q.start),
            ("ts <= ?", q.end),
        ):
            if value is not None:
                where.append(condition)
                params.append(value)
        if q.ids:
            where.append(f"id IN ({', '.join('?' * len(q.ids))})")
            params.extend(q.ids)
        return where, params

    def shows(self, owner: str, seq: int) -> bool:
        return owner == self.owner and self.start <= seq < self.end


class Archive:
    """One owner's archive on a connection (used inside one writer job)."""

    def __init__(self, conn: sqlite3.Connection, owner: str) -> None:
        self.conn = conn
        self.owner = owner
        self.arms = [Arm(owner, None, size=entry_count(conn, owner))]
        for feed, start, end, start_count, end_count in conn.execute(
            "SELECT feed, from_seq, coalesce(to_seq, ?), from_count, to_count"
            " FROM archive_feeds WHERE owner = ?",
            (NO_END, owner),
        ):
            if end_count is None:
                end_count = entry_count(conn, str(feed))
            size = int(end_count) - int(start_count)
            self.arms.append(Arm(str(feed), str(feed), int(start), int(end), size))
        self.size = sum(arm.size for arm in self.arms)

    def position(self, item_id: str) -> Key:
        """Where an id sits in this archive; ArchiveItemNotFound if it is not in it."""
        row = self.conn.execute(
            "SELECT owner, ts, seq FROM archive_entries WHERE id = ?", (item_id,)
        ).fetchone()
        if row is None or not any(arm.shows(str(row[0]), int(row[2])) for arm in self.arms):
            raise ArchiveItemNotFound(item_id)
        return int(row[1]), int(row[2])

    def _selected(self, q: ArchiveQuery) -> Iterator[tuple[Arm, list[str], list[Any]]]:
        low = self.position(q.after_id) if q.after_id is not None else None
        high = self.position(q.before_id) if q.before_id is not None else None
        for item_id in q.ids:
            self.position(item_id)
        for arm in self.arms:
            if arm.feed is not None and q.with_jid is not None and q.with_jid != arm.feed:
                continue
            where, params = arm.where(q)
            for condition, bound in (("(ts, seq) > (?, ?)", low), ("(ts, seq) < (?, ?)", high)):
                if bound is not None:
                    where.append(condition)
                    params.extend(bound)
            yield arm, where, params

    def count(self, q: ArchiveQuery, before: Key | None = None) -> int | None:
        """The size of `q`'s result set (before `before`, if given); None
        when that would mean scanning more than EXACT_LIMIT entries."""
        filters = (q.with_resource, q.start, q.end, q.after_id, q.before_id)
        plain = before is None and not q.ids and all(f is None for f in filters)
        total = 0
        for arm, where, params in self._selected(q):
            if plain and (arm.feed is not None or q.with_jid is None):
                total += arm.size
                continue
            if arm.size > EXACT_LIMIT:
                return None
            if before is not None:
                where, params = [*where, "(ts, seq) < (?, ?)"], [*params, *before]
            sql = "SELECT COUNT(*) FROM archive_entries WHERE " + " AND ".join(where)
            total += int(self.conn.execute(sql, params).fetchone()[0])
        return total

    def rows(self, q: ArchiveQuery, cursor: Key | None, limit: int, descending: bool) -> list[Row]:
        """The first `limit` rows of the result set past `cursor`, in order
        (newest first when `descending`), merged across the arms."""
        arms = []
        order = " ORDER BY ts DESC, seq DESC" if descending else " ORDER BY ts, seq"
        for arm, where, params in self._selected(q):
            if cursor is not None:
                where = [*where, "(ts, seq) < (?, ?)" if descending else "(ts, seq) > (?, ?)"]
                params = [*params, *cursor]
            sql = _COLUMNS + " WHERE " + " AND ".join(where) + order + " LIMIT ?"
            found = self.conn.execute(sql, [*params, limit]).fetchall()
            if arm.feed is not None:
                found = [(*r[:3], arm.feed, r[4], str(Direction.IN), r[6]) for r in found]
            arms.append(found)
        merged = heapq.merge(*arms, key=lambda r: (r[1], r[2]), reverse=descending)
        return list(itertools.islice(merged, limit))

    def items(self, rows: list[Row]) -> tuple[ArchiveItem, ...]:
        """The page's rows with their stored messages."""
        messages = {}
        for start in range(0, len(rows), 500):
            seqs = [r[6] for r in rows[start : start + 500]]
            sql = f"SELECT seq, id, xml FROM messages WHERE seq IN ({', '.join('?' * len(seqs))})"
            for seq, message_id, xml in self.conn.execute(sql, seqs):
                messages[seq] = (str(message_id), str(xml))
        return tuple(_item(r, *messages[r[6]]) for r in rows)

    def page(self, q: ArchiveQuery) -> ArchivePage:
        count = self.count(q)
        cursor: Key | None = None
        if q.from_end and q.before:
            cursor = self.position(q.before)
        elif not q.from_end and q.after is not None:
            cursor = self.position(q.after)
        offset = 0 if q.from_end or cursor is not None else (q.index or 0)
        rows = self.rows(q, cursor, offset + q.limit + 1, q.from_end)[offset:]
        complete = len(rows) <= q.limit
        rows = rows[: q.limit]
        if q.from_end:
            rows.reverse()
        first_index: int | None = None
        if rows and cursor is None:
            first_index = offset if not q.from_end else None if count is None else count - len(rows)
        elif rows:
            first_index = self.count(q, before=(int(rows[0][1]), int(rows[0][2])))
        return ArchivePage(self.items(rows), count, first_index, complete)


def _item(row: Row, message_id: str, xml: str) -> ArchiveItem:
    entry_id, ts, _seq, with_jid, with_resource, direction, _message = row
    return ArchiveItem(
        str(entry_id),
        message_id,
        int(ts),
        str(with_jid),
        None if with_resource is None else str(with_resource),
        Direction(direction),
        xml,
    )
