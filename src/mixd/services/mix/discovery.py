"""Service and channel discovery (XEP-0369 section 6)."""

from __future__ import annotations

from mixd import ns as NS
from mixd.codec.xep0030_disco import DiscoInfo, DiscoItems, Identity, Item
from mixd.codec.xep0059_rsm import RsmRequest, RsmResult
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.services.mix.lifecycle import Lifecycle, disco_features
from mixd.services.mix.service import MixService, Request, guarded
from mixd.xml.element import Element

PAGE_DEFAULT, PAGE_MAX = 100, 500
COMMON = (NS.DISCO_INFO, NS.DISCO_ITEMS)


class Discovery:
    def __init__(self, service: MixService, lifecycle: Lifecycle) -> None:
        self.service = service
        self.lifecycle = lifecycle
        service.on_iq("service", NS.DISCO_INFO, "query", "get", self.service_info)
        service.on_iq("service", NS.DISCO_ITEMS, "query", "get", self.service_items)
        service.on_iq("channel", NS.DISCO_INFO, "query", "get", self.channel_info)
        service.on_iq("channel", NS.DISCO_ITEMS, "query", "get", self.channel_items)

    async def service_info(self, request: Request) -> Element | None:
        if request.payload.get("node"):
            raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND)
        features = COMMON + disco_features(self.lifecycle, request.sender)
        features += tuple(sorted(self.service.features))
        identity = Identity("conference", "mix", "MIX channels")
        return DiscoInfo(None, (identity,), features).encode()

    async def service_items(self, request: Request) -> Element | None:
        """Listed channels, paged with RSM (ad hoc channels never appear)."""
        named = self.service.item_nodes.get(("service", request.payload.get("node") or ""))
        if named is not None:
            return await named(request)
        rsm_el = request.payload.find(NS.RSM, "set")
        rsm = RsmRequest.decode(rsm_el) if rsm_el is not None else None
        limit = min(rsm.max if rsm and rsm.max is not None else PAGE_DEFAULT, PAGE_MAX)
        after = rsm.after if rsm else None
        found: list[Item] = []
        while len(found) < limit:
            batch = await guarded(self.service.store.list_channels(self.service.domain, after, 200))
            if not batch:
                break
            for channel in batch:
                after = channel.jid
                if not channel.adhoc:
                    found.append(Item(channel.jid, None, channel.info.name))
                    if len(found) == limit:
                        break
        query = DiscoItems(None, tuple(found)).encode()
        if rsm is not None:
            first = found[0].jid if found else None
            last = found[-1].jid if found else None
            query.append(RsmResult(first, last, None, None).encode())
        return query

    async def channel_info(self, request: Request) -> Element | None:
        node = request.payload.get("node")
        if node not in (None, "mix"):
            raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND)
        state = request.state()
        name = state.channel.info.name or state.jid.local
        identity = Identity("conference", "mix", name)
        extra = sorted(self.service.features)
        info = DiscoInfo(node, (identity,), (*COMMON, NS.MIX_CORE, NS.MAM, *extra))
        return info.encode()

    async def channel_items(self, request: Request) -> Element | None:
        named = self.service.item_nodes.get(("channel", request.payload.get("node") or ""))
        if named is not None:
            return await named(request)
        if request.payload.get("node") != "mix":
            # A pure MIX channel answers node-less disco#items only as MUC would.
            raise StanzaError(StanzaErrorCondition.FEATURE_NOT_IMPLEMENTED, "use node='mix'")
        state = request.state()
        jid = str(state.jid)
        items = tuple(Item(jid, node) for node in sorted(state.nodes))
        return DiscoItems("mix", items).encode()
