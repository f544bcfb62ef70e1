"""Channel nodes through PubSub (XEP-0369 sections 5.3, 6.5, 6.6; XEP-0406):
one entry point for reading, publishing and retracting, which checks the
node is present and the requester's right to it (`MixService.rights`) and
then hands over to the node's operations (`MixService.node_ops`). This
module registers the participants node (never writable through PubSub) and
the info node; MIX-ADMIN registers config, allowed and banned."""

from __future__ import annotations

from mixd import ns as NS
from mixd.codec.xep0004_forms import DataForm, Field
from mixd.codec.xep0060_pubsub import Item, Items, Publish, PubSub, Retract
from mixd.codec.xep0082_datetime import format_datetime, now_micros
from mixd.codec.xep0369_mix import participant_element
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.services.mix import anon
from mixd.services.mix.notify import send_event
from mixd.services.mix.service import MixService, NodeOps, Request, guarded
from mixd.storage.contracts.mix import ChannelInfo
from mixd.xml.element import Element


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


def item_form(item: Item) -> DataForm:
    payload = item.payload
    if payload is None or payload.ns != NS.DATA_FORMS or payload.name != "x":
        raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "publish a data form")
    return DataForm.decode(payload)


class Nodes:
    def __init__(self, service: MixService) -> None:
        self.service = service
        service.on_iq("channel", NS.PUBSUB, "pubsub", "get", self.get)
        service.on_iq("channel", NS.PUBSUB, "pubsub", "set", self.set)
        service.node_ops[NS.MIX_NODE_PARTICIPANTS] = NodeOps(self.participant_items)
        service.node_ops[NS.MIX_NODE_INFO] = NodeOps(self.info_items, self.publish_info)

    def _ops(self, request: Request, node: str) -> NodeOps:
        ops = self.service.node_ops.get(node)
        if ops is None or node not in request.state().nodes:
            raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "no such node")
        return ops

    async def get(self, request: Request) -> Element | None:
        op = PubSub.decode(request.payload).op
        if not isinstance(op, Items):
            raise StanzaError(StanzaErrorCondition.FEATURE_NOT_IMPLEMENTED)
        ops = self._ops(request, op.node)
        self.service.require(request.state(), request.sender, op.node, "read")
        items = ops.items(request)
        if op.ids:
            items = [i for i in items if i.get("id") in op.ids]
        if op.max_items is not None:
            items = items[-op.max_items :]
        result = Element(NS.PUBSUB, "pubsub")
        result.add(NS.PUBSUB, "items", {"node": op.node}).children.extend(items)
        return result

    async def set(self, request: Request) -> Element | None:
        op = PubSub.decode(request.payload).op
        if not isinstance(op, Publish | Retract):
            raise StanzaError(StanzaErrorCondition.FEATURE_NOT_IMPLEMENTED)
        ops = self._ops(request, op.node)
        self.service.require(request.state(), request.sender, op.node, "update")
        if isinstance(op, Retract):
            if ops.retract is None:
                raise StanzaError(StanzaErrorCondition.FORBIDDEN, f"{op.node} has no retract")
            for item_id in op.ids:
                await ops.retract(request, item_id)
            return None
        if ops.publish is None:
            raise StanzaError(StanzaErrorCondition.FORBIDDEN, f"{op.node} is read-only")
        if op.item is None:
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "publish an item")
        item_id = await ops.publish(request, op.item)
        result = Element(NS.PUBSUB, "pubsub")
        publish = result.add(NS.PUBSUB, "publish", {"node": op.node})
        publish.add(NS.PUBSUB, "item", {"id": item_id})
        return result

    # -- participants and info ---------------------------------------------------

    def participant_items(self, request: Request) -> list[Element]:
        state, viewer = request.state(), str(request.sender.bare)
        items = []
        for participant in state.participants.values():
            item = Element(NS.PUBSUB, "item", {"id": participant.id})
            seen = anon.may_see(self.service, state, viewer, participant.jid)
            item.append(participant_element(participant.nick, participant.jid if seen else None))
            items.append(item)
        return items

    def info_items(self, request: Request) -> list[Element]:
        info = request.state().channel.info
        item = Element(NS.PUBSUB, "item", {"id": info_item_id(info)})
        item.append(info_form(info))
        return [item]

    async def publish_info(self, request: Request, item: Item) -> str:
        state = request.state()
        info = info_from_form(item_form(item), now_micros())
        await guarded(self.service.store.set_info(str(state.jid), info))
        channel = await guarded(self.service.store.get_channel(str(state.jid)))
        if channel is not None:
            state.with_info(channel)
        item_id = info_item_id(info)
        event_items = Element(NS.PUBSUB_EVENT, "items", {"node": NS.MIX_NODE_INFO})
        event_items.add(NS.PUBSUB_EVENT, "item", {"id": item_id}).append(info_form(info))
        subscribers = [p.jid for p in state.subscribers(NS.MIX_NODE_INFO)]
        await send_event(self.service, state, NS.MIX_NODE_INFO, event_items, subscribers)
        return item_id
