"""Bound client sessions: who is online, under which full JID.

Resource policy (RFC 6120 section 7.7.2): a client that asks for no resource
gets a random one; a resource already in use either replaces the old session
(which gets a `conflict` stream error) or is refused, by configuration.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from typing import TYPE_CHECKING, Literal, Protocol

from mixd import ns as NS
from mixd.errors import AppCondition, ErrorType, StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.xml.element import Element

if TYPE_CHECKING:
    from mixd.core.cluster import Directory, SessionWatcher


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
        # Cluster mode only: sessions of other nodes, and who publishes ours.
        self.remote: Directory | None = None
        self.watcher: SessionWatcher | None = None

    def bind(self, session: Session, bare: JID, resource: str | None) -> JID:
        resources = self._by_bare.get(bare, {})
        if resource is None:
            resource = secrets.token_hex(6)
            while resource in resources:
                resource = secrets.token_hex(6)
        old = resources.get(resource)
        count = len(resources)
        if self.remote is not None:
            elsewhere = self.remote.get(bare.with_resource(resource))
            old = old or elsewhere
            count += sum(1 for _ in self.remote.resources(str(bare)))
        if old is not None and self.conflict == "refuse":
            raise StanzaError(StanzaErrorCondition.CONFLICT, "resource in use")
        if old is None and count >= self.max_resources:
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
        if self.watcher is not None:
            self.watcher.bound(session)
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
        if self.watcher is not None:
            self.watcher.unbound(session)
        return True

    def changed(self, session: Session) -> None:
        """Something the cluster directory mirrors changed on a local session."""
        if self.watcher is not None:
            self.watcher.changed(session)

    def get(self, full: JID) -> Session | None:
        """A session of this node or, in a cluster, of another node."""
        resources = self._by_bare.get(full.bare)
        session = resources.get(full.resource or "") if resources else None
        if session is None and self.remote is not None:
            return self.remote.get(full)
        return session

    def resources(self, bare: JID) -> list[Session]:
        """Every session of the account, on every node of a cluster."""
        resources = self._by_bare.get(bare)
        found: list[Session] = list(resources.values()) if resources else []
        if self.remote is not None:
            found.extend(self.remote.resources(str(bare)))
        return found

    def local(self, full: JID) -> Session | None:
        """A session bound on this node."""
        resources = self._by_bare.get(full.bare)
        return resources.get(full.resource or "") if resources else None

    def of(self, bare: str) -> Collection[Session]:
        """The sessions of a bare JID given as normalised text, bound on
        this node, as a live view for fan-out loops (do not hold it across
        an await)."""
        resources = self._by_text.get(bare)
        return resources.values() if resources else ()

    def available(self, bare: JID) -> list[Session]:
        """Resources that may receive messages sent to the bare JID
        (RFC 6121 section 8.5.2: available, non-negative priority)."""
        return [s for s in self.resources(bare) if s.available and s.priority >= 0]

    def all(self) -> list[Session]:
        """Sessions bound on this node."""
        return [s for resources in self._by_bare.values() for s in resources.values()]

    def __len__(self) -> int:
        return sum(len(r) for r in self._by_bare.values())
