"""The core's view of a cluster: sessions bound on other nodes.

In cluster mode every node keeps a mirror of the session directory (which
node holds which full JID, with what the core routes by: availability,
priority, client features, carbons, last broadcast presence). The mirror
holds a `RemoteSession` per session of another node; `SessionManager` lists
them with its own sessions, so the router, presence and the message stages
treat a session elsewhere like a local one, and delivering to it hands the
serialized stanza to the `NodeLink`, which carries it to that node.

Nothing here does I/O: `mixd.cluster` implements `NodeLink` on Redis and
feeds the mirror. Without a cluster none of this is used.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from mixd.jid import JID
from mixd.xml.element import Element
from mixd.xml.serializer import serialize


class NodeLink(Protocol):
    """Carries what a node sends to the sessions of another node."""

    def to_session(self, node: str, full: str, op: str, data: str) -> None:
        """Queue `op` ("xml": deliver serialized stanza `data`; "replaced";
        "terminate" with text `data`) for session `full` on `node`."""
        ...


class SessionWatcher(Protocol):
    """Told about every change of a local session the directory mirrors."""

    def bound(self, session: object) -> None: ...

    def unbound(self, session: object) -> None: ...

    def changed(self, session: object) -> None: ...


@dataclass(frozen=True, slots=True)
class Entry:
    """A session as the directory records it."""

    available: bool = False
    priority: int = 0
    features: frozenset[str] | None = None
    carbons: bool = False
    presence: str | None = None  # the last broadcast available presence, serialized


class RemoteSession:
    """A session bound on another node (implements `core.sessions.Session`)."""

    __slots__ = (
        "__weakref__",
        "available",
        "carbons",
        "features",
        "jid",
        "link",
        "node",
        "presence",
        "priority",
    )

    def __init__(self, link: NodeLink, node: str, jid: JID, entry: Entry) -> None:
        self.link = link
        self.node = node
        self.jid = jid
        self.update(entry)

    def update(self, entry: Entry) -> None:
        self.available = entry.available
        self.priority = entry.priority
        self.features = entry.features
        self.carbons = entry.carbons
        self.presence = entry.presence

    def deliver(self, element: Element) -> None:
        self.link.to_session(self.node, str(self.jid), "xml", serialize(element))

    def deliver_xml(self, data: str) -> None:
        self.link.to_session(self.node, str(self.jid), "xml", data)

    def replaced(self) -> None:
        self.link.to_session(self.node, str(self.jid), "replaced", "")

    def terminate(self, text: str) -> None:
        self.link.to_session(self.node, str(self.jid), "terminate", text)


class Directory:
    """The in-memory mirror of the sessions other nodes hold, by bare JID."""

    def __init__(self, link: NodeLink, node: str) -> None:
        self.link = link
        self.node = node  # this node: entries for it are never mirrored
        self._by_bare: dict[str, dict[str, RemoteSession]] = {}
        self._by_node: dict[str, set[str]] = {}  # node -> full JIDs
        self._changed = asyncio.Event()

    def put(self, node: str, full: JID, entry: Entry) -> None:
        if node == self.node:
            return
        bare, resource = str(full.bare), full.resource or ""
        resources = self._by_bare.setdefault(bare, {})
        current = resources.get(resource)
        if current is not None and current.node == node:
            current.update(entry)
        else:
            if current is not None:  # the resource moved to another node
                self._by_node.get(current.node, set()).discard(str(full))
            resources[resource] = RemoteSession(self.link, node, full, entry)
            self._by_node.setdefault(node, set()).add(str(full))
        self._notify()

    def remove(self, node: str, full: JID) -> RemoteSession | None:
        bare, resource = str(full.bare), full.resource or ""
        resources = self._by_bare.get(bare)
        current = resources.get(resource) if resources else None
        if resources is None or current is None or current.node != node:
            return None  # already gone, or now bound on another node
        del resources[resource]
        if not resources:
            del self._by_bare[bare]
        self._by_node.get(node, set()).discard(str(full))
        self._notify()
        return current

    def drop_node(self, node: str) -> list[RemoteSession]:
        """Forget every session of `node`; returns them."""
        gone = []
        for full in sorted(self._by_node.pop(node, set())):
            jid = JID.parse(full)
            resources = self._by_bare.get(str(jid.bare), {})
            session = resources.get(jid.resource or "")
            if session is not None and session.node == node:
                del resources[jid.resource or ""]
                if not resources:
                    self._by_bare.pop(str(jid.bare), None)
                gone.append(session)
        self._notify()
        return gone

    def resources(self, bare: str) -> Iterable[RemoteSession]:
        resources = self._by_bare.get(bare)
        return resources.values() if resources else ()

    def get(self, full: JID) -> RemoteSession | None:
        resources = self._by_bare.get(str(full.bare))
        return resources.get(full.resource or "") if resources else None

    def nodes_of(self, bare: str) -> set[str]:
        return {s.node for s in self.resources(bare)}

    def sessions_of_node(self, node: str) -> int:
        return len(self._by_node.get(node, ()))

    def __len__(self) -> int:
        return sum(len(r) for r in self._by_bare.values())

    # -- waiting for a change (tests, operations) -------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def changed(self) -> None:
        """Return at the next change of the mirror."""
        await self._changed.wait()


class AccountNotices:
    """News about one account that the other nodes must act on: a change
    whose push goes to every resource that asked for it (roster, blocklist),
    and they hold some of those resources. Modules `handle` a kind and
    `publish` after a committed change; without a cluster nothing is sent."""

    def __init__(self) -> None:
        self._handlers: dict[str, Callable[[str, Element], None]] = {}
        self.send: Callable[[str, str, Element], None] | None = None  # set by the cluster

    def handle(self, kind: str, handler: Callable[[str, Element], None]) -> None:
        self._handlers[kind] = handler

    def publish(self, kind: str, account: str, payload: Element) -> None:
        if self.send is not None:
            self.send(kind, account, payload)

    def received(self, kind: str, account: str, payload: Element) -> None:
        """Another node's notice (never this node's own)."""
        handler = self._handlers.get(kind)
        if handler is not None:
            handler(account, payload)
