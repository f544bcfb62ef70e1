"""MAM queries on PostgreSQL: one archive is the `_VISIBLE` union of its own
entries and the spans of followed archives it shows (`archive_feeds`),
answered from the (owner, ts, seq) and (owner, seq) indexes.

Every value reaches SQL as a parameter; the only text assembled at run time
is a fixed set of conditions with their `$n` placeholders, so filter input
(JIDs, ids, SQL metacharacters, LIKE wildcards) cannot change a statement.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from mixd.storage.contracts.archive import (
    ArchiveItem,
    ArchiveItemNotFound,
    ArchivePage,
    ArchiveQuery,
    Direction,
)
from mixd.storage.postgres.database import Connection

_VISIBLE = """(
    SELECT id, ts, seq, with_jid, with_resource, direction, message
    FROM archive_entries WHERE owner = $1
    UNION ALL
    SELECT x.id, x.ts, x.seq, f.feed, x.with_resource, 'in', x.message
    FROM archive_feeds f JOIN archive_entries x
        ON x.owner = f.feed AND x.seq >= f.from_seq
        AND (f.to_seq IS NULL OR x.seq < f.to_seq)
    WHERE f.owner = $1
) e"""
ITEM_COLUMNS = f"""
    SELECT e.id, e.ts, e.seq, e.with_jid, e.with_resource, e.direction,
        m.id AS message_id, m.xml
    FROM {_VISIBLE} JOIN messages m ON m.seq = e.message
"""
ASC = " ORDER BY e.ts, e.seq"
DESC = " ORDER BY e.ts DESC, e.seq DESC"

# A seq no entry will ever have, above every entry committed so far.


class _Params:
    """Values bound to a statement under construction, each as `$n`."""

    def __init__(self, *values: Any) -> None:
        self.values = list(values)

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


async def _count(conn: Connection, condition: str, params: _Params) -> int:
    return int(await conn.fetchval("SELECT COUNT(*) FROM " + _VISIBLE + condition, *params.values))


async def _position(conn: Connection, owner: str, item_id: str) -> tuple[int, int]:
    row = await conn.fetchrow(
        "SELECT e.ts, e.seq FROM " + _VISIBLE + " WHERE e.id = $2", owner, item_id
    )
    if row is None:
        raise ArchiveItemNotFound(item_id)
    return int(row["ts"]), int(row["seq"])


async def query_page(conn: Connection, q: ArchiveQuery) -> ArchivePage:
    # The full result set: these conditions, ANDed ($1 is the owner).
    params = _Params(q.owner)
    where = ["true"]
    for column, value in (
        ("e.with_jid", q.with_jid),
        ("e.with_resource", q.with_resource),
    ):
        if value is not None:
            where.append(f"{column} = {params.add(value)}")
    for condition, bound in (("e.ts >=", q.start), ("e.ts <=", q.end)):
        if bound is not None:
            where.append(f"{condition} {params.add(bound)}")
    for operator, item_id in ((">", q.after_id), ("<", q.before_id)):
        if item_id is not None:
            ts, seq = await _position(conn, q.owner, item_id)
            where.append(f"(e.ts, e.seq) {operator} ({params.add(ts)}, {params.add(seq)})")
    if q.ids:
        for item_id in q.ids:
            await _position(conn, q.owner, item_id)
        where.append(f"e.id = ANY({params.add(list(q.ids))}::text[])")
    full = " WHERE " + " AND ".join(where)
    count = await _count(conn, full, params)

    # The page within it: after a cursor, from an index, or before a cursor / the end.
    page = _Params(*params.values)
    condition, cursor = full, None
    if q.from_end and q.before:
        cursor = await _position(conn, q.owner, q.before)
        condition += f" AND (e.ts, e.seq) < ({page.add(cursor[0])}, {page.add(cursor[1])})"
    elif not q.from_end and q.after is not None:
        cursor = await _position(conn, q.owner, q.after)
        condition += f" AND (e.ts, e.seq) > ({page.add(cursor[0])}, {page.add(cursor[1])})"
    offset = 0 if q.from_end or cursor is not None else (q.index or 0)
    order = DESC if q.from_end else ASC
    sql = (
        ITEM_COLUMNS
        + condition
        + order
        + f" LIMIT {page.add(q.limit + 1)} OFFSET {page.add(offset)}"
    )
    rows = list(await conn.fetch(sql, *page.values))
    complete = len(rows) <= q.limit
    rows = rows[: q.limit]
    if q.from_end:
        rows.reverse()
    first_index: int | None = None
    if rows and cursor is None:
        first_index = count - len(rows) if q.from_end else offset
    elif rows:
        before = _Params(*params.values)
        first = f"({before.add(rows[0]['ts'])}, {before.add(rows[0]['seq'])})"
        first_index = await _count(conn, full + f" AND (e.ts, e.seq) < {first}", before)
    return ArchivePage(tuple(item(row) for row in rows), count, first_index, complete)


def item(row: asyncpg.Record) -> ArchiveItem:
    return ArchiveItem(
        str(row["id"]),
        str(row["message_id"]),
        int(row["ts"]),
        str(row["with_jid"]),
        row["with_resource"],
        Direction(row["direction"]),
        str(row["xml"]),
    )
