"""XEP-0060 Publish-Subscribe 1.30.0: the requests a PEP service answers,
their results, and event notifications.

`PubSub` (`http://jabber.org/protocol/pubsub`) carries one operation:
publish (with publish-options), retract, items, create (with configure);
subscription and affiliation requests decode to `Unsupported` naming the
XEP-0060 feature they need. `PubSubOwner` (`...#owner`) carries configure,
default and delete. Payloads stay `Element`s: PEP stores them as they came.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Self

from mixd import ns as NS
from mixd.codec.stanza import CodecError
from mixd.codec.xep0004_forms import DataForm
from mixd.codec.xep0082_datetime import format_datetime
from mixd.jid import JID
from mixd.xml.element import Element

MAX_REQUESTED_IDS = 256  # item ids in one items or retract request

# Child elements of <pubsub/> that name a use case we do not offer, and the
# XEP-0060 feature of that use case (for <unsupported feature=.../>).
_UNSUPPORTED = {
    "subscribe": "subscribe",
    "unsubscribe": "subscribe",
    "options": "subscription-options",
    "subscriptions": "retrieve-subscriptions",
    "affiliations": "retrieve-affiliations",
}
_UNSUPPORTED_OWNER = {
    "purge": "purge-nodes",
    "subscriptions": "manage-subscriptions",
    "affiliations": "modify-affiliations",
}


@dataclass(frozen=True, slots=True)
class Item:
    id: str | None = None
    payload: Element | None = None

    @classmethod
    def decode(cls, element: Element) -> Self:
        children = list(element.elements)
        if len(children) > 1:
            raise CodecError("an item holds at most one payload element")
        return cls(element.get("id"), children[0] if children else None)

    def encode(self, ns: str) -> Element:
        el = Element(ns, "item")
        el.set("id", self.id)
        if self.payload is not None:
            el.append(self.payload)
        return el


@dataclass(frozen=True, slots=True)
class Publish:
    node: str
    item: Item | None = None
    options: DataForm | None = None  # publish-options: preconditions


@dataclass(frozen=True, slots=True)
class Retract:
    node: str
    ids: tuple[str, ...]
    notify: bool = False


@dataclass(frozen=True, slots=True)
class Items:
    node: str
    max_items: int | None = None
    ids: tuple[str, ...] = ()  # the request names these items
    items: tuple[Item, ...] = ()  # a result


@dataclass(frozen=True, slots=True)
class Create:
    node: str
    config: DataForm | None = None


@dataclass(frozen=True, slots=True)
class Configure:
    node: str
    form: DataForm | None = None


@dataclass(frozen=True, slots=True)
class Default:
    form: DataForm | None = None


@dataclass(frozen=True, slots=True)
class Delete:
    node: str


@dataclass(frozen=True, slots=True)
class Unsupported:
    feature: str  # XEP-0060 feature name, e.g. "subscribe"


PubSubOp = Publish | Retract | Items | Create | Unsupported
OwnerOp = Configure | Default | Delete | Unsupported


@dataclass(frozen=True, slots=True)
class PubSub:
    XMLNS: ClassVar[str] = NS.PUBSUB
    NAME: ClassVar[str] = "pubsub"

    op: PubSubOp

    @classmethod
    def decode(cls, element: Element) -> Self:
        children = {c.name: c for c in element.elements if c.ns == NS.PUBSUB}
        if (publish := children.get("publish")) is not None:
            items = publish.find_all(NS.PUBSUB, "item")
            if len(items) > 1:
                raise CodecError("publish holds at most one item")
            options = _form(children.get("publish-options"))
            item = Item.decode(items[0]) if items else None
            return cls(Publish(_node(publish), item, options))
        if (retract := children.get("retract")) is not None:
            ids = _ids(retract)
            if not ids:
                raise CodecError("retract needs an item id")
            return cls(Retract(_node(retract), ids, _bool(retract.get("notify"))))
        if (items_el := children.get("items")) is not None:
            return cls(
                Items(_node(items_el), _max_items(items_el.get("max_items")), _ids(items_el))
            )
        if (create := children.get("create")) is not None:
            return cls(Create(_node(create), _form(children.get("configure"))))
        for name, feature in _UNSUPPORTED.items():
            if name in children:
                return cls(Unsupported(feature))
        raise CodecError("no pubsub operation")

    def encode(self) -> Element:
        el = Element(self.XMLNS, self.NAME)
        op = self.op
        if isinstance(op, Publish):
            publish = el.add(NS.PUBSUB, "publish", {"node": op.node})
            if op.item is not None:
                publish.append(op.item.encode(NS.PUBSUB))
            if op.options is not None:
                el.add(NS.PUBSUB, "publish-options").append(op.options.encode())
        elif isinstance(op, Retract):
            retract = el.add(NS.PUBSUB, "retract", {"node": op.node})
            if op.notify:
                retract.set("notify", "true")
            retract.children.extend(Item(i).encode(NS.PUBSUB) for i in op.ids)
        elif isinstance(op, Items):
            items = el.add(NS.PUBSUB, "items", {"node": op.node})
            if op.max_items is not None:
                items.set("max_items", str(op.max_items))
            items.children.extend(Item(i).encode(NS.PUBSUB) for i in op.ids)
            items.children.extend(item.encode(NS.PUBSUB) for item in op.items)
        elif isinstance(op, Create):
            el.add(NS.PUBSUB, "create", {"node": op.node})
            if op.config is not None:
                el.add(NS.PUBSUB, "configure").append(op.config.encode())
        return el


@dataclass(frozen=True, slots=True)
class PubSubOwner:
    XMLNS: ClassVar[str] = NS.PUBSUB_OWNER
    NAME: ClassVar[str] = "pubsub"

    op: OwnerOp

    @classmethod
    def decode(cls, element: Element) -> Self:
        children = {c.name: c for c in element.elements if c.ns == NS.PUBSUB_OWNER}
        if (configure := children.get("configure")) is not None:
            return cls(Configure(_node(configure), _form(configure)))
        if (default := children.get("default")) is not None:
            return cls(Default(_form(default)))
        if (delete := children.get("delete")) is not None:
            return cls(Delete(_node(delete)))
        for name, feature in _UNSUPPORTED_OWNER.items():
            if name in children:
                return cls(Unsupported(feature))
        raise CodecError("no pubsub#owner operation")

    def encode(self) -> Element:
        el = Element(self.XMLNS, self.NAME)
        op = self.op
        if isinstance(op, Configure):
            configure = el.add(NS.PUBSUB_OWNER, "configure", {"node": op.node})
            if op.form is not None:
                configure.append(op.form.encode())
        elif isinstance(op, Default):
            default = el.add(NS.PUBSUB_OWNER, "default")
            if op.form is not None:
                default.append(op.form.encode())
        elif isinstance(op, Delete):
            el.add(NS.PUBSUB_OWNER, "delete", {"node": op.node})
        return el


# -- event notifications (XEP-0060 7.1.2.1, 7.2.2.1, 8.4.2) ----------------


def items_event(node: str, items: Sequence[Item]) -> Element:
    event = Element(NS.PUBSUB_EVENT, "event")
    el = event.add(NS.PUBSUB_EVENT, "items", {"node": node})
    el.children.extend(item.encode(NS.PUBSUB_EVENT) for item in items)
    return event


def retract_event(node: str, ids: Sequence[str]) -> Element:
    event = Element(NS.PUBSUB_EVENT, "event")
    el = event.add(NS.PUBSUB_EVENT, "items", {"node": node})
    for item_id in ids:
        el.add(NS.PUBSUB_EVENT, "retract", {"id": item_id})
    return event


def delete_event(node: str) -> Element:
    event = Element(NS.PUBSUB_EVENT, "event")
    event.add(NS.PUBSUB_EVENT, "delete", {"node": node})
    return event


def notification(sender: JID, event: Element, delayed: datetime | None = None) -> Element:
    """A headline message carrying `event` from `sender`; the caller sets `to`.
    `delayed`: when the item was published (XEP-0203), for a late delivery."""
    attrs = {"from": str(sender), "type": "headline", "id": secrets.token_hex(8)}
    message = Element(NS.CLIENT, "message", attrs, [event])
    if delayed is not None:
        micros = int(delayed.timestamp() * 1_000_000)
        message.add(NS.DELAY, "delay", {"from": str(sender), "stamp": format_datetime(micros)})
    return message


# -- helpers -----------------------------------------------------------------


def _node(element: Element) -> str:
    node = element.get("node")
    if not node:
        raise CodecError(f"<{element.name}/> needs a node")
    return node


def _ids(element: Element) -> tuple[str, ...]:
    ids = []
    for item in element.find_all(element.ns, "item"):
        item_id = item.get("id")
        if not item_id:
            raise CodecError("item without id")
        ids.append(item_id)
    if len(ids) > MAX_REQUESTED_IDS:
        raise CodecError("too many item ids")
    return tuple(ids)


def _max_items(text: str | None) -> int | None:
    if text is None:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 9) or int(text) < 1:
        raise CodecError("max_items must be a positive integer")
    return int(text)


def _bool(text: str | None) -> bool:
    return text in ("1", "true")


def _form(container: Element | None) -> DataForm | None:
    if container is None:
        return None
    x = container.find(NS.DATA_FORMS, "x")
    return None if x is None else DataForm.decode(x)
