"""MIX channel storage contract (XEP-0369): channels, their participants and
node subscriptions, and the info node. Messages live in the archive store
(owner = the channel's bare JID). MIX-ADMIN, -PRESENCE and -ANON add their
own state through `Channel.config` and further methods, not new rewrites.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

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
    # Settings later MIX slices keep (config node fields etc.), as text.
    config: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Participant:
    channel: str  # bare JID
    jid: str  # the user's bare JID
    id: str  # stable participant id
    nick: str
    nodes: frozenset[str]  # subscribed nodes
    joined: int  # microseconds since the epoch


class MixStore(Protocol):
    """Every method may raise StorageUnavailable; writes return after commit."""

    async def create_channel(self, channel: Channel) -> None:
        """Raises ChannelExists."""
        ...

    async def get_channel(self, jid: str) -> Channel | None: ...

    async def list_channels(self, service: str, after: str | None, limit: int) -> list[Channel]:
        """Channels of `service` ordered by JID, starting after `after`."""
        ...

    async def delete_channel(self, jid: str) -> None:
        """Removes the channel and its participants (not its archive)."""
        ...

    async def set_info(self, jid: str, info: ChannelInfo) -> None:
        """Raises ChannelNotFound."""
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
