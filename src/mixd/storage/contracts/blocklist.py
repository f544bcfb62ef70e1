"""Blocklist storage contract (XEP-0191): the JIDs each account blocks.

Entries are normalised JID strings in any of the four forms XEP-0191 matches
(`user@domain/resource`, `user@domain`, `domain/resource`, `domain`); the
store does not interpret them. Everything belongs to an account and goes
when the account is deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class BlocklistChange:
    """What one block or unblock did: the entries it added or removed (in
    request order, each once; entries already in the wanted state left
    out) and the whole list afterwards, sorted."""

    changed: tuple[str, ...]
    items: tuple[str, ...]


class BlocklistStore(Protocol):
    """Every method may raise `StorageUnavailable`."""

    async def blocklist(self, host: str, username: str) -> tuple[str, ...]:
        """The account's blocked JIDs, sorted; () for none or no such account."""
        ...

    async def owners(self) -> list[tuple[str, str]]:
        """(host, username) of every account whose list is not empty: a
        server keeps these in memory so that routing never reads storage for
        the many accounts that block nothing."""
        ...

    async def block(
        self, host: str, username: str, jids: Sequence[str], limit: int
    ) -> BlocklistChange | None:
        """Add `jids` in one transaction. None (and nothing stored) when the
        list would then hold more than `limit` entries. Raises
        `AccountNotFound` for an account that does not exist."""
        ...

    async def unblock(self, host: str, username: str, jids: Sequence[str]) -> BlocklistChange:
        """Remove `jids` (those not listed are ignored) in one transaction."""
        ...

    async def unblock_all(self, host: str, username: str) -> BlocklistChange:
        """Empty the list; `changed` holds what was removed, sorted."""
        ...


def unique(jids: Sequence[str]) -> list[str]:
    """`jids` without repeats, first occurrence kept."""
    return list(dict.fromkeys(jids))
