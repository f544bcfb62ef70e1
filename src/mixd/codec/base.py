"""The shape every typed payload codec has: a wire element <-> a record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol, Self

from mixd.xml.element import Element


class Payload(Protocol):
    XMLNS: ClassVar[str]
    NAME: ClassVar[str]

    @classmethod
    def decode(cls, element: Element) -> Self:
        """Build the record; raises CodecError for input that breaks the spec."""
        ...

    def encode(self) -> Element: ...


@dataclass(frozen=True, slots=True)
class EmptyPayload:
    """A payload that is just an empty element (ping, carbons enable...):
    subclasses set XMLNS and NAME."""

    XMLNS: ClassVar[str]
    NAME: ClassVar[str]

    @classmethod
    def decode(cls, element: Element) -> Self:
        return cls()

    def encode(self) -> Element:
        return Element(self.XMLNS, self.NAME)
