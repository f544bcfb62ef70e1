"""XEP-0369 MIX-CORE 0.14.6 payloads.

Every request records the namespace it came in (`urn:xmpp:mix:core:1`, or the
older `core:0` of ejabberd's guide) so the answer is written in kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from mixd import ns as NS
from mixd.codec.stanza import CodecError
from mixd.xml.element import Element

NAMESPACES = (NS.MIX_CORE, NS.MIX_CORE_0)
MAX_NODES = 32  # subscribe/unsubscribe elements in one request


def _nodes(element: Element, name: str) -> tuple[str, ...]:
    nodes = [el.get("node") or "" for el in element.find_all(element.ns, name)]
    if len(nodes) > MAX_NODES or any(not node for node in nodes):
        raise CodecError(f"bad <{name}/> list")
    return tuple(dict.fromkeys(nodes))  # de-duplicated, order kept


def _add_nodes(el: Element, name: str, nodes: tuple[str, ...]) -> None:
    for node in nodes:
        el.add(el.ns, name, {"node": node})


@dataclass(frozen=True, slots=True)
class Join:
    XMLNS: ClassVar[str] = NS.MIX_CORE
    NAME: ClassVar[str] = "join"

    subscribe: tuple[str, ...] = ()
    nick: str | None = None
    participant_id: str | None = None  # in the result
    channel: str | None = None  # in the result: the channel's bare JID (PAM form)
    ns: str = NS.MIX_CORE

    @classmethod
    def decode(cls, element: Element) -> Self:
        return cls(
            _nodes(element, "subscribe"), element.find_text(element.ns, "nick"), ns=element.ns
        )

    def encode(self) -> Element:
        el = Element(self.ns, self.NAME)
        if self.participant_id is not None:
            el.set("id", self.participant_id)
            if self.channel is not None:
                # XEP-0405's example form; clients read either (TESTING.md).
                el.set("jid", f"{self.participant_id}#{self.channel}")
        _add_nodes(el, "subscribe", self.subscribe)
        if self.nick is not None:
            el.add_text_child(self.ns, "nick", self.nick)
        return el


@dataclass(frozen=True, slots=True)
class Leave:
    XMLNS: ClassVar[str] = NS.MIX_CORE
    NAME: ClassVar[str] = "leave"

    ns: str = NS.MIX_CORE

    @classmethod
    def decode(cls, element: Element) -> Self:
        return cls(element.ns)

    def encode(self) -> Element:
        return Element(self.ns, self.NAME)


@dataclass(frozen=True, slots=True)
class SetNick:
    XMLNS: ClassVar[str] = NS.MIX_CORE
    NAME: ClassVar[str] = "setnick"

    nick: str | None = None
    ns: str = NS.MIX_CORE

    @classmethod
    def decode(cls, element: Element) -> Self:
        return cls(element.find_text(element.ns, "nick"), element.ns)

    def encode(self) -> Element:
        el = Element(self.ns, self.NAME)
        if self.nick is not None:
            el.add_text_child(self.ns, "nick", self.nick)
        return el


@dataclass(frozen=True, slots=True)
class UpdateSubscription:
    XMLNS: ClassVar[str] = NS.MIX_CORE
    NAME: ClassVar[str] = "update-subscription"

    subscribe: tuple[str, ...] = ()
    unsubscribe: tuple[str, ...] = ()
    jid: str | None = None
    ns: str = NS.MIX_CORE

    @classmethod
    def decode(cls, element: Element) -> Self:
        return cls(
            _nodes(element, "subscribe"),
            _nodes(element, "unsubscribe"),
            element.get("jid"),
            element.ns,
        )

    def encode(self) -> Element:
        el = Element(self.ns, self.NAME)
        el.set("jid", self.jid)
        _add_nodes(el, "subscribe", self.subscribe)
        _add_nodes(el, "unsubscribe", self.unsubscribe)
        return el


@dataclass(frozen=True, slots=True)
class Create:
    XMLNS: ClassVar[str] = NS.MIX_CORE
    NAME: ClassVar[str] = "create"

    channel: str | None = None
    ns: str = NS.MIX_CORE

    @classmethod
    def decode(cls, element: Element) -> Self:
        return cls(element.get("channel"), element.ns)

    def encode(self) -> Element:
        el = Element(self.ns, self.NAME)
        el.set("channel", self.channel)
        return el


@dataclass(frozen=True, slots=True)
class Destroy:
    XMLNS: ClassVar[str] = NS.MIX_CORE
    NAME: ClassVar[str] = "destroy"

    channel: str
    ns: str = NS.MIX_CORE

    @classmethod
    def decode(cls, element: Element) -> Self:
        channel = element.get("channel")
        if not channel:
            raise CodecError("destroy needs a channel")
        return cls(channel, element.ns)

    def encode(self) -> Element:
        return Element(self.ns, self.NAME, {"channel": self.channel})


def participant_element(nick: str | None, jid: str | None, ns: str = NS.MIX_CORE) -> Element:
    el = Element(ns, "participant")
    if nick is not None:
        el.add_text_child(ns, "nick", nick)
    if jid is not None:
        el.add_text_child(ns, "jid", jid)
    return el


def mix_element(nick: str | None, jid: str | None, ns: str = NS.MIX_CORE) -> Element:
    """The <mix/> attribution a reflected message carries."""
    el = Element(ns, "mix")
    if nick is not None:
        el.add_text_child(ns, "nick", nick)
    if jid is not None:
        el.add_text_child(ns, "jid", jid)
    return el
