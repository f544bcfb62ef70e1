"""Sans-I/O streaming parser for XMPP streams (RFC 6120 section 11).

Bytes go in with `feed()`, events come out: the stream header, each complete
top-level element (stanza or nonza), and the stream end. Only the restricted
XML subset XMPP allows is accepted: a DOCTYPE, entity declaration, comment or
processing instruction is a `restricted-xml` stream error, and per-stanza byte,
depth, element and attribute limits are checked while input is still arriving,
so memory stays bounded by the limits, not by what a peer sends.
"""

from __future__ import annotations

import pyexpat
from dataclasses import dataclass
from typing import Any

from mixd import ns as NS
from mixd.errors import StreamError, StreamErrorCondition
from mixd.xml.element import Element
from mixd.xml.serializer import escape_attr

# A character that cannot occur in XML names or URIs, so no namespace URI can
# smuggle a second separator in (the CVE-2022-25236 class).
_SEP = "\x01"
_XML_ATTR_PREFIX = NS.XML + _SEP


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = 262_144  # per top-level element
    max_depth: int = 64  # nesting below the stream element
    max_elements: int = 10_000  # elements in one top-level element
    max_attrs: int = 128  # attributes on one element


@dataclass(frozen=True, slots=True)
class StreamOpened:
    ns: str
    name: str
    attrs: dict[str, str]
    # Prefix -> namespace declared on the stream element ("" = default namespace).
    namespaces: dict[str, str]


@dataclass(frozen=True, slots=True)
class ElementReceived:
    element: Element


@dataclass(frozen=True, slots=True)
class StreamClosed:
    pass


ParserEvent = StreamOpened | ElementReceived | StreamClosed


def _split(name: str) -> tuple[str, str]:
    uri, sep, local = name.partition(_SEP)
    return (uri, local) if sep else ("", uri)


def _restricted(what: str) -> StreamError:
    return StreamError(StreamErrorCondition.RESTRICTED_XML, f"{what} is not allowed in XMPP")


TEXT_BUFFER = 1024  # bytes of character data pyexpat collects per handler call
RENEW_AFTER_NAMES = 1000  # element and attribute names parsed before a fresh parser


def _tag_name(context: bytes) -> bytes:
    """The qualified name of the start tag that `context` begins with."""
    end = 1
    while end < len(context) and context[end : end + 1] not in b" \t\r\n/>":
        end += 1
    return context[1:end]


class StreamParser:
    """One parser per stream (a stream restart needs a new one)."""

    # What `_parser` is while released (`release`): one parser for all,
    # never fed.
    _RELEASED = pyexpat.ParserCreate()

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._events: list[ParserEvent] = []
        self._stack: list[Element] = []
        self._pending_ns: dict[str, str] = {}
        self._depth = 0
        # Byte offset where the unit now arriving began: the stream header, the
        # current top-level element, or the gap after the last one.
        self._mark = 0
        self._elements = 0
        self._fed = 0
        self._failed: StreamError | None = None
        self._head = b""  # the first two bytes, to spot a UTF-16 byte order mark
        self._ns_decls = 0  # namespace declarations on the element being opened
        # Renewal (see `_renew`): the stream element's tag and namespace
        # declarations, names seen since the last one, and the bytes fed
        # after the last complete unit.
        self._stream_tag = b""
        self._stream_ns: dict[str, str] = {}
        self._names = 0
        self._tail: bytes | None = b""
        self._renewing = False
        # Names split in the current top-level element, and their namespace
        # URIs: a URI used by many elements is held once, not once per
        # element. Emptied at each top-level element.
        self._split_names: dict[str, tuple[str, str]] = {}
        self._uris: dict[str, str] = {}
        self._keys: dict[str, str] = {}
        # Namespace URIs the serializer writes out again for this element:
        # one per element whose namespace differs from its parent's, one per
        # namespaced attribute. Declared once and used many times, a long URI
        # would otherwise cost many times the bytes that carried it.
        self._expansion = 0
        self._parser = self._expat()

    def _expat(self) -> pyexpat.XMLParserType:
        # No intern dict: pyexpat's default keeps every distinct name a peer
        # ever sends (and ~10 KB per idle connection). A small text buffer:
        # stanzas are small, and a longer text just arrives in more pieces.
        p = pyexpat.ParserCreate("UTF-8", _SEP, intern=None)
        p.buffer_size = TEXT_BUFFER
        p.buffer_text = True
        p.ordered_attributes = False
        p.SetParamEntityParsing(pyexpat.XML_PARAM_ENTITY_PARSING_NEVER)
        p.StartElementHandler = self._start
        p.EndElementHandler = self._end
        p.CharacterDataHandler = self._chars
        p.StartNamespaceDeclHandler = self._ns_decl
        p.XmlDeclHandler = self._xml_decl
        p.StartDoctypeDeclHandler = self._doctype
        p.EntityDeclHandler = self._entity
        p.CommentHandler = self._comment
        p.ProcessingInstructionHandler = self._pi
        p.ExternalEntityRefHandler = self._external_entity
        p.SkippedEntityHandler = self._skipped_entity
        return p

    def set_limits(self, limits: Limits) -> None:
        """Tighten or relax limits (after authentication) without a restart."""
        self.limits = limits

    def take_events(self) -> list[ParserEvent]:
        """Events completed before a feed() that raised (they are still valid)."""
        events, self._events = self._events, []
        return events

    def feed(self, data: bytes) -> list[ParserEvent]:
        """Parse `data`; returns the events it completed. Raises StreamError;
        events completed before the error are then in take_events()."""
        if self._failed is not None:
            raise self._failed
        if self._fed < 2:
            self._check_bom(data)
        try:
            if self._parser is self._RELEASED or (
                self._names >= RENEW_AFTER_NAMES and self._depth == 1 and self._tail is not None
            ):
                self._renew()
            self._fed += len(data)
            self._parser.Parse(data, False)
            if self._fed - self._mark > self.limits.max_bytes:
                raise StreamError(StreamErrorCondition.POLICY_VIOLATION, "stanza too large")
            unconsumed = self._fed - self._mark
            self._tail = data[len(data) - unconsumed :] if unconsumed <= len(data) else None
        except StreamError as exc:
            self._failed = exc
            raise
        except pyexpat.ExpatError as exc:
            self._failed = self._expat_error(exc)
            raise self._failed from None
        events, self._events = self._events, []
        return events

    def release(self) -> bool:
        """Free the expat parser between stanzas (about 13 KiB, most of an
        idle connection's memory); the next feed renews it (`_renew`).
        False, and nothing done, unless the stream is between stanzas."""
        if self._parser is self._RELEASED:
            return False  # already
        if self._depth != 1 or self._tail != b"" or self._failed is not None:
            return False
        self._parser = self._RELEASED
        return True

    def _renew(self) -> None:
        """Start a fresh expat parser between stanzas: expat keeps every
        element and attribute name it meets in tables that live as long as
        the parser, so a long stream (or a peer inventing names) would grow
        without bound. The new parser is put back inside the stream by a
        stream tag with the same name and namespace declarations, and gets
        the bytes that were fed after the last complete stanza again."""
        decls = "".join(
            f' xmlns{":" + prefix if prefix else ""}="{escape_attr(uri)}"'
            for prefix, uri in self._stream_ns.items()
        )
        header = b"<" + self._stream_tag + decls.encode() + b">"
        tail = self._tail or b""
        self._parser = self._expat()
        self._names = 0
        self._depth = 0
        self._fed = len(header) + len(tail)
        self._renewing = True
        try:
            self._parser.Parse(header, False)
        finally:
            self._renewing = False
        self._mark = len(header)  # the tail is the start of the unit now arriving
        self._parser.Parse(tail, False)

    def _check_bom(self, data: bytes) -> None:
        # Expat honours a UTF-16 byte order mark whatever encoding it was
        # given; XMPP is UTF-8 only (RFC 6120 section 11.6).
        self._head = (self._head + data)[:2]
        if self._head in (b"\xfe\xff", b"\xff\xfe"):
            self._failed = StreamError(StreamErrorCondition.UNSUPPORTED_ENCODING, "UTF-8 only")
            raise self._failed

    def _expat_error(self, exc: pyexpat.ExpatError) -> StreamError:
        code = exc.code
        if code in (
            pyexpat.errors.codes[pyexpat.errors.XML_ERROR_UNKNOWN_ENCODING],
            pyexpat.errors.codes[pyexpat.errors.XML_ERROR_INCORRECT_ENCODING],
        ):
            return StreamError(StreamErrorCondition.UNSUPPORTED_ENCODING)
        return StreamError(StreamErrorCondition.NOT_WELL_FORMED, pyexpat.errors.messages[code])

    # -- expat callbacks ---------------------------------------------------

    def _ns_decl(self, prefix: str | None, uri: str | None) -> None:
        self._ns_decls += 1
        if self._depth == 0:
            self._pending_ns[prefix or ""] = uri or ""

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        limits = self.limits
        # Namespace declarations are attributes too, though expat reports them apart.
        if len(attrs) + self._ns_decls > limits.max_attrs:
            raise StreamError(StreamErrorCondition.POLICY_VIOLATION, "too many attributes")
        self._ns_decls = 0
        split = self._split_names.get(name)
        if split is None:
            uri, local = _split(name)
            split = self._split_names[name] = (self._uris.setdefault(uri, uri), local)
        ns, local = split
        depth = self._depth
        self._depth = depth + 1
        if depth == 0:
            if not self._renewing:
                self._stream_tag = _tag_name(self._parser.GetInputContext() or b"")
                self._stream_ns = dict(self._pending_ns)
                self._events.append(StreamOpened(ns, local, self._attrs(attrs), self._stream_ns))
            self._pending_ns = {}
            self._mark = self._parser.CurrentByteIndex
            return
        self._names += 1 + len(attrs)
        if depth == 1:
            if ns == NS.STREAM and local == "stream":
                # RFC 6120 4.2: one stream header per stream (A9).
                raise StreamError(StreamErrorCondition.CONFLICT, "stream already open")
            self._mark = self._parser.CurrentByteIndex
            self._elements = 0
            self._expansion = 0
            self._split_names = {name: split}
            self._uris = {ns: ns}
            self._keys = {}
        elif depth > limits.max_depth:
            raise StreamError(StreamErrorCondition.POLICY_VIOLATION, "elements nested too deep")
        self._elements += 1
        if self._elements > limits.max_elements:
            raise StreamError(StreamErrorCondition.POLICY_VIOLATION, "too many elements")
        el = Element(ns, local, self._attrs(attrs) if attrs else {})
        parent_ns = self._stack[-1].ns if self._stack else NS.CLIENT
        if ns != parent_ns:
            self._expansion += len(ns)
        if self._expansion > limits.max_bytes:
            raise StreamError(StreamErrorCondition.POLICY_VIOLATION, "stanza too large")
        if self._stack:
            self._stack[-1].children.append(el)
        self._stack.append(el)

    def _attrs(self, attrs: dict[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in attrs.items():
            if _SEP in key:
                clark = self._keys.get(key)
                if clark is None:
                    if key.startswith(_XML_ATTR_PREFIX):
                        clark = "{" + NS.XML + "}" + key[len(_XML_ATTR_PREFIX) :]
                    else:
                        uri, local = _split(key)
                        clark = "{" + uri + "}" + local
                    self._keys[key] = clark
                if not key.startswith(_XML_ATTR_PREFIX):
                    self._expansion += len(clark)
                out[clark] = value
            else:
                out[key] = value
        return out

    def _end(self, name: str) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._events.append(StreamClosed())
            return
        el = self._stack.pop()
        if self._depth == 1:
            end = self._end_of_current_tag()
            if end - self._mark > self.limits.max_bytes:
                raise StreamError(StreamErrorCondition.POLICY_VIOLATION, "stanza too large")
            self._mark = end
            self._events.append(ElementReceived(el))

    def _end_of_current_tag(self) -> int:
        """Byte offset just past the element being closed. For an end tag
        `</x>` expat's index points at its start, so we add its length; for an
        empty-element tag `<x/>` the index is already past it."""
        start = self._parser.CurrentByteIndex
        context = self._parser.GetInputContext() or b""
        if not context.startswith(b"</"):
            return start
        close = context.find(b">")
        return start + close + 1 if close >= 0 else start

    def _chars(self, data: str) -> None:
        # Character data between top-level elements is whitespace keepalive
        # (or noise); it is never stored.
        if self._stack:
            self._stack[-1].children.append(data)
        else:
            # Whitespace between stanzas ends here. Each "\n" may have been
            # "\r\n" on the wire, so count it twice: the next start tag resets
            # the mark exactly anyway.
            self._mark = self._parser.CurrentByteIndex

    def _xml_decl(self, version: str | None, encoding: str | None, standalone: int) -> None:
        if version != "1.0":
            raise _restricted(f"XML version {version!r}")
        if encoding is not None and encoding.upper().replace("_", "-") not in ("UTF-8", "UTF8"):
            raise StreamError(StreamErrorCondition.UNSUPPORTED_ENCODING, "only UTF-8 is allowed")

    def _doctype(self, *args: Any) -> None:
        raise _restricted("a DOCTYPE")

    def _entity(self, *args: Any) -> None:
        raise _restricted("an entity declaration")

    def _comment(self, data: str) -> None:
        raise _restricted("a comment")

    def _pi(self, target: str, data: str) -> None:
        raise _restricted("a processing instruction")

    def _external_entity(self, *args: Any) -> int:
        raise _restricted("an external entity")

    def _skipped_entity(self, *args: Any) -> None:
        raise _restricted("an entity reference")
