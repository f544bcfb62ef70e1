"""Personal data storage contract: PEP nodes and items (XEP-0163 over
XEP-0060) and the vCard-temp (XEP-0054) of each local account.

Owners are (host, username) pairs of existing accounts, already normalised;
deleting the account deletes its nodes, items and vCard. A node has a
configuration and keeps at most `NodeConfig.item_limit` items, oldest
dropped first; publishing an item id that exists replaces that item and
makes it the newest. Payloads are serialized XML (our serializer's output),
stored and returned as text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from mixd.storage.errors import StorageError

MAX_ITEMS = 256  # what max_items "max" means: items one node may keep
MAX_NODES = 128  # nodes of one account


class AccessModel(StrEnum):
    """XEP-0060 section 4.5 (`authorize` is not supported)."""

    OPEN = "open"
    PRESENCE = "presence"
    ROSTER = "roster"
    WHITELIST = "whitelist"


class SendLast(StrEnum):
    """pubsub#send_last_published_item."""

    NEVER = "never"
    ON_SUB = "on_sub"
    ON_SUB_AND_PRESENCE = "on_sub_and_presence"


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """The configuration PEP nodes have; the defaults are XEP-0163 section 5's."""

    access_model: AccessModel = AccessModel.PRESENCE
    max_items: int | None = 1  # None: "max" (MAX_ITEMS)
    persist_items: bool = True
    send_last: SendLast = SendLast.ON_SUB_AND_PRESENCE
    roster_groups: tuple[str, ...] = ()  # pubsub#roster_groups_allowed

    @property
    def item_limit(self) -> int:
        """How many items the node keeps (0 when items are not persisted)."""
        if not self.persist_items:
            return 0
        return MAX_ITEMS if self.max_items is None else min(self.max_items, MAX_ITEMS)


@dataclass(frozen=True, slots=True)
class PepNode:
    name: str
    config: NodeConfig


@dataclass(frozen=True, slots=True)
class PepItem:
    id: str
    payload: str  # serialized payload element ("" for an item without one)
    published: datetime
    publisher: str  # full JID of the publishing resource


@dataclass(frozen=True, slots=True)
class NodeItems:
    node: PepNode
    items: tuple[PepItem, ...]  # oldest first


@dataclass(frozen=True, slots=True)
class LastItem:
    """The most recently published item of a node, with the node's owner."""

    host: str
    username: str
    node: PepNode
    item: PepItem


@dataclass(frozen=True, slots=True)
class Published:
    config: NodeConfig  # of the node after publishing
    created: bool  # the publish created the node


# Given the configuration of the node (None: it does not exist yet), return
# the configuration to publish under (creating the node with it when new), or
# raise to refuse the publication.
PublishCheck = Callable[[NodeConfig | None], NodeConfig]
ConfigChange = Callable[[NodeConfig], NodeConfig]


class NodeExists(StorageError):
    """`create` for a node that exists."""


class NodeLimitReached(StorageError):
    """The account already has MAX_NODES nodes."""


class PepStore(Protocol):
    """Every method may raise `StorageUnavailable`; methods that write raise
    `AccountNotFound` for an account that does not exist. Callbacks run inside
    the store's transaction (on the database thread for SQL backends), so they
    must be quick pure functions; what they raise is raised to the caller and
    nothing is written."""

    async def nodes(self, host: str, username: str) -> list[PepNode]:
        """Every node of the account, by name."""
        ...

    async def node(self, host: str, username: str, node: str) -> PepNode | None: ...

    async def create(self, host: str, username: str, node: str, config: NodeConfig) -> None:
        """Create an empty node; raises `NodeExists` or `NodeLimitReached`."""
        ...

    async def publish(
        self, host: str, username: str, node: str, item: PepItem, check: PublishCheck
    ) -> Published:
        """Store `item` under the configuration `check` returns (see
        `PublishCheck`), creating the node if needed (`NodeLimitReached`),
        then drop the oldest items beyond the configuration's item limit."""
        ...

    async def retract(self, host: str, username: str, node: str, ids: Sequence[str]) -> list[str]:
        """Delete the items with these ids; returns those that existed. An
        absent node retracts nothing."""
        ...

    async def items(
        self, host: str, username: str, node: str, ids: Sequence[str] = (), last: int | None = None
    ) -> NodeItems | None:
        """The node (None if absent) and its items, oldest first: those with
        the given `ids` if any are given, else the `last` newest (all when None)."""
        ...

    async def configure(
        self, host: str, username: str, node: str, change: ConfigChange
    ) -> NodeConfig | None:
        """Replace the node's configuration with `change(current)` and drop
        the items beyond the new limit; None if the node does not exist."""
        ...

    async def delete(self, host: str, username: str, node: str) -> bool:
        """Delete the node and its items; False if it did not exist."""
        ...

    async def last_items(self, owners: Sequence[tuple[str, str]]) -> list[LastItem]:
        """The newest item of every node of these accounts (host, username)."""
        ...

    async def vcard(self, host: str, username: str) -> str | None:
        """The account's serialized vCard, if one was stored."""
        ...

    async def set_vcard(self, host: str, username: str, vcard: str) -> None: ...
