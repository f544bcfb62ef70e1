"""XEP-0313 Message Archive Management 1.1.3 (urn:xmpp:mam:2): query, fin,
result messages, archive metadata, and the XEP-0441 preferences element.

Result messages wrap the archived stanza in a XEP-0297 `<forwarded/>` with a
XEP-0203 `<delay/>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from mixd import ns as NS
from mixd.codec.stanza import CodecError
from mixd.codec.xep0004_forms import DataForm
from mixd.codec.xep0059_rsm import RsmRequest, RsmResult
from mixd.codec.xep0082_datetime import format_datetime, parse_datetime
from mixd.jid import JID
from mixd.xml.element import Element


def _single(element: Element, ns: str, name: str) -> Element | None:
    found = element.find_all(ns, name)
    if len(found) > 1:
        raise CodecError(f"more than one <{name}/>")
    return found[0] if found else None


@dataclass(frozen=True, slots=True)
class MamQuery:
    """A query (iq set), a request for the form (iq get), or that form's answer."""

    XMLNS: ClassVar[str] = NS.MAM
    NAME: ClassVar[str] = "query"

    queryid: str | None = None
    node: str | None = None
    form: DataForm | None = None
    rsm: RsmRequest | None = None
    flip_page: bool = False

    @classmethod
    def decode(cls, element: Element) -> Self:
        form = _single(element, NS.DATA_FORMS, "x")
        rsm = _single(element, NS.RSM, "set")
        return cls(
            queryid=element.get("queryid"),
            node=element.get("node"),
            form=None if form is None else DataForm.decode(form),
            rsm=None if rsm is None else RsmRequest.decode(rsm),
            flip_page=element.find(NS.MAM, "flip-page") is not None,
        )

    def encode(self) -> Element:
        el = Element(self.XMLNS, self.NAME)
        el.set("queryid", self.queryid)
        el.set("node", self.node)
        if self.form is not None:
            el.append(self.form.encode())
        if self.rsm is not None:
            el.append(self.rsm.encode())
        if self.flip_page:
            el.add(NS.MAM, "flip-page")
        return el


@dataclass(frozen=True, slots=True)
class MamFin:
    """The iq result that ends a query."""

    XMLNS: ClassVar[str] = NS.MAM
    NAME: ClassVar[str] = "fin"

    rsm: RsmResult
    complete: bool = False

    @classmethod
    def decode(cls, element: Element) -> Self:
        rsm = element.find(NS.RSM, "set")
        return cls(
            RsmResult() if rsm is None else RsmResult.decode(rsm),
            element.get("complete") in ("true", "1"),
        )

    def encode(self) -> Element:
        el = Element(self.XMLNS, self.NAME)
        if self.complete:
            el.set("complete", "true")
        el.append(self.rsm.encode())
        return el


PREF_DEFAULTS = frozenset({"always", "never", "roster"})


def _jids(parent: Element | None) -> tuple[str, ...]:
    if parent is None:
        return ()
    return tuple(el.text.strip() for el in parent.find_all(NS.MAM, "jid"))


@dataclass(frozen=True, slots=True)
class MamPrefs:
    """XEP-0441 preferences; `default` is None in a get request. JIDs are as
    written (the service validates and normalises them)."""

    XMLNS: ClassVar[str] = NS.MAM
    NAME: ClassVar[str] = "prefs"

    default: str | None = None
    always: tuple[str, ...] = ()
    never: tuple[str, ...] = ()

    @classmethod
    def decode(cls, element: Element) -> Self:
        default = element.get("default")
        if default is not None and default not in PREF_DEFAULTS:
            raise CodecError("prefs default must be always, never or roster")
        always = _single(element, NS.MAM, "always")
        never = _single(element, NS.MAM, "never")
        return cls(default, _jids(always), _jids(never))

    def encode(self) -> Element:
        el = Element(self.XMLNS, self.NAME)
        el.set("default", self.default)
        for name, jids in (("always", self.always), ("never", self.never)):
            parent = el.add(NS.MAM, name)
            for jid in jids:
                parent.add_text_child(NS.MAM, "jid", jid)
        return el


@dataclass(frozen=True, slots=True)
class Bound:
    """One end of an archive: an item id and its time (microseconds)."""

    id: str
    timestamp: int


def _bound(element: Element | None) -> Bound | None:
    if element is None:
        return None
    item_id, stamp = element.get("id"), element.get("timestamp")
    if not item_id or not stamp:
        raise CodecError("metadata bound needs id and timestamp")
    return Bound(item_id, parse_datetime(stamp))


@dataclass(frozen=True, slots=True)
class MamMetadata:
    """Archive metadata: empty when the archive is."""

    XMLNS: ClassVar[str] = NS.MAM
    NAME: ClassVar[str] = "metadata"

    start: Bound | None = None
    end: Bound | None = None

    @classmethod
    def decode(cls, element: Element) -> Self:
        return cls(_bound(element.find(NS.MAM, "start")), _bound(element.find(NS.MAM, "end")))

    def encode(self) -> Element:
        el = Element(self.XMLNS, self.NAME)
        for name, bound in (("start", self.start), ("end", self.end)):
            if bound is not None:
                attrs = {"id": bound.id, "timestamp": format_datetime(bound.timestamp)}
                el.add(NS.MAM, name, attrs)
        return el


def result_message(
    to: JID,
    archive: JID,
    queryid: str | None,
    item_id: str,
    timestamp: int,
    message: Element,
) -> Element:
    """`<message><result><forwarded><delay/>message</forwarded></result></message>`."""
    outer = Element(NS.CLIENT, "message", {"to": str(to), "from": str(archive)})
    result = outer.add(NS.MAM, "result", {"id": item_id})
    result.set("queryid", queryid)
    forwarded = result.add(NS.FORWARD, "forwarded")
    forwarded.add(NS.DELAY, "delay", {"stamp": format_datetime(timestamp)})
    forwarded.append(message)
    return outer
