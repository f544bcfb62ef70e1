"""MIX-PRESENCE at the participant's own server (XEP-0405 5.1.9, "Setting
User Presence" to "Going Offline").

Outbound. The presence a MIX-capable client broadcasts goes, from the
client's full JID, to each channel in the user's roster that shares the
user's presence (subscription from or both, which MIX-PAM's items have);
only MIX clients' presence goes there. When the client goes offline
(unavailable, or its session ends or is replaced) each channel it was sent to
gets unavailable. A client whose caps are still being looked up is handled
once they are known, in order with its later presence. A channel joined
while MIX clients are online gets their presence at once.

Inbound. Presence from a channel's proxy JIDs to the user's bare JID is
claimed before the RFC 6121 rules (a channel is not a presence contact):
accepted only from a channel the user participates in (the channel itself
says for channels on this server, the roster for others), and passed on,
`from` unchanged and `to` the client, to every available MIX-capable
resource whatever its priority, and to no other.

Held presence. While the user has a MIX client online, the server keeps the
presence its channels sent (the MAY of "Receiving User Presence"), so a
client coming online gets every channel's presence from its own server. The
first MIX client to come online finds nothing held and asks each channel for
its whole presence node with presence from the user's bare JID; what is held
is dropped when the last MIX client goes. A channel left is withdrawn: the
clients get unavailable for each of its items.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mixd import ns as NS
from mixd.codec.stanza import Stanza
from mixd.core.events import PresenceBroadcast, SessionBound, SessionClosed
from mixd.core.pipeline import PresenceStage
from mixd.core.sessions import Session
from mixd.jid import JID
from mixd.services.caps import CapsModule
from mixd.services.mix.presence_state import split_proxy
from mixd.services.mix_pam.rules import shares_presence
from mixd.services.roster.common import RosterChanged, presence, readdressed
from mixd.xml.element import Element

if TYPE_CHECKING:
    from mixd.services.mix_pam.module import MixPamModule

log = logging.getLogger(__name__)

MAX_HELD = 5_000  # presence items held per user and channel
Held = dict[JID, dict[JID, Element]]  # channel -> proxy JID -> presence (no `to`)


@dataclass(slots=True)
class _Client:
    """A MIX client whose presence went to channels."""

    last: Element  # its last available presence
    channels: set[JID] = field(default_factory=set)


class PamPresence(PresenceStage):
    def __init__(self, module: MixPamModule) -> None:
        self.module = module
        self.server = module.server
        self._clients: weakref.WeakKeyDictionary[Session, _Client] = weakref.WeakKeyDictionary()
        self._by_jid: weakref.WeakValueDictionary[JID, Session] = weakref.WeakValueDictionary()
        self._queued: weakref.WeakKeyDictionary[Session, asyncio.Task[None]] = (
            weakref.WeakKeyDictionary()
        )
        self._held: dict[JID, Held] = {}  # by user (bare)

    def _caps(self) -> CapsModule | None:
        caps = self.server.registry.modules.get("caps")
        return caps if isinstance(caps, CapsModule) else None

    async def _is_mix(self, session: Session) -> bool:
        caps = self._caps()
        return caps is not None and await caps.supports(session, NS.MIX_CORE)

    # -- the user's clients ----------------------------------------------------

    async def on_broadcast(self, event: PresenceBroadcast) -> None:
        session, stanza = event.session, event.stanza
        if stanza.type == "available":
            element = stanza.element
            await self._in_order(session, lambda: self._available(session, element), True)
        elif stanza.type == "unavailable":
            await self._in_order(session, lambda: self._offline(session), False)

    async def on_closed(self, event: SessionClosed) -> None:
        session = event.session
        await self._in_order(session, lambda: self._offline(session), False)

    async def on_bound(self, event: SessionBound) -> None:
        # A session replaced by a new one for its resource never closes.
        old = self._by_jid.get(event.session.jid)
        if old is not None and old is not event.session:
            await self._in_order(old, lambda: self._offline(old), False)

    async def _in_order(
        self, session: Session, work: Callable[[], Awaitable[None]], needs_caps: bool
    ) -> None:
        """Run `work` now, or after what is queued for the session. Waiting
        for a client's caps here would stall its own stream (the answer is
        queued behind this presence), so that wait happens in the background."""
        queued = self._queued.get(session)
        if queued is not None and queued.done():
            queued = None
        caps = self._caps()
        known = caps.supports_now(session, NS.MIX_CORE) if caps is not None else False
        if queued is None and (known is not None or not needs_caps):
            await work()
            return

        async def later() -> None:
            if queued is not None:
                await asyncio.wait([queued])
            try:
                await work()
            except Exception:
                log.exception("MIX presence of %s", session.jid)

        self._queued[session] = self.server.spawn(later())

    async def _available(self, session: Session, element: Element) -> None:
        if not session.available or not await self._is_mix(session):
            return
        user = session.jid.bare
        client = self._clients.get(session)
        first = client is None
        if client is None:
            client = self._clients[session] = _Client(element)
            self._by_jid[session.jid] = session
        client.last = element
        held = self._held.get(user)
        if held is None:
            self._held[user] = {}
        channels = await self.module.roster.presence_channels(user)
        for channel in channels:
            await self.server.router.route(readdressed(element, session.jid, channel))
            client.channels.add(channel)
        if not first:
            return
        if held is not None:
            await self._replay(held, session)
        else:
            # Nothing held for this user: each channel sends its whole node.
            for channel in channels:
                await self.server.router.route(presence(user, channel))

    async def _offline(self, session: Session) -> None:
        client = self._clients.pop(session, None)
        if client is None:
            return
        if self._by_jid.get(session.jid) is session:
            del self._by_jid[session.jid]
        for channel in sorted(client.channels, key=str):
            await self.server.router.route(presence(session.jid, channel, "unavailable"))
        user = session.jid.bare
        if not any(s in self._clients for s in self.server.sessions.resources(user)):
            self._held.pop(user, None)

    async def on_roster(self, event: RosterChanged) -> None:
        """A channel joined gets the MIX clients' presence; one left is
        withdrawn from them."""
        old, new = event.change.old, event.change.new
        was, now = shares_presence(old), shares_presence(new)
        item = new or old
        if was == now or item is None:
            return
        user, channel = event.owner, JID.parse(item.jid)
        clients = [
            (s, c) for s in self.server.sessions.resources(user) if (c := self._clients.get(s))
        ]
        if now:
            for session, client in clients:
                await self.server.router.route(readdressed(client.last, session.jid, channel))
                client.channels.add(channel)
            return
        for _, client in clients:
            client.channels.discard(channel)
        items = self._held.get(user, {}).pop(channel, {})
        for proxy, element in items.items():
            mix = [m.copy() for m in element.find_all(NS.MIX_PRESENCE, "mix")]
            self._deliver(user, presence(proxy, user, "unavailable", list(mix)))

    # -- what channels send ----------------------------------------------------

    async def claim(self, stanza: Stanza, to: JID) -> bool:
        joined = await self._joined(to, stanza.sender)
        if joined is None:
            return False  # not from a channel
        if joined and stanza.type in ("available", "unavailable"):
            self._hold(to, stanza)
            self._deliver(to, stanza)
        return True  # anything else from a channel is dropped

    async def _joined(self, user: JID, sender: JID) -> bool | None:
        """Whether `user` participates in the channel of proxy JID `sender`;
        None when `sender` is not a channel's."""
        split = split_proxy(sender)
        service = self.module.local_service(sender.domain)
        if service is not None:
            if split is None:
                return False
            state = await service.channel(split[1])
            return state is not None and str(user) in state.participants
        if split is None:
            return None
        # A channel elsewhere (once federation exists): the roster knows.
        return await self.module.roster.is_joined(user, split[1]) or None

    def _hold(self, user: JID, stanza: Stanza) -> None:
        held = self._held.get(user)
        split = split_proxy(stanza.sender)
        if held is None or split is None:
            return
        channel = split[1]
        items = held.setdefault(channel, {})
        if stanza.type == "unavailable":
            items.pop(stanza.sender, None)
            if not items:
                del held[channel]
        elif stanza.sender in items or len(items) < MAX_HELD:
            element = stanza.element.copy()
            element.attrs.pop("to", None)
            items[stanza.sender] = element

    def _deliver(self, user: JID, stanza: Stanza) -> None:
        """To each available MIX-capable resource, addressed to it."""
        caps = self._caps()
        if caps is None:
            return
        for session in self.server.sessions.resources(user):
            if not session.available:
                continue
            element = readdressed(stanza.element, stanza.sender, session.jid).element
            supported = caps.supports_now(session, NS.MIX_CORE)
            if supported:
                session.deliver(element)
            elif supported is None:  # its client is being asked right now
                self.server.spawn(self._when_known(caps, session, element))

    @staticmethod
    async def _when_known(caps: CapsModule, session: Session, element: Element) -> None:
        if await caps.supports(session, NS.MIX_CORE):
            session.deliver(element)

    async def _replay(self, held: Held, session: Session) -> None:
        """What the user's channels sent, for a client coming online (less
        what the user blocked since, XEP-0191)."""
        admitted = self.server.router.admitted
        for items in list(held.values()):
            for proxy, element in list(items.items()):
                stanza = readdressed(element, proxy, session.jid)
                if await admitted(stanza):
                    session.deliver(stanza.element)
