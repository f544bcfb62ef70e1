"""Moving an installation from SQLite to PostgreSQL with the real commands
(`mixd export`, `mixd import`) and real clients: after the move the users
log in with their old passwords, MAM returns the same archive with the same
ids, and the channel goes on working."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ServerHandle
from tests.integration.test_cli import mixd
from tests.mam_client import mam_query
from tests.mix_client import SERVICE, Inbox, create
from tests.pam_client import client_join, pam_client, stanza_ids
from tests.pg_cluster import Cluster

CHANNEL = f"coven@{SERVICE}"
HOSTS = '[server]\nhosts = ["localhost", "example.org"]\n'


@pytest.fixture
async def dsn(postgres_cluster: Cluster) -> AsyncIterator[str]:
    async with postgres_cluster.fresh_database() as fresh:
        yield fresh


def sqlite_config(tmp_path: Path, data_dir: Path) -> Path:
    path = tmp_path / f"{data_dir.name}.toml"
    path.write_text(HOSTS + f'data_dir = "{data_dir}"\n')
    return path


def postgres_config(tmp_path: Path, dsn: str) -> Path:
    path = tmp_path / "postgres.toml"
    path.write_text(
        HOSTS + f'data_dir = "{tmp_path / "pg-data"}"\n'
        f'[storage]\nbackend = "postgresql"\npostgresql_dsn = "{dsn}"\n'
    )
    return path


async def history(server: ServerHandle) -> dict[str, Any]:
    """Two users, a chat, a channel with messages: what the clients see."""
    for name in ("hag66", "hecate"):
        await server.add_user(f"{name}@localhost", f"old pw {name}")
    hag = await pam_client(server, "hag66@localhost/r", "old pw hag66")
    hecate = await pam_client(server, "hecate@localhost/r", "old pw hecate")
    await create(hag, "coven")
    await client_join(hag, CHANNEL, "third witch")
    await client_join(hecate, CHANNEL, "top witch")
    got = Inbox(hecate, kind="groupchat")
    for n in range(3):
        hag.send_message(mto=CHANNEL, mbody=f"spell {n}", mtype="groupchat")
    messages = await got.wait(3)
    chats = Inbox(hecate, kind="chat")
    hag.send_message(mto="hecate@localhost", mbody="psst", mtype="chat")
    await chats.wait(1)
    own = await mam_query(hecate, max=50)
    channel = await mam_query(hecate, to=CHANNEL, max=50)
    assert [stanza_ids(m)["hecate@localhost"] for m in messages] == own.ids[:3]
    return {
        "own": (own.ids, own.bodies),
        "channel": (channel.ids, channel.bodies),
        "hag": (await mam_query(hag, max=50)).ids,
    }


async def test_sqlite_to_postgresql(server_factory: Any, dsn: str, tmp_path: Path) -> None:
    old = await server_factory()
    before = await history(old)
    await old.close()  # export and import run with the server stopped
    dump = tmp_path / "dump.xml"
    old_config = sqlite_config(tmp_path, tmp_path / "server0")
    new_config = postgres_config(tmp_path, dsn)

    exported = await asyncio.to_thread(mixd, old_config, "export", str(dump))
    assert exported.returncode == 0, exported.stderr
    imported = await asyncio.to_thread(mixd, new_config, "import", str(dump))
    assert imported.returncode == 0, imported.stderr
    assert "imported 2 accounts, 1 channels" in imported.stderr

    storage = {"backend": "postgresql", "postgresql_dsn": dsn, "postgresql_pool_size": 4}
    new = await server_factory(storage=storage)
    hecate = await pam_client(new, "hecate@localhost/r", "old pw hecate")
    hag = await pam_client(new, "hag66@localhost/r", "old pw hag66")
    await new.client("hag66@localhost/sha1", "old pw hag66", mechanism="SCRAM-SHA-1")
    own = await mam_query(hecate, max=50)
    channel = await mam_query(hecate, to=CHANNEL, max=50)
    assert (own.ids, own.bodies) == before["own"]
    assert (channel.ids, channel.bodies) == before["channel"]
    assert (await mam_query(hag, max=50)).ids == before["hag"]
    # The channel works: a participant posts, the other receives, and it is
    # in both archives after the imported ones.
    got = Inbox(hecate, kind="groupchat")
    hag.send_message(mto=CHANNEL, mbody="after the move", mtype="groupchat")
    [message] = await got.wait(1)
    page = await mam_query(hecate, to=CHANNEL, max=50)
    assert page.ids[:-1] == before["channel"][0] and page.bodies[-1] == "after the move"
    assert (await mam_query(hecate, max=50)).ids[-1] == stanza_ids(message)["hecate@localhost"]


async def test_cli_refusals_and_standard_input(server_factory: Any, tmp_path: Path) -> None:
    old = await server_factory()
    before = await history(old)
    await old.close()
    old_config = sqlite_config(tmp_path, tmp_path / "server0")
    new_config = sqlite_config(tmp_path, tmp_path / "copy")

    exported = await asyncio.to_thread(mixd, old_config, "export")  # to standard output
    assert exported.returncode == 0, exported.stderr
    document = exported.stdout
    broken = await asyncio.to_thread(
        mixd, new_config, "import", stdin=document.replace("</host>", "<oops/></host>", 1)
    )
    assert broken.returncode == 1
    assert "bad dump, nothing was imported" in broken.stderr and "<oops" in broken.stderr

    imported = await asyncio.to_thread(mixd, new_config, "import", stdin=document)
    assert imported.returncode == 0, imported.stderr
    again = await asyncio.to_thread(mixd, new_config, "import", stdin=document)
    assert again.returncode == 1 and "not empty" in again.stderr
    merged = await asyncio.to_thread(mixd, new_config, "import", "--merge", stdin=document)
    assert merged.returncode == 0 and "kept as they were: 2 accounts, 1 channels" in merged.stderr

    copy = await server_factory(server={"data_dir": str(tmp_path / "copy")})
    hecate = await pam_client(copy, "hecate@localhost/r", "old pw hecate")
    assert (await mam_query(hecate, to=CHANNEL, max=50)).ids == before["channel"][0]
