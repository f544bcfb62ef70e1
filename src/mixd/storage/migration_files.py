"""Numbered schema migration files, shared by the SQL backends.

Each backend keeps its own `schema/NNNN_name.sql` files in its package; the
numbers and names match across backends, so one version means one schema
everywhere.
"""

from __future__ import annotations

from importlib import resources


def load_migrations(package: str) -> tuple[tuple[int, str, str], ...]:
    """Every `schema/NNNN_name.sql` file of `package` as (number, name, SQL),
    in order; numbers must be 1..N (a gap would let a database skip a
    migration that appears later)."""
    files = sorted(
        (int(f.name.split("_", 1)[0]), f.name, f.read_text(encoding="utf-8"))
        for f in resources.files(package).joinpath("schema").iterdir()
        if f.name.endswith(".sql")
    )
    numbers = [number for number, _, _ in files]
    if numbers != list(range(1, len(files) + 1)):
        raise RuntimeError(f"schema migrations must be numbered 1..N, found {numbers}")
    return tuple(files)
