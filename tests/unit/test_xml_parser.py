"""The restricted streaming XML parser and the serializer (RELIABILITY A1-A4, A6, A7).

Each test feeds bytes the way a peer would send them and checks the events or
the stream error condition that comes out.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterable

import pytest

from mixd import ns as NS
from mixd.errors import StreamError, StreamErrorCondition
from mixd.xml.element import Element
from mixd.xml.parser import ElementReceived, Limits, ParserEvent, StreamClosed, StreamOpened
from mixd.xml.parser import StreamParser as Parser
from mixd.xml.serializer import escape_attr, serialize

C = StreamErrorCondition
XML_LANG = "{" + NS.XML + "}lang"

HEADER = (
    b"<?xml version='1.0'?>"
    b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
    b" to='localhost' version='1.0' xml:lang='en'>"
)
BARE_HEADER = HEADER[len(b"<?xml version='1.0'?>") :]

# Multi-byte UTF-8, entity and character references, mixed content, a
# prefixed element and whitespace keepalives between stanzas: splitting this
# anywhere must not change what comes out.
STANZAS = (
    "<message to='bob@localhost' id='m1' type='chat' xml:lang='de'>"
    "<body>hi &amp; bye &lt;3 &#x41;&#66; h\u00e9llo \u2603 \U0001f600</body>"
    "<a:x xmlns:a='urn:a' a:flag='1'>mixed <b>bold</b> tail</a:x>"
    "</message>"
    "\n  \t"
    "<presence/>"
    " "
    "<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>"
).encode()
FULL_STREAM = HEADER + STANZAS + b"</stream:stream>"


# -- helpers ------------------------------------------------------------------


def tree(node: Element | str) -> object:
    """A comparable picture of an element tree."""
    if isinstance(node, str):
        return node
    return (node.ns, node.name, sorted(node.attrs.items()), [tree(c) for c in node.children])


def merge_text(node: Element) -> None:
    """Join adjacent text children (a parser may deliver text in pieces)."""
    merged: list[Element | str] = []
    for child in node.children:
        if isinstance(child, str) and merged and isinstance(merged[-1], str):
            merged[-1] += child
        else:
            if isinstance(child, Element):
                merge_text(child)
            merged.append(child)
    node.children = merged


def describe(events: Iterable[ParserEvent]) -> list[object]:
    out: list[object] = []
    for event in events:
        if isinstance(event, ElementReceived):
            merge_text(event.element)
            out.append(("element", tree(event.element)))
        elif isinstance(event, StreamOpened):
            out.append(("open", event.ns, event.name, event.attrs, event.namespaces))
        else:
            assert isinstance(event, StreamClosed)
            out.append(("close",))
    return out


def feed_chunks(chunks: Iterable[bytes], limits: Limits | None = None) -> list[ParserEvent]:
    parser = Parser(limits or Limits())
    events: list[ParserEvent] = []
    for chunk in chunks:
        events += parser.feed(chunk)
    return events


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def stanzas(data: bytes, limits: Limits | None = None) -> list[Element]:
    """Parse HEADER + data; return the top-level elements."""
    return [
        e.element for e in feed_chunks([HEADER, data], limits) if isinstance(e, ElementReceived)
    ]


def one(data: bytes) -> Element:
    (element,) = stanzas(data)
    return element


def stream_error(chunks: Iterable[bytes], limits: Limits | None = None) -> StreamError:
    parser = Parser(limits or Limits())
    with pytest.raises(StreamError) as info:
        for chunk in chunks:
            parser.feed(chunk)
    return info.value


# -- a full stream, however it is cut --------------------------------------------


def test_full_stream_events() -> None:
    events = feed_chunks([FULL_STREAM])
    assert isinstance(events[0], StreamOpened)
    assert events[0].ns == NS.STREAM and events[0].name == "stream"
    assert events[0].attrs == {"to": "localhost", "version": "1.0", XML_LANG: "en"}
    assert events[0].namespaces == {"": NS.CLIENT, "stream": NS.STREAM}
    kinds = [(e.element.ns, e.element.name) for e in events if isinstance(e, ElementReceived)]
    assert kinds == [(NS.CLIENT, "message"), (NS.CLIENT, "presence"), (NS.CLIENT, "iq")]
    assert isinstance(events[-1], StreamClosed)
    assert len(events) == 5  # whitespace between stanzas yields nothing


def test_same_events_whole_or_byte_by_byte() -> None:
    whole = describe(feed_chunks([FULL_STREAM]))
    assert describe(feed_chunks(chunked(FULL_STREAM, 1))) == whole
    assert describe(feed_chunks(chunked(FULL_STREAM, 7))) == whole


def test_same_events_split_at_every_boundary() -> None:
    whole = describe(feed_chunks([FULL_STREAM]))
    for cut in range(len(FULL_STREAM) + 1):
        split = describe(feed_chunks([FULL_STREAM[:cut], FULL_STREAM[cut:]]))
        assert split == whole, f"different events when split at byte {cut}"


def test_events_come_out_as_soon_as_complete() -> None:
    parser = Parser(Limits())
    assert [type(e) for e in parser.feed(HEADER)] == [StreamOpened]
    assert parser.feed(b"<presence><status>a") == []
    assert [type(e) for e in parser.feed(b"</status></presence><presence")] == [ElementReceived]
    assert [type(e) for e in parser.feed(b"/></stream:stream>")] == [ElementReceived, StreamClosed]


# -- namespaces, xml:lang, content -------------------------------------------------


def test_prefixed_element_resolved() -> None:
    el = one(b"<a:x xmlns:a='urn:a'/>")
    assert (el.ns, el.name) == ("urn:a", "x")


def test_default_namespace_inherited_and_overridden() -> None:
    el = one(b"<iq type='get' id='1'><query xmlns='urn:q'><item/></query></iq>")
    assert el.ns == NS.CLIENT
    query = el.find("urn:q", "query")
    assert query is not None and query.find("urn:q", "item") is not None


def test_prefixed_attribute_in_clark_notation() -> None:
    el = one(b"<x xmlns:a='urn:a' a:b='1' c='2'/>")
    assert el.attrs == {"{urn:a}b": "1", "c": "2"}


def test_xml_lang_attribute() -> None:
    el = one(b"<message xml:lang='de'><body xml:lang='fr'>salut</body></message>")
    assert el.attrs == {XML_LANG: "de"}
    body = el.find(NS.CLIENT, "body")
    assert body is not None and body.attrs == {XML_LANG: "fr"}


def test_mixed_content_preserved_in_order() -> None:
    el = one(b"<message><x xmlns='urn:x'>one <b>two</b> three <i/>four</x></message>")
    merge_text(el)
    x = el.find("urn:x", "x")
    assert x is not None
    assert tree(x) == (
        "urn:x",
        "x",
        [],
        ["one ", ("urn:x", "b", [], ["two"]), " three ", ("urn:x", "i", [], []), "four"],
    )


def test_entity_and_character_references_decoded() -> None:
    el = one(b"<m a='&lt;&amp;&gt;&quot;&apos;'>&amp; &lt; &gt; &#x41;&#66; &quot;&apos;</m>")
    assert el.attrs == {"a": "<&>\"'"}
    assert el.text == "& < > AB \"'"


def test_cdata_is_plain_text() -> None:
    assert one(b"<m><![CDATA[a<b&c]]></m>").text == "a<b&c"


def test_namespace_uri_is_opaque_no_element_confusion() -> None:
    # URIs with spaces, braces and other separator-like characters stay one URI.
    el = one(b"<a:x xmlns:a='urn:evil y'/>")
    assert (el.ns, el.name) == ("urn:evil y", "x")
    el = one(b"<x xmlns='urn:a}y'/>")
    assert (el.ns, el.name) == ("urn:a}y", "x")


# -- RELIABILITY A1: not well-formed ------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"<'/>", id="quote-as-name"),
        pytest.param(b"<a<b/>", id="truncated-tag"),
        pytest.param(b"<a></b>", id="mismatched-end"),
        pytest.param(b"<a>\xff</a>", id="invalid-utf8-byte"),
        pytest.param(b"<a>\xc0\xaf</a>", id="overlong-utf8"),
        pytest.param(b"<a>\xed\xa0\x80</a>", id="utf8-surrogate"),
        pytest.param(b"<a>\xe2\x98x</a>", id="truncated-utf8-sequence"),
        pytest.param(b"<a>\x00</a>", id="nul-byte"),
        pytest.param(b"<a>&#0;</a>", id="nul-char-ref"),
        pytest.param(b"<a b='\x01'/>", id="control-char"),
        pytest.param(b"<x:y/>", id="unbound-prefix"),
        pytest.param(b"<a b='1' b='2'/>", id="duplicate-attribute"),
        pytest.param(b"<a>&undefined;</a>", id="undefined-entity"),
        pytest.param(b"<a>&xxe;</a>", id="entity-without-dtd"),
        pytest.param(b"<x xmlns='urn:a&#x1;y'/>", id="separator-char-in-uri"),
        pytest.param(b"<x xmlns:a='urn:a&#1;b' a:c='1'/>", id="separator-char-in-prefixed-uri"),
    ],
)
def test_not_well_formed(data: bytes) -> None:
    err = stream_error([HEADER, data])
    assert err.condition is C.NOT_WELL_FORMED


def test_not_well_formed_even_when_byte_by_byte() -> None:
    err = stream_error(chunked(HEADER + b"<message><body>ok</body>\xff</message>", 1))
    assert err.condition is C.NOT_WELL_FORMED


def test_garbage_before_the_stream_header() -> None:
    assert stream_error([b"\x00" + BARE_HEADER]).condition is C.NOT_WELL_FORMED
    assert stream_error([b"hello "]).condition is C.NOT_WELL_FORMED
    # A token that never ends is still bounded by the byte limit.
    err = stream_error(chunked(b"a" * 100_000, 100), PREAUTH)
    assert err.condition in (C.POLICY_VIOLATION, C.NOT_WELL_FORMED)


def test_junk_after_stream_close() -> None:
    parser = Parser(Limits())
    parser.feed(HEADER + b"</stream:stream>")
    with pytest.raises(StreamError) as info:
        parser.feed(b"<message/>")
    assert info.value.condition is C.NOT_WELL_FORMED


def test_once_failed_every_feed_raises_again() -> None:
    parser = Parser(Limits())
    parser.feed(HEADER)
    with pytest.raises(StreamError) as first:
        parser.feed(b"<'/>")
    for data in (b"<presence/>", b"", b" "):
        with pytest.raises(StreamError) as again:
            parser.feed(data)
        assert again.value.condition is first.value.condition


# -- RELIABILITY A2: DTDs and entities -------------------------------------------------

BILLION_LAUGHS = (
    b"<?xml version='1.0'?>"
    b"<!DOCTYPE stream:stream ["
    b"<!ENTITY lol 'lol'>"
    + b"".join(
        b"<!ENTITY lol%d '%s'>" % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]>"
    + BARE_HEADER
    + b"<message><body>&lol9;</body></message>"
)
QUADRATIC_BLOWUP = (
    b"<?xml version='1.0'?><!DOCTYPE s [<!ENTITY a '"
    + b"x" * 50_000
    + b"'>]>"
    + BARE_HEADER
    + b"<message><body>"
    + b"&a;" * 1_000
    + b"</body></message>"
)
EXTERNAL_ENTITY = (
    b"<?xml version='1.0'?>"
    b"<!DOCTYPE s [<!ENTITY xxe SYSTEM 'file:///etc/passwd'>]>"
    + BARE_HEADER
    + b"<message><body>&xxe;</body></message>"
)
EXTERNAL_DTD = (
    b"<?xml version='1.0'?><!DOCTYPE s SYSTEM 'http://127.0.0.1:1/evil.dtd'>"
    + BARE_HEADER
    + b"<message/>"
)
PARAMETER_ENTITY = (
    b"<?xml version='1.0'?>"
    b"<!DOCTYPE s [<!ENTITY % p SYSTEM 'file:///etc/passwd'> %p;]>" + BARE_HEADER
)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"<?xml version='1.0'?><!DOCTYPE stream>" + BARE_HEADER, id="doctype"),
        pytest.param(BILLION_LAUGHS, id="billion-laughs"),
        pytest.param(QUADRATIC_BLOWUP, id="quadratic-blowup"),
        pytest.param(EXTERNAL_ENTITY, id="external-entity"),
        pytest.param(EXTERNAL_DTD, id="external-dtd"),
        pytest.param(PARAMETER_ENTITY, id="parameter-entity"),
        pytest.param(HEADER + b"<!DOCTYPE x>", id="doctype-inside-stream"),
        pytest.param(
            HEADER + b"<!DOCTYPE x [<!ENTITY a 'b'>]><m>&a;</m>", id="subset-inside-stream"
        ),
    ],
)
def test_dtd_and_entity_declarations_refused_without_expansion(data: bytes) -> None:
    for chunks in ([data], chunked(data, 64)):
        parser = Parser(Limits())
        events: list[ParserEvent] = []
        with pytest.raises(StreamError) as info:
            for chunk in chunks:
                events += parser.feed(chunk)
        assert info.value.condition in (C.RESTRICTED_XML, C.NOT_WELL_FORMED)
        # Nothing after the DTD was ever delivered, so nothing was expanded.
        assert not [e for e in events if isinstance(e, ElementReceived)]


def test_doctype_before_stream_is_restricted_xml() -> None:
    err = stream_error([b"<?xml version='1.0'?><!DOCTYPE stream>" + BARE_HEADER])
    assert err.condition is C.RESTRICTED_XML


# -- RELIABILITY A3: comments, PIs, declarations, encodings ---------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"<?xml version='1.0'?><!-- hi -->" + BARE_HEADER, id="comment-prolog"),
        pytest.param(HEADER + b"<!-- hi -->", id="comment-between-stanzas"),
        pytest.param(HEADER + b"<m><!-- hi --></m>", id="comment-in-stanza"),
        pytest.param(b"<?xml version='1.0'?><?pi x?>" + BARE_HEADER, id="pi-prolog"),
        pytest.param(HEADER + b"<?pi x?>", id="pi-between-stanzas"),
        pytest.param(HEADER + b"<m><?pi x?></m>", id="pi-in-stanza"),
        pytest.param(b"<?xml version='1.1'?>" + BARE_HEADER, id="xml-1.1"),
    ],
)
def test_restricted_xml(data: bytes) -> None:
    assert stream_error([data]).condition is C.RESTRICTED_XML
    assert stream_error(chunked(data, 1)).condition is C.RESTRICTED_XML


def test_misplaced_xml_declaration() -> None:
    err = stream_error([HEADER + b"<?xml version='1.0'?>"])
    assert err.condition in (C.RESTRICTED_XML, C.NOT_WELL_FORMED)


@pytest.mark.parametrize("encoding", ["ISO-8859-1", "latin1", "UTF-16", "US-ASCII", "EBCDIC"])
def test_non_utf8_encoding_declaration(encoding: str) -> None:
    data = b"<?xml version='1.0' encoding='%s'?>" % encoding.encode() + BARE_HEADER
    assert stream_error([data]).condition is C.UNSUPPORTED_ENCODING


@pytest.mark.parametrize("encoding", ["UTF-8", "utf-8", "utf8"])
def test_utf8_encoding_declaration_accepted(encoding: str) -> None:
    data = b"<?xml version='1.0' encoding='%s'?>" % encoding.encode() + BARE_HEADER
    assert [type(e) for e in feed_chunks([data])] == [StreamOpened]


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-16-le"])
def test_utf16_stream_refused(codec: str) -> None:
    # RFC 6120 11.6: the stream is UTF-8. A UTF-16 byte order mark must not
    # switch the parser to another encoding.
    text = "<?xml version='1.0'?>" + BARE_HEADER.decode() + "<message><body>hi</body></message>"
    data = text.encode(codec)
    if codec != "utf-16":  # the plain codec writes its own BOM
        data = "\ufeff".encode(codec) + data
    err = stream_error([data])
    assert err.condition in (C.UNSUPPORTED_ENCODING, C.NOT_WELL_FORMED)


# -- RELIABILITY A6: byte limit while the stanza is still arriving ---------------------

PREAUTH = Limits(max_bytes=8192)


def bytes_fed_until_error(chunks: Iterable[bytes], limits: Limits) -> int:
    parser = Parser(limits)
    fed = 0
    with pytest.raises(StreamError) as info:
        for chunk in chunks:
            fed += len(chunk)
            parser.feed(chunk)
    assert info.value.condition is C.POLICY_VIOLATION
    return fed


def test_oversized_stanza_refused_while_arriving_in_small_chunks() -> None:
    body = b"<message><body>" + b"x" * 1_000_000 + b"</body></message>"
    fed = bytes_fed_until_error([HEADER, *chunked(body, 100)], PREAUTH)
    assert fed <= len(HEADER) + PREAUTH.max_bytes + 100


def test_oversized_stanza_in_one_chunk() -> None:
    body = b"<message><body>" + b"x" * 20_000 + b"</body></message>"
    assert stream_error([HEADER, body], PREAUTH).condition is C.POLICY_VIOLATION


def test_huge_attribute_value_refused_before_the_tag_ends() -> None:
    start = b"<message to='" + b"a" * 1_048_576  # never closed
    fed = bytes_fed_until_error([HEADER, *chunked(start, 512)], PREAUTH)
    assert fed <= len(HEADER) + PREAUTH.max_bytes + 512


def test_huge_stream_header_refused() -> None:
    header = BARE_HEADER[:-1] + b" x='" + b"a" * 100_000
    fed = bytes_fed_until_error(chunked(header, 256), PREAUTH)
    assert fed <= PREAUTH.max_bytes + 256


def test_stanzas_under_the_limit_pass_even_if_together_over_it() -> None:
    stanza = b"<message><body>" + b"x" * 3_000 + b"</body></message>"
    assert len(stanzas(stanza * 20, PREAUTH)) == 20
    events = feed_chunks([HEADER, *chunked(stanza * 20, 1000)], PREAUTH)
    assert sum(isinstance(e, ElementReceived) for e in events) == 20


def test_limit_can_be_raised_after_authentication() -> None:
    parser = Parser(PREAUTH)
    parser.feed(HEADER)
    parser.set_limits(Limits(max_bytes=262_144))
    big = b"<message><body>" + b"x" * 100_000 + b"</body></message>"
    assert [type(e) for e in parser.feed(big)] == [ElementReceived]


@pytest.mark.parametrize("size", [1, 7, 4096, None])
def test_whitespace_between_stanzas_is_fine_in_large_amounts(size: int | None) -> None:
    limits = Limits(max_bytes=1000)
    spaces = b" \n\t\r" * 5_000  # 20 x the stanza limit
    data = HEADER + b"<presence/>" + spaces + b"<presence/>" + spaces + b"</stream:stream>"
    events = feed_chunks(chunked(data, size) if size else [data], limits)
    assert [type(e) for e in events] == [
        StreamOpened,
        ElementReceived,
        ElementReceived,
        StreamClosed,
    ]


# -- RELIABILITY A7: depth, element and attribute bombs ------------------------------


def test_depth_bomb() -> None:
    bomb = b"<message>" + b"<a>" * 10_000 + b"</a>" * 10_000 + b"</message>"
    assert len(bomb) < Limits().max_bytes
    assert stream_error([HEADER, bomb]).condition is C.POLICY_VIOLATION


def test_depth_at_the_limit_is_fine() -> None:
    depth = Limits().max_depth
    nested = b"<a>" * depth + b"</a>" * depth
    assert len(stanzas(nested)) == 1
    deeper = b"<a>" + nested + b"</a>"
    assert stream_error([HEADER, deeper]).condition is C.POLICY_VIOLATION


def test_depth_bomb_refused_before_it_is_complete() -> None:
    parser = Parser(Limits())
    parser.feed(HEADER)
    with pytest.raises(StreamError) as info:
        parser.feed(b"<a>" * 1_000)  # never closed
    assert info.value.condition is C.POLICY_VIOLATION


def test_element_count_bomb() -> None:
    limits = Limits(max_bytes=10_000_000)
    bomb = b"<message>" + b"<a/>" * 100_000 + b"</message>"
    assert stream_error([HEADER, *chunked(bomb, 4096)], limits).condition is C.POLICY_VIOLATION


def test_element_count_is_per_stanza() -> None:
    limits = Limits(max_elements=10)
    stanza = b"<m>" + b"<a/>" * 8 + b"</m>"
    assert len(stanzas(stanza * 50, limits)) == 50
    too_many = b"<m>" + b"<a/>" * 10 + b"</m>"
    assert stream_error([HEADER, too_many], limits).condition is C.POLICY_VIOLATION


def test_attribute_count_bomb() -> None:
    bomb = b"<message " + b" ".join(b"a%d=''" % i for i in range(10_000)) + b"/>"
    assert len(bomb) < Limits().max_bytes
    assert stream_error([HEADER, bomb]).condition is C.POLICY_VIOLATION


def test_namespace_declaration_bomb() -> None:
    # Namespace declarations are attributes too (10^4 of them is ~150 KB,
    # under the post-auth byte limit); they must count against max_attrs.
    bomb = b"<message " + b" ".join(b"xmlns:p%d='urn:x'" % i for i in range(10_000)) + b"/>"
    assert len(bomb) < Limits().max_bytes
    assert stream_error([HEADER, bomb]).condition is C.POLICY_VIOLATION


def test_one_megabyte_attribute_value() -> None:
    bomb = b"<message a='" + b"v" * 1_048_576 + b"'/>"
    assert stream_error([HEADER, bomb]).condition is C.POLICY_VIOLATION


@pytest.mark.parametrize(
    "bomb",
    [
        pytest.param(b"<message a='" + b"v" * 1_048_576 + b"'/>", id="one-megabyte-value"),
        pytest.param(b"<message>" + b"<a/>" * 100_000 + b"</message>", id="element-count"),
        pytest.param(b"<message>" + b"<a>" * 10_000, id="depth"),
        pytest.param(
            b"<message " + b" ".join(b"a%d=''" % i for i in range(30_000)) + b"/>",
            id="attribute-count",
        ),
        pytest.param(b"<message><body>" + b"x" * 1_000_000, id="text"),
    ],
)
def test_bomb_peak_memory_is_a_bounded_multiple_of_bytes_received(bomb: bytes) -> None:
    """RELIABILITY A7: while a bomb arrives (4 KiB reads), the parser's peak
    memory stays within a fixed multiple of the bytes it was given before it
    refused them. Measured: about 1x for text, 3x for a huge attribute value,
    10x for depth, 25x for attributes (one start tag is buffered whole) and
    50-75x for 10^4 empty elements, the smallest possible (the element cap
    is reached after 40 kB: about 3 MB of parsed elements)."""
    parser = Parser(Limits())
    parser.feed(HEADER)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        fed = 0
        with pytest.raises(StreamError) as info:
            for chunk in chunked(bomb, 4096):
                fed += len(chunk)
                parser.feed(chunk)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert info.value.condition is C.POLICY_VIOLATION
    assert fed <= Limits().max_bytes + 4096
    assert peak <= 100 * fed and peak <= 8 * 1024 * 1024, (peak, fed)


# A namespace URI declared once and used many times (found by fuzzing):
# 74 KB of stanza used to become ~180 MB of strings and as much serialized.
LONG_URI = b"urn:" + b"x" * 20_000


def test_namespace_uri_used_many_times_is_held_once() -> None:
    stanza = b"<message xmlns:p='" + LONG_URI + b"'>" + b"<p:a p:k=''/>" * 5 + b"</message>"
    children = list(one(stanza).elements)
    assert len(children) == 5
    assert all(c.ns is children[0].ns for c in children)
    assert all(next(iter(c.attrs)) is next(iter(children[0].attrs)) for c in children)
    inherited = one(b"<m xmlns='" + LONG_URI + b"'>" + b"<a/><b/>" * 3 + b"</m>")
    assert all(c.ns is inherited.ns for c in inherited.elements)


@pytest.mark.parametrize(
    "use",
    [
        b"<p:a/>",  # prefixed elements: each written with its own xmlns
        b"<a p:k=''/>",  # prefixed attributes: each written with its own declaration
        b"<a xmlns='urn:y'><p:b/></a>",
    ],
)
def test_namespace_uri_repeated_beyond_the_byte_limit(use: bytes) -> None:
    limits = Limits(max_bytes=262_144)
    uri = b"urn:" + b"x" * 60_000
    fits = b"<message xmlns:p='" + uri + b"'>" + use * 3 + b"</message>"
    (el,) = stanzas(fits, limits)
    assert len(serialize(el)) < 4 * limits.max_bytes
    bomb = b"<message xmlns:p='" + uri + b"'>" + use * 5 + b"</message>"
    assert len(bomb) < limits.max_bytes
    assert stream_error([HEADER, bomb], limits).condition is C.POLICY_VIOLATION


# -- serializer -------------------------------------------------------------------------


def roundtrip(el: Element) -> Element:
    return one(serialize(el).encode())


def test_serializer_roundtrip_of_parsed_stanza() -> None:
    original = one(STANZAS.split(b"\n")[0])
    again = roundtrip(original)
    merge_text(original)
    merge_text(again)
    assert tree(again) == tree(original)


def test_serializer_roundtrip_of_built_tree() -> None:
    el = Element(NS.CLIENT, "message", {"to": "bob@localhost", XML_LANG: "en", "{urn:a}k": "v"})
    el.add_text_child(NS.CLIENT, "body", "a & b < c > d ]]> e \"q\" 'a'")
    x = el.add("urn:x", "x", {"{urn:b}k": "1", "{urn:c}k": "2"})
    x.append("text ")
    x.add("urn:x", "y").append("inner")
    x.append(" tail")
    el.add("", "nons")
    assert tree(roundtrip(el)) == tree(el)


def test_serializer_only_declares_namespace_where_it_changes() -> None:
    el = Element(NS.CLIENT, "iq", {"type": "get", "id": "1"})
    el.add(NS.PING, "ping")
    assert serialize(el) == '<iq type="get" id="1"><ping xmlns="urn:xmpp:ping"/></iq>'
    assert serialize(Element("", "x")) == '<x xmlns=""/>'


def test_attribute_escaping() -> None:
    value = "a&b<c>d\"e'f\ng\th\ri"
    out = serialize(Element(NS.CLIENT, "m", {"v": value}))
    assert out == '<m v="a&amp;b&lt;c&gt;d&quot;e&apos;f&#10;g&#9;h&#13;i"/>'
    assert roundtrip(Element(NS.CLIENT, "m", {"v": value})).attrs == {"v": value}
    assert escape_attr('<&>"\n') == "&lt;&amp;&gt;&quot;&#10;"


def test_text_escaping() -> None:
    el = Element(NS.CLIENT, "m", None, ["a&b<c>d ]]> \"'"])
    assert serialize(el) == "<m>a&amp;b&lt;c&gt;d ]]&gt; \"'</m>"
    assert roundtrip(el).text == "a&b<c>d ]]> \"'"


def test_text_with_carriage_return_survives_roundtrip() -> None:
    # A stanza carrying &#13; must leave the server with the same text: a raw
    # CR in the output is turned into LF by the receiver's parser.
    received = one(b"<message><body>line1&#13;\nline2&#13;</body></message>")
    body = received.find(NS.CLIENT, "body")
    assert body is not None and body.text == "line1\r\nline2\r"
    again = roundtrip(received).find(NS.CLIENT, "body")
    assert again is not None and again.text == "line1\r\nline2\r"


def test_namespaced_attribute_with_brace_in_uri_roundtrips() -> None:
    # A peer may declare any URI; a '}' in it must not make the server write
    # XML that the next hop cannot parse.
    received = one(b"<message xmlns:a='urn:}evil' a:b='v'><body>hi</body></message>")
    assert tree(roundtrip(received)) == tree(received)


def test_names_a_peer_sends_are_not_kept() -> None:
    """RELIABILITY F5: expat keeps every name it meets for the life of its
    parser; StreamParser starts a fresh one between stanzas, so a stream of
    ever new names does not grow it (10,000 more stanzas, no more memory)."""
    parser = Parser(Limits())
    parser.feed(HEADER)

    def stanzas(start: int) -> bytes:
        return b"".join(
            b"<message><x%d xmlns='urn:n%d' a%d='v'/></message>" % (n, n, n)
            for n in range(start, start + 1000)
        )

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        held = []
        for batch in range(15):
            assert len(parser.feed(stanzas(batch * 1000))) == 1000
            held.append(tracemalloc.get_traced_memory()[0] - before)
    finally:
        tracemalloc.stop()
    assert max(held[5:]) < 256 * 1024, held
    assert max(held[10:]) <= max(held[:5]) + 16 * 1024, held


def test_a_renewed_parser_gives_the_same_events(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh expat parser after every few names, at any split of the
    input: the same elements come out, with the stream's namespaces."""
    monkeypatch.setattr("mixd.xml.parser.RENEW_AFTER_NAMES", 3)
    data = HEADER.replace(b" to=", b" xmlns:foo='urn:foo' to=") + b"".join(
        [STANZAS, b"<foo:bar x='1'/>", STANZAS, b"</stream:stream>"]
    )
    expected = describe(feed_chunks([data]))
    assert len(expected) == 9 and expected[-1] == ("close",)
    for size in (1, 2, 3, 7, 64):
        assert describe(feed_chunks(chunked(data, size))) == expected


def test_released_parser_is_renewed_on_the_next_input() -> None:
    """An idle stream's expat parser is freed between stanzas; the next
    input renews it inside the same stream (namespaces, prefixes) and a
    stanza split across the release point is refused release."""
    parser = Parser(Limits())
    parser.feed(HEADER)
    parser.feed(b"<message to='a@example.org'><body>one</body></message>")
    assert parser.release()
    assert not parser.release()  # nothing left to free
    parser.feed(b"<message to='a@example.org'><bo")
    assert not parser.release()  # mid-stanza: the parser holds its state
    events = parser.feed(b"dy>two</body></message>")
    assert parser.release()
    ping = b"<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq></stream:stream>"
    events += parser.feed(ping)
    elements = [e.element for e in events if isinstance(e, ElementReceived)]
    assert [e.name for e in elements] == ["message", "iq"]
    assert {e.ns for e in elements} == {"jabber:client"}
    assert elements[0].find("jabber:client", "body").text == "two"  # type: ignore[union-attr]
    assert elements[1].find("urn:xmpp:ping", "ping") is not None
    assert isinstance(events[-1], StreamClosed)
