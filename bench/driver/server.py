"""A mixd process started by the bench: generated config in a temporary
directory, a free port on 127.0.0.1, stopped by PID at the end."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.driver.accounts import MIXD

STOP_TIMEOUT = 15.0
START_TIMEOUT = 30.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def schema_dir(source: Path | None) -> Path:
    """The SQLite migrations of the mixd that will run."""
    if source is not None:
        return source / "mixd" / "storage" / "sqlite" / "schema"
    import mixd.storage.sqlite as backend

    return Path(backend.__file__).parent / "schema"


def knows_option(source: Path | None, name: str) -> bool:
    """Whether the mixd that will run has a config option called `name`
    (commits measured with --mixd-src may predate it)."""
    if source is not None:
        config = source / "mixd" / "config.py"
    else:
        import mixd.config

        config = Path(mixd.config.__file__)
    return f"{name}:" in config.read_text()


def mixd_env(source: Path | None) -> dict[str, str] | None:
    """The environment that runs mixd from `source` (a `src` directory,
    e.g. a `git archive` export) instead of the installed package."""
    if source is None:
        return None
    return os.environ | {"PYTHONPATH": str(source.resolve())}


def to_toml(sections: dict[str, dict[str, Any]]) -> str:
    """Config sections of scalars and lists as TOML (JSON literals are TOML
    literals for strings, numbers, booleans and flat lists)."""
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in values.items())
        lines.append("")
    return "\n".join(lines)


class ManagedServer:
    def __init__(
        self,
        workdir: Path,
        *,
        domain: str = "localhost",
        starttls_required: bool = False,
        log_level: str = "warning",
        mixd: Path = MIXD,
        source: Path | None = None,
        settings: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.workdir = workdir
        self.domain = domain
        self.host = "127.0.0.1"
        self.port = free_port(self.host)
        self.mixd = mixd
        self.env = mixd_env(source)
        self.data_dir = workdir / "data"
        self.config_path = workdir / "mixd.toml"
        self.log_path = workdir / "mixd.log"
        self.proc: subprocess.Popen[bytes] | None = None
        sections: dict[str, dict[str, Any]] = {
            "server": {"hosts": [domain], "data_dir": str(self.data_dir)},
            "c2s": {
                "bind": [self.host],
                "port": self.port,
                "direct_tls_port": -1,
                "starttls_required": starttls_required,
            },
            "auth": {"scram_iterations": 4096},
            "log": {"level": log_level},
        }
        for section, values in (settings or {}).items():
            sections[section] = sections.get(section, {}) | values
        self.config_path.write_text(to_toml(sections))

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(self.mixd), "--config", str(self.config_path), "run"],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env=self.env,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mixd exited ({self.proc.returncode}); see {self.log_path}")
            try:
                _, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.close()
            return
        raise RuntimeError(f"mixd did not listen on {self.port} within {START_TIMEOUT} s")

    async def stop(self) -> int | None:
        """SIGTERM by PID, then SIGKILL after a grace period; the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        os.kill(self.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while self.proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        return self.proc.returncode
