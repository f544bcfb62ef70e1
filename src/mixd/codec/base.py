"""The shape every typed payload codec has: a wire element <-> a record."""

from __future__ import annotations

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
