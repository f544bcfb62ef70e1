"""The archive quota keeper (RELIABILITY E6): when it trims, and what a
failing trim does."""

from __future__ import annotations

import pytest

from mixd.services.mam.quota import QuotaKeeper
from mixd.storage.contracts.archive import ArchiveQuery, Direction, MessageRecord, NewEntry
from mixd.storage.errors import StorageUnavailable
from mixd.storage.memory.archive import MemoryArchiveStore

ALICE, BOB = "alice@example.org", "bob@example.org"


class CountingStore(MemoryArchiveStore):
    def __init__(self) -> None:
        super().__init__()
        self.trims: list[tuple[str, int]] = []
        self.fail = False

    async def trim(self, owner: str, keep: int) -> int:
        self.trims.append((owner, keep))
        if self.fail:
            raise StorageUnavailable("disk full")
        return await super().trim(owner, keep)


async def add(store: CountingStore, keeper: QuotaKeeper, owner: str, n: int) -> None:
    for i in range(n):
        record = MessageRecord(f"<message><body>{i}</body></message>", i, BOB, "chat")
        await store.store(record, [NewEntry(owner, BOB, Direction.IN, i)])
        await keeper.stored(owner)


async def test_small_quota_is_kept_exactly() -> None:
    store = CountingStore()
    keeper = QuotaKeeper(store, 3)
    await add(store, keeper, ALICE, 5)
    assert len(store.trims) == 5  # quota below 100: checked at every store
    page = await store.query(ArchiveQuery(ALICE, 10))
    assert [item.timestamp for item in page.items] == [2, 3, 4]  # the newest three


async def test_large_quota_is_checked_every_hundredth() -> None:
    store = CountingStore()
    keeper = QuotaKeeper(store, 200)  # checked every 2 stores
    await add(store, keeper, ALICE, 1)
    assert store.trims == [(ALICE, 200)]  # an archive it does not know: at once
    await add(store, keeper, ALICE, 4)
    assert len(store.trims) == 3
    await add(store, keeper, BOB, 1)
    assert store.trims[-1] == (BOB, 200)


async def test_forgotten_archives_are_checked_at_their_next_store() -> None:
    store = CountingStore()
    keeper = QuotaKeeper(store, 1000, tracked=2)  # every 10 stores
    for owner in (ALICE, BOB, "carol@example.org"):
        await add(store, keeper, owner, 1)
    store.trims.clear()
    await add(store, keeper, ALICE, 1)  # evicted by carol: checked again
    assert store.trims == [(ALICE, 1000)]


async def test_a_failing_trim_is_retried_and_the_message_stays(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = CountingStore()
    keeper = QuotaKeeper(store, 500)
    store.fail = True
    await add(store, keeper, ALICE, 1)
    assert "archive_trim_failed" in caplog.text
    store.fail = False
    await add(store, keeper, ALICE, 1)  # unknown again: checked now, not 5 stores later
    assert len(store.trims) == 2
    assert store.message_count() == 2
