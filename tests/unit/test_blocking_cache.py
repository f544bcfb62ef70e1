"""The in-memory blocklists: no storage read for accounts that block
nothing, lists kept for accounts with a session here, bounded for the
others, never caching a read that a change overtook."""

from __future__ import annotations

import asyncio

from mixd.services.blocking.cache import Blocklists
from mixd.storage.memory.blocklist import MemoryBlocklistStore

JULIET = "juliet@example.org"
ROMEO = "romeo@example.net"


class CountingStore(MemoryBlocklistStore):
    """Counts list reads; a read waits for `release` once `hold` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.hold = False
        self.release = asyncio.Event()

    async def blocklist(self, host: str, username: str) -> tuple[str, ...]:
        self.reads += 1
        found = await super().blocklist(host, username)
        if self.hold:
            await self.release.wait()
        return found


async def user_with_list(store: CountingStore, name: str) -> None:
    await store.block("example.org", name, [ROMEO], 10)


async def test_accounts_without_a_list_cost_no_read() -> None:
    store = CountingStore()
    await user_with_list(store, "juliet")
    lists = Blocklists(store)
    await lists.load()
    assert lists.now("nurse@example.org") == frozenset()
    assert await lists.get("nobody@example.org") == frozenset()
    assert store.reads == 0
    assert lists.now(JULIET) is None  # has a list, not read yet
    assert await lists.get(JULIET) == frozenset({ROMEO})
    assert await lists.get(JULIET) == frozenset({ROMEO})
    assert store.reads == 1


async def test_changes_replace_and_empty_lists_are_forgotten() -> None:
    store = CountingStore()
    lists = Blocklists(store)
    await lists.load()
    lists.set(JULIET, (ROMEO,))
    assert lists.now(JULIET) == frozenset({ROMEO})
    lists.set(JULIET, ())
    assert lists.now(JULIET) == frozenset()
    lists.invalidate(JULIET)  # another node changed it
    assert lists.now(JULIET) is None
    await user_with_list(store, "juliet")
    assert await lists.get(JULIET) == frozenset({ROMEO})
    lists.forget(JULIET)
    assert lists.now(JULIET) == frozenset()


async def test_a_read_overtaken_by_a_change_is_not_cached() -> None:
    store = CountingStore()
    await user_with_list(store, "juliet")
    lists = Blocklists(store)
    await lists.load()
    store.hold = True
    reading = asyncio.create_task(lists.get(JULIET))
    await asyncio.sleep(0)
    lists.set(JULIET, (ROMEO, "iago@example.net"))
    store.release.set()
    assert await reading == frozenset({ROMEO})  # what it read, to its caller only
    assert lists.now(JULIET) == frozenset({ROMEO, "iago@example.net"})


async def test_online_accounts_stay_while_others_are_bounded() -> None:
    store = CountingStore()
    for n in range(7):
        await user_with_list(store, f"user{n}")
    await user_with_list(store, "juliet")
    lists = Blocklists(store, recent_size=2)
    await lists.load()
    await lists.pin(JULIET)
    for n in range(5):
        await lists.get(f"user{n}@example.org")
    assert lists.now(JULIET) == frozenset({ROMEO})
    assert lists.now("user0@example.org") is None
    assert lists.now("user4@example.org") == frozenset({ROMEO})
    lists.unpin(JULIET)
    assert lists.now(JULIET) == frozenset({ROMEO})  # now among the recent ones
    await lists.get("user5@example.org")
    await lists.get("user6@example.org")
    assert lists.now(JULIET) is None
