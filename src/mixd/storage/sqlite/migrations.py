"""Numbered schema migrations for the SQLite backend, tracked in `PRAGMA user_version`.

Add a new numbered file under schema/; never edit a released one. Numbers are shared with the
other SQL backends so one version means one schema everywhere.
"""

from __future__ import annotations

import sqlite3
from importlib import resources

from mixd.storage.errors import SchemaTooNew


def _load_migrations() -> tuple[tuple[int, str], ...]:
    """Every `schema/NNNN_name.sql` file, in order; numbers must be 1..N (a gap
    would let a database skip a migration that appears later)."""
    files = sorted(
        (int(f.name.split("_", 1)[0]), f.read_text(encoding="utf-8"))
        for f in resources.files("mixd.storage.sqlite").joinpath("schema").iterdir()
        if f.name.endswith(".sql")
    )
    numbers = [number for number, _ in files]
    if numbers != list(range(1, len(files) + 1)):
        raise RuntimeError(f"schema migrations must be numbered 1..N, found {numbers}")
    return tuple(files)


# One file per migration under schema/, so features add theirs without
# touching each other's.
MIGRATIONS: tuple[tuple[int, str], ...] = _load_migrations()

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
