"""Numbered schema migrations for the SQLite backend, tracked in `PRAGMA user_version`.

Add a new numbered file under schema/; never edit a released one. Numbers are shared with the
other SQL backends so one version means one schema everywhere.
"""

from __future__ import annotations

import sqlite3

from mixd.storage.errors import SchemaTooNew
from mixd.storage.migration_files import load_migrations

# One file per migration under schema/, so features add theirs without
# touching each other's.
MIGRATIONS: tuple[tuple[int, str], ...] = tuple(
    (number, sql) for number, _, sql in load_migrations("mixd.storage.sqlite")
)

LATEST_VERSION = MIGRATIONS[-1][0]


def apply_migrations(conn: sqlite3.Connection) -> int:
    """Bring the schema up to LATEST_VERSION in one transaction; return the version.

    `conn` must be in autocommit mode (isolation_level=None) and outside a
    transaction. Raises SchemaTooNew if the file comes from a newer mixd.
    """
    # IMMEDIATE takes the write lock before reading the version, so two
    # processes opening the same file cannot both migrate.
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = user_version(conn)
        if current > LATEST_VERSION:
            raise SchemaTooNew(
                f"database schema version {current} is newer than this mixd supports "
                f"({LATEST_VERSION}); upgrade mixd or use another database file"
            )
        for version, sql in MIGRATIONS:
            if version > current:
                for statement in split_statements(sql):
                    conn.execute(statement)
                # PRAGMA takes no parameters; `version` is an int from this module.
                conn.execute(f"PRAGMA user_version = {int(version)}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return max(current, LATEST_VERSION)


def user_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def split_statements(sql: str) -> list[str]:
    """Split a script into statements (executescript would COMMIT on its own)."""
    statements: list[str] = []
    pending = ""
    for piece in sql.split(";"):
        pending += piece + ";"
        # complete_statement knows about quotes and trigger bodies.
        if sqlite3.complete_statement(pending):
            if pending.strip(" \t\r\n;"):
                statements.append(pending.strip())
            pending = ""
    if pending.strip(" \t\r\n;"):
        raise ValueError(f"incomplete SQL statement in migration: {pending.strip()!r}")
    return statements
