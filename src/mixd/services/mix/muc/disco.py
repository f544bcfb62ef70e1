"""Discovery of the fully integrated service (XEP-0408 section 3): the
service and each channel answer as MIX and as MUC. A channel's disco
without a node is the MUC room's (identities, features and the
muc#roominfo form, XEP-0045 6.4); with node='mix' it is MIX's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mixd import ns as NS
from mixd.codec.xep0004_forms import DataForm, Field
from mixd.codec.xep0030_disco import DiscoInfo, DiscoItems, Identity
from mixd.services.mix import anon
from mixd.services.mix.anon_rules import Mode
from mixd.services.mix.service import MixService, Request
from mixd.services.mix.state import ChannelState
from mixd.xml.element import Element

if TYPE_CHECKING:
    from mixd.services.mix.muc.face import MucFace

# What a channel is as a MUC room (XEP-0045 section 15.5.3).
ROOM_FEATURES = (
    NS.MUC,
    NS.MUC_STABLE_ID,
    NS.MUC_SELF_PING,
    NS.OCCUPANT_ID,
    NS.SID,
    "muc_persistent",
    "muc_open",
    "muc_unmoderated",
    "muc_unsecured",
)


def present_users(state: ChannelState) -> int:
    """Participants with at least one client in the presence node."""
    return len({e.user for e in state.presence if e.user in state.participants})


def room_info(state: ChannelState) -> Element:
    info = state.channel.info
    name = info.name or state.jid.local or ""
    identities = (Identity("conference", "text", name), Identity("conference", "mix", name))
    listed = "muc_hidden" if state.channel.adhoc else "muc_public"
    # Semi-anonymous unless every participant's JID is shown (MIX-ANON).
    anonymity = "muc_nonanonymous" if anon.mode(state) is Mode.VISIBLE else "muc_semianonymous"
    features = (
        NS.DISCO_INFO,
        NS.DISCO_ITEMS,
        NS.MIX_CORE,
        NS.MAM,
        listed,
        anonymity,
        *ROOM_FEATURES,
    )
    fields = [
        Field("muc#roomconfig_roomname", (name,)),
        Field("muc#roominfo_occupants", (str(present_users(state)),)),
        Field("muc#roominfo_subject", (info.description or info.name or "",)),
    ]
    if info.description:
        fields.append(Field("muc#roominfo_description", (info.description,)))
    if info.contact:
        fields.append(Field("muc#roominfo_contactjid", info.contact))
    form = DataForm.with_type("result", NS.MUC_ROOMINFO, tuple(fields)).encode()
    return DiscoInfo(None, identities, features, (form,)).encode()


class MucDiscovery:
    def __init__(self, service: MixService, face: MucFace) -> None:
        self.face = face
        handlers = service.handlers
        self.mix_service_info = handlers[("service", NS.DISCO_INFO, "query", "get")]
        self.mix_info = handlers[("channel", NS.DISCO_INFO, "query", "get")]
        self.mix_items = handlers[("channel", NS.DISCO_ITEMS, "query", "get")]
        service.on_iq("service", NS.DISCO_INFO, "query", "get", self.service_info)
        service.on_iq("channel", NS.DISCO_INFO, "query", "get", self.channel_info)
        service.on_iq("channel", NS.DISCO_ITEMS, "query", "get", self.channel_items)

    async def service_info(self, request: Request) -> Element | None:
        """The MIX answer, plus the MUC identity and feature (XEP-0408 example 1)."""
        answer = await self.mix_service_info(request)
        if answer is None:
            return None
        info = DiscoInfo.decode(answer)
        identity = Identity("conference", "text", "MIX channels")
        features = (*info.features, NS.MUC)
        return DiscoInfo(info.node, (*info.identities, identity), features, info.forms).encode()

    async def channel_info(self, request: Request) -> Element | None:
        if request.payload.get("node") is not None:
            return await self.mix_info(request)
        return room_info(request.state())

    async def channel_items(self, request: Request) -> Element | None:
        """As a MUC room: occupants are not listed (XEP-0045 6.5 allows an
        empty list); with node='mix', MIX's node list."""
        if request.payload.get("node") is not None:
            return await self.mix_items(request)
        return DiscoItems(None, ()).encode()
