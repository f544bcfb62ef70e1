"""XEP-0405 MIX-PAM 0.5.3: what the user's own server does for MIX.

Slices: `relay` (client-join / client-leave), `roster` (joined channels as
roster items), `delivery` (the message stage for what channels send),
`archive` (channel messages in the user's archive), `presence` (MIX clients'
presence to their channels, channels' presence to MIX clients); `rules`
holds the pure decisions. Account deletion through XEP-0077 leaves every joined channel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mixd import ns as NS
from mixd.codec.xep0405_pam import ClientJoin, ClientJoin0, ClientLeave, ClientLeave0
from mixd.core.events import AccountRemoving, PresenceBroadcast, SessionBound, SessionClosed
from mixd.core.module import IqRoute, Listener, Module, Scope, Xep
from mixd.jid import JID
from mixd.services.mix.module import MixModule, MixServiceStarted
from mixd.services.mix.service import MixService
from mixd.services.mix.state import ChannelState
from mixd.services.mix_pam.archive import ParticipantArchives
from mixd.services.mix_pam.delivery import ChannelDelivery
from mixd.services.mix_pam.local import LocalMembers
from mixd.services.mix_pam.presence import PamPresence
from mixd.services.mix_pam.relay import Relay
from mixd.services.mix_pam.roster import ChannelRoster
from mixd.services.roster.common import RosterChanged
from mixd.storage.contracts.mix import Participant

if TYPE_CHECKING:
    from mixd.core.server import Server

log = logging.getLogger(__name__)


class MixPamModule(Module):
    name = "mix_pam"
    xeps = (Xep(405, "0.5.3"),)
    account_features = (NS.MIX_PAM, NS.MIX_PAM_ARCHIVE)

    def __init__(self, server: Server) -> None:
        super().__init__(server)
        self.relay = Relay(self)
        self.roster = ChannelRoster(server)
        self.archives = ParticipantArchives(server.stores.archive)
        self.local = LocalMembers(self)
        self.stage = ChannelDelivery(self)
        self.presence = PamPresence(self)

    def routes(self) -> Sequence[IqRoute]:
        join, leave = self.relay.client_join, self.relay.client_leave
        return (
            IqRoute(Scope.ACCOUNT, ClientJoin, set=join),
            IqRoute(Scope.ACCOUNT, ClientJoin0, set=join),
            IqRoute(Scope.ACCOUNT, ClientLeave, set=leave),
            IqRoute(Scope.ACCOUNT, ClientLeave0, set=leave),
        )

    def listeners(self) -> Sequence[Listener]:
        return (
            Listener(MixServiceStarted, self.on_service_started),
            Listener(AccountRemoving, self.on_account_removing),
            Listener(PresenceBroadcast, self.presence.on_broadcast),
            Listener(SessionClosed, self.presence.on_closed),
            Listener(SessionBound, self.presence.on_bound),
            Listener(RosterChanged, self.presence.on_roster),
        )

    async def start(self) -> None:
        self.server.router.message_stages.append(self.stage)
        self.server.router.presence_stages.append(self.presence)
        for service in self._services():  # channel services loaded before us
            self._attach(service)

    async def stop(self) -> None:
        self.server.router.message_stages.remove(self.stage)
        self.server.router.presence_stages.remove(self.presence)
        for service in self._services():
            self._detach(service)

    async def on_service_started(self, event: MixServiceStarted) -> None:
        self._attach(event.service)

    def _attach(self, service: MixService) -> None:
        service.local = self.local
        service.participant_listeners.append(self.on_participation)
        service.destroy_listeners.append(self.on_destroyed)

    def _detach(self, service: MixService) -> None:
        if service.local is self.local:
            service.local = None
        if self.on_participation in service.participant_listeners:
            service.participant_listeners.remove(self.on_participation)
        if self.on_destroyed in service.destroy_listeners:
            service.destroy_listeners.remove(self.on_destroyed)

    async def on_participation(
        self, state: ChannelState, user: str, old: Participant | None, new: Participant | None
    ) -> None:
        """A local user no longer in a local channel (left, banned, removed
        by an administrator) loses its roster item at once (XEP-0405 5.1.9)."""
        if old is not None and new is None and self.local.is_local(user):
            await self.roster.left(JID.parse(user), state.jid)

    async def on_destroyed(self, state: ChannelState) -> None:
        """A destroyed local channel leaves no roster item behind."""
        for user in list(state.participants):
            if self.local.is_local(user):
                await self.roster.left(JID.parse(user), state.jid)

    async def on_account_removing(self, event: AccountRemoving) -> None:
        """Leave every channel in the account's roster, all at once, each
        bounded by the relay's timeout; a failure is logged, not fatal."""
        user = event.account
        channels = await self.roster.channels(user)
        results = await asyncio.gather(
            *(self.relay.leave(user, channel) for channel in channels), return_exceptions=True
        )
        for channel, result in zip(channels, results, strict=True):
            if isinstance(result, Exception):
                log.warning("%s could not leave %s on deletion: %s", user, channel, result)

    def _services(self) -> list[MixService]:
        mix = self.server.registry.modules.get("mix")
        return list(mix.services.values()) if isinstance(mix, MixModule) else []

    def local_service(self, domain: str) -> MixService | None:
        mix = self.server.registry.modules.get("mix")
        return mix.services.get(domain) if isinstance(mix, MixModule) else None
