"""The archive quota (RELIABILITY E6, `[mam] archive_quota`): an account's
archive keeps its newest `quota` entries; older ones expire as new ones
arrive. The newest message is therefore never the one lost, and a full
archive never makes a message undeliverable.

Trimming is checked after a store, not on every one: once per `quota / 100`
stores to an archive (at least every store), so an archive may hold up to
1% more than the quota until its next check. Counting stores is done in a
bounded map; an archive it does not know (new, forgotten, or after a
restart) is checked at its first store, so none escapes the quota for long.
A failing trim is logged and retried at the next check: the message itself
is stored and goes on.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from mixd.logfmt import log_event
from mixd.storage.contracts.archive import ArchiveStore
from mixd.storage.errors import StorageError

log = logging.getLogger(__name__)

TRACKED_ARCHIVES = 65_536


class QuotaKeeper:
    def __init__(self, store: ArchiveStore, quota: int, tracked: int = TRACKED_ARCHIVES) -> None:
        if quota < 1:
            raise ValueError("an archive quota keeps at least one entry")
        self._store = store
        self.quota = quota
        self.check_every = max(1, quota // 100)
        self._tracked = tracked
        self._since_check: OrderedDict[str, int] = OrderedDict()  # owner -> stores since

    async def stored(self, owner: str) -> None:
        """An entry was added to `owner`'s archive."""
        count = self._since_check.pop(owner, self.check_every - 1) + 1
        if count < self.check_every:
            self._remember(owner, count)
            return
        self._remember(owner, 0)
        try:
            removed = await self._store.trim(owner, self.quota)
        except StorageError as exc:
            self._since_check.pop(owner, None)  # unknown again: checked next time
            log_event(log, "archive_trim_failed", logging.WARNING, owner=owner, error=str(exc))
            return
        if removed:
            log_event(log, "archive_trimmed", owner=owner, removed=removed)

    def _remember(self, owner: str, count: int) -> None:
        self._since_check[owner] = count
        while len(self._since_check) > self._tracked:
            self._since_check.popitem(last=False)
