"""A throwaway PostgreSQL cluster for the tests, from the Debian server
binaries (/usr/lib/postgresql/<version>/bin, package `postgresql`).

`start()` runs initdb into a fresh temporary directory and starts `postgres`
on 127.0.0.1 at a free port (its Unix socket in that directory too), with a
random password for the `mixd` superuser and durability switched off (fsync,
full page writes: the data dies with the test session anyway). `stop()`
signals that process by its PID, waits for it and removes the directory.

initdb and postgres refuse to run as root. When the tests run as root, both
run as the unprivileged `postgres` system user the Debian package creates
(`nobody` if there is none; MIXD_POSTGRES_USER overrides), through
subprocess's `user=`/`group=` (setuid in the child, like `setpriv`); the
temporary directory is handed to that user. As any other user they run as
that user.

When the binaries are missing, tests that need them fail if CI or
MIXD_REQUIRE_POSTGRES is set (so CI never skips them silently) and are
skipped otherwise. MIXD_POSTGRES_BIN names another bin directory.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import asyncpg
import pytest

from mixd.storage.postgres.database import Connection, PostgresDatabase

SUPERUSER = "mixd"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
_FALSE = ("", "0", "false", "no")


def required() -> bool:
    """CI (or the developer) asked for the PostgreSQL tests to run, never skip."""
    return any(
        os.environ.get(name, "").strip().lower() not in _FALSE
        for name in ("CI", "MIXD_REQUIRE_POSTGRES")
    )


def unavailable(reason: str) -> NoReturn:
    """Fail loudly when PostgreSQL is required, skip otherwise."""
    if required():
        pytest.fail(f"{reason} (CI or MIXD_REQUIRE_POSTGRES is set)", pytrace=False)
    pytest.skip(reason)


def find_bindir() -> Path | None:
    """The server binaries: MIXD_POSTGRES_BIN, else the newest Debian version."""
    override = os.environ.get("MIXD_POSTGRES_BIN")
    if override:
        return Path(override) if (Path(override) / "initdb").exists() else None
    found = [
        p.parent
        for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")
        if p.parent.parent.name.isdigit()
    ]
    return max(found, key=lambda bindir: int(bindir.parent.name)) if found else None


@dataclass
class Cluster:
    root: Path
    port: int
    password: str
    process: subprocess.Popen[bytes]
    _names: itertools.count[int] = field(default_factory=itertools.count)
    _shared: str | None = None

    def dsn(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"

    @contextlib.asynccontextmanager
    async def fresh_database(self) -> AsyncIterator[str]:
        """A new empty database for one test (dropped afterwards); yields its DSN."""
        # Identifiers cannot be bound parameters; this one is ours, [a-z0-9_].
        name = f"test_{os.getpid()}_{next(self._names)}"
        admin = await asyncpg.connect(self.dsn("postgres"))
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        try:
            yield self.dsn(name)
        finally:
            admin = await asyncpg.connect(self.dsn("postgres"))
            try:
                await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            finally:
                await admin.close()

    async def shared_database(self) -> str:
        """The DSN of one migrated database that tests share: `postgres_database`
        empties it before each test (faster than a new database per test)."""
        if self._shared is None:
            admin = await asyncpg.connect(self.dsn("postgres"))
            try:
                await admin.execute('CREATE DATABASE "shared"')
            finally:
                await admin.close()
            self._shared = self.dsn("shared")
        return self._shared

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster's PID), then remove the files."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def _run_as() -> dict[str, Any]:
    """Popen arguments that drop root privileges; none for other users."""
    if os.geteuid() != 0:
        return {}
    name = os.environ.get("MIXD_POSTGRES_USER")
    candidates = [name] if name else ["postgres", "nobody"]
    for candidate in candidates:
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(candidate)
            return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    raise RuntimeError(f"no unprivileged user to run PostgreSQL as (tried {candidates})")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _give(path: Path, as_user: dict[str, Any]) -> None:
    if as_user:
        os.chown(path, as_user["user"], as_user["group"])


def start(bindir: Path, durable: bool = False) -> Cluster:
    """initdb and start a cluster; RuntimeError (with the server log) if it
    cannot. Not `durable` (the tests): fsync and full page writes are off."""
    as_user = _run_as()
    # Under /tmp when dropping privileges: $TMPDIR may be closed to that user.
    root = Path(tempfile.mkdtemp(prefix="mixd-pg-", dir="/tmp" if as_user else None))
    try:
        _give(root, as_user)
        password = secrets.token_hex(16)
        pwfile = root / "password"
        pwfile.write_text(password, encoding="ascii")
        pwfile.chmod(0o600)
        _give(pwfile, as_user)
        initdb = subprocess.run(
            [
                str(bindir / "initdb"),
                f"--pgdata={root / 'data'}",
                f"--username={SUPERUSER}",
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            check=False,
            **as_user,
        )
        pwfile.unlink()
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed: {initdb.stderr or initdb.stdout}")
        last_error = ""
        for _ in range(3):  # the free port may be taken before postgres binds it
            cluster = _launch(bindir, root, password, as_user, durable)
            if cluster is not None:
                return cluster
            last_error = (root / "postgres.log").read_text(errors="replace")
        raise RuntimeError(f"postgres did not start:\n{last_error}")
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def _launch(
    bindir: Path, root: Path, password: str, as_user: dict[str, Any], durable: bool
) -> Cluster | None:
    port = _free_port()
    speed = [] if durable else ["-c", "fsync=off", "-c", "full_page_writes=off"]
    with open(root / "postgres.log", "wb") as log:
        process = subprocess.Popen(
            [
                str(bindir / "postgres"),
                "-D",
                str(root / "data"),
                "-p",
                str(port),
                "-k",
                str(root),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=200",
                *speed,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            **as_user,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return None
        ready = subprocess.run(
            [str(bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)],
            check=False,
        )
        if ready.returncode == 0:
            return Cluster(root, port, password, process)
        time.sleep(0.05)
    process.kill()
    process.wait()
    return None


_TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> $1"


async def _empty(conn: Connection) -> None:
    """Remove every row but the schema version. Every foreign key of the schema
    cascades on delete, so the order does not matter; DELETE is much faster
    than TRUNCATE on tables this small."""
    tables = [row["tablename"] for row in await conn.fetch(_TABLES, "schema_version")]
    # Table names come from the catalog; identifiers cannot be bound parameters.
    await conn.execute("".join(f'DELETE FROM "{table}";' for table in tables))


@contextlib.asynccontextmanager
async def postgres_database(request: pytest.FixtureRequest) -> AsyncIterator[PostgresDatabase]:
    """An opened PostgresDatabase on the session cluster's shared database,
    migrated and emptied: each test starts from a new database's state."""
    cluster: Cluster = request.getfixturevalue("postgres_cluster")
    db = PostgresDatabase(await cluster.shared_database(), pool_size=2)
    await db.open()
    try:
        await db.run(_empty)
        yield db
    finally:
        await db.close()
