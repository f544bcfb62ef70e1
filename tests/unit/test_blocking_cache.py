"""The in-memory blocklists: kept for accounts with a session here, bounded
for the others, never caching a read that a change overtook."""

from __future__ import annotations

import asyncio

from mixd.services.blocking.cache import Blocklists
from mixd.storage.memory.blocklist import MemoryBlocklistStore

JULIET = "juliet@example.org"


class SlowStore(MemoryBlocklistStore):
    """Reads wait for `release`, so a test can change the list meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def blocklist(self, host: str, username: str) -> tuple[str, ...]:
        found = await super().blocklist(host, username)
        await self.release.wait()
        return found


async def test_reads_are_cached_and_changes_replace_them() -> None:
    store = MemoryBlocklistStore()
    lists = Blocklists(store)
    assert lists.now(JULIET) is None
    assert await lists.get(JULIET) == frozenset()
    assert lists.now(JULIET) == frozenset()
    await store.block("example.org", "juliet", ["romeo@example.net"], 10)
    assert await lists.get(JULIET) == frozenset()  # cached: changes go through set()
    lists.set(JULIET, ("romeo@example.net",))
    assert lists.now(JULIET) == frozenset({"romeo@example.net"})
    lists.invalidate(JULIET)
    assert lists.now(JULIET) is None
    assert await lists.get(JULIET) == frozenset({"romeo@example.net"})


async def test_a_read_overtaken_by_a_change_is_not_cached() -> None:
    store = SlowStore()
    lists = Blocklists(store)
    reading = asyncio.create_task(lists.get(JULIET))
    await asyncio.sleep(0)
    lists.set(JULIET, ("romeo@example.net",))
    store.release.set()
    assert await reading == frozenset()  # what it read, returned to its caller only
    assert lists.now(JULIET) == frozenset({"romeo@example.net"})


async def test_online_accounts_stay_while_others_are_bounded() -> None:
    lists = Blocklists(MemoryBlocklistStore(), recent_size=2)
    await lists.pin(JULIET)
    for n in range(5):
        await lists.get(f"user{n}@example.org")
    assert lists.now(JULIET) == frozenset()
    assert lists.now("user0@example.org") is None
    assert lists.now("user4@example.org") == frozenset()
    lists.unpin(JULIET)
    assert lists.now(JULIET) == frozenset()  # now among the recent ones
    await lists.get("user5@example.org")
    await lists.get("user6@example.org")
    assert lists.now(JULIET) is None
    lists.forget("user6@example.org")
    assert lists.now("user6@example.org") is None
