"""Roster storage contract (RFC 6121 sections 2-4): records and the
`RosterStore` protocol.

An account's roster is a set of items keyed by the contact's normalised bare
JID (as text), each with the subscription state of RFC 6121 Appendix A, and a
version: an integer counter per account, bumped by every change, that roster
versioning (section 2.6) hands to clients as an opaque string. Owners are
(host, username) pairs of existing accounts, already normalised; deleting the
account deletes its roster and presence state.

The store also keeps the account's last unavailable presence, which answers
presence probes while the account is offline (section 4.3.2).

A MIX channel the user joined (XEP-0405 section 5.1.9) is an item like any
other, marked by the user's stable participant id in that channel; MIX-PAM
writes and removes it, presence leaves it alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class Subscription(StrEnum):
    """RFC 6121 section 2.1.2.5: who receives whose presence."""

    NONE = "none"
    TO = "to"  # the user receives the contact's presence
    FROM = "from"  # the contact receives the user's presence
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class RosterItem:
    """One contact of an account, with its subscription state.

    `listed` is False for an entry that only holds a subscription request from
    someone the user never added: RFC 6121 Appendix A.1 says such a "None +
    Pending In" contact is not pushed or shown until the user approves.

    `mix_participant_id` is set on a MIX channel the user joined (XEP-0405):
    the stable participant id the channel gave the user.
    """

    jid: str  # the contact's normalised bare JID
    name: str | None = None
    groups: tuple[str, ...] = ()
    subscription: Subscription = Subscription.NONE
    ask: bool = False  # Pending Out: the user asked for the contact's presence
    pending_in: bool = False  # Pending In: the contact asked for the user's presence
    approved: bool = False  # the user pre-approved a request (section 3.4)
    request: str | None = None  # the stored subscription request while pending in
    listed: bool = True
    mix_participant_id: str | None = None

    @property
    def is_mix_channel(self) -> bool:
        """A joined MIX channel: its subscription is MIX's, not presence's."""
        return self.mix_participant_id is not None


@dataclass(frozen=True, slots=True)
class Roster:
    version: int
    items: tuple[RosterItem, ...]  # every entry (listed or not), sorted by jid


@dataclass(frozen=True, slots=True)
class RosterChange:
    """What `RosterStore.update` did: the entry before and after (None:
    absent) and the roster version after the update."""

    old: RosterItem | None
    new: RosterItem | None
    version: int

    @property
    def changed(self) -> bool:
        return self.old != self.new


@dataclass(frozen=True, slots=True)
class LastPresence:
    """The presence the account's last available resource ended with."""

    stanza: str  # serialized <presence type='unavailable'/>
    stamp: datetime


# Computes an entry's new value from its current one (None: absent / delete).
RosterUpdate = Callable[[RosterItem | None], RosterItem | None]


class RosterStore(Protocol):
    """Rosters of local accounts. Every method may raise `StorageUnavailable`."""

    async def roster(self, host: str, username: str) -> Roster:
        """Every entry and the current version (0 and no items for a roster
        never written, or an account that does not exist)."""
        ...

    async def get(self, host: str, username: str, jid: str) -> RosterItem | None:
        """The entry for contact `jid`, or None."""
        ...

    async def update(
        self, host: str, username: str, jid: str, change: RosterUpdate
    ) -> RosterChange:
        """Atomically replace the entry for `jid` with `change(current)`.

        `change` runs inside the store's transaction (on the database thread
        for SQL backends), so it must be a quick pure function; it may be
        called more than once. A result equal to the current entry writes
        nothing and keeps the version; anything else is stored (None deletes)
        and bumps the version by one. The result's `jid` must be `jid`
        (ValueError). Raises `AccountNotFound` if the account does not exist.
        """
        ...

    async def set_last_presence(self, host: str, username: str, presence: LastPresence) -> None:
        """Remember the account's last unavailable presence (replacing the
        previous one); raises `AccountNotFound`."""
        ...

    async def last_presence(self, host: str, username: str) -> LastPresence | None:
        """The last unavailable presence, if one was stored."""
        ...
