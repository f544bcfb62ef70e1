"""AccountStore on SQLite (schema: migration 1)."""

from __future__ import annotations

import sqlite3

from mixd.storage.contracts.accounts import Account, ScramCredential, check_credentials
from mixd.storage.errors import AccountExists, AccountNotFound
from mixd.storage.sqlite.database import SQLiteDatabase

_INSERT_CREDENTIAL = """
    INSERT INTO account_credentials
        (host, username, mechanism, position, salt, stored_key, server_key, iterations)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
"""

_SELECT_CREDENTIALS = """
    SELECT mechanism, salt, stored_key, server_key, iterations
    FROM account_credentials
    WHERE host = ? AND username = ?
    ORDER BY position
"""


class SQLiteAccountStore:
    """Accounts in the `accounts` and `account_credentials` tables."""

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db

    async def create(
        self, host: str, username: str, credentials: tuple[ScramCredential, ...]
    ) -> None:
        checked = check_credentials(credentials)

        def job(conn: sqlite3.Connection) -> None:
            cursor = conn.execute(
                "INSERT INTO accounts (host, username) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (host, username),
            )
            if cursor.rowcount == 0:
                raise AccountExists(f"account {username}@{host} already exists")
            _insert_credentials(conn, host, username, checked)

        await self._db.run(job)

    async def get(self, host: str, username: str) -> Account | None:
        def job(conn: sqlite3.Connection) -> Account | None:
            if not _exists(conn, host, username):
                return None
            rows = conn.execute(_SELECT_CREDENTIALS, (host, username)).fetchall()
            return Account(host, username, tuple(_credential_from_row(row) for row in rows))

        return await self._db.run(job)

    async def set_credentials(
        self, host: str, username: str, credentials: tuple[ScramCredential, ...]
    ) -> None:
        checked = check_credentials(credentials)

        def job(conn: sqlite3.Connection) -> None:
            if not _exists(conn, host, username):
                raise AccountNotFound(f"no account {username}@{host}")
            conn.execute(
                "DELETE FROM account_credentials WHERE host = ? AND username = ?",
                (host, username),
            )
            _insert_credentials(conn, host, username, checked)

        await self._db.run(job)

    async def delete(self, host: str, username: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            # Credentials go with the account (ON DELETE CASCADE).
            cursor = conn.execute(
                "DELETE FROM accounts WHERE host = ? AND username = ?", (host, username)
            )
            return cursor.rowcount > 0

        return await self._db.run(job)

    async def list_usernames(self, host: str) -> list[str]:
        def job(conn: sqlite3.Connection) -> list[str]:
            # BINARY collation orders UTF-8 bytes, i.e. code points, like sorted().
            rows = conn.execute(
                "SELECT username FROM accounts WHERE host = ? ORDER BY username", (host,)
            ).fetchall()
            return [str(row[0]) for row in rows]

        return await self._db.run(job)


def _exists(conn: sqlite3.Connection, host: str, username: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM accounts WHERE host = ? AND username = ?", (host, username)
    ).fetchone()
    return row is not None


def _insert_credentials(
    conn: sqlite3.Connection,
    host: str,
    username: str,
    credentials: tuple[ScramCredential, ...],
) -> None:
    conn.executemany(
        _INSERT_CREDENTIAL,
        [
            (
                host,
                username,
                c.mechanism,
                position,
                c.salt,
                c.stored_key,
                c.server_key,
                c.iterations,
            )
            for position, c in enumerate(credentials)
        ],
    )


def _credential_from_row(row: tuple[object, ...]) -> ScramCredential:
    mechanism, salt, stored_key, server_key, iterations = row
    assert isinstance(mechanism, str)
    assert isinstance(salt, bytes)
    assert isinstance(stored_key, bytes)
    assert isinstance(server_key, bytes)
    assert isinstance(iterations, int)
    return ScramCredential(mechanism, salt, stored_key, server_key, iterations)
