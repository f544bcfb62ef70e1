"""What the roster and presence modules share: the roster-changed event,
record <-> wire conversion, server-made presence stanzas and the one place
storage errors become stanza errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from mixd import ns as NS
from mixd.codec import rfc6121_roster as wire
from mixd.codec.stanza import Kind, Stanza
from mixd.errors import ErrorType, StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.storage.contracts.roster import RosterChange, RosterItem
from mixd.storage.errors import AccountNotFound, StorageUnavailable
from mixd.xml.element import Element


@dataclass(frozen=True, slots=True)
class RosterChanged:
    """An entry of `owner`'s roster changed (the roster module pushes it to
    the interested resources, RFC 6121 section 2.1.6)."""

    owner: JID  # bare
    change: RosterChange


def owner_key(jid: JID) -> tuple[str, str]:
    """(host, username) of a local account's JID."""
    assert jid.local is not None
    return jid.domain, jid.local


def to_wire(item: RosterItem) -> wire.RosterItem:
    """The item as a push or result shows it; a MIX channel carries its
    participant id (XEP-0405), which `unannotated` removes again."""
    return wire.RosterItem(
        jid=JID.parse(item.jid),
        name=item.name,
        subscription=str(item.subscription),
        ask=item.ask,
        approved=item.approved and item.subscription.value in ("none", "to"),
        groups=item.groups,
        mix_participant_id=item.mix_participant_id,
    )


def unannotated(item: wire.RosterItem) -> wire.RosterItem:
    """XEP-0405 5.1.10: no MIX annotation for a client that did not ask."""
    if item.mix_participant_id is None:
        return item
    return replace(item, mix_participant_id=None)


def visible(item: RosterItem | None) -> wire.RosterItem | None:
    """The item as the user's roster shows it, or None if it is not shown."""
    return to_wire(item) if item is not None and item.listed else None


def presence(
    sender: JID, to: JID, type_: str | None = None, children: list[Element | str] | None = None
) -> Stanza:
    """A presence stanza made by the server on someone's behalf."""
    attrs = {"from": str(sender), "to": str(to)}
    if type_ is not None:
        attrs["type"] = type_
    el = Element(NS.CLIENT, "presence", attrs, children)
    return Stanza(Kind.PRESENCE, type_ or "available", None, sender, to, el)


def readdressed(stanza: Element, sender: JID, to: JID) -> Stanza:
    """`stanza` (a presence) sent again from `sender` to `to`. The children
    are shared, not copied: stanzas are serialized as soon as delivered."""
    attrs = dict(stanza.attrs)
    attrs["from"] = str(sender)
    attrs["to"] = str(to)
    el = Element(stanza.ns, stanza.name, attrs, list(stanza.children))
    type_ = attrs.get("type")
    return Stanza(Kind.PRESENCE, type_ or "available", attrs.get("id"), sender, to, el)


@contextmanager
def storage_errors() -> Iterator[None]:
    """Storage errors as the client should see them."""
    try:
        yield
    except StorageUnavailable:
        raise StanzaError(
            StanzaErrorCondition.INTERNAL_SERVER_ERROR,
            "storage unavailable, try again",
            ErrorType.WAIT,
        ) from None
    except AccountNotFound:
        raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "no such account") from None
