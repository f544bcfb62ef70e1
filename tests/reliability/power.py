"""Simulated power loss for a `mixd` data directory (RELIABILITY G5).

`power_loss.c`, preloaded into the server, keeps a copy of each file of the
data directory as it was at its last fsync ("<name>.synced"). After a
`kill -9`, `lose_power` puts each file back to that copy and deletes the
files that were never synced (SQLite's -shm is one: it is only memory): the
state a disk may be left in when the power goes, with every unsynced write
lost. A server that acknowledged a message before the fsync that made it
durable loses it here.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SOURCE = Path(__file__).with_name("power_loss.c")
SYNCED = ".synced"


def build_shim(workdir: Path) -> Path:
    """Compile the preload library; fails loudly if no C compiler."""
    library = workdir / "power_loss.so"
    subprocess.run(
        ["cc", "-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o", str(library), str(SOURCE)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return library


def preload_env(library: Path, data_dir: Path) -> dict[str, str]:
    return {"LD_PRELOAD": str(library), "MIXD_POWERLOSS_DIR": str(data_dir.resolve())}


def _files(data_dir: Path) -> list[Path]:
    return [p for p in data_dir.iterdir() if p.is_file() and not p.name.endswith(SYNCED)]


def mark_durable(data_dir: Path) -> None:
    """Take the directory as it is now as what is on disk (SQLite's shared
    memory file is never on disk)."""
    for path in _files(data_dir):
        if not path.name.endswith("-shm"):
            shutil.copyfile(path, path.with_name(path.name + SYNCED))


def lose_power(data_dir: Path) -> list[str]:
    """Revert every file to its last synced copy; the names of files lost."""
    for leftover in data_dir.glob("*.synced-new"):
        leftover.unlink()  # a copy the kill interrupted: never renamed, never on disk
    lost = []
    for path in _files(data_dir):
        synced = path.with_name(path.name + SYNCED)
        if synced.exists():
            shutil.copyfile(synced, path)  # the copy stays: it is still what is on disk
        else:
            path.unlink()
            lost.append(path.name)
    return lost
