"""RFC 6121 sections 3-4: presence, as the router's `PresenceHandler`.

Outbound (sent by a local client): initial presence makes the session
available, is broadcast to the contacts subscribed from the user and to the
user's own available resources, probes the contacts the user is subscribed
to and re-delivers pending subscription requests; updates and unavailable
presence are broadcast the same way; directed presence outside the broadcast
list is remembered per session and gets an unavailable when the session ends.
Subscription stanzas go to `subscriptions`.

Inbound (addressed to a local account): probes are answered from the
roster, presence goes to the addressed session or the account's available
resources (and is dropped when there is none).

MIX channels in the roster (XEP-0405) are not presence contacts: they get no
broadcast and no probes, and do not count as subscribed. MIX-PAM sends MIX
clients' presence to them and claims what they send before `inbound` sees it
(`mix_pam/presence.py`).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mixd import ns as NS
from mixd.codec.stanza import Stanza
from mixd.core.cluster import RemoteSession
from mixd.core.events import PresenceBroadcast, SessionAvailable, SessionBound, SessionClosed
from mixd.core.module import Listener, Module
from mixd.core.sessions import Session
from mixd.jid import JID
from mixd.services.roster.common import owner_key, presence, readdressed
from mixd.services.roster.subscriptions import SUBSCRIPTION_TYPES, Subscriptions
from mixd.storage.contracts.roster import LastPresence, RosterItem, RosterStore, Subscription
from mixd.storage.errors import StorageError
from mixd.xml.element import Element
from mixd.xml.fragment import parse_element
from mixd.xml.serializer import serialize

if TYPE_CHECKING:
    from mixd.core.server import Server

log = logging.getLogger(__name__)

MIN_PRIORITY, MAX_PRIORITY = -128, 127
_FROM = (Subscription.FROM, Subscription.BOTH)
# Directed presence targets one session remembers (RELIABILITY F5: a set of
# client-chosen JIDs must not grow without bound).
MAX_DIRECTED = 1000
_TO = (Subscription.TO, Subscription.BOTH)


def parse_priority(text: str | None) -> int:
    """RFC 6121 section 4.7.2.3: an integer in -128..127; absent means 0."""
    if text is None:
        return 0
    try:
        value = int(text.strip())
    except ValueError:
        return 0
    return max(MIN_PRIORITY, min(MAX_PRIORITY, value))


def delay_stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(slots=True)
class _Resource:
    """What the server remembers about one session's presence."""

    last: Element | None = None  # the last broadcast available presence
    directed: set[JID] = field(default_factory=set)  # got directed presence (4.6)


class PresenceModule(Module):
    name = "presence"
    stream_features = ((NS.PRE_APPROVAL, "sub"),)  # RFC 6121 3.4.1

    def __init__(self, server: Server) -> None:
        super().__init__(server)
        self.store: RosterStore = server.stores.roster
        self.subscriptions = Subscriptions(self)
        # Weak: a session that ends unnoticed (replaced, say) takes its state along.
        self._resources: weakref.WeakKeyDictionary[Session, _Resource] = weakref.WeakKeyDictionary()
        self._by_jid: weakref.WeakValueDictionary[JID, Session] = weakref.WeakValueDictionary()

    def listeners(self) -> Sequence[Listener]:
        return (
            Listener(SessionBound, self.on_bound),
            Listener(SessionClosed, self.on_closed),
        )

    async def start(self) -> None:
        if self.server.router.presence is not None:
            raise RuntimeError("another presence handler is registered")
        self.server.router.presence = self

    async def stop(self) -> None:
        if self.server.router.presence is self:
            self.server.router.presence = None

    def _state(self, session: Session) -> _Resource:
        state = self._resources.get(session)
        if state is None:
            state = self._resources[session] = _Resource()
            self._by_jid[session.jid] = session
        return state

    def _last(self, session: Session) -> Element | None:
        """The last available presence `session` broadcast, if it is
        available; a session on another node of a cluster carries its own."""
        if not session.available:
            return None
        if isinstance(session, RemoteSession):
            return parse_element(session.presence) if session.presence else None
        state = self._resources.get(session)
        return state.last if state is not None else None

    async def _items(self, owner: JID) -> tuple[RosterItem, ...]:
        """The roster for broadcast and probes; empty (and logged) when the
        store fails, so presence still works for the session itself."""
        try:
            return (await self.store.roster(*owner_key(owner))).items
        except StorageError:
            log.warning("roster of %s unavailable for presence", owner, exc_info=True)
            return ()

    # -- PresenceHandler -------------------------------------------------------

    async def outbound(self, stanza: Stanza, session: Session) -> None:
        if stanza.type in SUBSCRIPTION_TYPES:
            await self.subscriptions.outbound(stanza, session)
        elif stanza.to is None:
            if stanza.type == "available":
                await self._available(stanza, session)
            elif stanza.type == "unavailable":
                await self._unavailable(stanza, session)
            # A probe or error with no 'to' means nothing (4.3, 4.7).
        elif stanza.type in ("available", "unavailable"):
            await self._directed(stanza, session)
        else:
            # Probes and errors go where they are addressed.
            await self.server.router.route(stanza)

    async def inbound(self, stanza: Stanza) -> None:
        to = stanza.to
        assert to is not None
        if stanza.type in SUBSCRIPTION_TYPES:
            await self.subscriptions.inbound(stanza)
        elif stanza.type == "probe":
            await self._probe(stanza)
        elif to.resource is not None:
            # RFC 6121 8.5.3: that resource if connected, else dropped.
            session = self.server.sessions.get(to)
            if session is not None:
                session.deliver(stanza.element)
        else:
            # 8.5.2.1: every available resource; nobody online: dropped.
            for session in self.server.sessions.resources(to):
                if session.available:
                    session.deliver(stanza.element)

    # -- broadcast presence (4.2, 4.4, 4.5) ------------------------------------

    async def _available(self, stanza: Stanza, session: Session) -> None:
        initial = not session.available
        session.available = True
        session.priority = parse_priority(stanza.element.find_text(NS.CLIENT, "priority"))
        self._state(session).last = stanza.element
        await self.server.hooks.emit(PresenceBroadcast(session, stanza))
        items = await self._items(session.jid.bare)
        await self._broadcast(session, stanza.element, items)
        if initial:
            await self._initial(session, items)
            await self.server.hooks.emit(SessionAvailable(session))

    async def _initial(self, session: Session, items: tuple[RosterItem, ...]) -> None:
        owner = session.jid.bare
        # 4.2.2: the new resource learns about the user's other resources...
        for other in self.server.sessions.resources(owner):
            last = self._last(other) if other is not session else None
            if last is not None:
                session.deliver(readdressed(last, other.jid, session.jid).element)
        # ...and, through probes, about the contacts it is subscribed to.
        for item in items:
            if item.subscription in _TO and not item.is_mix_channel:
                await self.server.router.route(presence(owner, JID.parse(item.jid), "probe"))
        # 3.1.3: requests wait for an available resource, until answered.
        for item in items:
            if item.pending_in:
                request = presence(JID.parse(item.jid), owner, "subscribe")
                if not await self.server.router.admitted(request):
                    continue  # from a JID the user blocked since (XEP-0191)
                if item.request is not None:
                    session.deliver(parse_element(item.request))
                else:
                    session.deliver(request.element)

    async def _unavailable(self, stanza: Stanza, session: Session) -> None:
        was_available = session.available
        session.available = False
        state = self._state(session)
        state.last = None
        await self.server.hooks.emit(PresenceBroadcast(session, stanza))
        await self._went_offline(session, state, stanza.element, was_available)

    async def _went_offline(
        self, session: Session, state: _Resource, element: Element, was_available: bool
    ) -> None:
        """Tell everyone who saw the session that it is gone (4.5.2)."""
        owner = session.jid.bare
        if was_available:
            await self._broadcast(session, element, await self._items(owner))
        router = self.server.router
        for to in sorted(state.directed, key=str):
            await router.route(readdressed(element, session.jid, to))
        state.directed.clear()
        if was_available and not any(s.available for s in self.server.sessions.resources(owner)):
            stored = LastPresence(serialize(element), datetime.now(UTC))
            try:
                await self.store.set_last_presence(*owner_key(owner), stored)
            except StorageError as exc:  # e.g. shutting down: probes get a plain unavailable
                log.warning("could not store the last presence of %s: %s", owner, exc)

    async def _broadcast(
        self, session: Session, element: Element, items: tuple[RosterItem, ...]
    ) -> None:
        sender, router = session.jid, self.server.router
        for item in items:
            if item.subscription in _FROM and not item.is_mix_channel:
                await router.route(readdressed(element, sender, JID.parse(item.jid)))
        for other in self.server.sessions.resources(sender.bare):
            if other.available:
                other.deliver(readdressed(element, sender, other.jid).element)

    # -- directed presence (4.6) -----------------------------------------------

    async def _directed(self, stanza: Stanza, session: Session) -> None:
        to = stanza.to
        assert to is not None
        owner = session.jid.bare
        if to.bare != owner:
            state = self._state(session)
            if stanza.type == "unavailable":
                state.directed.discard(to)
            elif not (session.available and await self._subscribed_from(owner, to)):
                # Outside the broadcast list: only this remembers the contact.
                if to not in state.directed and len(state.directed) >= MAX_DIRECTED:
                    # Not sent rather than sent and forgotten: whoever saw
                    # this session available must also see it go.
                    log.info("%s: directed presence to %s dropped, too many", session.jid, to)
                    return
                state.directed.add(to)
        await self.server.router.route(stanza)

    async def _subscribed_from(self, owner: JID, contact: JID) -> bool:
        """Is `contact` in `owner`'s broadcast list (subscription from/both)?"""
        if owner.local is None:
            return False
        try:
            item = await self.store.get(*owner_key(owner), str(contact.bare))
        except StorageError:
            return False
        return item is not None and item.subscription in _FROM and not item.is_mix_channel

    # -- probes (4.3) ----------------------------------------------------------

    async def _probe(self, stanza: Stanza) -> None:
        assert stanza.to is not None
        contact, prober = stanza.to.bare, stanza.sender
        router = self.server.router
        if prober.bare != contact and not await self._subscribed_from(contact, prober.bare):
            # 4.3.2: not a subscriber; it learns so instead of the presence.
            await router.route(presence(contact, prober.bare, "unsubscribed"))
            return
        answered = False
        for session in self.server.sessions.resources(contact):
            last = self._last(session)
            if last is not None:
                await router.route(readdressed(last, session.jid, prober))
                answered = True
        if not answered:
            await router.route(await self._last_unavailable(contact, prober))

    async def _last_unavailable(self, contact: JID, prober: JID) -> Stanza:
        """4.3.2: for an offline contact, its last unavailable presence
        (with a XEP-0203 stamp), or a plain unavailable."""
        try:
            last = await self.store.last_presence(*owner_key(contact))
        except StorageError:
            last = None
        if last is None:
            return presence(contact, prober, "unavailable")
        stanza = readdressed(parse_element(last.stanza), contact, prober)
        stanza.element.remove_all(NS.DELAY, "delay")
        attrs = {"from": contact.domain, "stamp": delay_stamp(last.stamp)}
        stanza.element.add(NS.DELAY, "delay", attrs)
        return stanza

    # -- subscription helpers (3.1.5, 3.2.2, 3.3.3) ----------------------------

    async def send_current(self, owner: JID, to: JID) -> None:
        """The presence of each available resource of `owner`, to `to`."""
        for session in self.server.sessions.resources(owner):
            last = self._last(session)
            if last is not None:
                await self.server.router.route(readdressed(last, session.jid, to))

    async def send_unavailable(self, owner: JID, to: JID) -> None:
        """An unavailable from each available resource of `owner`, to `to`."""
        for session in self.server.sessions.resources(owner):
            if session.available:
                await self.server.router.route(presence(session.jid, to, "unavailable"))

    # -- sessions ending -------------------------------------------------------

    async def on_closed(self, event: SessionClosed) -> None:
        await self._gone(event.session)

    async def on_bound(self, event: SessionBound) -> None:
        # A session replaced by a new one for the same resource is never
        # closed through SessionClosed: finish it now.
        old = self._by_jid.get(event.session.jid)
        if old is not None and old is not event.session:
            await self._gone(old)

    async def _gone(self, session: Session) -> None:
        """The session ended without (or after) unavailable presence (4.5.2)."""
        state = self._resources.pop(session, None) or _Resource()
        if self._by_jid.get(session.jid) is session:
            del self._by_jid[session.jid]
        was_available = session.available
        session.available = False
        if was_available or state.directed:
            element = presence(session.jid, session.jid.bare, "unavailable").element
            del element.attrs["to"]
            await self._went_offline(session, state, element, was_available)
