"""Presence when a list changes (XEP-0191 3.3 and 3.4).

- Block: each newly blocked JID allowed to see the user's presence (a roster
  item with subscription from/both, a joined channel included) gets
  unavailable from each available resource; a blocked full JID of such a
  contact gets it for that resource only. The user's own resources get
  unavailable from each newly blocked contact whose presence they see
  (subscription to/both), so clients do not go on showing it online.
- Unblock: each contact allowed to see the user's presence and no longer
  blocked by any entry gets the current presence of each resource (not
  channels: MIX-PAM sends channels only its MIX clients' presence, at their
  next change), and contacts whose presence the user sees are probed.

"Polite blocking" (the spec's recommendation): subscriptions stay as they were.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mixd.jid import JID
from mixd.services.blocking import rules
from mixd.services.blocking.screen import exempt
from mixd.services.roster.common import presence
from mixd.services.roster.presence import PresenceModule
from mixd.storage.contracts.blocklist import BlocklistChange
from mixd.storage.contracts.roster import RosterItem, Subscription
from mixd.storage.errors import StorageError

if TYPE_CHECKING:
    from mixd.core.server import Server

_FROM = (Subscription.FROM, Subscription.BOTH)
_TO = (Subscription.TO, Subscription.BOTH)


class BlockPresence:
    def __init__(self, server: Server) -> None:
        self.server = server

    async def _items(self, owner: JID) -> tuple[RosterItem, ...]:
        assert owner.local is not None
        try:
            return (await self.server.stores.roster.roster(owner.domain, owner.local)).items
        except StorageError:
            return ()

    def _module(self) -> PresenceModule | None:
        module = self.server.registry.modules.get("presence")
        return module if isinstance(module, PresenceModule) else None

    async def blocked(self, owner: JID, change: BlocklistChange) -> None:
        module = self._module()
        if module is None:
            return
        added = frozenset(change.changed)
        for item in await self._items(owner):
            contact = JID.parse(item.jid)
            whole = rules.blocks(added, rules.keys(contact))
            if item.subscription in _FROM:
                targets = [contact] if whole else []
                targets += [JID.parse(e) for e in added if e.partition("/")[0] == item.jid != e]
                with exempt(owner):
                    for target in targets:
                        await module.send_unavailable(owner, target)
            if whole and item.subscription in _TO and not item.is_mix_channel:
                for session in self.server.sessions.resources(owner):
                    if session.available:
                        session.deliver(presence(contact, session.jid, "unavailable").element)

    async def unblocked(self, owner: JID, change: BlocklistChange) -> None:
        module = self._module()
        if module is None:
            return
        removed, remaining = frozenset(change.changed), frozenset(change.items)
        for item in await self._items(owner):
            if item.is_mix_channel:
                continue
            contact = JID.parse(item.jid)
            candidates = rules.keys(contact)
            if not rules.blocks(removed, candidates) or rules.blocks(remaining, candidates):
                continue
            if item.subscription in _FROM:
                await module.send_current(owner, contact)
            if item.subscription in _TO:
                await self.server.router.route(presence(owner, contact, "probe"))
