"""XEP-0115 Entity Capabilities 1.6.0: the server learns what each connected
client supports, so modules can ask "does this resource support X?" (MIX-PAM
asks about urn:xmpp:mix:core:1; PEP about +notify features).

Features are cached by verified `ver` hash (bounded LRU); an unknown hash is
resolved with one disco#info query to the client. A client that sends no caps
is asked directly (COMPAT(slixmpp 1.17): its first presence can lack caps).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mixd import ns as NS
from mixd.codec.xep0115_caps import Caps, compute_ver, find_caps
from mixd.core.events import PresenceBroadcast, SessionClosed
from mixd.core.module import Listener, Module, Xep
from mixd.core.sessions import Session
from mixd.errors import StanzaError
from mixd.xml.element import Element

if TYPE_CHECKING:
    from mixd.core.server import Server

log = logging.getLogger(__name__)

CACHE_SIZE = 10_000
QUERY_TIMEOUT = 10.0
Features = frozenset[str]


class CapsModule(Module):
    name = "caps"
    xeps = (Xep(115, "1.6.0"),)

    def __init__(self, server: Server) -> None:
        super().__init__(server)
        self._cache: OrderedDict[tuple[str, str], Features] = OrderedDict()
        self._lookups: dict[int, asyncio.Task[Features]] = {}

    def listeners(self) -> Sequence[Listener]:
        return (
            Listener(PresenceBroadcast, self.on_presence),
            Listener(SessionClosed, self.on_closed),
        )

    async def on_closed(self, event: SessionClosed) -> None:
        # Nobody will answer a query to a session that is gone.
        pending = self._lookups.pop(id(event.session), None)
        if pending is not None:
            pending.cancel()

    async def on_presence(self, event: PresenceBroadcast) -> None:
        if event.stanza.type != "available":
            return
        session = event.session
        caps = find_caps(event.stanza.element)
        if caps is not None:
            cached = self._cache.get((caps.hash, caps.ver))
            if cached is not None:
                self._cache.move_to_end((caps.hash, caps.ver))
                session.features = cached
                return
        elif session.features is not None:
            return  # no caps now, but we already know this resource
        # Resolve in the background: presence handling must not wait for a client.
        task = asyncio.get_running_loop().create_task(self._resolve(session, caps))
        self._lookups[id(session)] = task
        task.add_done_callback(lambda _: self._lookups.pop(id(session), None))

    async def _resolve(self, session: Session, caps: Caps | None) -> Features:
        query = Element(NS.CLIENT, "iq", {"type": "get", "from": str(session.jid.domain)})
        info = query.add(NS.DISCO_INFO, "query")
        if caps is not None:
            info.set("node", f"{caps.node}#{caps.ver}")
        try:
            answer = await self.server.router.request(query, session.jid, QUERY_TIMEOUT)
        except (TimeoutError, StanzaError):
            return frozenset()
        result = answer.find(NS.DISCO_INFO, "query")
        if answer.get("type") != "result" or result is None:
            return frozenset()
        features = frozenset(f.get("var") or "" for f in result.find_all(NS.DISCO_INFO, "feature"))
        session.features = features
        # Only a verified hash may stand for other clients too (section 5.4).
        if caps is not None and compute_ver(result, caps.hash) == caps.ver:
            self._cache[(caps.hash, caps.ver)] = features
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return features

    async def features(self, session: Session) -> Features:
        """What `session`'s client supports (waits for a lookup under way)."""
        pending = self._lookups.get(id(session))
        if pending is not None:
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # we were cancelled ourselves
                return frozenset()
        return session.features or frozenset()

    async def supports(self, session: Session, feature: str) -> bool:
        return feature in await self.features(session)

    def supports_now(self, session: Session, feature: str) -> bool | None:
        """`supports` without waiting: None while a lookup is under way."""
        if id(session) in self._lookups:
            return None
        return feature in (session.features or frozenset())
