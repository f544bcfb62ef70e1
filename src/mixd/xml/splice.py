"""Serialize once, fill in per recipient.

A message fanned out to many recipients differs between copies only in an
attribute or two (`to`, a `by`). `Spliced` serializes the element once with
OPEN where those values go and renders a copy with one `str.join`: the cost
per recipient no longer grows with the size of the message. NUL can never
come from parsed XML, so it cannot collide with content.
"""

from __future__ import annotations

from mixd.xml.element import Element
from mixd.xml.serializer import escape_attr, serialize

OPEN = "\x00"


class Spliced:
    __slots__ = ("_parts",)

    def __init__(self, element: Element, holes: int) -> None:
        """`element` has OPEN as the value of exactly `holes` attributes."""
        self._parts = serialize(element).split(OPEN)
        if len(self._parts) != holes + 1:
            raise ValueError(f"expected {holes} open values, found {len(self._parts) - 1}")

    def render(self, value: str) -> str:
        """The serialized element with every open value set to `value`."""
        return escape_attr(value).join(self._parts)

    def render_jid(self, jid: str) -> str:
        """`render` for a normalised JID, which needs no escaping: RFC 7622
        forbids `"&'<>` in every part but the resource, and no whitespace
        survives PRECIS preparation of a localpart or domain."""
        return jid.join(self._parts)
