"""AccountStore on PostgreSQL (schema: migration 1)."""

from __future__ import annotations

import asyncpg

from mixd.storage.contracts.accounts import Account, ScramCredential, check_credentials
from mixd.storage.errors import AccountExists, AccountNotFound
from mixd.storage.postgres.database import Connection, PostgresDatabase

_INSERT_CREDENTIAL = """
    INSERT INTO account_credentials
        (host, username, mechanism, position, salt, stored_key, server_key, iterations)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""

_SELECT_CREDENTIALS = """
    SELECT mechanism, salt, stored_key, server_key, iterations
    FROM account_credentials
    WHERE host = $1 AND username = $2
    ORDER BY position
"""


class PostgresAccountStore:
    """Accounts in the `accounts` and `account_credentials` tables."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def create(
        self, host: str, username: str, credentials: tuple[ScramCredential, ...]
    ) -> None:
        checked = check_credentials(credentials)

        async def job(conn: Connection) -> None:
            created = await conn.fetchval(
                "INSERT INTO accounts (host, username) VALUES ($1, $2)"
                " ON CONFLICT DO NOTHING RETURNING true",
                host,
                username,
            )
            if not created:
                raise AccountExists(f"account {username}@{host} already exists")
            await _insert_credentials(conn, host, username, checked)

        await self._db.run(job)

    async def get(self, host: str, username: str) -> Account | None:
        async def job(conn: Connection) -> Account | None:
            if not await account_exists(conn, host, username):
                return None
            rows = await conn.fetch(_SELECT_CREDENTIALS, host, username)
            return Account(host, username, tuple(_credential(row) for row in rows))

        return await self._db.run(job, read_only=True)

    async def set_credentials(
        self, host: str, username: str, credentials: tuple[ScramCredential, ...]
    ) -> None:
        checked = check_credentials(credentials)

        async def job(conn: Connection) -> None:
            await require_account(conn, host, username)
            await conn.execute(
                "DELETE FROM account_credentials WHERE host = $1 AND username = $2",
                host,
                username,
            )
            await _insert_credentials(conn, host, username, checked)

        await self._db.run(job)

    async def delete(self, host: str, username: str) -> bool:
        async def job(conn: Connection) -> bool:
            # Credentials (and everything else of the account) go with it: ON DELETE CASCADE.
            deleted = await conn.fetchval(
                "DELETE FROM accounts WHERE host = $1 AND username = $2 RETURNING true",
                host,
                username,
            )
            return bool(deleted)

        return await self._db.run(job)

    async def list_usernames(self, host: str) -> list[str]:
        async def job(conn: Connection) -> list[str]:
            # The column's "C" collation orders by code point, like sorted().
            rows = await conn.fetch(
                "SELECT username FROM accounts WHERE host = $1 ORDER BY username", host
            )
            return [str(row["username"]) for row in rows]

        return await self._db.run(job, read_only=True)


async def account_exists(conn: Connection, host: str, username: str, *, lock: bool = False) -> bool:
    """Whether the account exists; with `lock`, also hold its row until the
    transaction ends, which serializes writers of that account's data and
    keeps the account from being deleted meanwhile (foreign key checks of
    other transactions are not blocked)."""
    query = "SELECT 1 FROM accounts WHERE host = $1 AND username = $2"
    row = await conn.fetchrow(query + (" FOR NO KEY UPDATE" if lock else ""), host, username)
    return row is not None


async def require_account(conn: Connection, host: str, username: str) -> None:
    """Lock the account's row (see `account_exists`); AccountNotFound if there is none."""
    if not await account_exists(conn, host, username, lock=True):
        raise AccountNotFound(f"no account {username}@{host}")


async def _insert_credentials(
    conn: Connection,
    host: str,
    username: str,
    credentials: tuple[ScramCredential, ...],
) -> None:
    await conn.executemany(
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


def _credential(row: asyncpg.Record) -> ScramCredential:
    return ScramCredential(
        str(row["mechanism"]),
        bytes(row["salt"]),
        bytes(row["stored_key"]),
        bytes(row["server_key"]),
        int(row["iterations"]),
    )
