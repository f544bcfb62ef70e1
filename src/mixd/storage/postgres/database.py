"""A pool of asyncpg connections to one PostgreSQL database.

Every contract call is one `run(fn)`: a connection from the pool, one
transaction around `fn`, and COMMIT before `run` returns, so an acknowledged
write is durable (with the server's default `synchronous_commit = on`).
Concurrent calls use different connections; PostgreSQL commits them
together when they arrive at once (its WAL writer flushes many commits with
one fsync), which is what the SQLite backend's group commit does by hand.

Failures that mean "the database cannot serve now" (connection refused or
lost, server shutting down, too many connections, disk full, read-only,
serialization failure, timeouts) become `StorageUnavailable`; the contract's
own errors and programming errors pass through unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeAlias, TypeVar

import asyncpg
from asyncpg import exceptions as pgerrors
from asyncpg.pool import PoolConnectionProxy

from mixd.storage.errors import StorageUnavailable
from mixd.storage.postgres.migrations import apply_migrations

_T = TypeVar("_T")

# What `run` hands to its function: a pooled connection inside a transaction.
Connection: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"

DEFAULT_POOL_SIZE = 10
DEFAULT_TIMEOUT = 10.0

# SQLSTATE classes meaning "the database cannot serve now", not "bad request":
# 08 connection exception, 40 transaction rollback (serialization failure,
# deadlock), 53 insufficient resources, 57 operator intervention (shutdown,
# statement timeout), 58 system error (I/O); and 25006 read-only transaction.
_UNAVAILABLE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
_UNAVAILABLE_STATES = frozenset({"25006"})


def map_error(exc: BaseException) -> BaseException:
    """StorageUnavailable for transient failures; anything else unchanged."""
    if isinstance(exc, pgerrors.PostgresError):
        state = str(getattr(exc, "sqlstate", "") or "")
        transient = state[:2] in _UNAVAILABLE_CLASSES or state in _UNAVAILABLE_STATES
    else:
        # Client side: the pool or connection is closed (a plain InterfaceError;
        # its subclasses are the caller's mistakes: bad values, configuration)
        # or broken mid-protocol, the server cannot be reached, or an
        # operation timed out.
        transient = type(exc) is pgerrors.InterfaceError or isinstance(
            exc, pgerrors.InternalClientError | OSError | TimeoutError
        )
    if not transient:
        return exc
    mapped = StorageUnavailable(f"database unavailable: {exc}")
    mapped.__cause__ = exc
    return mapped


def _raise_mapped(exc: Exception) -> NoReturn:
    """Raise `exc`, or the StorageUnavailable it maps to (caused by it)."""
    mapped = map_error(exc)
    if mapped is exc:
        raise exc
    raise mapped from exc


class PostgresDatabase:
    """A PostgreSQL database behind a connection pool; `run` is the only way to touch it."""

    def __init__(
        self,
        dsn: str,
        *,
        pool_size: int = DEFAULT_POOL_SIZE,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        self._dsn = dsn
        self._pool_size = pool_size
        self._timeout = timeout
        self._pool: asyncpg.Pool | None = None
        self._accepting = False

    async def open(self) -> None:
        """Connect the pool and apply migrations; StorageUnavailable if the
        server cannot be reached."""
        if self._pool is not None:
            raise RuntimeError("PostgresDatabase.open() called twice")
        try:
            # A fixed-size pool: every connection is made here, so calls never
            # wait for a new one, and asyncpg's connection set-up (which reads
            # libpq's files with blocking calls) stays out of the running
            # server except to replace a broken connection.
            pool = await asyncpg.create_pool(
                self._dsn,
                min_size=self._pool_size,
                max_size=self._pool_size,
                max_inactive_connection_lifetime=0,
                timeout=self._timeout,
                command_timeout=self._timeout,
            )
        except Exception as exc:
            _raise_mapped(exc)
        try:
            async with pool.acquire(timeout=self._timeout) as conn:
                await apply_migrations(conn)
        except BaseException as exc:
            await pool.close()
            if isinstance(exc, Exception):
                _raise_mapped(exc)
            raise
        self._pool = pool
        self._accepting = True

    async def close(self) -> None:
        """Wait for running calls, then close every connection."""
        if self._pool is None or not self._accepting:
            return
        self._accepting = False
        try:
            await asyncio.wait_for(self._pool.close(), self._timeout)
        except TimeoutError:
            self._pool.terminate()

    async def run(
        self, fn: Callable[[Connection], Awaitable[_T]], *, read_only: bool = False
    ) -> _T:
        """Run `fn(connection)` in a transaction and commit; return its result.

        With `read_only`, the transaction is REPEATABLE READ READ ONLY: every
        statement of `fn` sees one snapshot (a count and the page it goes with
        agree, as on SQLite's single writer) and nothing waits for writers.
        Writes use READ COMMITTED and lock what they must.

        Raises what `fn` raised (after rolling back), transient failures as
        StorageUnavailable, or StorageUnavailable if the database is closed.
        If the caller is cancelled during COMMIT the call may still be applied.
        """
        pool = self._pool
        if not self._accepting or pool is None:
            raise StorageUnavailable("database is not open")
        try:
            async with (
                pool.acquire(timeout=self._timeout) as conn,
                conn.transaction(
                    isolation="repeatable_read" if read_only else None, readonly=read_only
                ),
            ):
                return await fn(conn)
        except Exception as exc:
            _raise_mapped(exc)
