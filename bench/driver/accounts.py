"""Bench accounts: created by running a command per account, in parallel.

The command is a template (`--account-command`), so any server's CLI works:
placeholders `{jid}`, `{user}`, `{domain}`, `{password}` and `{config}`; the
password is also written to the command's stdin. For a mixd started by the
bench, the accounts are made by one `mixd user import` (`import_accounts`)
and the finished account database is cached (`AccountCache`) and copied
into each new run.
"""

from __future__ import annotations

import asyncio
import hashlib
import shlex
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PASSWORD = "bench-pw"
MIXD = Path(sys.executable).parent / "mixd"
DEFAULT_COMMAND = f"{MIXD} --config {{config}} user add {{jid}} --password-stdin"
IMPORT_TIMEOUT = 1800.0
DB_NAME = "mixd.sqlite"


@dataclass(frozen=True, slots=True)
class Account:
    user: str
    domain: str
    password: str

    @property
    def jid(self) -> str:
        return f"{self.user}@{self.domain}"


def bench_accounts(count: int, domain: str, password: str = DEFAULT_PASSWORD) -> list[Account]:
    return [Account(f"bench{i}", domain, password) for i in range(count)]


class AccountCommandFailed(Exception):
    pass


async def create_accounts(
    accounts: list[Account],
    template: str,
    config: Path | str | None,
    jobs: int,
    env: dict[str, str] | None = None,
) -> float:
    """Run `template` once per account, `jobs` at a time; returns the wall time.

    An account that already exists (the command says so on stderr) counts as
    created, so a partly prepared server can be reused.
    """
    started = time.monotonic()
    limit = asyncio.Semaphore(jobs)

    async def one(account: Account) -> None:
        argv = [
            part.format(
                jid=account.jid,
                user=account.user,
                domain=account.domain,
                password=account.password,
                config=config or "",
            )
            for part in shlex.split(template)
        ]
        async with limit:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                env=env,
            )
            try:
                _, err = await proc.communicate(f"{account.password}\n".encode())
            except (BrokenPipeError, ConnectionResetError, RuntimeError):
                # The command exited without reading the password.
                err = await proc.stderr.read() if proc.stderr is not None else b""
                await proc.wait()
        if proc.returncode != 0 and b"exists" not in err:
            raise AccountCommandFailed(f"{shlex.join(argv)}: {err.decode().strip()}")

    await asyncio.gather(*(one(a) for a in accounts))
    return time.monotonic() - started


async def import_accounts(
    accounts: list[Account], config: Path, env: dict[str, str] | None = None
) -> float:
    """Create mixd accounts with one `mixd user import`; returns the wall time."""
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        str(MIXD), "--config", str(config), "user", "import",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )  # fmt: skip
    lines = "".join(f"{a.jid} {a.password}\n" for a in accounts).encode()
    _, err = await asyncio.wait_for(proc.communicate(lines), IMPORT_TIMEOUT)
    if proc.returncode != 0:
        raise AccountCommandFailed(f"mixd user import: {err.decode().strip()}")
    return time.monotonic() - started


def schema_fingerprint(schema_dir: Path) -> frozenset[str]:
    """The migrations a mixd has, by name and content."""
    return frozenset(
        f"{sql.name}:{hashlib.sha256(sql.read_bytes()).hexdigest()[:16]}"
        for sql in schema_dir.glob("*.sql")
    )


class AccountCache:
    """Account-only mixd databases under `root`, keyed by domain, password
    and iteration count, each with the schema migrations it was made with.

    An entry serves a run with at most as many accounts, made by the same
    or an older schema (mixd migrates the copy when it starts; it refuses a
    database newer than itself). `--no-account-cache` or deleting `root`
    rebuilds it.
    """

    def __init__(
        self, root: Path, schema_dir: Path, domain: str, password: str, iterations: int
    ) -> None:
        digest = hashlib.sha256(f"{domain}\0{password}\0{iterations}".encode())
        self.root = root
        self.key = digest.hexdigest()[:12]
        self.schema = schema_fingerprint(schema_dir)

    def _usable(self) -> list[tuple[int, Path]]:
        found = []
        for entry in self.root.glob(f"accounts-*-{self.key}-*"):
            count = entry.name.split("-")[1]
            schema = entry / "schema.txt"
            if not (count.isdigit() and (entry / "complete").exists() and schema.exists()):
                continue
            if frozenset(schema.read_text().split()) <= self.schema:
                found.append((int(count), entry))
        return sorted(found)

    def restore(self, count: int, data_dir: Path) -> bool:
        """Copy the smallest usable database holding `count` accounts."""
        for size, entry in self._usable():
            if size >= count:
                data_dir.mkdir(parents=True, exist_ok=True)
                for file in entry.glob(f"{DB_NAME}*"):
                    shutil.copy2(file, data_dir / file.name)
                return True
        return False

    def save(self, count: int, data_dir: Path) -> None:
        schema = "\n".join(sorted(self.schema)) + "\n"
        version = hashlib.sha256(schema.encode()).hexdigest()[:8]
        entry = self.root / f"accounts-{count}-{self.key}-{version}"
        entry.mkdir(parents=True, exist_ok=True)
        for file in data_dir.glob(f"{DB_NAME}*"):
            shutil.copy2(file, entry / file.name)
        (entry / "schema.txt").write_text(schema)
        (entry / "complete").touch()
