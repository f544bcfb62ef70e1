"""XEP-0030 Service Discovery 2.5 for server domains and accounts.

Answers come from what loaded modules declare, so a feature is advertised
exactly when the module implementing it is registered.
"""

from __future__ import annotations

from collections.abc import Sequence

from mixd import ns as NS
from mixd.codec.base import Payload
from mixd.codec.xep0030_disco import DiscoInfo, DiscoItems, Identity, Item
from mixd.core.module import IqRequest, IqRoute, Module, Scope, Xep
from mixd.errors import StanzaError, StanzaErrorCondition

SERVER_IDENTITY = Identity("server", "im", "mixd")
ACCOUNT_IDENTITY = Identity("account", "registered")


class DiscoModule(Module):
    name = "disco"
    xeps = (Xep(30, "2.5"),)
    host_features = (NS.DISCO_INFO, NS.DISCO_ITEMS)
    account_features = (NS.DISCO_INFO, NS.DISCO_ITEMS)

    def routes(self) -> Sequence[IqRoute]:
        return (
            IqRoute(Scope.HOST, DiscoInfo, get=self.host_info),
            IqRoute(Scope.HOST, DiscoItems, get=self.host_items),
            IqRoute(Scope.ACCOUNT, DiscoInfo, get=self.account_info),
            IqRoute(Scope.ACCOUNT, DiscoItems, get=self.account_items),
        )

    async def host_info(self, iq: IqRequest[DiscoInfo]) -> Payload | None:
        if iq.payload.node:
            raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND)
        features = self.server.registry.features(Scope.HOST)
        return DiscoInfo(None, (SERVER_IDENTITY,), tuple(features))

    async def host_items(self, iq: IqRequest[DiscoItems]) -> Payload | None:
        if iq.payload.node:
            raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND)
        services = sorted(self.server.router.services)
        return DiscoItems(None, tuple(Item(domain) for domain in services))

    async def _check_account(self, iq: IqRequest[DiscoInfo] | IqRequest[DiscoItems]) -> None:
        target = iq.to.bare if iq.to else iq.sender.bare
        # RFC 6121 / XEP-0030: only the account itself learns about the account
        # until presence subscriptions exist to widen this.
        if target != iq.sender.bare:
            raise StanzaError(StanzaErrorCondition.SERVICE_UNAVAILABLE)
        if iq.payload.node:
            raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND)

    async def account_info(self, iq: IqRequest[DiscoInfo]) -> Payload | None:
        await self._check_account(iq)
        registry = self.server.registry
        identities = (ACCOUNT_IDENTITY, *registry.account_identities())
        return DiscoInfo(None, identities, tuple(registry.features(Scope.ACCOUNT)))

    async def account_items(self, iq: IqRequest[DiscoItems]) -> Payload | None:
        await self._check_account(iq)
        owner = iq.to.bare if iq.to else iq.sender.bare
        items: list[Item] = []
        for module in self.server.registry.modules.values():
            items.extend(await module.account_disco_items(owner, iq.sender))
        return DiscoItems(None, tuple(items))
