"""The `mixd` command as an operator uses it: a real process, a real config
file, accounts added from the command line, a slixmpp client logging in to the
generated self-signed certificate, and a graceful SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from slixmpp import ClientXMPP

from mixd.storage.contracts.archive import ArchiveQuery, Direction, MessageRecord, NewEntry
from mixd.storage.sqlite.archive import SQLiteArchiveStore
from mixd.storage.sqlite.database import SQLiteDatabase
from mixd.storage.sqlite.offline import SQLiteOfflineStore
from tests.helpers import TIMEOUT

OWNERS = ("alice@localhost", "bob@localhost")

MIXD = [sys.executable, "-m", "mixd.cli"]


def mixd(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MIXD, "--config", str(config), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "mixd.toml"
    path.write_text(
        '[server]\nhosts = ["localhost"]\ndata_dir = "data"\n'
        "[c2s]\nport = 0\ndirect_tls_port = -1\n"
    )
    return path


def test_config_check_names_unknown_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[c2s]\nprot = 5222\n")
    result = mixd(bad, "config", "check")
    assert result.returncode == 2
    assert "c2s.prot" in result.stderr


def test_config_check_names_bad_value(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[c2s]\nport = "abc"\n')
    result = mixd(bad, "config", "check")
    assert result.returncode == 2
    assert "c2s.port" in result.stderr


def test_config_check_accepts_good_file(config_file: Path) -> None:
    result = mixd(config_file, "config", "check")
    assert result.returncode == 0, result.stderr


def test_user_add_list_passwd_delete(config_file: Path, tmp_path: Path) -> None:
    assert mixd(config_file, "user", "add", "Alice@localhost", stdin="s3cret-pw\n").returncode == 0
    again = mixd(config_file, "user", "add", "alice@localhost", stdin="x\n")
    assert again.returncode == 1 and "already exists" in again.stderr
    assert mixd(config_file, "user", "list").stdout.split() == ["alice@localhost"]
    assert mixd(config_file, "user", "passwd", "alice@localhost", stdin="n3w-pw\n").returncode == 0
    # Only SCRAM verifiers are stored, never the password itself.
    database = (tmp_path / "data" / "mixd.sqlite").read_bytes()
    assert b"s3cret-pw" not in database and b"n3w-pw" not in database
    assert mixd(config_file, "user", "delete", "alice@localhost").returncode == 0
    assert mixd(config_file, "user", "list").stdout.split() == []
    missing = mixd(config_file, "user", "delete", "alice@localhost")
    assert missing.returncode == 1 and "no such account" in missing.stderr


async def test_user_delete_erases_archive_and_offline_messages(
    config_file: Path, tmp_path: Path
) -> None:
    assert mixd(config_file, "user", "add", "alice@localhost", stdin="pw\n").returncode == 0
    assert mixd(config_file, "user", "add", "bob@localhost", stdin="pw\n").returncode == 0
    db = SQLiteDatabase(tmp_path / "data" / "mixd.sqlite")
    await db.open()
    try:
        archive, offline = SQLiteArchiveStore(db), SQLiteOfflineStore(db)
        record = MessageRecord("<message><body>hi</body></message>", 1, "bob@localhost", "chat")
        entries = [NewEntry(owner, "x@localhost", Direction.IN, 1) for owner in OWNERS]
        await archive.store(record, entries)
        for owner in OWNERS:
            await offline.push(owner, "<message/>", datetime.now(UTC), 10)
    finally:
        await db.close()
    deleted = await asyncio.to_thread(mixd, config_file, "user", "delete", "alice@localhost")
    assert deleted.returncode == 0, deleted.stderr
    db = SQLiteDatabase(tmp_path / "data" / "mixd.sqlite")
    archive, offline = SQLiteArchiveStore(db), SQLiteOfflineStore(db)
    await db.open()
    try:
        alice, bob = (ArchiveQuery(owner, 10) for owner in OWNERS)
        assert (await archive.query(alice)).count == 0 and (await archive.query(bob)).count == 1
        assert [await offline.count(owner) for owner in OWNERS] == [0, 1]
    finally:
        await db.close()


def test_user_import_adds_accounts_in_bulk(config_file: Path, tmp_path: Path) -> None:
    assert mixd(config_file, "user", "add", "bob@localhost", stdin="old-pw\n").returncode == 0
    lines = "alice@localhost pass phrase\n\nbob@localhost new-pw\nCarol@localhost c-pw\n"
    result = mixd(config_file, "user", "import", stdin=lines)
    assert result.returncode == 0, result.stderr
    assert "created 2 accounts (1 existed already)" in result.stdout
    listed = mixd(config_file, "user", "list").stdout.split()
    assert listed == ["alice@localhost", "bob@localhost", "carol@localhost"]
    assert b"pass phrase" not in (tmp_path / "data" / "mixd.sqlite").read_bytes()
    bad = mixd(config_file, "user", "import", stdin="dave@localhost\n")
    assert bad.returncode == 1 and "line 1" in bad.stderr


def test_user_add_refuses_foreign_host(config_file: Path) -> None:
    result = mixd(config_file, "user", "add", "bob@elsewhere.example", stdin="pw\n")
    assert result.returncode == 1
    assert "not a host of this server" in result.stderr


async def _read_started_port(process: asyncio.subprocess.Process) -> int:
    assert process.stderr is not None
    while line := await process.stderr.readline():
        if match := re.search(rb"event=started .*c2s=(\d+)", line):
            return int(match.group(1))
    raise AssertionError("server exited before starting")


async def test_run_login_and_sigterm(config_file: Path, tmp_path: Path) -> None:
    assert mixd(config_file, "user", "add", "alice@localhost", stdin="pw-alice\n").returncode == 0
    process = await asyncio.create_subprocess_exec(
        *MIXD, "--config", str(config_file), "run", stderr=subprocess.PIPE, env=os.environ.copy()
    )
    try:
        port = await asyncio.wait_for(_read_started_port(process), TIMEOUT)
        xmpp = ClientXMPP("alice@localhost", "pw-alice", sasl_mech="SCRAM-SHA-256")
        # The certificate generated on first start is self-signed: trust it.
        xmpp.ca_certs = tmp_path / "data" / "tls" / "cert.pem"
        xmpp.enable_direct_tls = False
        xmpp.register_plugin("xep_0199")
        started: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        errors: list[str] = []
        xmpp.add_event_handler("session_start", lambda _: started.set_result(True))
        xmpp.add_event_handler("stream_error", lambda e: errors.append(e["condition"]))
        xmpp.connect("127.0.0.1", port)
        assert await asyncio.wait_for(started, TIMEOUT)
        await xmpp.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)
        gone = asyncio.ensure_future(xmpp.disconnected)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), TIMEOUT) == 0
        await asyncio.wait_for(gone, TIMEOUT)
        assert errors == ["system-shutdown"]
        xmpp.abort()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
