"""A cluster of mixd nodes for the bench (`--nodes N`): a throwaway
PostgreSQL (with fsync on, as in production) and Redis started from the
Debian packages by the same helpers the tests use, and N nodes configured as
docs/scaling.md describes, each on its own port in its own directory."""

from __future__ import annotations

import argparse
import asyncio
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bench.driver.server import ManagedServer
from tests import pg_cluster, redis_server


@asynccontextmanager
async def managed_cluster(
    args: argparse.Namespace, workdir: Path, settings: dict[str, dict[str, Any]]
) -> AsyncIterator[list[ManagedServer]]:
    """The nodes, not started; everything stopped and removed afterwards
    (the work directory kept with --keep)."""
    bindir = pg_cluster.find_bindir()
    redis_binary = redis_server.find_binary()
    if bindir is None or redis_binary is None:
        raise SystemExit("--nodes needs the Debian packages postgresql and redis-server")
    database = await asyncio.to_thread(pg_cluster.start, bindir, True)
    redis = None
    servers: list[ManagedServer] = []
    try:
        redis = await asyncio.to_thread(redis_server.start, redis_binary)
        dsn = await database.shared_database()
        for n in range(1, args.nodes + 1):
            node_dir = workdir / f"node{n}"
            node_dir.mkdir()
            node: dict[str, dict[str, Any]] = {
                "storage": {"backend": "postgresql", "postgresql_dsn": dsn},
                "cluster": {"enabled": True, "node": f"node{n}", "redis_url": redis.url},
            }
            servers.append(
                ManagedServer(
                    node_dir,
                    domain=args.domain,
                    starttls_required=args.tls,
                    log_level=args.log_level,
                    source=args.mixd_src,
                    settings={**settings, **{k: settings.get(k, {}) | v for k, v in node.items()}},
                )
            )
        yield servers
    finally:
        codes = await asyncio.gather(*(s.stop() for s in servers))
        failed = any(code not in (0, None) for code in codes)
        if redis is not None:
            redis.stop()
        database.stop()
        if args.keep or failed:
            print(f"kept {workdir} (node*/mixd.toml, mixd.log)", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
