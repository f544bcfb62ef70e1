"""The real `mixd` process both reliability tests drive; killed at the end
whatever happened."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.reliability.harness import MixdProcess


@pytest.fixture
async def mixd(tmp_path: Path) -> AsyncIterator[MixdProcess]:
    server = MixdProcess(tmp_path)
    try:
        yield server
    finally:
        await server.kill()
