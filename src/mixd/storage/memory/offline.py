"""OfflineStore in memory (tests)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime

from mixd.storage.contracts.offline import OfflineMessage


class MemoryOfflineStore:
    def __init__(self) -> None:
        self._queues: dict[str, list[OfflineMessage]] = {}
        self._ids = itertools.count(1)

    async def push(self, owner: str, stanza: str, stamp: datetime, limit: int) -> bool:
        queue = self._queues.setdefault(owner, [])
        if len(queue) >= limit:
            return False
        queue.append(OfflineMessage(next(self._ids), owner, stanza, stamp))
        return True

    async def fetch(self, owner: str, limit: int) -> list[OfflineMessage]:
        return list(self._queues.get(owner, [])[:limit])

    async def delete(self, owner: str, ids: Sequence[int]) -> None:
        gone = set(ids)
        queue = self._queues.get(owner, [])
        self._queues[owner] = [m for m in queue if m.id not in gone]

    async def count(self, owner: str) -> int:
        return len(self._queues.get(owner, []))
