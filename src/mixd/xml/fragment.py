"""Parse one stored element (archive, offline queue) back into an Element,
with the same restricted parser the streams use."""

from __future__ import annotations

from mixd import ns as NS
from mixd.xml.element import Element
from mixd.xml.parser import ElementReceived, Limits, StreamParser

_OPEN = (f"<stream:stream xmlns='{NS.CLIENT}' xmlns:stream='{NS.STREAM}'>").encode()
_STORED_LIMITS = Limits(max_bytes=16 * 1024 * 1024, max_depth=128, max_elements=1_000_000)


def parse_element(text: str | bytes) -> Element:
    """Parse a single serialized element (written by our serializer with
    jabber:client as the default namespace)."""
    parser = StreamParser(_STORED_LIMITS)
    parser.feed(_OPEN)
    events = parser.feed(text.encode() if isinstance(text, str) else text)
    elements = [e.element for e in events if isinstance(e, ElementReceived)]
    if len(elements) != 1:
        raise ValueError(f"expected one element, got {len(elements)}")
    return elements[0]
