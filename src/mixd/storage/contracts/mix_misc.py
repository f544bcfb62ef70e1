"""MIX-MISC storage contract (XEP-0407): items of the channel nodes that
have no home in the channel record (the avatar data and metadata nodes),
and nicks registered with a MIX service.

Node items belong to a channel and go with it. A registered nick belongs
to a user of one service; its `key` (the case-mapped form) is unique in
the service, so two users never hold nicks that compare equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mixd.storage.contracts.mix import ChannelNotFound, NickTaken

__all__ = ["ChannelNotFound", "MixMiscStore", "NickTaken", "NodeItem", "RegisteredNick"]


@dataclass(frozen=True, slots=True)
class NodeItem:
    id: str
    xml: str  # the item's payload, serialized
    updated: int  # microseconds since the epoch


@dataclass(frozen=True, slots=True)
class RegisteredNick:
    service: str
    user: str  # bare JID
    nick: str  # as shown
    key: str  # as compared (case-mapped)


class MixMiscStore(Protocol):
    """Every method may raise StorageUnavailable; writes return after commit."""

    async def node_items(self, channel: str, node: str) -> list[NodeItem]:
        """The node's items, oldest first."""
        ...

    async def publish_item(self, channel: str, node: str, item: NodeItem, keep: int) -> None:
        """Add or replace (same id) an item, then keep only the `keep` most
        recently updated ones. Raises ChannelNotFound."""
        ...

    async def retract_item(self, channel: str, node: str, item_id: str) -> bool:
        """Remove an item; False if it was not there."""
        ...

    async def drop_channel(self, channel: str) -> None:
        """Forget every item of a destroyed channel."""
        ...

    async def registered_nick(self, service: str, user: str) -> RegisteredNick | None: ...

    async def nick_holder(self, service: str, key: str) -> str | None:
        """The user who registered the nick with this key, if any."""
        ...

    async def register_nick(self, nick: RegisteredNick) -> None:
        """Register (or change) the user's nick; raises NickTaken when
        another user of the service holds the key."""
        ...

    async def unregister_nick(self, service: str, user: str) -> bool:
        """False if the user had none."""
        ...

    async def channels_of(self, service: str, user: str) -> list[str]:
        """The channels of `service` the user is a participant of, sorted."""
        ...
