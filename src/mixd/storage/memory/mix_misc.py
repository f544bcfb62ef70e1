"""MixMiscStore in memory, for fast service tests; same contract as SQL backends."""

from __future__ import annotations

from mixd.storage.contracts.mix import MixStore
from mixd.storage.contracts.mix_misc import ChannelNotFound, NickTaken, NodeItem, RegisteredNick


class MemoryMixMiscStore:
    def __init__(self, channels: MixStore) -> None:
        self._channels = channels  # where channels live, for ChannelNotFound
        self._items: dict[tuple[str, str], dict[str, NodeItem]] = {}
        self._nicks: dict[tuple[str, str], RegisteredNick] = {}  # (service, user)

    async def node_items(self, channel: str, node: str) -> list[NodeItem]:
        items = self._items.get((channel, node), {})
        return sorted(items.values(), key=lambda i: (i.updated, i.id))

    async def publish_item(self, channel: str, node: str, item: NodeItem, keep: int) -> None:
        if await self._channels.get_channel(channel) is None:
            raise ChannelNotFound(f"no channel {channel}")
        items = self._items.setdefault((channel, node), {})
        items[item.id] = item
        newest = sorted(items.values(), key=lambda i: (i.updated, i.id))[-keep:] if keep else []
        self._items[(channel, node)] = {i.id: i for i in newest}

    async def retract_item(self, channel: str, node: str, item_id: str) -> bool:
        return self._items.get((channel, node), {}).pop(item_id, None) is not None

    async def drop_channel(self, channel: str) -> None:
        for key in [k for k in self._items if k[0] == channel]:
            del self._items[key]

    async def registered_nick(self, service: str, user: str) -> RegisteredNick | None:
        return self._nicks.get((service, user))

    async def nick_holder(self, service: str, key: str) -> str | None:
        return next(
            (n.user for n in self._nicks.values() if n.service == service and n.key == key), None
        )

    async def register_nick(self, nick: RegisteredNick) -> None:
        holder = await self.nick_holder(nick.service, nick.key)
        if holder is not None and holder != nick.user:
            raise NickTaken(nick.nick)
        self._nicks[(nick.service, nick.user)] = nick

    async def unregister_nick(self, service: str, user: str) -> bool:
        return self._nicks.pop((service, user), None) is not None

    async def channels_of(self, service: str, user: str) -> list[str]:
        found, after = [], None
        while batch := await self._channels.list_channels(service, after, 500, adhoc=True):
            for channel in batch:
                participants = await self._channels.participants(channel.jid)
                if any(p.jid == user for p in participants):
                    found.append(channel.jid)
            after = batch[-1].jid
        return found
