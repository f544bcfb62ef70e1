"""The MAM service's side of storage: storage errors mapped to stanza errors
in one place, and a bounded cache of archiving preferences (read on every
archived message, written only through this service)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable
from typing import TypeVar

from mixd.errors import ErrorType, StanzaError, StanzaErrorCondition
from mixd.storage.contracts.archive import ArchiveItemNotFound, ArchiveStore, Prefs
from mixd.storage.errors import StorageUnavailable

T = TypeVar("T")

PREFS_CACHE_SIZE = 4096


async def guarded(call: Awaitable[T]) -> T:
    """Await a storage call; its errors become the stanza errors we answer with."""
    try:
        return await call
    except StorageUnavailable:
        raise StanzaError(
            StanzaErrorCondition.INTERNAL_SERVER_ERROR,
            "the message archive is unavailable, try again",
            ErrorType.WAIT,
        ) from None
    except ArchiveItemNotFound:
        raise StanzaError(
            StanzaErrorCondition.ITEM_NOT_FOUND, "no such item in the archive"
        ) from None


class PrefsCache:
    """Preferences by owner, least recently used evicted first."""

    def __init__(self, store: ArchiveStore, size: int = PREFS_CACHE_SIZE) -> None:
        self._store = store
        self._size = size
        self._cache: OrderedDict[str, Prefs] = OrderedDict()
        self._version = 0  # bumped by every set, so a slow read cannot cache stale prefs

    async def get(self, owner: str) -> Prefs:
        prefs = self._cache.get(owner)
        if prefs is not None:
            self._cache.move_to_end(owner)
            return prefs
        version = self._version
        prefs = await guarded(self._store.get_prefs(owner))
        if version == self._version:
            self._remember(owner, prefs)
        return prefs

    async def set(self, owner: str, prefs: Prefs) -> None:
        self._version += 1
        self._cache.pop(owner, None)
        await guarded(self._store.set_prefs(owner, prefs))
        self._remember(owner, prefs)

    def forget(self, owner: str) -> None:
        self._version += 1
        self._cache.pop(owner, None)

    def _remember(self, owner: str, prefs: Prefs) -> None:
        self._cache[owner] = prefs
        self._cache.move_to_end(owner)
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)
