"""XEP-0407 MIX-MISC 0.1.2 elements (`urn:xmpp:mix:misc:0`): message
retraction and its tombstone, nick registration, invitations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from mixd import ns as NS
from mixd.codec.stanza import CodecError
from mixd.codec.xep0082_datetime import format_datetime
from mixd.codec.xep0369_mix import NAMESPACES
from mixd.xml.element import Element

MAX_ID_LENGTH = 64  # archive ids are 32 characters; anything longer names nothing


def retract_target(message: Element) -> str | None:
    """The archive id a `<retract/>` names; None when there is no
    `<retract/>`; CodecError when it has no usable id."""
    retract = message.find(NS.MIX_MISC, "retract")
    if retract is None:
        return None
    target = retract.get("id") or ""
    if not target or len(target) > MAX_ID_LENGTH:
        raise CodecError("<retract/> needs the id of the message")
    return target


def is_retraction(message: Element) -> bool:
    return message.find(NS.MIX_MISC, "retract") is not None


def is_tombstone(message: Element) -> bool:
    return message.find(NS.MIX_MISC, "retracted") is not None


def tombstone(stored: Element, by: str, when: int) -> Element:
    """What stays of a retracted message: its attributes and `<mix/>`
    attribution (who sent it), everything else (body, payloads) gone, and
    `<retracted by time/>` saying who retracted it and when."""
    kept = Element(stored.ns, stored.name, dict(stored.attrs))
    for ns in NAMESPACES:
        for mix in stored.find_all(ns, "mix"):
            kept.append(mix.copy())
    kept.add(NS.MIX_MISC, "retracted", {"by": by, "time": format_datetime(when)})
    return kept


def retract_element(target: str) -> Element:
    return Element(NS.MIX_MISC, "retract", {"id": target})


@dataclass(frozen=True, slots=True)
class Register:
    """Nick registration with the service: `<register><nick/></register>`;
    the request may leave the nick out (the service assigns one)."""

    XMLNS: ClassVar[str] = NS.MIX_MISC
    NAME: ClassVar[str] = "register"

    nick: str | None = None
    ns: str = NS.MIX_MISC

    @classmethod
    def decode(cls, element: Element) -> Self:
        return cls(element.find_text(element.ns, "nick"), element.ns)

    def encode(self) -> Element:
        el = Element(self.ns, self.NAME)
        if self.nick is not None:
            el.add_text_child(self.ns, "nick", self.nick)
        return el


@dataclass(frozen=True, slots=True)
class Invitation:
    """`<invitation>` with inviter, invitee, channel and token, each a
    required child."""

    inviter: str
    invitee: str
    channel: str
    token: str

    FIELDS: ClassVar[tuple[str, ...]] = ("inviter", "invitee", "channel", "token")

    @classmethod
    def decode(cls, element: Element) -> Self:
        values = [(element.find_text(element.ns, name) or "").strip() for name in cls.FIELDS]
        if any(not value or len(value) > 3071 for value in values):
            raise CodecError("<invitation/> needs inviter, invitee, channel and token")
        inviter, invitee, channel, token = values
        return cls(inviter, invitee, channel, token)

    def encode(self, ns: str = NS.MIX_MISC) -> Element:
        el = Element(ns, "invitation")
        for name in self.FIELDS:
            el.add_text_child(ns, name, getattr(self, name))
        return el

    @classmethod
    def find(cls, parent: Element) -> Self | None:
        """The `<invitation/>` child of `parent`, in the misc namespace or
        (inside a core `<join/>`) in the parent's."""
        for ns in dict.fromkeys((NS.MIX_MISC, parent.ns)):
            el = parent.find(ns, "invitation")
            if el is not None:
                return cls.decode(el)
        return None
