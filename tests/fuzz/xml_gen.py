"""Strategies for XML: element trees, raw stanza text (with prefixes, entity
and character references, CDATA), and helpers to compare trees."""

from __future__ import annotations

import sys
from collections.abc import Iterator

from hypothesis import strategies as st

from mixd import ns as NS
from mixd.xml.element import Element

# Characters XML 1.0 forbids (section 2.2), surrogates aside.
_FORBIDDEN = "".join(chr(c) for c in range(0x20) if c not in (0x9, 0xA, 0xD)) + "\ufffe\uffff"
_SPECIAL = "&<>\"'\r\n\t] \u00e9\U0001f600"

xml_chars = st.characters(exclude_categories=("Cs",), exclude_characters=_FORBIDDEN)
xml_text = st.one_of(
    st.text(xml_chars, max_size=10), st.text(st.sampled_from(_SPECIAL), max_size=10)
)

_NAME_START = "abcdefghijklmnopqrstuvwyzABCXYZ_\u00e9\u540d"
_NAME_REST = _NAME_START + "0123456789-."
names = st.builds(
    lambda a, b: a + b,
    st.sampled_from(_NAME_START),
    st.text(alphabet=_NAME_REST, max_size=6),
)  # never starts with "xml": reserved

LONG_URI = "urn:long:" + "l" * 300
_URI_POOL = [
    NS.CLIENT,
    "urn:a",
    "urn:b",
    "http://e.org/p#x}y",
    "urn:\u00e9&<'\"",
    LONG_URI,
    NS.STREAM,
]
_RESERVED = (NS.XML, "http://www.w3.org/2000/xmlns/")
attr_uris = st.one_of(
    st.sampled_from([u for u in _URI_POOL if u != NS.STREAM]),
    st.text(xml_chars, min_size=1, max_size=12).filter(lambda u: u not in _RESERVED),
)
element_uris = st.one_of(st.just(""), st.sampled_from(_URI_POOL), attr_uris)


@st.composite
def attributes(draw: st.DrawFn) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.integers(0, 3))
        local = draw(names)
        if kind == 0:
            key = "{" + draw(attr_uris) + "}" + local
        elif kind == 1:
            key = "{" + NS.XML + "}" + draw(st.sampled_from(["lang", "space", local]))
        else:
            key = local
        attrs[key] = draw(xml_text)
    return attrs


@st.composite
def elements(draw: st.DrawFn, depth: int = 3, top: bool = True) -> Element:
    """An element as code or the parser builds it (any valid namespace,
    names, attributes and mixed content)."""
    ns = draw(element_uris)
    name = draw(names)
    if top and ns == NS.STREAM and name == "stream":
        name = "features"
    el = Element(ns, name, draw(attributes()))
    if depth > 0:
        for _ in range(draw(st.integers(0, 3))):
            if draw(st.booleans()):
                el.children.append(draw(xml_text))
            else:
                el.children.append(draw(elements(depth - 1, top=False)))
    return el


# -- raw stanza text ------------------------------------------------------------------


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attr(text: str) -> str:
    return _escape_text(text).replace("'", "&apos;").replace('"', "&quot;")


@st.composite
def _content_text(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.sampled_from(["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]))
    if kind == 1:
        c = draw(xml_chars.filter(lambda c: c not in "\r"))
        return draw(st.sampled_from([f"&#{ord(c)};", f"&#x{ord(c):x};"]))
    if kind == 2:
        body = draw(xml_text).replace("]]>", "]]")
        return f"<![CDATA[{body}]]>"
    return _escape_text(draw(xml_text))


@st.composite
def raw_element(
    draw: st.DrawFn, depth: int = 3, scope: tuple[str, ...] = (), top: bool = True
) -> str:
    """Well-formed namespaced XML text for one element. `scope` lists the
    prefixes declared by ancestors (p0, p1, ...)."""
    decls: list[str] = []
    if draw(st.booleans()):
        decls.append(f"xmlns='{_escape_attr(draw(element_uris))}'")
    own = list(scope)
    for _ in range(draw(st.integers(0, 2))):
        prefix = f"p{len(own)}"
        decls.append(f"xmlns:{prefix}='{_escape_attr(draw(attr_uris))}'")
        own.append(prefix)
    prefix = draw(st.sampled_from(["", *own]))
    name = draw(names)
    if top and name == "stream":
        name = "stream-x"
    tag = f"{prefix}:{name}" if prefix else name
    attrs: list[str] = []
    for i in range(draw(st.integers(0, 3))):
        local = f"a{i}"  # distinct local names: no duplicate expanded names
        p = draw(st.sampled_from(["", "xml", *own]))
        key = f"{p}:{local}" if p else local
        quote = draw(st.sampled_from(["'", '"']))
        attrs.append(f"{key}={quote}{_escape_attr(draw(xml_text))}{quote}")
    space = draw(st.sampled_from([" ", "\n", "\t ", "\r\n"]))
    head = "<" + tag + "".join(space + a for a in decls + attrs) + draw(st.sampled_from(["", " "]))
    parts: list[str] = []
    if depth > 0:
        for _ in range(draw(st.integers(0, 3))):
            if draw(st.booleans()):
                parts.append(draw(_content_text()))
            else:
                parts.append(draw(raw_element(depth - 1, tuple(own), False)))
    if not parts and draw(st.booleans()):
        return head + "/>"
    return head + ">" + "".join(parts) + f"</{tag}{draw(st.sampled_from(['', ' ', chr(10)]))}>"


# -- comparing trees -----------------------------------------------------------------


def normalized(node: Element | str) -> object:
    """A comparable picture of a tree: adjacent text joined, empty text gone."""
    if isinstance(node, str):
        return node
    children: list[object] = []
    for child in node.children:
        if isinstance(child, str):
            if not child:
                continue
            if children and isinstance(children[-1], str):
                children[-1] += child
                continue
            children.append(child)
        else:
            children.append(normalized(child))
    return (node.ns, node.name, sorted(node.attrs.items()), children)


def walk(el: Element, depth: int = 1) -> Iterator[tuple[Element, int]]:
    yield el, depth
    for child in el.elements:
        yield from walk(child, depth + 1)


def string_weight(el: Element) -> int:
    """Characters held by the distinct string objects of a tree (a string
    shared by many nodes counts once, as it costs memory once)."""
    seen: set[int] = set()
    total = 0

    def count(s: str) -> None:
        nonlocal total
        if id(s) not in seen:
            seen.add(id(s))
            total += len(s)

    for node, _ in walk(el):
        count(node.ns)
        count(node.name)
        for key, value in node.attrs.items():
            count(key)
            count(value)
        for child in node.children:
            if isinstance(child, str):
                count(child)
    return total


def tree_bytes(el: Element) -> int:
    """Rough memory of a tree, for the amplification bound."""
    seen: set[int] = set()
    total = 0
    for node, _ in walk(el):
        for obj in (
            node,
            node.attrs,
            node.children,
            node.ns,
            node.name,
            *node.attrs.keys(),
            *node.attrs.values(),
            *node.children,
        ):
            if id(obj) not in seen:
                seen.add(id(obj))
                total += sys.getsizeof(obj)
    return total
