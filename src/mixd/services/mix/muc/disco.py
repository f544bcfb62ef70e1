"""Discovery of the fully integrated service (XEP-0408 section 3): the
service and each channel answer as MIX and as MUC. A channel's disco
without a node is the MUC room's (identities, features and the
muc#roominfo form, XEP-0045 6.4); with node='mix' it is MIX's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mixd import ns as NS
from mixd.codec.xep0004_forms import DataForm, Field
from mixd.codec.xep0030_disco import DiscoInfo, DiscoItems, Identity
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.services.mix import anon
from mixd.services.mix.anon_rules import Mode
from mixd.services.mix.muc.affiliations import members_only
from mixd.services.mix.muc.mirror import MIRROR_FORM, MUC_MIRROR_FORM
from mixd.services.mix.muc.retract_rules import MODERATE
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
    NS.RETRACT,
    f"{NS.RETRACT}#tombstone",
    MODERATE,
    "muc_persistent",
    "muc_unmoderated",
    "muc_unsecured",
)


def mirror_form(form_type: str, var: str, domain: str) -> Element:
    """XEP-0408's form naming the other domain of a mirrored service."""
    field = Field(var, (domain,), "jid-single", "Location of the mirror service")
    return DataForm.with_type("result", form_type, (field,)).encode()


def present_users(state: ChannelState) -> int:
    """Participants with at least one client in the presence node."""
    return len({e.user for e in state.presence if e.user in state.participants})


def room_info(state: ChannelState, *, with_mix: bool = True) -> Element:
    """The room's disco#info; `with_mix`: also as a MIX channel (fully
    integrated mode; a mirror MUC domain does not advertise MIX)."""
    info = state.channel.info
    name = info.name or state.jid.local or ""
    identities: tuple[Identity, ...] = (Identity("conference", "text", name),)
    mix: tuple[str, ...] = ()
    if with_mix:
        identities = (*identities, Identity("conference", "mix", name))
        mix = (NS.MIX_CORE,)
    listed = "muc_hidden" if state.channel.adhoc else "muc_public"
    access = "muc_membersonly" if members_only(state) else "muc_open"
    # Semi-anonymous unless every participant's JID is shown (MIX-ANON).
    anonymity = "muc_nonanonymous" if anon.mode(state) is Mode.VISIBLE else "muc_semianonymous"
    features = (
        NS.DISCO_INFO,
        NS.DISCO_ITEMS,
        *mix,
        NS.MAM,
        listed,
        access,
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
        """Fully integrated: the MIX answer plus the MUC identity and feature
        (XEP-0408 example 1). Partially integrated: each domain names the
        other in a form (examples 2 and 3) and advertises only its own
        protocol."""
        mirror = self.face.mirror
        if mirror is not None and self.face.reach.muc_here():
            if request.payload.get("node") is not None:
                raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "no such node")
            identity = Identity("conference", "text", "Chat rooms")
            features = (NS.DISCO_INFO, NS.DISCO_ITEMS, NS.MUC)
            form = mirror_form(MIRROR_FORM, "mix-mirror", self.face.service.domain)
            return DiscoInfo(None, (identity,), features, (form,)).encode()
        answer = await self.mix_service_info(request)
        if answer is None:
            return None
        info = DiscoInfo.decode(answer)
        if mirror is not None:
            form = mirror_form(MUC_MIRROR_FORM, "muc-mirror", mirror.domain)
            return DiscoInfo(
                info.node, info.identities, info.features, (*info.forms, form)
            ).encode()
        identity = Identity("conference", "text", "MIX channels")
        with_muc = (*info.features, NS.MUC)
        return DiscoInfo(info.node, (*info.identities, identity), with_muc, info.forms).encode()

    async def channel_info(self, request: Request) -> Element | None:
        node = request.payload.get("node")
        if not self.face.reach.muc_here():
            return await self.mix_info(request)  # the MIX domain of a mirrored service
        if node is None:
            return room_info(request.state(), with_mix=self.face.mirror is None)
        if self.face.mirror is not None:
            raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "no such node")
        return await self.mix_info(request)

    async def channel_items(self, request: Request) -> Element | None:
        """As a MUC room: occupants are not listed (XEP-0045 6.5 allows an
        empty list); with node='mix', MIX's node list."""
        node = request.payload.get("node")
        if not self.face.reach.muc_here() or (node is not None and self.face.mirror is None):
            return await self.mix_items(request)
        if node is not None:
            raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "no such node")
        return DiscoItems(None, ()).encode()
