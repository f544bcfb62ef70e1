"""Serialize once, fill in per recipient."""

from __future__ import annotations

import pytest

from mixd import ns as NS
from mixd.xml.element import Element
from mixd.xml.fragment import parse_element
from mixd.xml.serializer import serialize
from mixd.xml.splice import OPEN, Spliced


def message(to: str, by: str) -> Element:
    element = Element(NS.CLIENT, "message", {"from": "c@mix.example/p", "to": to, "id": "x1"})
    element.add(NS.CLIENT, "body").append("fish & <chips>")
    element.add(NS.SID, "stanza-id", {"id": "x1", "by": by})
    return element


def test_each_copy_is_the_element_serialized_for_that_recipient() -> None:
    spliced = Spliced(message(OPEN, OPEN), holes=2)
    for user in ("a@example.org", "b@example.org"):
        assert spliced.render_jid(user) == serialize(message(user, user))
        assert parse_element(spliced.render_jid(user)).get("to") == user


def test_values_that_need_escaping_are_escaped() -> None:
    spliced = Spliced(message(OPEN, OPEN), holes=2)
    odd = 'a@example.org/it\'s "<&>"'
    assert parse_element(spliced.render(odd)).get("to") == odd


def test_the_number_of_open_values_is_checked() -> None:
    with pytest.raises(ValueError):
        Spliced(message(OPEN, "someone@example.org"), holes=2)
