"""One SQLite connection owned by one writer thread, with group commit.

Every database call runs on the dedicated thread, never on the event loop.
Jobs queued while a transaction is running are committed together in the next
one (up to `max_batch`), each inside its own SAVEPOINT so a failing job undoes
only its own changes. A job's caller is answered only after COMMIT returned,
so an acknowledged write is on disk (WAL + synchronous=FULL; NORMAL, when
chosen, syncs at checkpoints only: a commit then survives the process dying
but not a power loss).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from mixd.storage.errors import StorageError, StorageUnavailable
from mixd.storage.sqlite.migrations import apply_migrations

_T = TypeVar("_T")

DEFAULT_MAX_BATCH = 256
DEFAULT_BUSY_TIMEOUT_MS = 5000

# Primary result codes meaning "the database cannot serve now", not "bad request".
_UNAVAILABLE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
    }
)


def map_error(exc: Exception) -> Exception:
    """StorageUnavailable for transient OperationalErrors; anything else unchanged."""
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None and code & 0xFF in _UNAVAILABLE_CODES:
            mapped = StorageUnavailable(f"database unavailable: {exc}")
            mapped.__cause__ = exc
            return mapped
    return exc


@dataclass(slots=True)
class _Job:
    fn: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any]


@dataclass(slots=True)
class _Stop:
    future: asyncio.Future[None]


@dataclass(slots=True)
class _Outcome:
    job: _Job
    ok: bool
    value: Any


class SQLiteDatabase:
    """A SQLite file served by one thread; `run` is the only way to touch it.

    Jobs passed to `run` must not BEGIN/COMMIT/ROLLBACK, defer constraints or
    return live cursors: they share the transaction with other jobs. A job
    may run twice (a batch in which some job failed is rolled back and run
    again job by job), so it must change nothing but the database.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        synchronous: str = "FULL",
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError("synchronous must be FULL or NORMAL")
        self._synchronous = synchronous
        self._path = Path(path)
        self._max_batch = max_batch
        self._busy_timeout_ms = int(busy_timeout_ms)
        self._queue: queue.SimpleQueue[_Job | _Stop] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._accepting = False
        self._committed = 0

    @property
    def path(self) -> Path:
        return self._path

    @property
    def committed_transactions(self) -> int:
        """How many transactions the writer thread committed (for metrics and tests)."""
        return self._committed

    async def open(self) -> None:
        """Start the writer thread, open the file and apply migrations."""
        if self._thread is not None:
            raise RuntimeError("SQLiteDatabase.open() called twice")
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        self._loop = loop
        self._thread = threading.Thread(
            target=self._main, args=(ready,), name=f"mixd-sqlite-{self._path.name}", daemon=True
        )
        self._thread.start()
        try:
            await ready
        except asyncio.CancelledError:
            # The thread may still open the file: tell it to stop once it has.
            self._queue.put(_Stop(loop.create_future()))
            raise
        self._accepting = True

    async def close(self) -> None:
        """Finish the queued jobs, close the connection and stop the thread."""
        if not self._accepting or self._loop is None or self._thread is None:
            return
        self._accepting = False
        done: asyncio.Future[None] = self._loop.create_future()
        self._queue.put(_Stop(done))
        await done
        # The thread is exiting; join off the loop so a slow exit cannot block it.
        await asyncio.to_thread(self._thread.join)

    async def run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `fn(connection)` on the writer thread in a transaction; return its result.

        Raises what `fn` raised (transient sqlite errors as StorageUnavailable),
        or StorageUnavailable if the COMMIT failed or the database is closed.
        If the caller is cancelled the job may still be applied.
        """
        if not self._accepting or self._loop is None:
            raise StorageUnavailable("database is not open")
        future: asyncio.Future[_T] = self._loop.create_future()
        self._queue.put(_Job(fn, future))
        return await future

    # --- writer thread -------------------------------------------------------

    def _main(self, ready: asyncio.Future[None]) -> None:
        try:
            conn = self._connect()
        except Exception as exc:
            error = map_error(exc)  # `exc` is unbound once the except block ends
            self._deliver(lambda: _set_outcome(ready, False, error))
            return
        self._deliver(lambda: _set_outcome(ready, True, None))
        stop: _Stop | None = None
        try:
            stop = self._serve(conn)
        finally:
            conn.close()
            if stop is not None:
                finished = stop.future
                self._deliver(lambda: _set_outcome(finished, True, None))

    def _connect(self) -> sqlite3.Connection:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self._path, timeout=self._busy_timeout_ms / 1000, isolation_level=None
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StorageError(f"cannot enable WAL on {self._path} (journal_mode={mode})")
            # A PRAGMA takes no parameters; the value is one of two constants.
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            conn.execute("PRAGMA foreign_keys = ON")
            apply_migrations(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _serve(self, conn: sqlite3.Connection) -> _Stop:
        while True:
            batch, stop = self._next_batch()
            pending = batch
            while pending:
                pending = self._run_transaction(conn, pending)
            if stop is not None:
                return stop

    def _next_batch(self) -> tuple[list[_Job], _Stop | None]:
        """Wait for one item, then take whatever else is already queued."""
        first = self._queue.get()
        if isinstance(first, _Stop):
            return [], first
        batch = [first]
        while len(batch) < self._max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Stop):
                return batch, item
            batch.append(item)
        return batch, None

    def _run_transaction(self, conn: sqlite3.Connection, batch: list[_Job]) -> list[_Job]:
        """Run `batch` in one transaction; return the jobs left to retry, if any."""
        outcomes = _run_optimistically(conn, batch)
        if outcomes is not None:
            self._commit(conn, outcomes)
            return []
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            error = map_error(exc)
            self._deliver_outcomes([_Outcome(job, False, error) for job in batch])
            return []
        outcomes = []
        for index, job in enumerate(batch):
            outcome = _run_job(conn, job)
            outcomes.append(outcome)
            if not conn.in_transaction:
                # SQLite rolled the whole transaction back (disk full, I/O error):
                # the work of earlier jobs is gone, the rest get a new transaction.
                self._deliver_outcomes(_as_lost(outcomes, "transaction was rolled back"))
                return batch[index + 1 :]
        self._commit(conn, outcomes)
        return []

    def _commit(self, conn: sqlite3.Connection, outcomes: list[_Outcome]) -> None:
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(conn)
            self._deliver_outcomes(_as_lost(outcomes, f"commit failed: {exc}", cause=exc))
            return
        self._committed += 1
        self._deliver_outcomes(outcomes)

    def _deliver_outcomes(self, outcomes: list[_Outcome]) -> None:
        # One wake-up of the loop per batch, not per job.
        self._deliver(lambda: _settle(outcomes))

    def _deliver(self, callback: Callable[[], None]) -> None:
        assert self._loop is not None
        # A closed loop has nobody left to answer.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(callback)


def _run_optimistically(conn: sqlite3.Connection, batch: list[_Job]) -> list[_Outcome] | None:
    """Run the batch with no SAVEPOINT per job: two statements fewer each,
    and each statement hands the GIL to the event loop and back. If any job
    fails, the transaction is rolled back and None says to run the batch
    again job by job, each in its own SAVEPOINT, so only that job fails."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error:
        return None
    outcomes = []
    for job in batch:
        try:
            outcomes.append(_Outcome(job, True, job.fn(conn)))
        except Exception:
            _rollback(conn)
            return None
        if not conn.in_transaction:
            return None  # SQLite rolled back by itself: the careful path sorts it out
    return outcomes


def _run_job(conn: sqlite3.Connection, job: _Job) -> _Outcome:
    try:
        conn.execute("SAVEPOINT job")
        value = job.fn(conn)
        conn.execute("RELEASE job")
    except Exception as exc:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
        return _Outcome(job, False, map_error(exc))
    return _Outcome(job, True, value)


def _as_lost(
    outcomes: list[_Outcome], reason: str, cause: BaseException | None = None
) -> list[_Outcome]:
    """Successful jobs whose transaction did not commit become StorageUnavailable."""
    result: list[_Outcome] = []
    for outcome in outcomes:
        if outcome.ok:
            error = StorageUnavailable(reason)
            error.__cause__ = cause
            outcome = _Outcome(outcome.job, False, error)
        result.append(outcome)
    return result


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def _settle(outcomes: list[_Outcome]) -> None:
    for outcome in outcomes:
        _set_outcome(outcome.job.future, outcome.ok, outcome.value)


def _set_outcome(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():  # the caller was cancelled
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
