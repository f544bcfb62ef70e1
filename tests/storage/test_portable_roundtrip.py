"""Export a SQLite installation and import it into SQLite and PostgreSQL:
every store's content comes back the same, ids and times included."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from mixd.app import stores
from mixd.core.server import Stores
from mixd.portable.command import ImportInterrupted, dump_store
from mixd.portable.command import write_all as write_pass
from mixd.portable.export import Exporter
from mixd.portable.importer import Importer, TargetNotEmpty
from mixd.storage.contracts.dump import DumpedEntry, DumpStore
from mixd.storage.errors import StorageUnavailable
from mixd.storage.sqlite.database import SQLiteDatabase
from tests.pg_cluster import postgres_database
from tests.portable_data import HOST, SERVICES, populate, snapshot

HOSTS = frozenset({HOST})


@dataclass
class Installation:
    stores: Stores
    dump: DumpStore


@pytest.fixture
async def source(tmp_path: Path) -> AsyncIterator[Installation]:
    db = SQLiteDatabase(tmp_path / "old.sqlite")
    await db.open()
    try:
        yield Installation(stores(db), dump_store(db))
    finally:
        await db.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Installation]:
    if request.param == "postgresql":
        async with postgres_database(request) as pg:
            yield Installation(stores(pg), dump_store(pg))
        return
    db = SQLiteDatabase(tmp_path / "new.sqlite")
    await db.open()
    try:
        yield Installation(stores(db), dump_store(db))
    finally:
        await db.close()


async def export(installation: Installation) -> str:
    out = io.StringIO()
    await Exporter(installation.stores, installation.dump, out).run()
    return out.getvalue()


async def load(installation: Installation, document: str, *, merge: bool = False) -> Importer:
    importer = Importer(installation.stores, installation.dump, HOSTS, SERVICES, merge=merge)
    await importer.check_target()
    await importer.validate(io.BytesIO(document.encode()))
    await importer.write(io.BytesIO(document.encode()))
    return importer


async def test_round_trip_keeps_every_store(source: Installation, target: Installation) -> None:
    await populate(source.stores, source.dump)
    before = await snapshot(source.stores, source.dump)
    document = await export(source)

    importer = await load(target, document)

    assert importer.summary.accounts == 3
    assert importer.summary.channels == 1
    after = await snapshot(target.stores, target.dump)
    assert after.keys() == before.keys()
    for key, value in before.items():
        assert after[key] == value, key
    # Exported again, the target says exactly what the source said.
    assert await export(target) == document


async def test_import_refuses_a_target_holding_data(
    source: Installation, target: Installation
) -> None:
    await populate(source.stores, source.dump)
    document = await export(source)
    await target.stores.accounts.create(HOST, "someone", ())

    with pytest.raises(TargetNotEmpty):
        await load(target, document)
    assert await target.stores.accounts.list_usernames(HOST) == ["someone"]


async def test_merge_keeps_what_exists_and_adds_the_rest(
    source: Installation, target: Installation
) -> None:
    await populate(source.stores, source.dump)
    before = await snapshot(source.stores, source.dump)
    document = await export(source)
    await target.stores.accounts.create(HOST, "alice", ())  # a different alice

    importer = await load(target, document, merge=True)

    assert importer.summary.skipped_accounts == 1
    assert (await target.stores.accounts.get(HOST, "alice")).credentials == ()  # type: ignore[union-attr]
    after = await snapshot(target.stores, target.dump)
    assert after["account bob@example.org"] == before["account bob@example.org"]
    # Alice's archive entries are added, her other data is not.
    assert after["archive alice@example.org"] == before["archive alice@example.org"]
    assert after["roster alice@example.org"].items == ()
    # Importing again adds nothing and changes nothing.
    again = await load(target, document, merge=True)
    assert again.summary.entries == 0
    assert again.summary.skipped_accounts == 3
    assert await snapshot(target.stores, target.dump) == after


async def test_an_interrupted_import_completes_with_merge(
    source: Installation, target: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    await populate(source.stores, source.dump)
    before = await snapshot(source.stores, source.dump)
    document = await export(source)
    restore = target.dump.restore_entries
    calls = 0

    async def failing_after_one(entries: Sequence[DumpedEntry]) -> int:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise StorageUnavailable("disk full")
        return await restore(entries)

    monkeypatch.setattr(target.dump, "restore_entries", failing_after_one)
    importer = Importer(target.stores, target.dump, HOSTS, SERVICES)
    await importer.validate(io.BytesIO(document.encode()))
    with pytest.raises(ImportInterrupted, match=r"disk full.*again with --merge"):
        await write_pass(importer, io.BytesIO(document.encode()))
    monkeypatch.undo()

    await load(target, document, merge=True)
    assert await snapshot(target.stores, target.dump) == before
