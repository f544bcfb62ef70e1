"""Why an occupant left the room when it did not leave by itself: kicked
(307), banned (301) or no longer a member (321), with who did it and why
(XEP-0045 8.2, 9.1, 9.4), and how that shows in its unavailable presence."""

from __future__ import annotations

from dataclasses import dataclass

from mixd import ns as NS
from mixd.xml.element import Element


@dataclass(frozen=True, slots=True)
class Removal:
    codes: tuple[int, ...]
    actor_nick: str | None = None
    reason: str | None = None


def mark(presence: Element, removal: Removal) -> Element:
    """Add the actor and reason to the muc#user item of an occupant presence."""
    x = presence.find(NS.MUC_USER, "x")
    item = x.find(NS.MUC_USER, "item") if x is not None else None
    if item is not None:
        if removal.actor_nick is not None:
            item.add(NS.MUC_USER, "actor", {"nick": removal.actor_nick})
        if removal.reason:
            item.add_text_child(NS.MUC_USER, "reason", removal.reason)
    return presence
