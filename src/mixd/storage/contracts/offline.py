"""Offline message storage contract (XEP-0160): messages for an account with
no available resource wait here until it comes online."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class OfflineMessage:
    id: int
    owner: str  # bare JID
    stanza: str  # serialized message, as it will be delivered
    stamp: datetime


class OfflineStore(Protocol):
    """Every method may raise `StorageUnavailable`."""

    async def push(self, owner: str, stanza: str, stamp: datetime, limit: int) -> bool:
        """Queue a message; False (and nothing stored) when `owner` already
        has `limit` messages waiting."""
        ...

    async def fetch(self, owner: str, limit: int) -> list[OfflineMessage]:
        """The oldest `limit` waiting messages, oldest first (not removed)."""
        ...

    async def delete(self, owner: str, ids: Sequence[int]) -> None:
        """Remove delivered messages."""
        ...

    async def count(self, owner: str) -> int: ...
