"""Numbered schema migrations for the PostgreSQL backend, tracked in the
`schema_version` table (one row per applied migration).

Add a new numbered file under schema/; never edit a released one. Numbers and
names match the SQLite backend's one to one, so one version means one schema
everywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mixd.storage.errors import SchemaTooNew, StorageError
from mixd.storage.migration_files import load_migrations

if TYPE_CHECKING:
    from mixd.storage.postgres.database import Connection

MIGRATIONS: tuple[tuple[int, str, str], ...] = load_migrations("mixd.storage.postgres")

LATEST_VERSION = MIGRATIONS[-1][0]

# Held for the migration transaction, so two servers starting on one
# database cannot both migrate it. The value only has to be constant.
_MIGRATION_LOCK = 0x6D69_7864_0001

_CREATE_VERSION_TABLE = """
    CREATE TABLE IF NOT EXISTS schema_version (
        version INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        applied TIMESTAMPTZ NOT NULL DEFAULT now()
    )
"""


async def apply_migrations(conn: Connection) -> int:
    """Bring the schema up to LATEST_VERSION in one transaction; return the version.

    Raises SchemaTooNew if the database was written by a newer mixd, and
    StorageError if its recorded versions are not 1..N without a gap.
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        await conn.execute(_CREATE_VERSION_TABLE)
        current = await schema_version(conn)
        if current > LATEST_VERSION:
            raise SchemaTooNew(
                f"database schema version {current} is newer than this mixd supports "
                f"({LATEST_VERSION}); upgrade mixd or use another database"
            )
        for version, name, sql in MIGRATIONS:
            if version > current:
                # A script without parameters runs as one multi-statement query.
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO schema_version (version, name) VALUES ($1, $2)", version, name
                )
    return max(current, LATEST_VERSION)


async def schema_version(conn: Connection) -> int:
    """The highest applied migration (0 for an empty database); StorageError
    if the applied ones are not contiguous from 1."""
    rows = await conn.fetch("SELECT version FROM schema_version ORDER BY version")
    applied = [int(row["version"]) for row in rows]
    if applied != list(range(1, len(applied) + 1)):
        raise StorageError(f"schema_version holds {applied}: migrations must be 1..N")
    return len(applied)
