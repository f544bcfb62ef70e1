"""Channel nodes through PubSub (XEP-0369 sections 5.3, 6.5, 6.6): reading
the participants and info nodes, publishing a new info item. The
participants node is never writable through PubSub."""

from __future__ import annotations

from mixd import ns as NS
from mixd.codec.xep0004_forms import DataForm, Field
from mixd.codec.xep0082_datetime import format_datetime, now_micros
from mixd.codec.xep0369_mix import participant_element
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.services.mix.notify import send_event
from mixd.services.mix.service import MixService, Request, guarded
from mixd.services.mix.state import ChannelState
from mixd.storage.contracts.mix import ChannelInfo
from mixd.xml.element import Element


def pubsub_error(condition: StanzaErrorCondition, text: str) -> StanzaError:
    return StanzaError(condition, text)


def info_form(info: ChannelInfo, kind: str = "result") -> Element:
    fields = []
    if info.name is not None:
        fields.append(Field("Name", (info.name,)))
    if info.description is not None:
        fields.append(Field("Description", (info.description,)))
    if info.contact:
        fields.append(Field("Contact", info.contact, "jid-multi"))
    return DataForm.with_type(kind, NS.MIX_CORE, tuple(fields)).encode()


def info_item_id(info: ChannelInfo) -> str:
    return format_datetime(info.updated) if info.updated else "0"


def info_from_form(form: DataForm, now: int) -> ChannelInfo:
    def single(var: str) -> str | None:
        field = form.field(var)
        return field.values[0] if field is not None and field.values else None

    contact = form.field("Contact")
    return ChannelInfo(
        single("Name"), single("Description"), contact.values if contact else (), now
    )


class Nodes:
    def __init__(self, service: MixService) -> None:
        self.service = service
        service.on_iq("channel", NS.PUBSUB, "pubsub", "get", self.get)
        service.on_iq("channel", NS.PUBSUB, "pubsub", "set", self.set)

    def _may_read(self, state: ChannelState, request: Request) -> bool:
        user = str(request.sender.bare)
        return user in state.participants or state.is_owner(request.sender)

    async def get(self, request: Request) -> Element | None:
        state = request.state()
        items_req = request.payload.find(NS.PUBSUB, "items")
        if items_req is None:
            raise StanzaError(StanzaErrorCondition.FEATURE_NOT_IMPLEMENTED)
        node = items_req.get("node")
        result = Element(NS.PUBSUB, "pubsub")
        items = result.add(NS.PUBSUB, "items", {"node": node or ""})
        if node == NS.MIX_NODE_INFO:
            info = state.channel.info
            items.add(NS.PUBSUB, "item", {"id": info_item_id(info)}).append(info_form(info))
        elif node == NS.MIX_NODE_PARTICIPANTS:
            if not self._may_read(state, request):
                raise StanzaError(StanzaErrorCondition.FORBIDDEN, "participants only")
            for participant in state.participants.values():
                item = items.add(NS.PUBSUB, "item", {"id": participant.id})
                item.append(participant_element(participant.nick, participant.jid))
        elif (reader := self.service.node_readers.get(node or "")) is not None:
            reader(request, items)  # a node of another slice (MIX-PRESENCE)
        else:
            raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "no such node")
        return result

    async def set(self, request: Request) -> Element | None:
        state = request.state()
        publish = request.payload.find(NS.PUBSUB, "publish")
        if publish is None:
            raise StanzaError(StanzaErrorCondition.FEATURE_NOT_IMPLEMENTED)
        node = publish.get("node")
        if node == NS.MIX_NODE_PARTICIPANTS:
            raise StanzaError(StanzaErrorCondition.FORBIDDEN, "the participants node is read-only")
        if node != NS.MIX_NODE_INFO:
            raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "no such node")
        if not state.is_owner(request.sender):
            raise StanzaError(StanzaErrorCondition.FORBIDDEN, "only owners change the info")
        item = publish.find(NS.PUBSUB, "item")
        form_el = item.find(NS.DATA_FORMS, "x") if item is not None else None
        if form_el is None:
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "publish a data form")
        info = info_from_form(DataForm.decode(form_el), now_micros())
        await guarded(self.service.store.set_info(str(state.jid), info))
        channel = await guarded(self.service.store.get_channel(str(state.jid)))
        if channel is not None:
            state.with_info(channel)
        item_id = info_item_id(info)
        event_items = Element(NS.PUBSUB_EVENT, "items", {"node": NS.MIX_NODE_INFO})
        event_items.add(NS.PUBSUB_EVENT, "item", {"id": item_id}).append(info_form(info))
        subscribers = [p.jid for p in state.subscribers(NS.MIX_NODE_INFO)]
        await send_event(self.service, state, NS.MIX_NODE_INFO, event_items, subscribers)
        result = Element(NS.PUBSUB, "pubsub")
        result.add(NS.PUBSUB, "publish", {"node": NS.MIX_NODE_INFO}).add(
            NS.PUBSUB, "item", {"id": item_id}
        )
        return result
