"""Fuzz targets for the MUC face's XEP-0424/0425 parsing and forms
(`services/mix/muc/retract_rules.py`): any `<moderate/>` or groupchat a
client sends is either read or refused with CodecError or StanzaError, and
what the room writes back is well-formed on the wire."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mixd import ns as NS
from mixd.codec.stanza import CodecError
from mixd.codec.xep0407_misc import MAX_ID_LENGTH
from mixd.errors import StanzaError
from mixd.services.mix.muc import retract_rules as rr
from mixd.xml.element import Element
from mixd.xml.fragment import parse_element
from mixd.xml.serializer import serialize
from tests.fuzz.budget import fuzz
from tests.fuzz.xml_gen import elements, xml_chars, xml_text

# What a parsed stanza can hold: XML characters only.
ids = st.one_of(st.none(), xml_text, st.text(xml_chars, min_size=60, max_size=70))


@st.composite
def vocabulary(draw: st.DrawFn) -> Element:
    """Children a retraction request is made of, and random ones."""
    kind = draw(st.integers(0, 4))
    if kind == 0:
        el = Element(NS.RETRACT, "retract")
        el.set("id", draw(ids))
        return el
    if kind == 1:
        el = Element(rr.MODERATE, "reason")
        el.children.append(draw(st.text(xml_chars, max_size=1100)))
        return el
    if kind == 2:
        return Element(rr.FALLBACK, "fallback", {"for": NS.RETRACT})
    if kind == 3:
        return Element(NS.CLIENT, "body", {})
    return draw(elements(2, top=False))


@st.composite
def containers(draw: st.DrawFn, ns: str, name: str) -> Element:
    el = Element(ns, name)
    el.set("id", draw(ids))
    for _ in range(draw(st.integers(0, 4))):
        el.children.append(draw(vocabulary()))
    return el


def _wire(element: Element) -> None:
    assert parse_element(serialize(element)).name == element.name


@fuzz()
@given(containers(rr.MODERATE, "moderate"))
def test_moderate_requests_are_read_or_refused(payload: Element) -> None:
    try:
        target, reason = rr.moderate_request(payload)
    except (CodecError, StanzaError):
        return
    assert 0 < len(target) <= MAX_ID_LENGTH
    assert reason is None or 0 < len(reason) <= rr.MAX_REASON
    _wire(rr.moderation_request(reason))


@fuzz()
@given(containers(NS.CLIENT, "message"), st.booleans())
def test_groupchat_retractions_are_read_or_refused(message: Element, moderated: bool) -> None:
    try:
        target = rr.own_retraction_target(message)
    except CodecError:
        return
    if target is None:
        return
    request = rr.mix_request(message)
    assert request.find(NS.RETRACT) is None and request.find(NS.CLIENT, "body") is None
    message.set("from", "coven@mix.example/hecate")
    who = rr.Moderator("coven@mix.example/third witch", "occ") if moderated else None
    _wire(rr.muc_retraction(message, target, who))
    _wire(rr.muc_tombstone(message, who))
