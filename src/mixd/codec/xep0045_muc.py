"""XEP-0045 Multi-User Chat 1.35.5: the join element with its history request,
the `<x xmlns='muc#user'>` a room adds to occupant presence, and the
XEP-0421 (1.0.1) occupant id."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Self

from mixd import ns as NS
from mixd.codec.stanza import CodecError
from mixd.codec.xep0082_datetime import parse_datetime
from mixd.xml.element import Element


def _count(element: Element, attr: str) -> int | None:
    value = element.get(attr)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise CodecError(f"history {attr} is not a number") from None
    if number < 0:
        raise CodecError(f"history {attr} is negative")
    return number


@dataclass(frozen=True, slots=True)
class History:
    """What history a joining occupant asks for (XEP-0045 7.2.14); every
    limit given applies."""

    maxstanzas: int | None = None
    maxchars: int | None = None
    seconds: int | None = None
    since: int | None = None  # microseconds since the epoch

    @classmethod
    def decode(cls, element: Element) -> Self:
        since = element.get("since")
        since_micros = parse_datetime(since) if since is not None else None
        return cls(
            _count(element, "maxstanzas"),
            _count(element, "maxchars"),
            _count(element, "seconds"),
            since_micros,
        )


@dataclass(frozen=True, slots=True)
class MucJoin:
    """The MUC `<x/>` (`NS.MUC`) of a join presence."""

    history: History | None = None
    password: str | None = None

    @classmethod
    def decode(cls, element: Element) -> Self:
        history = element.find(NS.MUC, "history")
        return cls(
            History.decode(history) if history is not None else None,
            element.find_text(NS.MUC, "password"),
        )


def user_x(
    affiliation: str,
    role: str,
    jid: str | None = None,
    nick: str | None = None,
    codes: Iterable[int] = (),
) -> Element:
    """`<x xmlns='muc#user'><item .../><status code/>...</x>`."""
    x = Element(NS.MUC_USER, "x")
    item = x.add(NS.MUC_USER, "item", {"affiliation": affiliation, "role": role})
    item.set("jid", jid)
    item.set("nick", nick)
    for code in sorted(set(codes)):
        x.add(NS.MUC_USER, "status", {"code": str(code)})
    return x


def occupant_id(value: str) -> Element:
    """XEP-0421 `<occupant-id/>`."""
    return Element(NS.OCCUPANT_ID, "occupant-id", {"id": value})
