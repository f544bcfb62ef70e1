"""Incremental reader of a dump: bytes in, events out (a container opened,
a record read whole, a container closed). Only records are built in
memory, each within `RecordLimits`, so a dump of any size reads in bounded
memory. A DOCTYPE, entity declaration or processing instruction is refused
(no entity expansion can blow a small input up)."""

from __future__ import annotations

import pyexpat
from dataclasses import dataclass
from typing import Any

from mixd import ns as NS
from mixd.portable.format import CONTAINERS, DumpError
from mixd.xml.element import Element

_SEP = "\x01"  # cannot occur in names or URIs
ROOT = (NS.PIE, "server-data")


@dataclass(frozen=True, slots=True)
class RecordLimits:
    max_chars: int = 64 * 1024 * 1024  # text and attribute values in one record
    max_attr_chars: int = 1024 * 1024  # one attribute value
    max_attrs: int = 64  # on one element
    max_depth: int = 64  # nesting inside a record
    max_elements: int = 1_000_000  # elements in one record
    max_pending_bytes: int = 8 * 1024 * 1024  # input expat holds without an event (one tag)


@dataclass(frozen=True, slots=True)
class Opened:
    ns: str
    name: str
    attrs: dict[str, str]
    line: int


@dataclass(frozen=True, slots=True)
class Record:
    element: Element
    line: int


@dataclass(frozen=True, slots=True)
class Closed:
    ns: str
    name: str


Event = Opened | Record | Closed


def _split(name: str) -> tuple[str, str]:
    uri, sep, local = name.partition(_SEP)
    return (uri, local) if sep else ("", uri)


class DumpReader:
    def __init__(self, limits: RecordLimits | None = None) -> None:
        self._limits = limits or RecordLimits()
        self._events: list[Event] = []
        self._containers: list[tuple[str, str]] = []
        self._stack: list[Element] = []  # the record being built
        self._record_line = 0
        self._chars = 0
        self._elements = 0
        self._done = False
        self._fed = 0  # bytes given to expat
        self._mark = 0  # where the last event was
        p = pyexpat.ParserCreate(namespace_separator=_SEP)
        p.buffer_text = True
        p.SetParamEntityParsing(pyexpat.XML_PARAM_ENTITY_PARSING_NEVER)
        p.StartElementHandler = self._start
        p.EndElementHandler = self._end
        p.CharacterDataHandler = self._text
        p.StartDoctypeDeclHandler = self._refuse("a DOCTYPE")
        p.EntityDeclHandler = self._refuse("an entity declaration")
        p.ProcessingInstructionHandler = self._refuse("a processing instruction")
        p.ExternalEntityRefHandler = self._refuse("an external entity")
        p.SkippedEntityHandler = self._refuse("an undeclared entity")
        self._parser = p

    def feed(self, data: bytes, final: bool = False) -> list[Event]:
        try:
            self._fed += len(data)
            self._parser.Parse(data, final)
        except pyexpat.ExpatError as exc:
            message = f"line {exc.lineno}: malformed XML: {pyexpat.ErrorString(exc.code)}"
            raise DumpError(message) from None
        if self._fed - self._mark > self._limits.max_pending_bytes:
            # One tag (its name and attributes) this large is not a dump.
            raise self._fail("a tag is too large")
        if final and not self._done:
            raise DumpError("the document ends before </server-data>")
        events, self._events = self._events, []
        return events

    def _fail(self, message: str) -> DumpError:
        return DumpError(f"line {self._parser.CurrentLineNumber}: {message}")

    def _refuse(self, what: str) -> Any:
        def handler(*args: Any) -> Any:
            raise self._fail(f"{what} is not allowed in a dump")

        return handler

    def _attrs(self, attrs: dict[str, str]) -> dict[str, str]:
        limits = self._limits
        if len(attrs) > limits.max_attrs:
            raise self._fail("too many attributes")
        out: dict[str, str] = {}
        for key, value in attrs.items():
            if len(value) > limits.max_attr_chars:
                raise self._fail(f"attribute {_split(key)[1]!r} is too long ({len(value)} chars)")
            self._chars += len(value)
            if _SEP in key:
                uri, local = _split(key)
                out["{" + uri + "}" + local] = value
            else:
                out[key] = value
        return out

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        if self._done:
            raise self._fail("content after </server-data>")
        self._mark = self._parser.CurrentByteIndex
        ns, local = _split(name)
        if not self._stack and (ns, local) in CONTAINERS:
            if not self._containers and (ns, local) != ROOT:
                raise self._fail(f"expected <server-data xmlns='{NS.PIE}'>")
            self._chars = 0
            element_attrs = self._attrs(attrs)
            self._containers.append((ns, local))
            self._events.append(Opened(ns, local, element_attrs, self._parser.CurrentLineNumber))
            return
        if not self._containers:
            raise self._fail(f"expected <server-data xmlns='{NS.PIE}'>")
        if not self._stack:
            self._record_line = self._parser.CurrentLineNumber
            self._chars = 0
            self._elements = 0
        elif len(self._stack) >= self._limits.max_depth:
            raise self._fail("elements nested too deep")
        self._elements += 1
        if self._elements > self._limits.max_elements:
            raise self._fail("too many elements in one record")
        element = Element(ns, local, self._attrs(attrs))
        self._check_size()
        if self._stack:
            self._stack[-1].children.append(element)
        self._stack.append(element)

    def _end(self, name: str) -> None:
        self._mark = self._parser.CurrentByteIndex
        if self._stack:
            element = self._stack.pop()
            if not self._stack:
                self._events.append(Record(element, self._record_line))
            return
        closed = self._containers.pop()
        self._events.append(Closed(*closed))
        if not self._containers:
            self._done = True

    def _text(self, data: str) -> None:
        self._mark = self._parser.CurrentByteIndex
        if self._stack:
            self._chars += len(data)
            self._check_size()
            self._stack[-1].children.append(data)
        elif data.strip():
            raise self._fail("text outside a record")

    def _check_size(self) -> None:
        if self._chars > self._limits.max_chars:
            raise self._fail("record too large")
