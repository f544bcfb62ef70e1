"""XEP-0403 MIX-PRESENCE 0.3.2 payloads: the `<mix/>` of `NS.MIX_PRESENCE`
a channel adds to the presence it distributes (the client's full JID and the
participant's nick)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from mixd import ns as NS
from mixd.xml.element import Element


@dataclass(frozen=True, slots=True)
class MixPresence:
    XMLNS: ClassVar[str] = NS.MIX_PRESENCE
    NAME: ClassVar[str] = "mix"

    jid: str | None = None  # the client's full JID (absent only when JIDs are hidden)
    nick: str | None = None

    @classmethod
    def decode(cls, element: Element) -> Self:
        return cls(element.find_text(cls.XMLNS, "jid"), element.find_text(cls.XMLNS, "nick"))

    @classmethod
    def find(cls, presence: Element) -> Self | None:
        found = presence.find(cls.XMLNS, cls.NAME)
        return None if found is None else cls.decode(found)

    def encode(self) -> Element:
        el = Element(self.XMLNS, self.NAME)
        if self.jid is not None:
            el.add_text_child(self.XMLNS, "jid", self.jid)
        if self.nick is not None:
            el.add_text_child(self.XMLNS, "nick", self.nick)
        return el


def strip_mix(presence: Element) -> Element:
    """A copy of a client's presence without routing attributes and without
    any `<mix/>` the client put there (only the channel writes it)."""
    attrs = {k: v for k, v in presence.attrs.items() if k not in ("from", "to", "id")}
    children = [
        c.copy() if isinstance(c, Element) else c
        for c in presence.children
        if not (isinstance(c, Element) and c.is_(NS.MIX_PRESENCE, "mix"))
    ]
    return Element(NS.CLIENT, "presence", attrs, children)
