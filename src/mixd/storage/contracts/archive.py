"""Message archive contract (XEP-0313 user archives, later MIX-PAM and channels).

A message is stored ONCE (`MessageRecord`: its serialized stanza and
metadata); each archive that holds it has an entry pointing at it, with its
own id (the XEP-0359 stanza-id shown to that archive's owner), the other
party (`with`), the direction and the time it entered that archive. A 1:1
chat between two local users is one message and two entries; a channel
message is one message and one entry per archive.

An archive can also FOLLOW another (a local participant follows a channel,
XEP-0405): while it does, every entry committed to the followed archive
shows in the follower's too, with the same id, `with` = the followed
archive's JID, `with_resource` = that entry's (a channel stores the sender's
participant id there) and direction `in`. A channel message is therefore one
message and one entry, whatever the number of participants.

A message stored again with the same origin-id (XEP-0359) by the same sender
for the same archives is not stored twice: a client resending what it is not
sure arrived gets the first copy's ids back.

Order within an archive is (timestamp, seq), where seq is the insertion order:
stable, and exact for paging even when timestamps repeat. Times are integer
microseconds since the Unix epoch (UTC). JIDs arrive normalised; stores
compare them byte for byte.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from mixd.storage.errors import StorageError

MAX_ID_LENGTH = 64  # ids we hand out are 26 or 32 characters; longer ones cannot exist


def new_id() -> str:
    """A unique, URL-safe id: 48 bits of milliseconds then 80 random bits in
    lowercase hex, 32 characters; ids sort by creation time, which keeps
    index inserts at the end of the B-tree. (Ids from before were 26
    characters of base32hex; both kinds stay valid.) Hex rather than
    base32 because base64's base32 is written in Python, and `random`
    rather than `os.urandom` because a system call hands the GIL over: both
    showed in profiles of the message path. The ids are not secrets (MAM
    shows them); `random` is reseeded in a forked child."""
    millis = time.time_ns() // 1_000_000
    return f"{millis:012x}{random.getrandbits(80):020x}"


class Direction(StrEnum):
    IN = "in"  # the owner received it
    OUT = "out"  # the owner sent it


class DefaultMode(StrEnum):
    """XEP-0441 default archiving behaviour."""

    ALWAYS = "always"
    NEVER = "never"
    ROSTER = "roster"


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """A stanza to store once."""

    xml: str  # serialized with jabber:client as the default namespace
    timestamp: int  # when the server received it
    sender: str  # bare JID
    type: str
    origin_id: str | None = None


@dataclass(frozen=True, slots=True)
class NewEntry:
    """A message's place in one archive."""

    owner: str  # bare JID of the archive
    with_jid: str  # bare JID of the other party
    direction: Direction
    timestamp: int
    with_resource: str | None = None  # the other party's resource, if known


@dataclass(frozen=True, slots=True)
class Stored:
    message_id: str
    entry_ids: tuple[str, ...]  # in the order the entries were given
    duplicate: bool = False  # stored earlier under the same origin-id; nothing written
    holders: frozenset[str] = frozenset()  # for a duplicate: every archive holding it


@dataclass(frozen=True, slots=True)
class ArchiveItem:
    id: str  # the entry's id: stanza-id and RSM UID for the owner
    message_id: str
    timestamp: int
    with_jid: str
    with_resource: str | None
    direction: Direction
    xml: str


@dataclass(frozen=True, slots=True)
class ArchiveQuery:
    """Filters select the full result set; `after`/`before`/`index` pick a
    page of it. Filters: `with_jid` (and `with_resource` for a full JID),
    `start`/`end` inclusive times, `after_id`/`before_id` exclusive bounds,
    `ids` (only these items). Paging: the first `limit` items after `after`
    (or from position `index`), or with `from_end` the last `limit` items
    before `before` (None = before the end)."""

    owner: str
    limit: int
    with_jid: str | None = None
    with_resource: str | None = None
    start: int | None = None
    end: int | None = None
    after_id: str | None = None
    before_id: str | None = None
    ids: tuple[str, ...] = ()
    after: str | None = None
    before: str | None = None
    from_end: bool = False
    index: int | None = None


@dataclass(frozen=True, slots=True)
class ArchivePage:
    """`count` and `first_index` may be None where computing them would
    mean a scan of a large archive (XEP-0059 makes both optional); small
    archives always have them."""

    items: tuple[ArchiveItem, ...]  # chronological
    count: int | None  # size of the full result set
    first_index: int | None  # position of items[0] in it; None for an empty page
    complete: bool  # nothing further in the paging direction

    @property
    def first(self) -> str | None:
        return self.items[0].id if self.items else None

    @property
    def last(self) -> str | None:
        return self.items[-1].id if self.items else None


@dataclass(frozen=True, slots=True)
class Prefs:
    default: DefaultMode = DefaultMode.ALWAYS
    always: tuple[str, ...] = ()  # JIDs (bare or full), normalised
    never: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Bounds:
    """The oldest and newest item of an archive (None when it is empty)."""

    first: ArchiveItem | None
    last: ArchiveItem | None


class ArchiveItemNotFound(StorageError):
    """An id named in a query (after, before, after-id, before-id, ids) is not
    in the owner's archive."""


class ArchiveMessageNotFound(StorageError):
    """`add_entries` named a message that is not stored."""


class ArchiveConflict(StorageError):
    """`retract` found the message changed since the caller read it."""


class ArchiveStore(Protocol):
    """Every method may raise `StorageUnavailable`; each call is one
    transaction, committed before it returns."""

    async def store(self, message: MessageRecord, entries: Sequence[NewEntry]) -> Stored:
        """Store `message` once with its entries (at least one; ValueError).
        If the sender already stored a message with this origin-id that has
        an entry for every (owner, with_jid) given, nothing is written and
        that message comes back with `duplicate=True`."""
        ...

    async def add_entries(self, message_id: str, entries: Sequence[NewEntry]) -> tuple[str, ...]:
        """Add archives to a stored message; raises `ArchiveMessageNotFound`."""
        ...

    async def retract(
        self,
        owner: str,
        entry_id: str,
        expected: str | None,
        tombstone: str,
        notice: MessageRecord,
        entries: Sequence[NewEntry],
    ) -> Stored:
        """A retraction (XEP-0407), in one transaction. If `notice` repeats
        an earlier one (origin-id, as in `store`), nothing is written and
        that one comes back with `duplicate=True`. Otherwise the message
        behind `owner`'s own entry `entry_id` (`ArchiveItemNotFound` if there
        is none) is replaced by `tombstone`, provided it still reads
        `expected` (`ArchiveConflict` if not; None never matches), and
        `notice` is stored with `entries`. Every archive showing the message
        (followers included) shows the tombstone from then on."""
        ...

    async def query(self, query: ArchiveQuery) -> ArchivePage:
        """One page; raises `ArchiveItemNotFound` for unknown ids."""
        ...

    async def bounds(self, owner: str) -> Bounds: ...

    async def get_prefs(self, owner: str) -> Prefs:
        """The owner's preferences; `Prefs()` when never set."""
        ...

    async def set_prefs(self, owner: str, prefs: Prefs) -> None: ...

    async def follow(self, owner: str, feed: str) -> None:
        """From the next entry committed on, `owner`'s archive shows `feed`'s
        entries too, until `unfollow`. Following twice changes nothing."""
        ...

    async def unfollow(self, owner: str, feed: str) -> None:
        """Entries committed to `feed` from now on stay out of `owner`'s
        archive; those shown so far stay. A no-op when not following."""
        ...

    async def followers(self, feed: str) -> frozenset[str]:
        """The archives following `feed` now."""
        ...

    async def delete_owner(self, owner: str) -> int:
        """Remove an archive, its preferences and what it follows (account
        deletion, channel destruction); messages no other archive references go
        too. Entries its followers were shown are first copied into their
        archives (with new ids), so a deleted channel leaves its participants'
        history. Returns how many of the owner's own entries were removed."""
        ...

    async def trim(self, owner: str, keep: int) -> int:
        """Remove the owner's oldest own entries (by timestamp, then insertion
        order) so that at most `keep` (>= 1) remain; messages no other
        archive references go too. Entries shown through followed archives
        are neither counted nor removed. For archives nobody follows (an
        account's): the archive quota. Returns how many were removed."""
        ...
