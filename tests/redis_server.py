"""A throwaway Redis server for the cluster tests, from the Debian package
`redis-server` (/usr/bin/redis-server; MIXD_REDIS_SERVER names another).

`start()` runs it on 127.0.0.1 at a free port with persistence off and its
files in a fresh temporary directory; `stop()` signals that process by its
PID, waits for it and removes the directory. When the binary is missing the
tests that need it fail if CI or MIXD_REQUIRE_REDIS is set, and are skipped
otherwise.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

START_TIMEOUT = 10.0
_FALSE = ("", "0", "false", "no")


def required() -> bool:
    return any(
        os.environ.get(name, "").strip().lower() not in _FALSE
        for name in ("CI", "MIXD_REQUIRE_REDIS")
    )


def unavailable(reason: str) -> NoReturn:
    if required():
        pytest.fail(f"{reason} (CI or MIXD_REQUIRE_REDIS is set)", pytrace=False)
    pytest.skip(reason)


def find_binary() -> Path | None:
    override = os.environ.get("MIXD_REDIS_SERVER")
    found = override or shutil.which("redis-server") or "/usr/bin/redis-server"
    return Path(found) if Path(found).exists() else None


@dataclass
class RedisServer:
    root: Path
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def flush(self) -> None:
        """Empty every database (between tests)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"FLUSHALL\r\n")
            reply = s.recv(64)
        if not reply.startswith(b"+OK"):
            raise RuntimeError(f"FLUSHALL failed: {reply!r}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start(binary: Path) -> RedisServer:
    root = Path(tempfile.mkdtemp(prefix="mixd-redis-"))
    for _ in range(3):  # the free port may be taken before redis binds it
        port = _free_port()
        with open(root / "redis.log", "wb") as log:
            process = subprocess.Popen(
                [
                    str(binary),
                    "--port", str(port),
                    "--bind", "127.0.0.1",
                    "--dir", str(root),
                    "--save", "",
                    "--appendonly", "no",
                    "--daemonize", "no",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            if _ping(port):
                return RedisServer(root, port, process)
            time.sleep(0.02)
        if process.poll() is None:
            process.kill()
        process.wait()
    text = (root / "redis.log").read_text(errors="replace")
    shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError(f"redis-server did not start:\n{text}")
