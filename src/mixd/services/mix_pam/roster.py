"""The user's roster as MIX-PAM keeps it (XEP-0405 5.1.9): a joined
channel becomes an item (subscription both, with the participant id), a
channel left loses it. Each change is one atomic store update and a
`RosterChanged`, which the roster module turns into pushes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mixd.jid import JID
from mixd.services.mix_pam import rules
from mixd.services.roster.common import RosterChanged, owner_key, storage_errors
from mixd.storage.contracts.roster import RosterItem, RosterUpdate

if TYPE_CHECKING:
    from mixd.core.server import Server


class ChannelRoster:
    def __init__(self, server: Server) -> None:
        self.server = server

    async def joined(self, user: JID, channel: JID, name: str | None, pid: str) -> None:
        def change(old: RosterItem | None) -> RosterItem:
            return rules.joined(old, channel, name, pid)

        await self._update(user, channel, change)

    async def left(self, user: JID, channel: JID) -> None:
        await self._update(user, channel, rules.left)

    async def channels(self, user: JID) -> list[JID]:
        with storage_errors():
            roster = await self.server.stores.roster.roster(*owner_key(user))
        return rules.joined_channels(roster.items)

    async def presence_channels(self, user: JID) -> list[JID]:
        with storage_errors():
            roster = await self.server.stores.roster.roster(*owner_key(user))
        return rules.presence_channels(roster.items)

    async def is_joined(self, user: JID, channel: JID) -> bool:
        """From the roster: for channels on other servers."""
        with storage_errors():
            item = await self.server.stores.roster.get(*owner_key(user), str(channel))
        return item is not None and item.is_mix_channel

    async def _update(self, user: JID, channel: JID, change: RosterUpdate) -> None:
        with storage_errors():
            result = await self.server.stores.roster.update(*owner_key(user), str(channel), change)
        if result.changed:
            await self.server.hooks.emit(RosterChanged(user.bare, result))
