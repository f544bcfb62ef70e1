"""`mixd user delete` (server stopped) leaves no blocklist behind, and
`[blocking]` is a known configuration section."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mixd.storage.sqlite.blocklist import SQLiteBlocklistStore
from mixd.storage.sqlite.database import SQLiteDatabase
from tests.integration.test_cli import mixd


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "mixd.toml"
    path.write_text(
        '[server]\nhosts = ["localhost"]\ndata_dir = "data"\n'
        "[c2s]\nport = 0\ndirect_tls_port = -1\n" + extra
    )
    return path


async def test_user_delete_erases_the_blocklist(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    for name in ("alice", "bob"):
        assert mixd(config, "user", "add", f"{name}@localhost", stdin="pw\n").returncode == 0
    db = SQLiteDatabase(tmp_path / "data" / "mixd.sqlite")
    await db.open()
    try:
        store = SQLiteBlocklistStore(db)
        for name in ("alice", "bob"):
            await store.block("localhost", name, ["spam.example"], 10)
    finally:
        await db.close()
    deleted = await asyncio.to_thread(mixd, config, "user", "delete", "alice@localhost")
    assert deleted.returncode == 0, deleted.stderr
    db = SQLiteDatabase(tmp_path / "data" / "mixd.sqlite")
    await db.open()
    try:
        store = SQLiteBlocklistStore(db)
        assert await store.blocklist("localhost", "alice") == ()
        assert await store.blocklist("localhost", "bob") == ("spam.example",)
    finally:
        await db.close()


def test_blocking_section_is_checked(tmp_path: Path) -> None:
    assert (
        mixd(write_config(tmp_path, "[blocking]\nmax_items = 50\n"), "config", "check").returncode
        == 0
    )
    bad = mixd(write_config(tmp_path, "[blocking]\nmax_items = 0\n"), "config", "check")
    assert bad.returncode == 2 and "blocking.max_items" in bad.stderr
