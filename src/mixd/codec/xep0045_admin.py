"""XEP-0045 Multi-User Chat 1.35.5: the moderator, admin and owner
payloads: `<query xmlns='muc#admin'>` items (role and affiliation changes
and lists, sections 8-10), `<query xmlns='muc#owner'>` (room configuration
and destroy, section 10), and mediated invitations and declines in
`<x xmlns='muc#user'>` (section 7.8.2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from mixd import ns as NS
from mixd.codec.stanza import CodecError
from mixd.codec.xep0004_forms import DataForm
from mixd.xml.element import Element

ROLES = ("moderator", "participant", "visitor", "none")
AFFILIATIONS = ("owner", "admin", "member", "outcast", "none")
MAX_ITEMS = 100  # items in one muc#admin request; more is abuse


@dataclass(frozen=True, slots=True)
class AdminItem:
    """One `<item/>` of a muc#admin query: a change (set) or a list
    request (get, role or affiliation only), or an entry of a list."""

    affiliation: str | None = None
    role: str | None = None
    jid: str | None = None
    nick: str | None = None
    reason: str | None = None

    @classmethod
    def decode(cls, element: Element) -> Self:
        affiliation, role = element.get("affiliation"), element.get("role")
        if affiliation is not None and affiliation not in AFFILIATIONS:
            raise CodecError(f"unknown affiliation {affiliation!r}")
        if role is not None and role not in ROLES:
            raise CodecError(f"unknown role {role!r}")
        return cls(
            affiliation,
            role,
            element.get("jid"),
            element.get("nick"),
            element.find_text(NS.MUC_ADMIN, "reason"),
        )

    def encode(self) -> Element:
        item = Element(NS.MUC_ADMIN, "item")
        item.set("affiliation", self.affiliation)
        item.set("jid", self.jid)
        item.set("nick", self.nick)
        item.set("role", self.role)
        if self.reason:
            item.add_text_child(NS.MUC_ADMIN, "reason", self.reason)
        return item


def decode_admin_query(element: Element) -> tuple[AdminItem, ...]:
    items = element.find_all(NS.MUC_ADMIN, "item")
    if not items:
        raise CodecError("a muc#admin query needs an item")
    if len(items) > MAX_ITEMS:
        raise CodecError("too many items")
    return tuple(AdminItem.decode(item) for item in items)


def admin_query(items: tuple[AdminItem, ...]) -> Element:
    query = Element(NS.MUC_ADMIN, "query")
    query.children.extend(item.encode() for item in items)
    return query


@dataclass(frozen=True, slots=True)
class DestroyRequest:
    """`<destroy jid=...><reason/><password/></destroy>` of a muc#owner query."""

    jid: str | None = None
    reason: str | None = None
    password: str | None = None

    @classmethod
    def decode(cls, element: Element) -> Self:
        return cls(
            element.get("jid"),
            element.find_text(NS.MUC_OWNER, "reason"),
            element.find_text(NS.MUC_OWNER, "password"),
        )

    def user_element(self) -> Element:
        """The `<destroy/>` of the unavailable presence (muc#user)."""
        destroy = Element(NS.MUC_USER, "destroy")
        destroy.set("jid", self.jid)
        if self.reason:
            destroy.add_text_child(NS.MUC_USER, "reason", self.reason)
        if self.password:
            destroy.add_text_child(NS.MUC_USER, "password", self.password)
        return destroy


@dataclass(frozen=True, slots=True)
class OwnerQuery:
    """A muc#owner query: empty (get the form), a form (submit or cancel),
    or a destroy request."""

    form: DataForm | None = None
    destroy: DestroyRequest | None = None

    @classmethod
    def decode(cls, element: Element) -> Self:
        destroy = element.find(NS.MUC_OWNER, "destroy")
        x = element.find(NS.DATA_FORMS, "x")
        return cls(
            DataForm.decode(x) if x is not None else None,
            DestroyRequest.decode(destroy) if destroy is not None else None,
        )


@dataclass(frozen=True, slots=True)
class Invitation:
    """A mediated `<invite/>` or `<decline/>`: `to` as the sender gives it,
    `from` as the room adds it."""

    kind: str  # "invite" or "decline"
    to: str | None = None
    sender: str | None = None
    reason: str | None = None
    continue_thread: str | None = None

    @classmethod
    def decode(cls, element: Element) -> Self:
        cont = element.find(NS.MUC_USER, "continue")
        return cls(
            element.name,
            element.get("to"),
            element.get("from"),
            element.find_text(NS.MUC_USER, "reason"),
            cont.get("thread") if cont is not None else None,
        )

    def encode(self) -> Element:
        element = Element(NS.MUC_USER, self.kind)
        element.set("from", self.sender)
        element.set("to", self.to)
        if self.reason:
            element.add_text_child(NS.MUC_USER, "reason", self.reason)
        if self.continue_thread is not None:
            element.add(NS.MUC_USER, "continue", {"thread": self.continue_thread})
        return element


def invitations(message: Element) -> tuple[Invitation, ...]:
    """The invites and declines in a message's muc#user `<x/>` elements."""
    found: list[Invitation] = []
    for x in message.find_all(NS.MUC_USER, "x"):
        for kind in ("invite", "decline"):
            found.extend(Invitation.decode(child) for child in x.find_all(NS.MUC_USER, kind))
    if len(found) > MAX_ITEMS:
        raise CodecError("too many invitations")
    return tuple(found)


def is_invitation(message: Element) -> bool:
    """A room's mediated invitation or decline (not a groupchat message)."""
    if message.get("type") == "groupchat":
        return False
    return any(
        x.find(NS.MUC_USER, "invite") is not None or x.find(NS.MUC_USER, "decline") is not None
        for x in message.find_all(NS.MUC_USER, "x")
    )
