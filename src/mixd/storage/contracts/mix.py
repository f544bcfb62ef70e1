"""MIX channel storage contract (XEP-0369): channels, their participants and
node subscriptions, and the info node. Messages live in the archive store
(owner = the channel's bare JID). MIX-ADMIN (XEP-0406) keeps the
configuration node's fields in `Channel.config` and the allowed and banned
lists beside the channel; later slices add their state the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from mixd.storage.errors import StorageError


class ChannelExists(StorageError):
    pass


class ChannelNotFound(StorageError):
    pass


class NickTaken(StorageError):
    """Another participant of the channel uses this nick."""


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """The info node's fields (XEP-0369 section 7.1.5)."""

    name: str | None = None
    description: str | None = None
    contact: tuple[str, ...] = ()
    updated: int = 0  # microseconds since the epoch; the info item id derives from it


@dataclass(frozen=True, slots=True)
class Channel:
    jid: str  # bare JID: name@service
    adhoc: bool  # ad hoc channels are not listed
    created: int  # microseconds since the epoch
    owners: tuple[str, ...]  # bare JIDs
    secret: bytes  # keys stable participant ids; never leaves the server
    info: ChannelInfo = ChannelInfo()
    # The configuration node's fields by name, as their form values (the
    # owners are `owners`); the service gives them meaning and defaults.
    config: dict[str, tuple[str, ...]] = field(default_factory=dict)
    config_updated: int = 0  # microseconds; 0 = never configured
    end_of_life: int | None = None  # microseconds; the server destroys it then


@dataclass(frozen=True, slots=True)
class Participant:
    channel: str  # bare JID
    jid: str  # the user's bare JID
    id: str  # stable participant id
    nick: str
    nodes: frozenset[str]  # subscribed nodes
    joined: int  # microseconds since the epoch
    # MIX-ANON (XEP-0404) user preferences the participant set, (field,
    # value) sorted by field; a field not listed has its default.
    preferences: tuple[tuple[str, str], ...] = ()


# The two access lists of XEP-0406 section 2.2/2.3; entries are bare JIDs or domains.
AccessList = Literal["allowed", "banned"]


def jid_matches(entry: str, user: str) -> bool:
    """An allowed/banned entry names a bare JID, or with no '@' a whole domain."""
    if "@" in entry:
        return entry == user
    return user.rpartition("@")[2] == entry


class MixStore(Protocol):
    """Every method may raise StorageUnavailable; writes return after commit."""

    async def create_channel(self, channel: Channel) -> None:
        """Raises ChannelExists."""
        ...

    async def get_channel(self, jid: str) -> Channel | None: ...

    async def list_channels(
        self, service: str, after: str | None, limit: int, *, adhoc: bool = False
    ) -> list[Channel]:
        """Channels of `service` ordered by JID, starting after `after`; ad hoc
        channels only when `adhoc`."""
        ...

    async def delete_channel(self, jid: str) -> None:
        """Removes the channel and its participants (not its archive)."""
        ...

    async def set_info(self, jid: str, info: ChannelInfo) -> None:
        """Raises ChannelNotFound."""
        ...

    async def set_config(
        self,
        jid: str,
        owners: tuple[str, ...],
        config: dict[str, tuple[str, ...]],
        updated: int,
        end_of_life: int | None,
    ) -> None:
        """Replace the owners and configuration; raises ChannelNotFound."""
        ...

    async def expired_channels(self, service: str, now: int, limit: int) -> list[str]:
        """JIDs of `service`'s channels whose end of life is at or before `now`."""
        ...

    async def access_list(self, channel: str, which: AccessList) -> list[str]:
        """The entries of one list, sorted."""
        ...

    async def add_access(self, channel: str, which: AccessList, entry: str) -> list[Participant]:
        """Add an entry (present already: no change). Adding to "banned" also
        removes every participant it matches, in the same commit, and returns
        them. Raises ChannelNotFound."""
        ...

    async def remove_access(self, channel: str, which: AccessList, entry: str) -> bool:
        """Remove an entry; False if it was not there."""
        ...

    async def clear_access(self, channel: str, which: AccessList) -> None:
        """Empty a list (its node was removed from the channel)."""
        ...

    async def participants(self, channel: str) -> list[Participant]:
        """All participants, ordered by join time."""
        ...

    async def join(self, participant: Participant) -> None:
        """Add or update a participant; raises NickTaken if another
        participant has the nick, ChannelNotFound if the channel is gone."""
        ...

    async def leave(self, channel: str, jid: str) -> Participant | None:
        """Remove the participant; returns what was removed."""
        ...

    async def set_nick(self, channel: str, jid: str, nick: str) -> None:
        """Raises NickTaken."""
        ...

    async def set_nodes(self, channel: str, jid: str, nodes: frozenset[str]) -> None: ...

    async def set_preferences(
        self, channel: str, jid: str, preferences: tuple[tuple[str, str], ...]
    ) -> bool:
        """Replace a participant's preferences (`join` writes them too);
        False if `jid` is not a participant."""
        ...
