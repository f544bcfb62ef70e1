"""Shared fixtures: a real mixd server on 127.0.0.1 port 0 with trustme
certificates, and real slixmpp clients connected to it."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from mixd.app import App
from mixd.config import parse_config
from tests.helpers import ServerHandle


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
def server_factory(tmp_path: Path, server_ssl: ssl.SSLContext, ca_file: Path) -> Any:
    started: list[App] = []

    async def start(**sections: dict[str, Any]) -> ServerHandle:
        app = App(make_config(tmp_path, **sections), ssl_context=server_ssl)
        await app.start()
        started.append(app)
        return ServerHandle(app, ca_file)

    yield start


@pytest.fixture
async def server(server_factory: Any) -> AsyncIterator[ServerHandle]:
    handle: ServerHandle = await server_factory()
    yield handle
    await handle.close()
