"""PepStore in dicts, for fast service tests; same contract as SQL backends.

Given the account store, it behaves like the SQL foreign key: writes for an
account that does not exist raise `AccountNotFound`, and the data of a deleted
account is gone (dropped the next time it is looked at).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from mixd.storage.contracts.accounts import AccountStore
from mixd.storage.contracts.pep import (
    MAX_NODES,
    ConfigChange,
    LastItem,
    NodeConfig,
    NodeExists,
    NodeItems,
    NodeLimitReached,
    PepItem,
    PepNode,
    PublishCheck,
    Published,
)
from mixd.storage.errors import AccountNotFound

_Owner = tuple[str, str]


@dataclass(slots=True)
class _Node:
    config: NodeConfig
    items: OrderedDict[str, PepItem] = field(default_factory=OrderedDict)  # oldest first

    def trim(self) -> None:
        while len(self.items) > self.config.item_limit:
            self.items.popitem(last=False)


class MemoryPepStore:
    def __init__(self, accounts: AccountStore | None = None) -> None:
        self._accounts = accounts
        self._nodes: dict[_Owner, dict[str, _Node]] = {}
        self._vcards: dict[_Owner, str] = {}

    async def _exists(self, owner: _Owner) -> bool:
        if self._accounts is None or await self._accounts.get(*owner) is not None:
            return True
        # Cascade: whatever the deleted account left behind goes.
        self._nodes.pop(owner, None)
        self._vcards.pop(owner, None)
        return False

    async def _require(self, owner: _Owner) -> dict[str, _Node]:
        if not await self._exists(owner):
            raise AccountNotFound(f"no account {owner[1]}@{owner[0]}")
        return self._nodes.setdefault(owner, {})

    async def _get(self, owner: _Owner) -> dict[str, _Node]:
        return self._nodes.get(owner, {}) if await self._exists(owner) else {}

    async def nodes(self, host: str, username: str) -> list[PepNode]:
        nodes = await self._get((host, username))
        return [PepNode(name, nodes[name].config) for name in sorted(nodes)]

    async def node(self, host: str, username: str, node: str) -> PepNode | None:
        found = (await self._get((host, username))).get(node)
        return None if found is None else PepNode(node, found.config)

    async def create(self, host: str, username: str, node: str, config: NodeConfig) -> None:
        nodes = await self._require((host, username))
        if node in nodes:
            raise NodeExists(node)
        if len(nodes) >= MAX_NODES:
            raise NodeLimitReached(f"at most {MAX_NODES} nodes")
        nodes[node] = _Node(config)

    async def publish(
        self, host: str, username: str, node: str, item: PepItem, check: PublishCheck
    ) -> Published:
        nodes = await self._require((host, username))
        found = nodes.get(node)
        config = check(None if found is None else found.config)
        created = found is None
        if found is None:
            if len(nodes) >= MAX_NODES:
                raise NodeLimitReached(f"at most {MAX_NODES} nodes")
            found = nodes[node] = _Node(config)
        found.config = config
        found.items.pop(item.id, None)
        found.items[item.id] = item
        found.trim()
        return Published(config, created)

    async def retract(self, host: str, username: str, node: str, ids: Sequence[str]) -> list[str]:
        found = (await self._require((host, username))).get(node)
        if found is None:
            return []
        return [i for i in dict.fromkeys(ids) if found.items.pop(i, None) is not None]

    async def items(
        self, host: str, username: str, node: str, ids: Sequence[str] = (), last: int | None = None
    ) -> NodeItems | None:
        found = (await self._get((host, username))).get(node)
        if found is None:
            return None
        items = list(found.items.values())
        if ids:
            wanted = set(ids)
            items = [i for i in items if i.id in wanted]
        elif last is not None:
            items = items[-last:] if last > 0 else []
        return NodeItems(PepNode(node, found.config), tuple(items))

    async def configure(
        self, host: str, username: str, node: str, change: ConfigChange
    ) -> NodeConfig | None:
        found = (await self._require((host, username))).get(node)
        if found is None:
            return None
        found.config = change(found.config)
        found.trim()
        return found.config

    async def delete(self, host: str, username: str, node: str) -> bool:
        return (await self._require((host, username))).pop(node, None) is not None

    async def last_items(self, owners: Sequence[tuple[str, str]]) -> list[LastItem]:
        out: list[LastItem] = []
        for host, username in dict.fromkeys(owners):
            nodes = await self._get((host, username))
            for name in sorted(nodes):
                found = nodes[name]
                if found.items:
                    newest = next(reversed(found.items.values()))
                    out.append(LastItem(host, username, PepNode(name, found.config), newest))
        return out

    async def vcard(self, host: str, username: str) -> str | None:
        owner = (host, username)
        return self._vcards.get(owner) if await self._exists(owner) else None

    async def set_vcard(self, host: str, username: str, vcard: str) -> None:
        owner = (host, username)
        await self._require(owner)
        self._vcards[owner] = vcard
