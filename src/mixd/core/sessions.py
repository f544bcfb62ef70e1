"""Bound client sessions: who is online, under which full JID.

Resource policy (RFC 6120 section 7.7.2): a client that asks for no resource
gets a random one; a resource already in use either replaces the old session
(which gets a `conflict` stream error) or is refused, by configuration.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from typing import Literal, Protocol

from mixd import ns as NS
from mixd.errors import AppCondition, ErrorType, StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.xml.element import Element


class Session(Protocol):
    jid: JID  # full JID once bound
    available: bool  # sent initial presence (RFC 6121 section 4.2)
    priority: int
    features: frozenset[str] | None  # what the client supports (XEP-0115), once known

    def deliver(self, element: Element) -> None:
        """Queue a stanza to the client; never blocks."""
        ...

    def deliver_xml(self, data: str) -> None:
        """Queue a stanza already serialized (jabber:client the default
        namespace), e.g. one copy of a message serialized once for many."""
        ...

    def replaced(self) -> None:
        """Another session took this resource: end with `conflict`."""
        ...

    def terminate(self, text: str) -> None:
        """End the session now (e.g. its account was deleted): the client
        gets a `not-authorized` stream error."""
        ...


class SessionManager:
    def __init__(
        self, max_resources: int, conflict: Literal["replace", "refuse"] = "replace"
    ) -> None:
        self.max_resources = max_resources
        self.conflict = conflict
        self._by_bare: dict[JID, dict[str, Session]] = {}
        self._by_text: dict[str, dict[str, Session]] = {}  # same dicts, keyed by str(bare)

    def bind(self, session: Session, bare: JID, resource: str | None) -> JID:
        resources = self._by_bare.get(bare, {})
        if resource is None:
            resource = secrets.token_hex(6)
            while resource in resources:
                resource = secrets.token_hex(6)
        old = resources.get(resource)
        if old is not None and self.conflict == "refuse":
            raise StanzaError(StanzaErrorCondition.CONFLICT, "resource in use")
        if old is None and len(resources) >= self.max_resources:
            # XEP-0205 4.4 (example 1): cancel, with its own condition.
            raise StanzaError(
                StanzaErrorCondition.RESOURCE_CONSTRAINT,
                "too many resources for this account",
                ErrorType.CANCEL,
                AppCondition(NS.XMPP_ERRORS, "resource-limit-exceeded"),
            )
        full = bare.with_resource(resource)
        session.jid = full
        resources[resource] = session
        self._by_bare[bare] = resources
        self._by_text[str(bare)] = resources
        if old is not None:
            old.replaced()
        return full

    def unbind(self, session: Session) -> bool:
        """Forget `session`, unless another session has replaced it since."""
        jid = session.jid
        resources = self._by_bare.get(jid.bare)
        if not resources or resources.get(jid.resource or "") is not session:
            return False
        del resources[jid.resource or ""]
        if not resources:
            del self._by_bare[jid.bare]
            del self._by_text[str(jid.bare)]
        return True

    def get(self, full: JID) -> Session | None:
        resources = self._by_bare.get(full.bare)
        return resources.get(full.resource or "") if resources else None

    def resources(self, bare: JID) -> list[Session]:
        resources = self._by_bare.get(bare)
        return list(resources.values()) if resources else []

    def of(self, bare: str) -> Collection[Session]:
        """The sessions of a bare JID given as normalised text, as a live
        view for fan-out loops (do not hold it across an await)."""
        resources = self._by_text.get(bare)
        return resources.values() if resources else ()

    def available(self, bare: JID) -> list[Session]:
        """Resources that may receive messages sent to the bare JID
        (RFC 6121 section 8.5.2: available, non-negative priority)."""
        return [s for s in self.resources(bare) if s.available and s.priority >= 0]

    def all(self) -> list[Session]:
        return [s for resources in self._by_bare.values() for s in resources.values()]

    def __len__(self) -> int:
        return sum(len(r) for r in self._by_bare.values())
