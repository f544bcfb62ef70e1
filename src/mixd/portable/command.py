"""The `mixd export` and `mixd import` commands, on the configured database.
Both are meant for a stopped server: the export is not one snapshot of a
running installation, and the import assumes nobody else writes."""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path
from typing import BinaryIO

from mixd.app import Database, open_database, stores
from mixd.config import Config
from mixd.portable.export import Exporter, ExportSummary
from mixd.portable.format import DumpError
from mixd.portable.importer import Importer, ImportSummary, Source
from mixd.services.mix import rules as mix_rules
from mixd.storage.contracts.dump import DumpStore
from mixd.storage.errors import StorageError
from mixd.storage.postgres.database import PostgresDatabase
from mixd.storage.postgres.dump import PostgresDumpStore
from mixd.storage.sqlite.dump import SQLiteDumpStore


def dump_store(db: Database) -> DumpStore:
    if isinstance(db, PostgresDatabase):
        return PostgresDumpStore(db)
    return SQLiteDumpStore(db)


async def export_to(config: Config, path: Path | None) -> ExportSummary:
    db = open_database(config)
    await db.open()
    try:
        if path is None:
            # UTF-8 whatever the locale says (the document declares it).
            out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n")
            try:
                return await Exporter(stores(db), dump_store(db), out).run()
            finally:
                out.flush()
                out.detach()
        # Written beside the target and renamed: a failed export leaves no half file.
        partial = path.with_name(path.name + ".partial")
        try:
            with partial.open("w", encoding="utf-8", newline="\n") as out:
                summary = await Exporter(stores(db), dump_store(db), out).run()
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(path)
        return summary
    finally:
        await db.close()


async def import_from(config: Config, path: Path | None, *, merge: bool) -> ImportSummary:
    db = open_database(config)
    await db.open()
    try:
        importer = Importer(
            stores(db),
            dump_store(db),
            frozenset(config.server.hosts),
            frozenset(mix_rules.service_domains(config.mix.domains, config.server.hosts)),
            merge=merge,
        )
        await importer.check_target()
        if path is not None:
            with path.open("rb") as source:
                await importer.validate(source)
            with path.open("rb") as source:
                return await write_all(importer, source)
        # Standard input is read once: kept in a temporary file for the second pass.
        with tempfile.TemporaryFile() as spool:
            await importer.validate(_Tee(sys.stdin.buffer, spool))
            spool.seek(0)
            return await write_all(importer, spool)
    finally:
        await db.close()


class ImportInterrupted(Exception):
    """The second pass failed (the database, not the dump): part is written."""


async def write_all(importer: Importer, source: Source) -> ImportSummary:
    try:
        return await importer.write(source)
    except (StorageError, DumpError) as exc:
        raise ImportInterrupted(
            f"import stopped after writing part of the dump: {exc}. Fix the cause and run"
            " the same import again with --merge to complete it"
        ) from exc


class _Tee:
    """Reads from `source`, copying what it reads into `copy`."""

    def __init__(self, source: BinaryIO, copy: BinaryIO) -> None:
        self._source = source
        self._copy = copy

    def read(self, size: int) -> bytes:
        data = self._source.read(size)
        self._copy.write(data)
        return data
