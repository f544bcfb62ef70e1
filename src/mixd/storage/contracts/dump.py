"""Whole-installation export and import (`mixd export` / `mixd import`):
what the other contracts cannot enumerate or cannot write with the original
ids, in one `DumpStore` per backend.

Export reads every account host, channel service and archive through this
store (the rest through the ordinary contracts); import writes archive
entries back with their original ids, message ids and times, restores the
spans a follower was shown of a followed archive, and brings roster versions
back to where they were, so that clients' cached roster versions stay valid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from mixd.storage.contracts.archive import Direction, MessageRecord
from mixd.storage.contracts.mix_misc import NodeItem, RegisteredNick


@dataclass(frozen=True, slots=True)
class DumpedEntry:
    """One entry of an archive (its own, not one shown through a feed),
    with the message it points at."""

    id: str  # the entry's id (stanza-id for the owner)
    message_id: str
    owner: str
    with_jid: str
    with_resource: str | None
    direction: Direction
    timestamp: int  # the entry's time (microseconds)
    message: MessageRecord


@dataclass(frozen=True, slots=True)
class FollowSpan:
    """A stretch of a feed's entries `follower` is shown: from the feed entry
    `first` to `last` (ids, inclusive), and with `open` every entry after
    too. An open span with no entries yet has `first` = `last` = None."""

    follower: str
    feed: str
    first: str | None
    last: str | None
    open: bool


class DumpStore(Protocol):
    """Every method may raise `StorageUnavailable`."""

    async def account_hosts(self) -> list[str]:
        """Hosts having at least one account, sorted."""
        ...

    async def channel_services(self) -> list[str]:
        """MIX services having at least one channel (ad hoc ones too) or a
        registered nick, sorted."""
        ...

    async def registered_nicks(self, service: str) -> list[RegisteredNick]:
        """The nicks registered with `service` (XEP-0407), by user."""
        ...

    async def channel_node_items(self, channel: str) -> list[tuple[str, NodeItem]]:
        """Every (node, item) `MixMiscStore` keeps for the channel, by node,
        each node's oldest first."""
        ...

    async def archive_owners(self, after: str | None, limit: int) -> list[str]:
        """Owners with entries, preferences or followed spans, sorted by code
        point, starting after `after`."""
        ...

    async def entries(self, owner: str, after: str | None, limit: int) -> list[DumpedEntry]:
        """The owner's own entries in the order they were stored (not those
        shown through feeds), starting after the entry with id `after`
        (`ArchiveItemNotFound` if the owner has no such entry)."""
        ...

    async def spans(self, feed: str) -> list[FollowSpan]:
        """The spans of `feed` its followers are shown (empty closed spans
        left out), by follower, oldest first."""
        ...

    async def restore_entries(self, entries: Sequence[DumpedEntry]) -> int:
        """Write the entries, in order, with their ids and times; the message
        is stored with `message_id` unless a message with that id exists, in
        which case the entry points at it. An entry whose id exists is skipped.
        One transaction; returns how many entries were written."""
        ...

    async def restore_span(self, span: FollowSpan) -> None:
        """Show `follower` the feed's entries from `first` to `last` (both
        must be in the feed's archive: `ArchiveItemNotFound`), and with
        `open` the entries stored from now on too; an open span without
        entries is `ArchiveStore.follow`. Restore the feed's entries first."""
        ...

    async def raise_roster_version(self, host: str, username: str, version: int) -> None:
        """Make the roster version at least `version` (a no-op when higher);
        raises `AccountNotFound`."""
        ...
