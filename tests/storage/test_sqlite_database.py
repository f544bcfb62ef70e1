"""SQLiteDatabase: pragmas, migrations, group commit, error mapping, loop safety."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import pytest
from blockbuster import BlockingError, blockbuster_ctx

from mixd.app import open_database
from mixd.config import load_config
from mixd.storage.contracts.accounts import ScramCredential
from mixd.storage.errors import SchemaTooNew, StorageUnavailable
from mixd.storage.sqlite import migrations
from mixd.storage.sqlite.accounts import SQLiteAccountStore
from mixd.storage.sqlite.database import SQLiteDatabase

WAIT = 10.0  # upper bound for any single wait; tests normally finish in milliseconds
CREDS = (ScramCredential("SCRAM-SHA-256", b"s" * 16, b"k" * 32, b"v" * 32, 4096),)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[SQLiteDatabase]:
    database = SQLiteDatabase(tmp_path / "mixd.sqlite")
    await database.open()
    await database.run(lambda c: c.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)").fetchall())
    try:
        yield database
    finally:
        await database.close()


def insert(n: int, fail: bool = False) -> Callable[[sqlite3.Connection], int]:
    def job(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO t (n) VALUES (?)", (n,))
        if fail:
            raise ValueError(f"job {n} failed")
        return n

    return job


async def rows(db: SQLiteDatabase) -> set[int]:
    return await db.run(lambda c: {r[0] for r in c.execute("SELECT n FROM t").fetchall()})


def file_user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


class Blocker:
    """A job that holds the writer thread until released, so others queue up behind it."""

    def __init__(self) -> None:
        self.started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._release = threading.Event()
        self._loop = asyncio.get_running_loop()

    def __call__(self, conn: sqlite3.Connection) -> None:
        self._loop.call_soon_threadsafe(self.started.set_result, None)
        if not self._release.wait(timeout=WAIT):
            raise TimeoutError("the test never released the writer thread")

    def release(self) -> None:
        self._release.set()


async def run_batch(
    db: SQLiteDatabase, jobs: Sequence[Callable[[sqlite3.Connection], object]]
) -> list[object]:
    """Queue `jobs` behind a Blocker so the writer sees them all at once."""
    blocker = Blocker()
    blocked = asyncio.create_task(db.run(blocker))
    # Tasks run in creation order, so every job is queued before `started` resolves.
    tasks = [asyncio.create_task(db.run(job)) for job in jobs]
    await asyncio.wait_for(blocker.started, WAIT)
    blocker.release()
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), WAIT)
    # The blocker may share the jobs' transaction, and so their fate: only its
    # own timeout matters here.
    (outcome,) = await asyncio.wait_for(asyncio.gather(blocked, return_exceptions=True), WAIT)
    assert not isinstance(outcome, TimeoutError)
    return list(results)


# --- opening, pragmas, migrations -------------------------------------------


async def test_pragmas(db: SQLiteDatabase) -> None:
    def read(conn: sqlite3.Connection) -> tuple[object, ...]:
        return tuple(
            conn.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        )

    assert await db.run(read) == ("wal", 2, 1, 5000)  # synchronous 2 == FULL


async def test_process_durability_syncs_at_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "mixd.toml"
    path.write_text(
        f'[server]\ndata_dir = "{tmp_path}"\n[storage]\nsqlite_durability = "process"\n'
    )
    db = open_database(load_config(path))
    assert isinstance(db, SQLiteDatabase)
    await db.open()
    try:
        level = await db.run(lambda conn: conn.execute("PRAGMA synchronous").fetchone()[0])
        assert level == 1  # NORMAL
    finally:
        await db.close()
    with pytest.raises(ValueError):
        SQLiteDatabase(tmp_path / "x.sqlite", synchronous="OFF")


async def test_open_creates_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "mixd.sqlite"
    database = SQLiteDatabase(path)
    await database.open()
    await database.close()
    assert path.is_file()
    assert file_user_version(path) == migrations.LATEST_VERSION


async def test_migrations_idempotent_and_data_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "mixd.sqlite"
    first = SQLiteDatabase(path)
    await first.open()
    await SQLiteAccountStore(first).create("example.org", "alice", CREDS)
    await first.close()

    second = SQLiteDatabase(path)
    await second.open()  # would fail with "table accounts already exists" if re-applied
    try:
        account = await SQLiteAccountStore(second).get("example.org", "alice")
        version = await second.run(migrations.user_version)
    finally:
        await second.close()
    assert account is not None and account.credentials == CREDS
    assert version == migrations.LATEST_VERSION


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mixd.sqlite"
    newer = migrations.LATEST_VERSION + 1
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {newer}")
    conn.close()

    database = SQLiteDatabase(path)
    with pytest.raises(SchemaTooNew, match="newer than this mixd supports"):
        await database.open()
    assert file_user_version(path) == newer
    with pytest.raises(StorageUnavailable):
        await database.run(migrations.user_version)


async def test_failed_migration_is_rolled_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mixd.sqlite"
    broken = (2, "CREATE TABLE half_done (x INTEGER); CREATE TABLE oops (;")
    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, broken))
    monkeypatch.setattr(migrations, "LATEST_VERSION", 2)

    with pytest.raises(sqlite3.OperationalError):
        await SQLiteDatabase(path).open()

    conn = sqlite3.connect(path)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()
    # Nothing of either migration stays: they run in one transaction.
    assert file_user_version(path) == 0
    assert "half_done" not in tables and "accounts" not in tables


def test_migration_numbers_are_contiguous_from_one() -> None:
    versions = [version for version, _ in migrations.MIGRATIONS]
    assert versions == list(range(1, len(versions) + 1))
    assert versions[-1] == migrations.LATEST_VERSION


def test_split_statements_respects_quotes_and_triggers() -> None:
    sql = """
        CREATE TABLE a (x TEXT DEFAULT ';');
        CREATE TRIGGER tr AFTER INSERT ON a BEGIN
            UPDATE a SET x = 'b;c'; DELETE FROM a WHERE x = ';';
        END;
    """
    statements = migrations.split_statements(sql)
    assert len(statements) == 2
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")


# --- transactions and group commit ------------------------------------------


async def test_run_returns_result_and_commits(db: SQLiteDatabase) -> None:
    assert await db.run(insert(1)) == 1
    # Acknowledged means committed: another connection sees it at once.
    conn = sqlite3.connect(db.path)
    try:
        assert conn.execute("SELECT n FROM t").fetchall() == [(1,)]
    finally:
        conn.close()


async def test_failing_job_alone_is_rolled_back(db: SQLiteDatabase) -> None:
    with pytest.raises(ValueError, match="job 1 failed"):
        await db.run(insert(1, fail=True))
    assert await rows(db) == set()


async def test_concurrent_jobs_share_one_commit(db: SQLiteDatabase) -> None:
    before = db.committed_transactions
    results = await run_batch(db, [insert(n) for n in range(200)])
    commits = db.committed_transactions - before
    assert results == list(range(200))
    assert await rows(db) == set(range(200))
    # A handful of batches (the writer may drain the queue while it is still
    # filling), never one commit per job.
    assert commits <= 4


async def test_failing_job_in_batch_rolls_back_only_itself(db: SQLiteDatabase) -> None:
    before = db.committed_transactions
    jobs = [insert(n, fail=(n == 37)) for n in range(100)]
    results = await run_batch(db, jobs)

    failure = results[37]
    assert isinstance(failure, ValueError) and str(failure) == "job 37 failed"
    assert results[:37] + results[38:] == [n for n in range(100) if n != 37]
    commits = db.committed_transactions - before
    assert await rows(db) == set(range(100)) - {37}
    assert commits <= 4


async def test_batches_are_bounded(tmp_path: Path) -> None:
    database = SQLiteDatabase(tmp_path / "mixd.sqlite", max_batch=10)
    await database.open()
    try:
        await database.run(lambda c: c.execute("CREATE TABLE t (n INTEGER)").fetchall())
        before = database.committed_transactions
        await run_batch(database, [insert(n) for n in range(100)])
        # 101 jobs (blocker included) in batches of at most 10.
        assert database.committed_transactions - before == 11
        assert await rows(database) == set(range(100))
    finally:
        await database.close()


async def test_failed_commit_fails_whole_batch(db: SQLiteDatabase) -> None:
    def orphan(conn: sqlite3.Connection) -> None:
        # A deferred foreign-key violation passes the savepoint and fails at COMMIT.
        conn.execute("PRAGMA defer_foreign_keys = ON")
        conn.execute(
            "INSERT INTO account_credentials VALUES ('h', 'nobody', 'M', 0, x'00', x'00', x'00', 1)"
        )

    results = await run_batch(db, [insert(1), orphan, insert(2)])
    assert all(isinstance(r, StorageUnavailable) for r in results), results
    assert await rows(db) == set()
    assert await db.run(insert(3)) == 3  # the connection is usable again


async def test_plain_sql_error_is_not_unavailable(db: SQLiteDatabase) -> None:
    with pytest.raises(sqlite3.OperationalError, match="no such table") as info:
        await db.run(lambda c: c.execute("SELECT * FROM missing").fetchall())
    assert not isinstance(info.value, StorageUnavailable)


async def test_locked_database_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "mixd.sqlite"
    database = SQLiteDatabase(path, busy_timeout_ms=0)
    await database.open()
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        with pytest.raises(StorageUnavailable, match="locked") as info:
            await database.run(migrations.user_version)
        assert isinstance(info.value.__cause__, sqlite3.OperationalError)
        other.execute("ROLLBACK")
        assert await database.run(migrations.user_version) == migrations.LATEST_VERSION
    finally:
        other.close()
        await database.close()


# --- lifecycle ------------------------------------------------------------------


async def test_close_finishes_queued_jobs_and_stops_thread(tmp_path: Path) -> None:
    path = tmp_path / "closing.sqlite"
    database = SQLiteDatabase(path)
    await database.open()
    await database.run(lambda c: c.execute("CREATE TABLE t (n INTEGER)").fetchall())
    jobs = [asyncio.create_task(database.run(insert(n))) for n in range(50)]
    closing = asyncio.create_task(database.close())  # created last, so it runs last
    assert await asyncio.wait_for(asyncio.gather(*jobs), WAIT) == list(range(50))
    await asyncio.wait_for(closing, WAIT)

    assert not [t for t in threading.enumerate() if t.name == "mixd-sqlite-closing.sqlite"]
    with pytest.raises(StorageUnavailable):
        await database.run(insert(99))
    await database.close()  # idempotent

    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 50
    finally:
        conn.close()


async def test_database_calls_never_block_the_loop(tmp_path: Path) -> None:
    probe = sqlite3.connect(":memory:")
    try:
        with blockbuster_ctx():
            # The detector is live: a direct sqlite call on the loop is caught.
            with pytest.raises(BlockingError):
                probe.execute("SELECT 1")

            database = SQLiteDatabase(tmp_path / "sub" / "mixd.sqlite")
            await database.open()
            store = SQLiteAccountStore(database)
            await store.create("example.org", "alice", CREDS)
            await asyncio.gather(
                *(store.create("example.org", f"user{n}", CREDS) for n in range(20))
            )
            assert (await store.get("example.org", "alice")) is not None
            await store.set_credentials("example.org", "alice", CREDS)
            assert len(await store.list_usernames("example.org")) == 21
            assert await store.delete("example.org", "alice")
            await database.close()
    finally:
        probe.close()
