"""Fuzz targets for the restricted stream parser and the serializer
(RELIABILITY A1-A4, A6, A7; docs/fuzzing.md).

- Any bytes, split anywhere: the parser raises nothing but StreamError, stays
  failed once it failed, and every element it yields respects its limits.
- A valid stream split anywhere yields the same events as in one piece.
- parse(serialize(e)) == e for elements with any text and attribute values
  XML allows, and serialize(parse(text)) parses back to the same tree.
- What a parsed stanza costs in memory and in serialized form is bounded by
  the bytes it came in as.
"""

from __future__ import annotations

import pyexpat
from collections.abc import Iterator
from contextlib import contextmanager
from unittest.mock import patch

from hypothesis import given, target
from hypothesis import strategies as st

from mixd import ns as NS
from mixd.errors import StreamError
from mixd.xml import parser as parser_module
from mixd.xml.element import Element
from mixd.xml.fragment import parse_element
from mixd.xml.parser import ElementReceived, Limits, ParserEvent, StreamOpened, StreamParser
from mixd.xml.serializer import serialize
from tests.fuzz.budget import fuzz
from tests.fuzz.xml_gen import (
    elements,
    normalized,
    raw_element,
    string_weight,
    tree_bytes,
    walk,
)

HEADER = (
    "<?xml version='1.0'?>"
    f"<stream:stream xmlns='{NS.CLIENT}' xmlns:stream='{NS.STREAM}'"
    " to='localhost' version='1.0' xml:lang='en'>"
).encode()
CLOSE = b"</stream:stream>"
SMALL = Limits(max_bytes=3000, max_depth=5, max_elements=40, max_attrs=6)
WIDE = Limits(max_bytes=1_000_000, max_depth=64, max_elements=100_000, max_attrs=128)

# Bytes that steer a near-valid stream into the parser's refusals.
_NASTY = [
    b"<!DOCTYPE x>",
    b"<!DOCTYPE x [<!ENTITY a 'b'>]>",
    b"<!ENTITY a 'b'>",
    b"&a;",
    b"&#0;",
    b"&#xD800;",
    b"<!-- c -->",
    b"<?pi x?>",
    b"<?xml version='1.1'?>",
    b"<?xml version='1.0' encoding='UTF-16'?>",
    b"\x00",
    b"\xff\xfe",
    b"\xfe\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\xef\xbf\xbe",
    b"<stream:stream>",
    b"</stream:stream>",
    b"<![CDATA[",
    b"]]>",
    b"<x xmlns:p=''/>",
    b"<p:x/>",
    b"<x a='1' a='2'/>",
    b"<x xmlns='http://www.w3.org/2000/xmlns/'/>",
    b"<x xmlns:xml='urn:a'/>",
    b"<",
    b">",
    b"'",
    b"&",
    b"\x01",
]


def chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for p in points:
        out.append(data[last:p])
        last = p
    out.append(data[last:])
    return out


def run(parser: StreamParser, pieces: list[bytes]) -> tuple[list[ParserEvent], StreamError | None]:
    """Feed pieces; the events and the error (if any) that ended it."""
    events: list[ParserEvent] = []
    for piece in pieces:
        try:
            events += parser.feed(piece)
        except StreamError as exc:
            events += parser.take_events()
            # Once failed, the parser stays failed with the same error.
            try:
                parser.feed(b"<x/>")
            except StreamError as again:
                assert again is exc
            else:
                raise AssertionError("a failed parser accepted more input") from None
            return events, exc
    return events, None


def check_limits(events: list[ParserEvent], limits: Limits) -> None:
    for event in events:
        if isinstance(event, ElementReceived):
            nodes = list(walk(event.element))
            assert len(nodes) <= limits.max_elements
            for node, depth in nodes:
                assert depth <= limits.max_depth
                assert len(node.attrs) <= limits.max_attrs
            # Every element serializes (no value the serializer cannot write).
            assert serialize(event.element)


def describe(events: list[ParserEvent]) -> list[object]:
    out: list[object] = []
    for event in events:
        if isinstance(event, ElementReceived):
            out.append(normalized(event.element))
        elif isinstance(event, StreamOpened):
            out.append((event.ns, event.name, event.attrs, event.namespaces))
        else:
            out.append("close")
    return out


stanza_texts = st.lists(raw_element(), min_size=1, max_size=3)
gaps = st.sampled_from(["", " ", "\n", "\r\n\t  "])
cut_lists = st.lists(st.integers(0, 10**6), max_size=12)


@st.composite
def valid_stream(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    texts = draw(stanza_texts)
    body = "".join(draw(gaps) + t for t in texts)
    header = HEADER if draw(st.booleans()) else HEADER[len(b"<?xml version='1.0'?>") :]
    return header + body.encode() + draw(st.sampled_from([b"", CLOSE])), texts


@st.composite
def near_valid_stream(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(valid_stream())[0])
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(data)))
        op = draw(st.integers(0, 3))
        if op == 0:
            data[pos:pos] = draw(st.sampled_from(_NASTY))
        elif op == 1:
            del data[pos : pos + draw(st.integers(1, 8))]
        elif op == 2 and pos < len(data):
            data[pos] = draw(st.integers(0, 255))
        else:
            data[pos:pos] = draw(st.binary(max_size=8))
    return bytes(data)


# -- the parser never raises anything else, and keeps its limits ----------------------


@fuzz()
@given(data=st.binary(max_size=400), cuts=cut_lists, with_header=st.booleans())
def test_arbitrary_bytes(data: bytes, cuts: list[int], with_header: bool) -> None:
    parser = StreamParser(SMALL)
    events, _ = run(parser, chunks((HEADER if with_header else b"") + data, cuts))
    check_limits(events, SMALL)


@fuzz(60)
@given(data=near_valid_stream(), cuts=cut_lists)
def test_near_valid_streams(data: bytes, cuts: list[int]) -> None:
    parser = StreamParser(SMALL)
    events, _ = run(parser, chunks(data, cuts))
    check_limits(events, SMALL)


# -- splitting changes nothing -----------------------------------------------------


@fuzz(80)
@given(stream=valid_stream(), cuts=cut_lists, renew=st.sampled_from([None, 1, 2, 7]))
def test_valid_stream_split_anywhere(
    stream: tuple[bytes, list[str]], cuts: list[int], renew: int | None
) -> None:
    """Also with the parser renewing its expat parser between stanzas after
    a few names (normally after RENEW_AFTER_NAMES)."""
    data, texts = stream
    whole, error = run(StreamParser(WIDE), [data])
    assert error is None, error
    assert sum(isinstance(e, ElementReceived) for e in whole) == len(texts)
    with renewing(renew):
        split, error = run(StreamParser(WIDE), chunks(data, cuts))
    assert error is None, error
    assert describe(split) == describe(whole)
    # The same limits decide the same way however the bytes arrive.
    small_whole, e1 = run(StreamParser(SMALL), [data])
    with renewing(renew):
        small_split, e2 = run(StreamParser(SMALL), chunks(data, cuts))
    assert (e1 and e1.condition) == (e2 and e2.condition)
    assert describe(small_split) == describe(small_whole)


@contextmanager
def renewing(after: int | None) -> Iterator[None]:
    if after is None:
        yield
        return
    with patch.object(parser_module, "RENEW_AFTER_NAMES", after):
        yield


@fuzz(60)
@given(stream=valid_stream())
def test_parsed_matches_plain_expat(stream: tuple[bytes, list[str]]) -> None:
    """What our parser yields is what a plain namespace-aware expat sees."""
    data, _ = stream
    events, error = run(StreamParser(WIDE), [data])
    assert error is None
    ours = [normalized(e.element) for e in events if isinstance(e, ElementReceived)]
    theirs: list[object] = []
    stack: list[Element] = []
    p = pyexpat.ParserCreate("UTF-8", "\x02")

    def split(name: str) -> tuple[str, str]:
        uri, _, local = name.rpartition("\x02")
        return uri, local

    def start(name: str, attrs: dict[str, str]) -> None:
        ns, local = split(name)
        converted = {}
        for key, value in attrs.items():
            uri, attr = split(key)
            converted["{" + uri + "}" + attr if uri else attr] = value
        el = Element(ns, local, converted)
        if stack:
            stack[-1].children.append(el)
        stack.append(el)

    def end(name: str) -> None:
        el = stack.pop()
        if len(stack) == 1:
            theirs.append(normalized(el))

    def chars(text: str) -> None:
        if len(stack) > 1:
            stack[-1].children.append(text)

    p.StartElementHandler = start
    p.EndElementHandler = end
    p.CharacterDataHandler = chars
    p.Parse(data, False)
    assert ours == theirs


# -- serializer round trips -----------------------------------------------------------


@fuzz(100)
@given(el=elements())
def test_serialize_then_parse_is_identity(el: Element) -> None:
    text = serialize(el)
    assert normalized(parse_element(text)) == normalized(el)


@fuzz(100)
@given(text=raw_element())
def test_parse_serialize_parse(text: str) -> None:
    first = parse_element(text)
    second = parse_element(serialize(first))
    assert normalized(second) == normalized(first)


# -- what a stanza costs --------------------------------------------------------------


def expansion(el: Element, parent_ns: str = NS.CLIENT) -> int:
    """Namespace URIs a tree repeats beyond its wire form: one per element
    whose namespace differs from its parent's, one per namespaced attribute
    (the serializer declares each again)."""
    total = len(el.ns) if el.ns != parent_ns else 0
    total += sum(len(k) for k in el.attrs if k.startswith("{") and not k.startswith(XML_KEY))
    return total + sum(expansion(child, el.ns) for child in el.elements)


XML_KEY = "{" + NS.XML + "}"
COSTLY = Limits(max_bytes=4000, max_elements=1000)


@fuzz(60)
@given(texts=stanza_texts)
def test_memory_and_output_bounded_by_input(texts: list[str]) -> None:
    """The strings a parsed stanza holds are no more than the bytes it came
    in as, plus the namespace URIs it repeats (which the parser bounds by its
    byte limit), plus the stream header's namespaces it inherits; its whole
    tree and its serialized form are within a constant factor of that."""
    parser = StreamParser(COSTLY)
    parser.feed(HEADER)
    worst_weight, worst_out = 0.0, 0.0
    for text in texts:
        raw = text.encode()
        try:
            events = parser.feed(raw)
        except StreamError as exc:
            assert exc.condition == "policy-violation"
            return
        (event,) = events
        assert isinstance(event, ElementReceived)
        el = event.element
        nodes = sum(1 + len(node.attrs) for node, _ in walk(el))
        repeated = expansion(el)
        assert repeated <= COSTLY.max_bytes
        weight = string_weight(el)
        worst_weight = max(worst_weight, weight / len(raw))
        assert weight <= len(raw) + repeated + len(HEADER), (weight, len(raw), repeated)
        assert tree_bytes(el) <= 200 * len(raw) + 2000
        out = len(serialize(el).encode())
        worst_out = max(worst_out, out / len(raw))
        assert out <= 6 * (len(raw) + repeated) + 40 * nodes
    target(worst_weight, label="string weight per input byte")
    target(worst_out, label="serialized bytes per input byte")
