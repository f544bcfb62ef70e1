"""XEP-0405 MIX-PAM 0.5.3 payloads: client-join and client-leave, in
`urn:xmpp:mix:pam:2` and the `pam:0` of ejabberd's guide (answered in kind)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from mixd import ns as NS
from mixd.codec.stanza import CodecError
from mixd.codec.xep0369_mix import NAMESPACES as CORE_NAMESPACES
from mixd.xml.element import Element


@dataclass(frozen=True, slots=True)
class _Wrapper:
    """<client-join|client-leave channel=...> around a core request/answer."""

    channel: str | None
    inner: Element
    ns: str

    @classmethod
    def _decode(cls, element: Element, inner_name: str) -> tuple[str | None, Element]:
        inner = next(
            (e for e in element.elements if e.name == inner_name and e.ns in CORE_NAMESPACES),
            None,
        )
        if inner is None:
            raise CodecError(f"<{element.name}/> needs a <{inner_name}/>")
        return element.get("channel"), inner

    def _encode(self, name: str) -> Element:
        el = Element(self.ns, name)
        el.set("channel", self.channel)
        el.append(self.inner)
        return el


class _Join(_Wrapper):
    NAME: ClassVar[str] = "client-join"

    @classmethod
    def decode(cls, element: Element) -> Self:
        channel, inner = cls._decode(element, "join")
        return cls(channel, inner, element.ns)

    def encode(self) -> Element:
        return self._encode(self.NAME)


class _Leave(_Wrapper):
    NAME: ClassVar[str] = "client-leave"

    @classmethod
    def decode(cls, element: Element) -> Self:
        channel, inner = cls._decode(element, "leave")
        return cls(channel, inner, element.ns)

    def encode(self) -> Element:
        return self._encode(self.NAME)


# One class per namespace: routes are keyed by (namespace, element).
@dataclass(frozen=True, slots=True)
class ClientJoin(_Join):
    XMLNS: ClassVar[str] = NS.MIX_PAM


@dataclass(frozen=True, slots=True)
class ClientJoin0(_Join):
    XMLNS: ClassVar[str] = NS.MIX_PAM_0


@dataclass(frozen=True, slots=True)
class ClientLeave(_Leave):
    XMLNS: ClassVar[str] = NS.MIX_PAM


@dataclass(frozen=True, slots=True)
class ClientLeave0(_Leave):
    XMLNS: ClassVar[str] = NS.MIX_PAM_0
