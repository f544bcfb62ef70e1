"""XEP-0191 Blocking Command 1.3: <blocklist/>, <block/> and <unblock/>.

Items keep the client's text: the service parses each JID so that a bad one
is answered with `jid-malformed` rather than the codec's `bad-request`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from mixd import ns as NS
from mixd.codec.stanza import CodecError
from mixd.xml.element import Element


def _items(element: Element) -> tuple[str, ...]:
    jids = []
    for item in element.find_all(NS.BLOCKING, "item"):
        jid = item.get("jid")
        if jid is None:
            raise CodecError("an item needs a jid")
        jids.append(jid)
    return tuple(jids)


def _encode(ns: str, name: str, jids: tuple[str, ...]) -> Element:
    element = Element(ns, name)
    for jid in jids:
        element.add(ns, "item", {"jid": jid})
    return element


@dataclass(frozen=True, slots=True)
class _JidList:
    """The three payloads are the same shape: a list of <item jid=''/>."""

    XMLNS: ClassVar[str] = NS.BLOCKING
    NAME: ClassVar[str]

    jids: tuple[str, ...] = ()

    @classmethod
    def decode(cls, element: Element) -> Self:
        return cls(_items(element))

    def encode(self) -> Element:
        return _encode(self.XMLNS, self.NAME, self.jids)


@dataclass(frozen=True, slots=True)
class Blocklist(_JidList):
    """The list: empty in a get, every blocked JID in the result."""

    NAME: ClassVar[str] = "blocklist"


@dataclass(frozen=True, slots=True)
class Block(_JidList):
    """Block these JIDs (at least one; the service says `bad-request`)."""

    NAME: ClassVar[str] = "block"


@dataclass(frozen=True, slots=True)
class Unblock(_JidList):
    """Unblock these JIDs; none means every JID."""

    NAME: ClassVar[str] = "unblock"
