"""The server on the PostgreSQL backend with real slixmpp clients: login,
a chat message, the sender reads it back through MAM, and it is still there
after a restart on the same database; a MIX channel message in a
participant's archive (an archive feed); and `mixd user` on that backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mixd.app import database_label
from mixd.storage.postgres.database import PostgresDatabase
from tests.helpers import TIMEOUT, ServerHandle
from tests.integration.test_cli import mixd
from tests.mam_client import MAM_PLUGINS, collect, mam_query, stanza_ids
from tests.mix_client import SERVICE, Inbox, create
from tests.pam_client import client_join, pam_client
from tests.pam_client import stanza_ids as pam_stanza_ids
from tests.pg_cluster import Cluster

PW = "pw"


@pytest.fixture
async def dsn(postgres_cluster: Cluster) -> AsyncIterator[str]:
    """A new database; requested before `server_factory`, so dropped after
    the servers stopped."""
    async with postgres_cluster.fresh_database() as fresh:
        yield fresh


async def start(server_factory: Any, dsn: str) -> ServerHandle:
    storage = {"backend": "postgresql", "postgresql_dsn": dsn, "postgresql_pool_size": 4}
    handle: ServerHandle = await server_factory(storage=storage)
    assert handle.app.server is not None
    assert isinstance(handle.app.db, PostgresDatabase)
    assert "@" not in database_label(handle.app.config)  # no credentials in the log
    return handle


async def test_chat_message_archived_in_postgresql(dsn: str, server_factory: Any) -> None:
    server = await start(server_factory, dsn)
    await server.add_user("alice@localhost", PW)
    await server.add_user("bob@localhost", PW)
    alice = await server.client("alice@localhost/home", PW, plugins=MAM_PLUGINS)
    bob = await server.client("bob@localhost/work", PW, plugins=MAM_PLUGINS)
    await bob.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)
    received = collect(bob, 1)
    alice.send_message(mto="bob@localhost", mbody="hello over postgres", mtype="chat")
    (msg,) = await asyncio.wait_for(received, TIMEOUT)
    ((bob_id, by),) = stanza_ids(msg)
    assert by == "bob@localhost"

    page = await mam_query(alice, max=10)
    assert page.bodies == ["hello over postgres"] and page.complete
    assert (await mam_query(bob, max=10)).ids == [bob_id]
    await server.close()

    # Acknowledged means stored: a new server on the same database has it all.
    again = await start(server_factory, dsn)
    alice = await again.client("alice@localhost/home", PW, plugins=MAM_PLUGINS)
    assert (await mam_query(alice, max=10)).bodies == ["hello over postgres"]


async def test_channel_message_reaches_participant_archive(dsn: str, server_factory: Any) -> None:
    server = await start(server_factory, dsn)
    channel = f"coven@{SERVICE}"
    for name in ("hag66", "hecate"):
        await server.add_user(f"{name}@localhost", f"pw-{name}")
    hag = await pam_client(server, "hag66@localhost/r", "pw-hag66")
    hecate = await pam_client(server, "hecate@localhost/r", "pw-hecate")
    await create(hag, "coven")
    await client_join(hag, channel, "third witch")
    await client_join(hecate, channel, "top witch")
    got = Inbox(hecate, kind="groupchat")
    hag.send_message(mto=channel, mbody="hello coven", mtype="groupchat")
    [message] = await got.wait(1)
    own_id = pam_stanza_ids(message)["hecate@localhost"]
    page = await mam_query(hecate, fields={"with": channel})
    assert page.ids == [own_id] and page.bodies == ["hello coven"]


def config_file(tmp_path: Path, dsn: str) -> Path:
    path = tmp_path / "mixd.toml"
    path.write_text(
        '[server]\nhosts = ["localhost"]\ndata_dir = "data"\n'
        f'[storage]\nbackend = "postgresql"\npostgresql_dsn = "{dsn}"\npostgresql_timeout = 5.0\n'
    )
    return path


async def test_cli_manages_accounts_in_postgresql(
    dsn: str, server_factory: Any, tmp_path: Path
) -> None:
    config = config_file(tmp_path, dsn)
    added = await asyncio.to_thread(
        mixd, config, "user", "add", "carol@localhost", "--password-stdin", stdin="secret\n"
    )
    assert added.returncode == 0, added.stderr
    listed = await asyncio.to_thread(mixd, config, "user", "list")
    assert listed.stdout.split() == ["carol@localhost"]
    server = await start(server_factory, dsn)
    await server.client("carol@localhost/x", "secret")


async def test_cli_reports_an_unreachable_database(tmp_path: Path) -> None:
    config = config_file(tmp_path, "postgresql://mixd:x@127.0.0.1:1/mixd")
    result = await asyncio.to_thread(mixd, config, "user", "list")
    assert result.returncode == 1
    assert "database unavailable" in result.stderr
