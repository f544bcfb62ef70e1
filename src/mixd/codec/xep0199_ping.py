"""XEP-0199 XMPP Ping 2.0.1: the <ping/> payload."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from mixd import ns as NS
from mixd.xml.element import Element


@dataclass(frozen=True, slots=True)
class Ping:
    XMLNS: ClassVar[str] = NS.PING
    NAME: ClassVar[str] = "ping"

    @classmethod
    def decode(cls, element: Element) -> Self:
        return cls()

    def encode(self) -> Element:
        return Element(self.XMLNS, self.NAME)
