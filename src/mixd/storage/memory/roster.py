"""RosterStore in dicts, for fast service tests; same contract as SQL backends.

Given the account store, it behaves like the SQL foreign key: writes for an
account that does not exist raise `AccountNotFound`, and the data of a deleted
account is gone (dropped the next time it is looked at).
"""

from __future__ import annotations

from mixd.storage.contracts.accounts import AccountStore
from mixd.storage.contracts.roster import (
    LastPresence,
    Roster,
    RosterChange,
    RosterItem,
    RosterUpdate,
)
from mixd.storage.errors import AccountNotFound

_Owner = tuple[str, str]


class MemoryRosterStore:
    def __init__(self, accounts: AccountStore | None = None) -> None:
        self._accounts = accounts
        self._items: dict[_Owner, dict[str, RosterItem]] = {}
        self._versions: dict[_Owner, int] = {}
        self._last: dict[_Owner, LastPresence] = {}

    async def _exists(self, owner: _Owner) -> bool:
        if self._accounts is None:
            return True
        if await self._accounts.get(*owner) is not None:
            return True
        # Cascade: whatever the deleted account left behind goes.
        self._items.pop(owner, None)
        self._versions.pop(owner, None)
        self._last.pop(owner, None)
        return False

    async def _require(self, owner: _Owner) -> None:
        if not await self._exists(owner):
            raise AccountNotFound(f"no account {owner[1]}@{owner[0]}")

    async def roster(self, host: str, username: str) -> Roster:
        owner = (host, username)
        if not await self._exists(owner):
            return Roster(0, ())
        items = self._items.get(owner, {})
        return Roster(self._versions.get(owner, 0), tuple(items[j] for j in sorted(items)))

    async def get(self, host: str, username: str, jid: str) -> RosterItem | None:
        owner = (host, username)
        if not await self._exists(owner):
            return None
        return self._items.get(owner, {}).get(jid)

    async def update(
        self, host: str, username: str, jid: str, change: RosterUpdate
    ) -> RosterChange:
        owner = (host, username)
        await self._require(owner)
        items = self._items.setdefault(owner, {})
        old = items.get(jid)
        new = change(old)
        if new is not None and new.jid != jid:
            raise ValueError(f"roster update for {jid} returned an item for {new.jid}")
        if new == old:
            return RosterChange(old, new, self._versions.get(owner, 0))
        if new is None:
            del items[jid]
        else:
            items[jid] = new
        version = self._versions[owner] = self._versions.get(owner, 0) + 1
        return RosterChange(old, new, version)

    async def set_last_presence(self, host: str, username: str, presence: LastPresence) -> None:
        owner = (host, username)
        await self._require(owner)
        self._last[owner] = presence

    async def last_presence(self, host: str, username: str) -> LastPresence | None:
        owner = (host, username)
        if not await self._exists(owner):
            return None
        return self._last.get(owner)
