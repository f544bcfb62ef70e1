"""Fuzz targets for the payload codecs (docs/fuzzing.md).

Every payload class in `mixd.codec` (found by walking the package: a class
with XMLNS, NAME, decode and encode) and the records payloads are built from
get elements made of the namespaces, element names and attribute values its
module uses, plus random ones. Decoding either succeeds or raises CodecError
(or, where a codec decides the stanza error itself, StanzaError); what
decodes encodes to an element that decodes to the same value, on the wire
too (serialized and parsed again).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mixd.codec
from mixd import ns as NS
from mixd.codec.stanza import CodecError
from mixd.codec.xep0060_pubsub import Unsupported
from mixd.errors import StanzaError
from mixd.xml.element import Element
from mixd.xml.fragment import parse_element
from mixd.xml.serializer import serialize
from tests.fuzz.budget import fuzz
from tests.fuzz.xml_gen import normalized, xml_text

_NS_REF = re.compile(r"\bNS\.([A-Z0-9_]+)")
_LITERAL = re.compile(r"""["']([A-Za-z#][A-Za-z0-9_#:.-]{0,40})["']""")


@dataclass(frozen=True)
class Target:
    cls: Any
    ns: str
    name: str
    namespaces: tuple[str, ...]  # the module's vocabulary
    words: tuple[str, ...]
    pairs: tuple[tuple[str, str], ...]  # (namespace, element name) it spells out

    def __str__(self) -> str:
        return f"{self.cls.__module__.rsplit('.', 1)[-1]}.{self.cls.__qualname__}"


_IMPORT = re.compile(r"from mixd\.codec\.(\w+) import")
_CHILD = re.compile(r"""children\.get\(["']([a-z-]+)["']\)""")
_KEYS = re.compile(r"""^    ["']([a-z-]+)["']: ["']""", re.MULTILINE)  # _UNSUPPORTED tables
_PAIR = re.compile(r"""NS\.([A-Z0-9_]+), ["']([A-Za-z][A-Za-z0-9_-]*)["']""")


def _pairs(module: ModuleType) -> tuple[tuple[str, str], ...]:
    """(namespace, name) of the elements a module and its codec imports
    look for or build, and of their payload classes."""
    modules = [module]
    for name in _IMPORT.findall(inspect.getsource(module)):
        modules.append(importlib.import_module(f"mixd.codec.{name}"))
    found: set[tuple[str, str]] = set()
    for m in modules:
        for ns_name, local in _PAIR.findall(inspect.getsource(m)):
            if hasattr(NS, ns_name):
                found.add((getattr(NS, ns_name), local))
        own: set[str] = set()
        for _, cls in inspect.getmembers(m, inspect.isclass):
            xmlns, name = getattr(cls, "XMLNS", None), getattr(cls, "NAME", None)
            if isinstance(xmlns, str) and isinstance(name, str):
                found.add((xmlns, name))
                own.add(xmlns)
        # Children picked by name from a dict (PubSub operations).
        for local in _CHILD.findall(inspect.getsource(m)) + _KEYS.findall(inspect.getsource(m)):
            found |= {(ns, local) for ns in own}
    return tuple(sorted(found))


def _vocabulary(module: ModuleType) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The namespaces and the element/attribute names and values a codec
    module (and the codec modules it imports) spells out."""
    sources = [inspect.getsource(module)]
    for name in _IMPORT.findall(sources[0]):
        sources.append(inspect.getsource(importlib.import_module(f"mixd.codec.{name}")))
    text = "\n".join(sources)
    namespaces = {getattr(NS, n) for n in _NS_REF.findall(text) if hasattr(NS, n)}
    namespaces -= {NS.XML}  # no element lives in it
    words = set(_LITERAL.findall(text)) - namespaces
    return tuple(sorted(namespaces)), tuple(sorted(words))


# Records that payloads are built from, which name no element of their own:
# the element each is decoded from.
RECORD_ELEMENTS = {
    "rfc6121_roster.RosterItem": (NS.ROSTER, "item"),
    "xep0004_forms.Field": (NS.DATA_FORMS, "field"),
    "xep0004_forms.DataForm": (NS.DATA_FORMS, "x"),
    "xep0045_muc.History": (NS.MUC, "history"),
    "xep0045_muc.MucJoin": (NS.MUC, "x"),
    "xep0045_admin.AdminItem": (NS.MUC_ADMIN, "item"),
    "xep0045_admin.OwnerQuery": (NS.MUC_OWNER, "query"),
    "xep0045_admin.DestroyRequest": (NS.MUC_OWNER, "destroy"),
    "xep0045_admin.Invitation": (NS.MUC_USER, "invite"),
    "xep0059_rsm.RsmRequest": (NS.RSM, "set"),
    "xep0059_rsm.RsmResult": (NS.RSM, "set"),
    "xep0060_pubsub.Item": (NS.PUBSUB, "item"),
    "xep0407_misc.Invitation": (NS.MIX_MISC, "invitation"),
}


def _decoders() -> dict[Any, str]:
    """Every public class in mixd.codec with a decode classmethod."""
    found: dict[Any, str] = {}
    for info in pkgutil.iter_modules(mixd.codec.__path__):
        module = importlib.import_module(f"mixd.codec.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or cls.__name__.startswith("_"):
                continue
            if info.name == "base":
                continue  # the shapes themselves
            if inspect.ismethod(getattr(cls, "decode", None)):
                found[cls] = f"{info.name}.{cls.__qualname__}"
    return found


def _targets() -> list[Target]:
    targets = []
    for cls, key in _decoders().items():
        module = inspect.getmodule(cls)
        assert module is not None
        namespaces, words = _vocabulary(module)
        xmlns, name = getattr(cls, "XMLNS", None), getattr(cls, "NAME", None)
        if not (isinstance(xmlns, str) and isinstance(name, str)):
            if key not in RECORD_ELEMENTS:
                continue  # test_every_decoder_is_a_target says which
            xmlns, name = RECORD_ELEMENTS[key]
        targets.append(Target(cls, xmlns, name, namespaces, words, _pairs(module)))
    return targets


TARGETS = _targets()


def test_every_decoder_is_a_target() -> None:
    """A new codec class is fuzzed as soon as it exists: a payload class by
    its XMLNS and NAME, a record once RECORD_ELEMENTS names its element."""
    assert {str(t) for t in TARGETS} == set(_decoders().values())
    assert len(TARGETS) >= 30


# -- elements from a codec's vocabulary ------------------------------------------------

_NUMBERS = [
    "0",
    "1",
    "-1",
    "10",
    " 5 ",
    "007",
    "1e3",
    "99999999999999999999",
    "\u0661",
    "4294967296",
]
_JIDS = ["a@b", "b", "a@b/c", "@b", "a@", "x@mix.localhost", "a@b@c", "\u00e9@b/\u00e9", ""]
_TIMES = [
    "2024-01-02T03:04:05Z",
    "2024-02-30T00:00:00Z",
    "9999-12-31T23:59:59.999999999-23:59",
    "0001-01-01T00:00:00+23:59",
    "2024-01-02T03:04:05",
]
_VALUES = ["", "true", "false", "1", "=", "#", "a#b", *_NUMBERS, *_JIDS, *_TIMES]


def _elements(t: Target) -> st.SearchStrategy[Element]:
    namespaces = st.sampled_from([*t.namespaces, t.ns, "urn:other"])
    element_names = st.sampled_from([*t.words, t.name, "x"])
    attr_names = st.sampled_from([*t.words, "id", "node", "jid", "type", "var", "{urn:o}a"])
    values = st.one_of(st.sampled_from(_VALUES + list(t.words)), xml_text)
    attrs = st.dictionaries(attr_names, values, max_size=3)

    @st.composite
    def tree(draw: st.DrawFn, parent_ns: str, depth: int) -> Element:
        # An element the codec names, or a name from its vocabulary in the
        # parent's namespace (as most specs nest), or in any namespace.
        kind = draw(st.integers(0, 2))
        if kind == 0 and t.pairs:
            ns, name = draw(st.sampled_from(t.pairs))
        else:
            ns = parent_ns if kind == 1 else draw(namespaces)
            name = draw(element_names)
        el = Element(ns, name, draw(attrs))
        for _ in range(draw(st.integers(0, 3 if depth else 0))):
            if draw(st.integers(0, 2)) == 0:
                el.children.append(draw(values))
            else:
                el.children.append(draw(tree(ns, depth - 1)))
        return el

    @st.composite
    def root(draw: st.DrawFn) -> Element:
        ns = t.ns if draw(st.integers(0, 5)) else draw(namespaces)
        el = Element(ns, t.name, draw(attrs))
        for _ in range(draw(st.integers(0, 4))):
            if draw(st.integers(0, 3)) == 0:
                el.children.append(draw(values))
            else:
                el.children.append(draw(tree(ns, 2)))
        return el

    return root()


def _request_only(value: Any) -> bool:
    """A decoded request the service only refuses (a PubSub use case it does
    not offer): nothing ever encodes it."""
    return isinstance(getattr(value, "op", None), Unsupported)


def _encodes(value: Any) -> bool:
    """Whether the record encodes itself with no help (some are decode-only,
    some need the namespace of the element they go in)."""
    encode = getattr(value, "encode", None)
    if encode is None:
        return False
    return not any(
        p.default is inspect.Parameter.empty for p in inspect.signature(encode).parameters.values()
    )


def _decode(t: Target, el: Element) -> Any:
    try:
        return t.cls.decode(el)
    except (CodecError, StanzaError):
        return None


@pytest.mark.parametrize("t", TARGETS, ids=str)
@fuzz(30)
@given(data=st.data())
def test_decode_fails_only_with_codec_errors_and_round_trips(
    t: Target, data: st.DataObject
) -> None:
    el = data.draw(_elements(t), label="element")
    value = _decode(t, el)
    if value is None or _request_only(value) or not _encodes(value):
        return
    encoded = value.encode()
    assert isinstance(encoded, Element)
    again = t.cls.decode(encoded)
    # The encoded form is canonical: decoding it and encoding again changes nothing.
    assert normalized(again.encode()) == normalized(encoded)
    # The same over the wire: what we write parses and decodes the same.
    wire = t.cls.decode(parse_element(serialize(encoded)))
    assert normalized(wire.encode()) == normalized(encoded)
