"""XEP-0359 Unique and Stable Stanza IDs 0.7.0: `<stanza-id/>` and `<origin-id/>`.

Business rule 2: an entity that assigns stanza ids deletes every
`<stanza-id/>` whose `by` it would set itself, all copies, even when it adds
none. `strip_stanza_ids` takes the decision as a predicate on the parsed
`by`; a `by` that is not a valid JID is given to it as None.
"""

from __future__ import annotations

from collections.abc import Callable

from mixd import ns as NS
from mixd.jid import JID, JIDError
from mixd.xml.element import Element


def _parse_by(value: str | None) -> JID | None:
    if not value:
        return None
    try:
        return JID.parse(value)
    except JIDError:
        return None


def strip_stanza_ids(message: Element, claims: Callable[[JID | None], bool]) -> int:
    """Remove each direct-child `<stanza-id/>` whose `by` satisfies `claims`;
    returns how many were removed."""
    kept: list[Element | str] = []
    removed = 0
    for child in message.children:
        if (
            isinstance(child, Element)
            and child.is_(NS.SID, "stanza-id")
            and claims(_parse_by(child.get("by")))
        ):
            removed += 1
        else:
            kept.append(child)
    if removed:
        message.children = kept
    return removed


def add_stanza_id(message: Element, stanza_id: str, by: JID) -> Element:
    return message.add(NS.SID, "stanza-id", {"id": stanza_id, "by": str(by)})


def stanza_ids(message: Element) -> list[tuple[str | None, str | None]]:
    """(id, by) of every direct-child `<stanza-id/>`, as written."""
    return [(el.get("id"), el.get("by")) for el in message.find_all(NS.SID, "stanza-id")]


def origin_id(message: Element) -> str | None:
    """The client's `<origin-id/>`, if it has a non-empty id."""
    el = message.find(NS.SID, "origin-id")
    return (el.get("id") or None) if el is not None else None
