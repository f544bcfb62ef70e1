"""The channel's avatar (XEP-0407 'Avatar Publishing': XEP-0084's data and
metadata nodes on the channel) and the channel's vCard (XEP-0054), which is
made from the avatar and the info node.

Both nodes are one "Nodes Present" option, `avatar` (XEP-0406), present by
default. Reading them is reading the info node ("Information Node
Subscription"): the avatar is part of the channel's public face, like its
name. Changing them takes "Avatar Nodes Update Rights". Items live in the
`MixMiscStore` (the data can be large, so it is read when asked for, not
held in memory); `Nodes` checks presence and rights for publish and
retract, and reads are answered here before `Nodes.get` is reached.

Choices where XEP-0084 leaves room: a data item's id must be the SHA-1 of
its bytes (the id is computed when the publisher leaves it out); images up
to 128 KiB; the data node keeps the 4 newest items (one per format a
client offers), the metadata node one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from functools import partial

from mixd import ns as NS
from mixd.codec.xep0060_pubsub import Item, Items, PubSub
from mixd.codec.xep0082_datetime import format_datetime, now_micros
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.services.mix.admin.rights import NodeRights, configured
from mixd.services.mix.notify import notify_retract, send_event
from mixd.services.mix.service import Handler, MixService, NodeOps, Request, guarded
from mixd.services.mix.state import ChannelState
from mixd.storage.contracts.mix import ChannelNotFound
from mixd.storage.contracts.mix_misc import MixMiscStore, NodeItem
from mixd.xml.element import Element
from mixd.xml.fragment import parse_element
from mixd.xml.serializer import serialize

DATA, METADATA = NS.MIX_NODE_AVATAR, NS.MIX_NODE_AVATAR_META
NODES = (DATA, METADATA)
MAX_IMAGE_BYTES = 128 * 1024
KEEP = {DATA: 4, METADATA: 1}
RIGHTS = NodeRights(
    configured("Information Node Subscription"), configured("Avatar Nodes Update Rights"), "avatar"
)


def _bad(why: str) -> StanzaError:
    return StanzaError(StanzaErrorCondition.BAD_REQUEST, why)


def image_bytes(payload: Element) -> bytes:
    """The image a `<data/>` payload carries; bad-request unless base64 of
    at most MAX_IMAGE_BYTES."""
    if not payload.is_(DATA, "data"):
        raise _bad(f"publish <data xmlns='{DATA}'/>")
    text = "".join(payload.text.split())
    if len(text) > (MAX_IMAGE_BYTES + 2) // 3 * 4:
        raise StanzaError(StanzaErrorCondition.NOT_ACCEPTABLE, "avatar too large")
    try:
        image = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _bad("avatar data is not base64") from None
    if not image:
        raise _bad("empty avatar")
    return image


def check_metadata(payload: Element) -> str | None:
    """The id of the first image a `<metadata/>` payload describes (None:
    an empty one, which disables the avatar); bad-request when malformed."""
    if not payload.is_(METADATA, "metadata"):
        raise _bad(f"publish <metadata xmlns='{METADATA}'/>")
    infos = payload.find_all(METADATA, "info")
    for info in infos:
        if not info.get("id") or not info.get("type") or not (info.get("bytes") or "").isdigit():
            raise _bad("each <info/> needs id, type and bytes")
    return infos[0].get("id") if infos else None


class ChannelAvatar:
    def __init__(self, service: MixService) -> None:
        self.service = service
        self.store: MixMiscStore = service.server.stores.mix_misc
        for node in NODES:
            service.rights[node] = RIGHTS
            # Reads come through `get` below; `items` is never asked.
            service.node_ops[node] = NodeOps(
                lambda _request: [],
                partial(self.publish, node=node),
                partial(self.retract, node=node),
            )
        self._pubsub_get: Handler = service.handlers[("channel", NS.PUBSUB, "pubsub", "get")]
        service.on_iq("channel", NS.PUBSUB, "pubsub", "get", self.get)
        service.on_iq("channel", NS.VCARD, "vCard", "get", self.vcard)
        service.destroy_listeners.append(self.destroyed)

    async def get(self, request: Request) -> Element | None:
        op = PubSub.decode(request.payload).op
        if not isinstance(op, Items) or op.node not in NODES:
            return await self._pubsub_get(request)
        state = request.state()
        if op.node not in state.nodes:
            raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "no such node")
        self.service.require(state, request.sender, op.node, "read")
        stored = await guarded(self.store.node_items(str(state.jid), op.node))
        if op.ids:
            stored = [i for i in stored if i.id in op.ids]
        if op.max_items is not None:
            stored = stored[-op.max_items :] if op.max_items else []
        result = Element(NS.PUBSUB, "pubsub")
        items = result.add(NS.PUBSUB, "items", {"node": op.node})
        for item in stored:
            items.add(NS.PUBSUB, "item", {"id": item.id}).append(parse_element(item.xml))
        return result

    async def publish(self, request: Request, item: Item, *, node: str) -> str:
        state = request.state()
        payload = item.payload
        if payload is None:
            raise _bad("publish a payload")
        if node == DATA:
            item_id = hashlib.sha1(
                image_bytes(payload)
            ).hexdigest()  # XEP-0084 names items by SHA-1
            if item.id and item.id != item_id:
                raise _bad("the item id must be the SHA-1 of the image")
        else:
            item_id = check_metadata(payload) or item.id or format_datetime(now_micros())
        stored = NodeItem(item_id, serialize(payload), now_micros())
        try:
            await guarded(self.store.publish_item(str(state.jid), node, stored, KEEP[node]))
        except ChannelNotFound:
            raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "no such channel") from None
        event = Element(NS.PUBSUB_EVENT, "items", {"node": node})
        event.add(NS.PUBSUB_EVENT, "item", {"id": item_id}).append(payload.copy())
        await send_event(self.service, state, node, event, self._subscribers(state, node))
        return item_id

    async def retract(self, request: Request, item_id: str, *, node: str) -> None:
        state = request.state()
        if not await guarded(self.store.retract_item(str(state.jid), node, item_id)):
            raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, f"no item {item_id}")
        await notify_retract(self.service, state, node, item_id, self._subscribers(state, node))

    def _subscribers(self, state: ChannelState, node: str) -> list[str]:
        return [p.jid for p in state.subscribers(node)]

    async def destroyed(self, state: ChannelState) -> None:
        await guarded(self.store.drop_channel(str(state.jid)))

    # -- vCard ---------------------------------------------------------------------

    async def vcard(self, request: Request) -> Element | None:
        """vcard-temp of the channel: FN and DESC from the info node, PHOTO
        from the avatar the metadata names (its first image whose data is
        here). Whoever may read the info node may read it."""
        state = request.state()
        self.service.require(state, request.sender, NS.MIX_NODE_INFO, "read")
        card = Element(NS.VCARD, "vCard")
        info = state.channel.info
        card.add_text_child(NS.VCARD, "FN", info.name or state.jid.local or str(state.jid))
        if info.description:
            card.add_text_child(NS.VCARD, "DESC", info.description)
        photo = await self._photo(state) if DATA in state.nodes else None
        if photo is not None:
            mime, data = photo
            el = card.add(NS.VCARD, "PHOTO")
            el.add_text_child(NS.VCARD, "TYPE", mime)
            el.add_text_child(NS.VCARD, "BINVAL", data)
        return card

    async def _photo(self, state: ChannelState) -> tuple[str, str] | None:
        channel = str(state.jid)
        metadata = await guarded(self.store.node_items(channel, METADATA))
        if not metadata:
            return None
        data = {i.id: i for i in await guarded(self.store.node_items(channel, DATA))}
        for info in parse_element(metadata[-1].xml).find_all(METADATA, "info"):
            found = data.get(info.get("id") or "")
            if found is not None:
                return info.get("type") or "image/png", parse_element(found.xml).text.strip()
        return None
