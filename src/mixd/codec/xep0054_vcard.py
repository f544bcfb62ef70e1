"""XEP-0054 vcard-temp 1.3.0: the `<vCard/>` payload.

The server does not interpret vCards: it keeps the element as the client
sent it and hands it back, so the record is the element itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Self

from mixd import ns as NS
from mixd.xml.element import Element


@dataclass(frozen=True, slots=True)
class VCard:
    XMLNS: ClassVar[str] = NS.VCARD
    NAME: ClassVar[str] = "vCard"

    element: Element = field(default_factory=lambda: Element(NS.VCARD, "vCard"))

    @property
    def empty(self) -> bool:
        return not self.element.children

    @classmethod
    def decode(cls, element: Element) -> Self:
        return cls(element)

    def encode(self) -> Element:
        return self.element
