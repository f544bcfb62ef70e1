"""PostgresDatabase: migrations, transactions, error mapping, loop safety,
and what the schema itself enforces."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from blockbuster import blockbuster_ctx

from mixd.storage import migration_files
from mixd.storage.contracts.archive import ArchiveQuery, Direction, MessageRecord, NewEntry
from mixd.storage.contracts.mix import Channel, Participant
from mixd.storage.contracts.pep import NodeConfig, PepItem
from mixd.storage.contracts.roster import LastPresence, RosterItem, Subscription
from mixd.storage.errors import SchemaTooNew, StorageError, StorageUnavailable
from mixd.storage.postgres import archive, migrations
from mixd.storage.postgres.accounts import PostgresAccountStore
from mixd.storage.postgres.database import Connection, PostgresDatabase, map_error
from mixd.storage.postgres.mix import PostgresMixStore
from mixd.storage.postgres.pep import PostgresPepStore
from mixd.storage.postgres.roster import PostgresRosterStore
from tests.pg_cluster import Cluster

HOST = "example.org"
BOB = "bob@example.org"
COFFEE = "coffee@mix.example.org"


@pytest.fixture
async def dsn(postgres_cluster: Cluster) -> AsyncIterator[str]:
    """A new, empty database."""
    async with postgres_cluster.fresh_database() as fresh:
        yield fresh


@pytest.fixture
async def db(dsn: str) -> AsyncIterator[PostgresDatabase]:
    database = PostgresDatabase(dsn, pool_size=4)
    await database.open()
    try:
        yield database
    finally:
        await database.close()


async def applied(dsn: str) -> list[tuple[int, str]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT version, name FROM schema_version ORDER BY version")
        return [(row["version"], row["name"]) for row in rows]
    finally:
        await conn.close()


async def execute(dsn: str, query: str, *args: object) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(query, *args)
    finally:
        await conn.close()


# --- migrations --------------------------------------------------------------


def test_migration_files_match_sqlite_one_to_one() -> None:
    sqlite = migration_files.load_migrations("mixd.storage.sqlite")
    postgres = migration_files.load_migrations("mixd.storage.postgres")
    assert [name for _, name, _ in postgres] == [name for _, name, _ in sqlite]
    assert len(sqlite) == migrations.LATEST_VERSION


async def test_open_applies_every_migration_once(dsn: str) -> None:
    expected = [(number, name) for number, name, _ in migrations.MIGRATIONS]
    for _ in range(2):
        db = PostgresDatabase(dsn)
        await db.open()
        await db.close()
        assert await applied(dsn) == expected


async def test_data_survives_reopen(dsn: str) -> None:
    db = PostgresDatabase(dsn)
    await db.open()
    await PostgresAccountStore(db).create(HOST, "alice", ())
    await db.close()
    db = PostgresDatabase(dsn)
    await db.open()
    try:
        assert await PostgresAccountStore(db).list_usernames(HOST) == ["alice"]
    finally:
        await db.close()


async def test_newer_schema_is_refused(dsn: str) -> None:
    db = PostgresDatabase(dsn)
    await db.open()
    await db.close()
    await execute(
        dsn,
        "INSERT INTO schema_version (version, name) VALUES ($1, 'future.sql')",
        migrations.LATEST_VERSION + 1,
    )
    with pytest.raises(SchemaTooNew):
        await PostgresDatabase(dsn).open()


async def test_gap_in_recorded_versions_is_refused(dsn: str) -> None:
    db = PostgresDatabase(dsn)
    await db.open()
    await db.close()
    await execute(dsn, "DELETE FROM schema_version WHERE version = 2")
    with pytest.raises(StorageError, match=r"1\.\.N"):
        await PostgresDatabase(dsn).open()


async def test_failed_migration_is_rolled_back(dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = (*migrations.MIGRATIONS, (99, "0099_broken.sql", "CREATE TABLE t (; nonsense"))
    monkeypatch.setattr(migrations, "MIGRATIONS", broken)
    with pytest.raises(asyncpg.PostgresSyntaxError):
        await PostgresDatabase(dsn).open()
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT to_regclass('accounts')") is None
        assert await conn.fetchval("SELECT to_regclass('schema_version')") is None
    finally:
        await conn.close()


async def test_items_from_before_mix_upgrade_read_as_contacts(
    dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migration 7 adds the participant id; older items read as contacts."""
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:6])
        patch.setattr(migrations, "LATEST_VERSION", 6)
        old = PostgresDatabase(dsn)
        await old.open()
        await PostgresAccountStore(old).create(HOST, "alice", ())
        await old.close()
    await execute(
        dsn,
        "INSERT INTO roster_items (host, username, jid, name, subscription, ask,"
        " pending_in, approved, request, listed)"
        " VALUES ($1, 'alice', $2, 'Bob', 'both', false, false, false, NULL, true)",
        HOST,
        BOB,
    )
    db = PostgresDatabase(dsn)
    await db.open()
    try:
        assert [v for v, _ in await applied(dsn)] == list(range(1, migrations.LATEST_VERSION + 1))
        item = await PostgresRosterStore(db).get(HOST, "alice", BOB)
        assert item == RosterItem(BOB, "Bob", subscription=Subscription.BOTH)
    finally:
        await db.close()


# --- transactions and errors -------------------------------------------------


async def test_run_commits_or_rolls_back_as_a_whole(db: PostgresDatabase) -> None:
    async def create(conn: Connection) -> None:
        await conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")

    async def insert_then_fail(conn: Connection) -> None:
        await conn.execute("INSERT INTO t (n) VALUES (1)")
        raise ValueError("no")

    async def count(conn: Connection) -> int:
        return int(await conn.fetchval("SELECT COUNT(*) FROM t"))

    await db.run(create)
    with pytest.raises(ValueError):
        await db.run(insert_then_fail)
    assert await db.run(count) == 0


async def test_read_only_calls_see_one_snapshot(db: PostgresDatabase) -> None:
    accounts = PostgresAccountStore(db)

    async def counts_around_a_commit(conn: Connection) -> tuple[int, int]:
        first = await conn.fetchval("SELECT COUNT(*) FROM accounts")
        await accounts.create(HOST, f"u{first}", ())  # commits on another connection
        return first, await conn.fetchval("SELECT COUNT(*) FROM accounts")

    assert await db.run(counts_around_a_commit, read_only=True) == (0, 0)
    assert await db.run(counts_around_a_commit) == (1, 2)


async def test_sql_errors_are_not_unavailable(db: PostgresDatabase) -> None:
    async def bad(conn: Connection) -> None:
        await conn.execute("SELECT * FROM no_such_table")

    with pytest.raises(asyncpg.UndefinedTableError):
        await db.run(bad)


async def test_unreachable_server_is_unavailable() -> None:
    db = PostgresDatabase("postgresql://mixd:x@127.0.0.1:1/none", timeout=5)
    with pytest.raises(StorageUnavailable):
        await db.open()


async def test_closed_database_is_unavailable(db: PostgresDatabase) -> None:
    await db.close()
    with pytest.raises(StorageUnavailable):
        await PostgresAccountStore(db).get(HOST, "alice")


async def test_connection_lost_during_a_call_is_unavailable(db: PostgresDatabase) -> None:
    async def killed(conn: Connection) -> None:
        # What a server restart or a network cut does to a call in progress.
        await conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    with pytest.raises(StorageUnavailable):
        await db.run(killed)
    # The pool replaces the broken connection for the next call.
    assert await PostgresAccountStore(db).get(HOST, "alice") is None


async def test_connections_lost_between_calls_recover(
    db: PostgresDatabase, postgres_cluster: Cluster
) -> None:
    accounts = PostgresAccountStore(db)
    await accounts.create(HOST, "alice", ())
    admin = await asyncpg.connect(postgres_cluster.dsn("postgres"))
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            db_name(db),
        )
    finally:
        await admin.close()
    # Each call either finds a live connection or answers StorageUnavailable.
    outcomes = []
    for _ in range(5):
        try:
            outcomes.append(await accounts.get(HOST, "alice") is not None)
        except StorageUnavailable:
            outcomes.append(False)
    assert outcomes[-1] is True


def db_name(db: PostgresDatabase) -> str:
    return db._dsn.rsplit("/", 1)[1]


def test_error_mapping() -> None:
    for transient in (
        asyncpg.AdminShutdownError("terminating connection"),
        asyncpg.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.TooManyConnectionsError("too many"),
        asyncpg.DiskFullError("disk full"),
        asyncpg.SerializationError("could not serialize"),
        asyncpg.ReadOnlySQLTransactionError("read-only"),
        asyncpg.InterfaceError("pool is closing"),
        asyncpg.exceptions.InternalClientError("cannot switch to state 15"),
        ConnectionRefusedError("refused"),
        TimeoutError(),
    ):
        assert isinstance(map_error(transient), StorageUnavailable), transient
    for kept in (
        asyncpg.UniqueViolationError("duplicate"),
        asyncpg.UndefinedTableError("no table"),
        asyncpg.exceptions.DataError("invalid input for query argument"),
        asyncpg.exceptions.ClientConfigurationError("bad sslmode"),
        ValueError("x"),
    ):
        assert map_error(kept) is kept


async def test_database_calls_never_block_the_loop(dsn: str) -> None:
    """Calls never block; opening connects the whole pool, and only that reads
    libpq's files (~/.pgpass, ~/.postgresql) in asyncpg's argument parsing."""
    db = PostgresDatabase(dsn)
    await db.open()
    with blockbuster_ctx():
        try:
            accounts = PostgresAccountStore(db)
            await asyncio.gather(*(accounts.create(HOST, f"u{n}", ()) for n in range(20)))
            assert len(await accounts.list_usernames(HOST)) == 20
        finally:
            await db.close()


# --- what the schema enforces ------------------------------------------------


async def test_account_deletion_leaves_no_rows(db: PostgresDatabase) -> None:
    accounts = PostgresAccountStore(db)
    await accounts.create(HOST, "alice", ())
    roster, pep = PostgresRosterStore(db), PostgresPepStore(db)
    await roster.update(HOST, "alice", BOB, lambda _: RosterItem(BOB, groups=("a", "b")))
    stamp = datetime(2026, 1, 2, tzinfo=UTC)
    await roster.set_last_presence(HOST, "alice", LastPresence("<presence/>", stamp))
    item = PepItem("i", "<x/>", stamp, "alice@example.org/a")
    await pep.publish(HOST, "alice", "n", item, lambda _: NodeConfig())
    await pep.set_vcard(HOST, "alice", "<vCard/>")
    await accounts.delete(HOST, "alice")
    tables = (
        "account_credentials",
        "roster_items",
        "roster_groups",
        "roster_versions",
        "last_presence",
        "pep_nodes",
        "pep_items",
        "vcards",
    )

    async def count(conn: Connection) -> list[int]:
        # Table names from the tuple above; identifiers cannot be parameters.
        return [int(await conn.fetchval(f"SELECT COUNT(*) FROM {t}")) for t in tables]

    assert await db.run(count) == [0] * len(tables)


async def test_unique_nick_is_enforced_by_the_schema(db: PostgresDatabase) -> None:
    store = PostgresMixStore(db)
    await store.create_channel(Channel(COFFEE, False, 1, ("alice@example.org",), b"k"))
    await store.join(Participant(COFFEE, "alice@example.org", "a", "alice", frozenset(), 1))

    async def sneak(conn: Connection) -> None:
        await conn.execute(
            "INSERT INTO mix_participants (channel, jid, id, nick, nodes, joined)"
            " VALUES ($1, $2, 'x', 'alice', '{}', 1)",
            COFFEE,
            BOB,
        )

    with pytest.raises(asyncpg.UniqueViolationError):
        await db.run(sneak)


async def test_follow_waits_for_entries_in_flight(db: PostgresDatabase) -> None:
    """An entry inserted before `follow` but committed after it would fall
    before the span's first seq yet count as committed while following: the
    archive lock makes `follow` wait, so the entry is committed before."""
    store = archive.PostgresArchiveStore(db)
    room = "room@mix.example.org"
    entry = NewEntry(room, BOB, Direction.IN, 1)
    in_flight = asyncio.Event()
    commit = asyncio.Event()

    async def slow_store(conn: Connection) -> None:
        await conn.execute(archive._LOCK_ARCHIVES_SHARED, [room])
        seq = await conn.fetchval(archive._INSERT_MESSAGE, "m1", "<message/>", 1, BOB, "chat", None)
        await archive._insert_entries(conn, int(seq), [entry], ("e1",))
        in_flight.set()
        await commit.wait()

    writer = asyncio.create_task(db.run(slow_store))
    await in_flight.wait()
    follower = asyncio.create_task(store.follow(BOB, room))
    await asyncio.sleep(0.2)
    assert not follower.done()
    commit.set()
    await writer
    await follower
    after = await store.store(MessageRecord("<message/>", 2, BOB, "chat"), [entry])
    page = await store.query(ArchiveQuery(owner=BOB, limit=10))
    assert [item.id for item in page.items] == list(after.entry_ids)
