"""Who gets PEP event notifications, and when (XEP-0163 section 4).

Live notifications (publish, retract, delete) go out in the background,
after the publisher got its answer, in publication order per owner: waiting
for a recipient's caps lookup must not hold up the publisher's session
(whose own caps answer may be queued behind the publish). Last published
items go to a resource when it becomes available or first advertises
interest in a node, and to a contact's resources when it gains a
subscription to the owner's presence.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from mixd.codec.xep0060_pubsub import Item, items_event, notification
from mixd.core.events import PresenceBroadcast
from mixd.core.sessions import Session
from mixd.jid import JID
from mixd.services.caps import CapsModule
from mixd.services.pep.rules import (
    OWNER,
    Recipient,
    Relation,
    interests,
    last_items_to_send,
    notify_targets,
    relation,
)
from mixd.services.roster.common import RosterChanged
from mixd.storage.contracts.pep import AccessModel, LastItem, NodeConfig
from mixd.storage.contracts.roster import RosterItem, Subscription
from mixd.storage.errors import StorageError
from mixd.xml.element import Element
from mixd.xml.fragment import parse_element

if TYPE_CHECKING:
    from mixd.core.server import Server

log = logging.getLogger(__name__)

Owner = tuple[str, str]  # (host, username)
_FROM = (Subscription.FROM, Subscription.BOTH)
_TO = (Subscription.TO, Subscription.BOTH)


def owner_key(jid: JID) -> Owner:
    assert jid.local is not None
    return jid.domain, jid.local


def item_element(last: LastItem) -> Item:
    payload = parse_element(last.item.payload) if last.item.payload else None
    return Item(last.item.id, payload)


class Notifier:
    def __init__(self, server: Server) -> None:
        self.server = server
        self._tails: dict[JID, asyncio.Task[None]] = {}
        # The nodes each resource asked notifications for, as last seen.
        self._interests: weakref.WeakKeyDictionary[Session, frozenset[str]] = (
            weakref.WeakKeyDictionary()
        )

    async def features(self, session: Session) -> frozenset[str]:
        caps = self.server.registry.modules.get("caps")
        return await caps.features(session) if isinstance(caps, CapsModule) else frozenset()

    # -- live notifications ----------------------------------------------------

    def _spawn(self, work: Callable[[], Awaitable[None]], what: str) -> asyncio.Task[None]:
        """Run `work` in the background; its failure is logged, not raised."""

        async def run() -> None:
            try:
                await work()
            except StorageError as exc:
                log.warning("%s not sent: %s", what, exc)
            except Exception:
                log.exception("%s failed", what)

        return self.server.spawn(run())

    def broadcast(self, owner: JID, node: str, config: NodeConfig, event: Element) -> None:
        """Send `event` about `owner`'s `node` to everyone who should get it,
        after the notifications queued before for the same owner."""
        previous = self._tails.get(owner)

        async def work() -> None:
            if previous is not None:
                await asyncio.wait([previous])
            await self._broadcast(owner, node, config, event)

        task = self._spawn(work, f"PEP notifications of {owner}")
        self._tails[owner] = task
        task.add_done_callback(lambda t: self._forget(owner, t))

    def _forget(self, owner: JID, task: asyncio.Task[None]) -> None:
        if self._tails.get(owner) is task:
            del self._tails[owner]

    async def _broadcast(self, owner: JID, node: str, config: NodeConfig, event: Element) -> None:
        recipients = await self._recipients(owner, config.access_model is not AccessModel.WHITELIST)
        message = notification(owner, event)
        for jid in notify_targets(node, config, recipients):
            self._deliver(message, jid)

    async def _recipients(self, owner: JID, contacts: bool) -> list[Recipient]:
        """The owner's available resources and (if `contacts`) those of local
        contacts subscribed to the owner's presence, with their features."""
        sessions = self.server.sessions
        found: list[tuple[Session, Relation]] = [
            (s, OWNER) for s in sessions.resources(owner) if s.available
        ]
        if contacts:
            for item in (await self.server.stores.roster.roster(*owner_key(owner))).items:
                contact = JID.parse(item.jid)
                rel = relation(owner, contact, item)
                if rel.subscribed and contact.domain in self.server.hosts:
                    found.extend((s, rel) for s in sessions.resources(contact) if s.available)
        features = await asyncio.gather(*(self.features(s) for s, _ in found))
        return [Recipient(s.jid, rel, f) for (s, rel), f in zip(found, features, strict=True)]

    def _deliver(self, message: Element, to: JID) -> None:
        message.attrs["to"] = str(to)
        message.attrs["id"] = secrets.token_hex(8)
        self.server.router.deliver(to, message)  # serialized right away

    # -- last published items (XEP-0163 4.3.4) ---------------------------------

    async def on_presence(self, event: PresenceBroadcast) -> None:
        session = event.session
        if event.stanza.type == "unavailable":
            self._interests.pop(session, None)  # the next available is initial again
        elif event.stanza.type == "available":
            # Caps may need a query to the client: never hold up its presence.
            self._spawn(lambda: self._available(session), f"last PEP items for {session.jid}")

    async def _available(self, session: Session) -> None:
        wanted = interests(await self.features(session))
        if not session.available:
            return
        new = wanted - self._interests.get(session, frozenset())
        self._interests[session] = wanted
        if new:
            await self._send_last(session, new)

    async def _send_last(self, session: Session, wanted: frozenset[str]) -> None:
        me = session.jid.bare
        stores = self.server.stores
        owners = {owner_key(me): me}
        for item in (await stores.roster.roster(*owner_key(me))).items:
            contact = JID.parse(item.jid)
            if item.subscription in _TO and contact.domain in self.server.hosts and contact.local:
                owners[owner_key(contact)] = contact
        candidates = await stores.pep.last_items(list(owners))
        relevant = {(c.host, c.username) for c in candidates if c.node.name in wanted}
        relations: dict[Owner, Relation] = {}
        for key in relevant:
            owner = owners[key]
            entry = None if owner == me else await stores.roster.get(*key, str(me))
            relations[key] = relation(owner, me, entry)
        # Read again right before delivering, so a newer live notification
        # cannot be overtaken by an older last item.
        fresh = await stores.pep.last_items(sorted(relations))
        self._send_items(session, last_items_to_send(fresh, relations, wanted))

    def _send_items(self, session: Session, items: Sequence[LastItem]) -> None:
        for last in items:
            owner = JID.parse(f"{last.username}@{last.host}")
            event = items_event(last.node.name, [item_element(last)])
            self._deliver(notification(owner, event, last.item.published), session.jid)

    async def on_roster_changed(self, event: RosterChanged) -> None:
        """A contact that gains a subscription to the owner's presence gets
        the owner's last items (XEP-0163 4.3.4, "new subscribers")."""
        old, new = event.change.old, event.change.new
        if new is None or new.subscription not in _FROM:
            return
        if old is not None and old.subscription in _FROM:
            return
        contact = JID.parse(new.jid)
        if contact.domain in self.server.hosts and contact.local is not None:
            owner, what = event.owner, f"last PEP items of {event.owner} for {contact}"
            self._spawn(lambda: self._new_subscriber(owner, contact, new), what)

    async def _new_subscriber(self, owner: JID, contact: JID, entry: RosterItem) -> None:
        rel = relation(owner, contact, entry)
        for session in self.server.sessions.resources(contact):
            wanted = interests(await self.features(session))
            if not session.available or not wanted:
                continue
            last = await self.server.stores.pep.last_items([owner_key(owner)])
            sendable = last_items_to_send(last, {owner_key(owner): rel}, wanted, True)
            self._send_items(session, sendable)
