"""Blocklists in memory, so that routing reads no storage for them.

Most accounts block nothing. The accounts whose list is not empty are
known from start-up (`BlocklistStore.owners`) and kept current by every
change, so for every other account, online or not, existing or not, the
answer is "empty" without I/O and without suspending the routing task.
Lists that are not empty are read when first needed: the list of every
account with a session on this node is kept (loaded when the session is
bound, dropped with its last session), so the MIX fan-out, which is
synchronous, answers from `now()`; others are kept in a bounded LRU.

Every change goes through `set()` after its commit; a read that started
before a change does not cache what it read. In a cluster, a change made
on another node arrives as `invalidate()`.
"""

from __future__ import annotations

from collections import OrderedDict

from mixd.errors import ErrorType, StanzaError, StanzaErrorCondition
from mixd.storage.contracts.blocklist import BlocklistStore
from mixd.storage.errors import StorageUnavailable

RECENT_SIZE = 10_000
EMPTY: frozenset[str] = frozenset()


def owner_key(owner: str) -> tuple[str, str]:
    username, _, host = owner.partition("@")
    return host, username


class Blocklists:
    def __init__(self, store: BlocklistStore, recent_size: int = RECENT_SIZE) -> None:
        self._store = store
        self._listing: set[str] = set()  # accounts whose list may not be empty
        self._online: dict[str, frozenset[str]] = {}
        self._recent: OrderedDict[str, frozenset[str]] = OrderedDict()
        self._recent_size = recent_size
        self._pinned: set[str] = set()  # accounts with a session here
        self._generation = 0  # bumped by every change: a read started before it is stale

    async def load(self) -> None:
        """At start: which accounts have a list at all."""
        owners = await self._store.owners()
        self._listing.update(f"{username}@{host}" for host, username in owners)

    @property
    def anyone(self) -> bool:
        """Whether any account may have a non-empty list."""
        return bool(self._listing)

    def now(self, owner: str) -> frozenset[str] | None:
        """The list of `owner` (a normalised bare JID) if known without I/O,
        else None."""
        if owner not in self._listing:
            return EMPTY
        entries = self._online.get(owner)
        if entries is not None:
            return entries
        return self._recent.get(owner)

    async def get(self, owner: str) -> frozenset[str]:
        """The list, from memory or else from storage (then cached). Only an
        account with a list can make this wait."""
        entries = self.now(owner)
        if entries is not None:
            return entries
        generation = self._generation
        try:
            loaded = await self._store.blocklist(*owner_key(owner))
        except StorageUnavailable:
            raise StanzaError(
                StanzaErrorCondition.INTERNAL_SERVER_ERROR,
                "blocklists are unavailable, try again",
                ErrorType.WAIT,
            ) from None
        entries = frozenset(loaded) if loaded else EMPTY
        if generation == self._generation:
            self._remember(owner, entries)
        return entries

    def set(self, owner: str, items: tuple[str, ...]) -> None:
        """`owner`'s list after a committed change."""
        self._generation += 1
        self._recent.pop(owner, None)
        self._remember(owner, frozenset(items) if items else EMPTY)

    def invalidate(self, owner: str) -> None:
        """Another cluster node changed `owner`'s list: read it again when
        next needed."""
        self._generation += 1
        self._listing.add(owner)
        self._online.pop(owner, None)
        self._recent.pop(owner, None)

    def forget(self, owner: str) -> None:
        """The account is gone."""
        self._generation += 1
        self._listing.discard(owner)
        self._online.pop(owner, None)
        self._recent.pop(owner, None)
        self._pinned.discard(owner)

    async def pin(self, owner: str) -> None:
        """A session of `owner` was bound here: keep its list while it lasts."""
        self._pinned.add(owner)
        entries = self._recent.pop(owner, None)
        if entries is not None:
            self._online[owner] = entries
        elif owner in self._listing and owner not in self._online:
            await self.get(owner)

    def unpin(self, owner: str) -> None:
        """The last session of `owner` here ended."""
        self._pinned.discard(owner)
        entries = self._online.pop(owner, None)
        if entries is not None and entries:
            self._remember(owner, entries)

    def _remember(self, owner: str, entries: frozenset[str]) -> None:
        if not entries:
            self._listing.discard(owner)  # known empty: nothing to keep
            self._online.pop(owner, None)
            self._recent.pop(owner, None)
            return
        self._listing.add(owner)
        if owner in self._pinned:
            self._online[owner] = entries
            return
        self._recent[owner] = entries
        self._recent.move_to_end(owner)
        while len(self._recent) > self._recent_size:
            self._recent.popitem(last=False)
