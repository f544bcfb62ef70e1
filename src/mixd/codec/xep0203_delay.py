"""XEP-0203 Delayed Delivery 2.0: what a client may not claim.

A `<delay/>` says who delayed a stanza (`from`) and when. A server adds one
when it stores a message or a presence for later, naming itself; a client
may add one naming itself (or nobody). `strip_delays` removes each
direct-child `<delay/>` whose `from` satisfies `claims`, every copy, so a
client cannot pass its own stanza off as one this server held
(RELIABILITY C4). A `from` that is not a valid JID is given as None.
"""

from __future__ import annotations

from collections.abc import Callable

from mixd import ns as NS
from mixd.jid import JID, JIDError
from mixd.xml.element import Element


def _parse_from(value: str | None) -> JID | None:
    if value is None:
        return None
    try:
        return JID.parse(value)
    except JIDError:
        return None


def strip_delays(stanza: Element, claims: Callable[[JID | None], bool]) -> int:
    """Remove each direct-child `<delay/>` whose `from` satisfies `claims`
    (only those that have a `from`); returns how many were removed."""
    kept: list[Element | str] = []
    removed = 0
    for child in stanza.children:
        if (
            isinstance(child, Element)
            and child.is_(NS.DELAY, "delay")
            and "from" in child.attrs
            and claims(_parse_from(child.get("from")))
        ):
            removed += 1
        else:
            kept.append(child)
    if removed:
        stanza.children = kept
    return removed
