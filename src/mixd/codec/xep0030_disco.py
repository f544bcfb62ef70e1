"""XEP-0030 Service Discovery 2.5: disco#info and disco#items payloads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Self

from mixd import ns as NS
from mixd.codec.stanza import CodecError
from mixd.xml.element import Element


@dataclass(frozen=True, slots=True, order=True)
class Identity:
    category: str
    type: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class DiscoInfo:
    """A disco#info query (empty lists) or answer."""

    XMLNS: ClassVar[str] = NS.DISCO_INFO
    NAME: ClassVar[str] = "query"

    node: str | None = None
    identities: tuple[Identity, ...] = ()
    features: tuple[str, ...] = ()
    forms: tuple[Element, ...] = ()  # XEP-0128 extensions, already encoded

    @classmethod
    def decode(cls, element: Element) -> Self:
        identities = []
        for el in element.find_all(NS.DISCO_INFO, "identity"):
            category, kind = el.get("category"), el.get("type")
            if not category or not kind:
                raise CodecError("identity needs category and type")
            identities.append(Identity(category, kind, el.get("name")))
        features = tuple(f.get("var") or "" for f in element.find_all(NS.DISCO_INFO, "feature"))
        forms = tuple(element.find_all(NS.DATA_FORMS, "x"))
        return cls(element.get("node"), tuple(identities), features, forms)

    def encode(self) -> Element:
        el = Element(self.XMLNS, self.NAME)
        el.set("node", self.node)
        for identity in sorted(set(self.identities)):
            attrs = {"category": identity.category, "type": identity.type}
            if identity.name:
                attrs["name"] = identity.name
            el.add(NS.DISCO_INFO, "identity", attrs)
        for feature in sorted(set(self.features)):
            el.add(NS.DISCO_INFO, "feature", {"var": feature})
        el.children.extend(self.forms)
        return el


@dataclass(frozen=True, slots=True)
class Item:
    jid: str
    node: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class DiscoItems:
    XMLNS: ClassVar[str] = NS.DISCO_ITEMS
    NAME: ClassVar[str] = "query"

    node: str | None = None
    items: tuple[Item, ...] = field(default=())

    @classmethod
    def decode(cls, element: Element) -> Self:
        items = []
        for el in element.find_all(NS.DISCO_ITEMS, "item"):
            jid = el.get("jid")
            if not jid:
                raise CodecError("item needs a jid")
            items.append(Item(jid, el.get("node"), el.get("name")))
        return cls(element.get("node"), tuple(items))

    def encode(self) -> Element:
        el = Element(self.XMLNS, self.NAME)
        el.set("node", self.node)
        for item in self.items:
            attrs = {"jid": item.jid}
            if item.node:
                attrs["node"] = item.node
            if item.name:
                attrs["name"] = item.name
            el.add(NS.DISCO_ITEMS, "item", attrs)
        return el
