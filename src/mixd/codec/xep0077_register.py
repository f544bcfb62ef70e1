"""XEP-0077 In-Band Registration 2.4: the jabber:iq:register query."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from mixd import ns as NS
from mixd.xml.element import Element


@dataclass(frozen=True, slots=True)
class RegisterQuery:
    XMLNS: ClassVar[str] = NS.REGISTER
    NAME: ClassVar[str] = "query"

    username: str | None = None
    password: str | None = None
    remove: bool = False
    registered: bool = False

    @classmethod
    def decode(cls, element: Element) -> Self:
        return cls(
            element.find_text(NS.REGISTER, "username"),
            element.find_text(NS.REGISTER, "password"),
            element.find(NS.REGISTER, "remove") is not None,
            element.find(NS.REGISTER, "registered") is not None,
        )

    def encode(self) -> Element:
        el = Element(self.XMLNS, self.NAME)
        if self.registered:
            el.add(NS.REGISTER, "registered")
        if self.username is not None:
            el.add_text_child(NS.REGISTER, "username", self.username)
        if self.password is not None:
            el.add_text_child(NS.REGISTER, "password", self.password)
        return el
