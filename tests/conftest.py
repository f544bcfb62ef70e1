"""Shared fixtures: a real mixd server on 127.0.0.1 port 0 with trustme
certificates, and real slixmpp clients connected to it."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from mixd.app import App
from mixd.config import parse_config
from tests import pg_cluster, redis_server
from tests.helpers import ServerHandle


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[pg_cluster.Cluster]:
    """One throwaway PostgreSQL server for the session (see tests/pg_cluster.py);
    started only when a test asks for it."""
    bindir = pg_cluster.find_bindir()
    if bindir is None:
        pg_cluster.unavailable(
            "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin"
            " (apt-get install postgresql, or set MIXD_POSTGRES_BIN)"
        )
    cluster = pg_cluster.start(bindir)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def redis_service() -> Iterator[redis_server.RedisServer]:
    """One throwaway Redis server for the session (tests/redis_server.py);
    started only when a test asks for it."""
    binary = redis_server.find_binary()
    if binary is None:
        redis_server.unavailable(
            "redis-server not found (apt-get install redis-server, or set MIXD_REDIS_SERVER)"
        )
    server = redis_server.start(binary)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="session")
def server_ssl(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ca.issue_cert("localhost", "example.org").configure_cert(ctx)
    return ctx


def make_config(tmp_path: Path, **sections: dict[str, Any]) -> Any:
    data: dict[str, Any] = {
        "server": {"hosts": ["localhost", "example.org"], "data_dir": str(tmp_path)},
        "c2s": {"port": 0, "direct_tls_port": 0},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return parse_config(data, "test")


@pytest.fixture
async def server_factory(
    tmp_path: Path, server_ssl: ssl.SSLContext, ca_file: Path
) -> AsyncIterator[Any]:
    """Start servers with config overrides; every one is stopped at teardown."""
    started: list[ServerHandle] = []

    async def start(**sections: dict[str, Any]) -> ServerHandle:
        data_dir = tmp_path / f"server{len(started)}"
        app = App(make_config(data_dir, **sections), ssl_context=server_ssl)
        await app.start()
        handle = ServerHandle(app, ca_file)
        started.append(handle)
        return handle

    yield start
    for handle in started:
        await handle.close()


@pytest.fixture
async def server(server_factory: Any) -> AsyncIterator[ServerHandle]:
    handle: ServerHandle = await server_factory()
    yield handle
