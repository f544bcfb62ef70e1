"""RFC 6121 section 2: the roster query payload, with roster
versioning (section 2.6, formerly XEP-0237), the pre-approval flag
(section 3.4) and the MIX annotation of XEP-0405 section 5.1.10
(`<annotate/>` in a get; `<channel participant-id=.../>` on channel items).

Decoding applies the syntax rules of section 2.3.3 that need no roster: a
malformed item JID is `jid-malformed`, a duplicate group `bad-request`, an
empty or overlong group or name `not-acceptable`. Rules that depend on the
request type or the account (one item per set, no item for oneself) are the
handler's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from mixd import ns as NS
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID, JIDError
from mixd.xml.element import Element

# Server-configured limits of section 2.3.3 (characters).
MAX_NAME = 1024
MAX_GROUP = 1024
MAX_GROUPS = 64  # groups on one item

SUBSCRIPTION_STATES = frozenset({"none", "to", "from", "both"})
REMOVE = "remove"


@dataclass(frozen=True, slots=True)
class RosterItem:
    """One <item/>. `subscription` is one of none/to/from/both, or "remove"
    in a roster set; a client's other values are ignored (section 2.1.2.5)."""

    jid: JID
    name: str | None = None
    subscription: str = "none"
    ask: bool = False  # ask='subscribe': Pending Out (2.1.2.2)
    approved: bool = False  # approved='true': pre-approved (2.1.2.1)
    groups: tuple[str, ...] = ()
    # XEP-0405: a MIX channel's item, annotated; never taken from a client.
    mix_participant_id: str | None = None

    @property
    def remove(self) -> bool:
        return self.subscription == REMOVE

    @classmethod
    def decode(cls, element: Element) -> Self:
        raw_jid = element.get("jid")
        if not raw_jid:
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "roster item without jid")
        try:
            jid = JID.parse(raw_jid)
        except JIDError as exc:
            raise StanzaError(StanzaErrorCondition.JID_MALFORMED, str(exc)) from None
        name = element.get("name") or None
        if name is not None and len(name) > MAX_NAME:
            raise StanzaError(StanzaErrorCondition.NOT_ACCEPTABLE, "item name too long")
        subscription = element.get("subscription", "none")
        if subscription != REMOVE and subscription not in SUBSCRIPTION_STATES:
            subscription = "none"
        return cls(
            jid=jid,
            name=name,
            subscription=subscription,
            ask=element.get("ask") == "subscribe",
            approved=element.get("approved") in ("true", "1"),
            groups=_decode_groups(element),
        )

    def encode(self) -> Element:
        el = Element(NS.ROSTER, "item", {"jid": str(self.jid)})
        if self.name:
            el.attrs["name"] = self.name
        el.attrs["subscription"] = self.subscription
        if self.ask:
            el.attrs["ask"] = "subscribe"
        if self.approved:
            el.attrs["approved"] = "true"
        for group in self.groups:
            el.add_text_child(NS.ROSTER, "group", group)
        if self.mix_participant_id is not None:
            el.add(NS.MIX_ROSTER, "channel", {"participant-id": self.mix_participant_id})
        return el


def _decode_groups(element: Element) -> tuple[str, ...]:
    groups: list[str] = []
    for el in element.find_all(NS.ROSTER, "group"):
        group = el.text
        if not group:
            raise StanzaError(StanzaErrorCondition.NOT_ACCEPTABLE, "empty group name")
        if len(group) > MAX_GROUP:
            raise StanzaError(StanzaErrorCondition.NOT_ACCEPTABLE, "group name too long")
        if group in groups:
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, f"duplicate group {group!r}")
        groups.append(group)
    if len(groups) > MAX_GROUPS:
        raise StanzaError(StanzaErrorCondition.NOT_ACCEPTABLE, "too many groups")
    return tuple(groups)


@dataclass(frozen=True, slots=True)
class RosterQuery:
    """The roster <query ver='...'/>: a get, a set, a result
    or a push. `ver` is None when the attribute is absent; `annotate` is a
    get asking for MIX channel annotations (XEP-0405)."""

    XMLNS: ClassVar[str] = NS.ROSTER
    NAME: ClassVar[str] = "query"

    items: tuple[RosterItem, ...] = ()
    ver: str | None = None
    annotate: bool = False

    @classmethod
    def decode(cls, element: Element) -> Self:
        items = tuple(RosterItem.decode(el) for el in element.find_all(NS.ROSTER, "item"))
        annotate = element.find(NS.MIX_ROSTER, "annotate") is not None
        return cls(items, element.get("ver"), annotate)

    def encode(self) -> Element:
        el = Element(self.XMLNS, self.NAME)
        el.set("ver", self.ver)
        if self.annotate:
            el.add(NS.MIX_ROSTER, "annotate")
        el.children.extend(item.encode() for item in self.items)
        return el
