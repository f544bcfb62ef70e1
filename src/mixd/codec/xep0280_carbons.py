"""XEP-0280 Message Carbons 1.0.1: the enable/disable payloads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from mixd import ns as NS
from mixd.xml.element import Element


@dataclass(frozen=True, slots=True)
class CarbonsEnable:
    XMLNS: ClassVar[str] = NS.CARBONS
    NAME: ClassVar[str] = "enable"

    @classmethod
    def decode(cls, element: Element) -> Self:
        return cls()

    def encode(self) -> Element:
        return Element(self.XMLNS, self.NAME)


@dataclass(frozen=True, slots=True)
class CarbonsDisable:
    XMLNS: ClassVar[str] = NS.CARBONS
    NAME: ClassVar[str] = "disable"

    @classmethod
    def decode(cls, element: Element) -> Self:
        return cls()

    def encode(self) -> Element:
        return Element(self.XMLNS, self.NAME)
