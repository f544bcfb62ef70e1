"""BlocklistStore in dicts, for fast service tests; same contract as SQL backends.

Given the account store, it behaves like the SQL foreign key: writes for an
account that does not exist raise `AccountNotFound`, and a deleted
account's list is gone (dropped the next time it is looked at).
"""

from __future__ import annotations

from collections.abc import Sequence

from mixd.storage.contracts.accounts import AccountStore
from mixd.storage.contracts.blocklist import BlocklistChange, unique
from mixd.storage.errors import AccountNotFound

_Owner = tuple[str, str]


class MemoryBlocklistStore:
    def __init__(self, accounts: AccountStore | None = None) -> None:
        self._accounts = accounts
        self._lists: dict[_Owner, set[str]] = {}

    async def _exists(self, owner: _Owner) -> bool:
        if self._accounts is None or await self._accounts.get(*owner) is not None:
            return True
        self._lists.pop(owner, None)  # cascade
        return False

    async def blocklist(self, host: str, username: str) -> tuple[str, ...]:
        owner = (host, username)
        if not await self._exists(owner):
            return ()
        return tuple(sorted(self._lists.get(owner, ())))

    async def owners(self) -> list[tuple[str, str]]:
        listed = [owner for owner, jids in self._lists.items() if jids]
        return sorted([owner for owner in listed if await self._exists(owner)])

    async def block(
        self, host: str, username: str, jids: Sequence[str], limit: int
    ) -> BlocklistChange | None:
        owner = (host, username)
        if not await self._exists(owner):
            raise AccountNotFound(f"no account {username}@{host}")
        current = self._lists.get(owner, set())
        added = [jid for jid in unique(jids) if jid not in current]
        if len(current) + len(added) > limit:
            return None
        current = self._lists.setdefault(owner, set())
        current.update(added)
        return BlocklistChange(tuple(added), tuple(sorted(current)))

    async def unblock(self, host: str, username: str, jids: Sequence[str]) -> BlocklistChange:
        owner = (host, username)
        current = self._lists.get(owner, set()) if await self._exists(owner) else set()
        removed = [jid for jid in unique(jids) if jid in current]
        current.difference_update(removed)
        return BlocklistChange(tuple(removed), tuple(sorted(current)))

    async def unblock_all(self, host: str, username: str) -> BlocklistChange:
        owner = (host, username)
        removed = self._lists.pop(owner, set()) if await self._exists(owner) else set()
        return BlocklistChange(tuple(sorted(removed)), ())
