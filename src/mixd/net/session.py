"""A bound client session, apart from the connection carrying it.

The session is what the core sees (`core.sessions.Session`): its JID,
availability and whatever state modules keep on it. With XEP-0198 resumption
enabled it outlives a dropped connection: stanzas for it queue up, unacked,
until a new connection resumes it or it expires.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mixd.backlog import Backlog
from mixd.codec.stanza import Kind
from mixd.core.events import SessionClosed
from mixd.core.server import Server
from mixd.errors import StreamErrorCondition
from mixd.jid import JID
from mixd.logfmt import log_event
from mixd.stream import sm
from mixd.xml.element import Element
from mixd.xml.fragment import parse_element
from mixd.xml.serializer import serialize

if TYPE_CHECKING:
    from mixd.net.c2s import C2SConnection

log = logging.getLogger("mixd.c2s")

MAX_UNACKED = 10_000  # RELIABILITY F4: the SM queue is bounded
OFFLINE_LIMIT = 1000


class ClientSession:
    def __init__(self, server: Server, jid: JID, connection: C2SConnection) -> None:
        self.server = server
        self.jid = jid
        self.available = False
        self.priority = 0
        self._features: frozenset[str] | None = None
        self._carbons = False
        self.connection: C2SConnection | None = connection
        self.closed = False
        # XEP-0198 state.
        self.sm_enabled = False
        self.sm_id: str | None = None  # set when resumable
        self.sm_sent = 0
        self.sm_acked = 0
        self.sm_unacked: Backlog[str] = Backlog()
        self.handled_in = 0  # stanzas handled (stored or answered) since <enable/>
        self.expiry: asyncio.TimerHandle | None = None
        self.draining: asyncio.Task[None] | None = None  # the old connection's worker
        self.closing: asyncio.Task[None] | None = None  # SessionClosed being handled

    # What a cluster's session directory mirrors is told to it when it changes.

    @property
    def features(self) -> frozenset[str] | None:
        return self._features

    @features.setter
    def features(self, value: frozenset[str] | None) -> None:
        self._features = value
        self.server.sessions.changed(self)

    @property
    def carbons(self) -> bool:  # XEP-0280, set by the carbons module
        return self._carbons

    @carbons.setter
    def carbons(self, value: bool) -> None:
        self._carbons = value
        self.server.sessions.changed(self)

    def deliver(self, element: Element) -> None:
        if not self.closed:
            self.deliver_xml(serialize(element))

    def deliver_xml(self, data: str) -> None:
        if self.closed:
            return
        if self.sm_enabled:
            self.sm_sent += 1
            self.sm_unacked.append(data)
            if len(self.sm_unacked) > MAX_UNACKED and self.connection is not None:
                self.connection.close_stream(
                    StreamErrorCondition.POLICY_VIOLATION, "too many unacknowledged stanzas"
                )
                return
        if self.connection is not None:
            self.connection.write(data)

    def replaced(self) -> None:
        if self.connection is not None:
            self.connection.session_replaced()
        else:
            self.close()  # a detached session replaced by a fresh login

    def terminate(self, text: str) -> None:
        if self.connection is not None:
            self.connection.close_stream(StreamErrorCondition.NOT_AUTHORIZED, text)
        else:
            self.close()

    def acknowledge(self, h: int) -> bool:
        """Drop what the client's `h` acknowledges; False if h is too high."""
        newly = sm.acked_count(h, self.sm_acked, self.sm_sent)
        if newly is None:
            return False
        for _ in range(min(newly, len(self.sm_unacked))):
            self.sm_unacked.popleft()
        self.sm_acked = h
        return True

    # -- end of life ---------------------------------------------------------------

    def detach(self, timeout: float, resumable: dict[str, ClientSession]) -> None:
        """The connection is gone but the session may be resumed for `timeout` s."""
        self.connection = None
        loop = asyncio.get_running_loop()
        self.expiry = loop.call_later(timeout, lambda: loop.create_task(self.expire(resumable)))
        log_event(log, "detached", jid=self.jid, unacked=len(self.sm_unacked))

    async def expire(self, resumable: dict[str, ClientSession]) -> None:
        if self.closed or self.connection is not None:
            return
        if self.sm_id is not None and resumable.get(self.sm_id) is self:
            del resumable[self.sm_id]
        await self.keep_unacked_messages()
        self.close()
        log_event(log, "expired", jid=self.jid)

    async def keep_unacked_messages(self) -> None:
        """Messages the client never acknowledged go to its offline queue
        instead of being lost (XEP-0198 section 5)."""
        unacked, self.sm_unacked = list(self.sm_unacked), Backlog()
        owner = str(self.jid.bare)
        for data in unacked:
            element = parse_element(data)
            if element.name != Kind.MESSAGE or element.get("type") not in (None, "chat", "normal"):
                continue
            await self.server.stores.offline.push(owner, data, datetime.now(UTC), OFFLINE_LIMIT)

    def close(self) -> None:
        """Unbind and tell the modules (presence goes unavailable, etc.)."""
        if self.closed:
            return
        self.closed = True
        if self.expiry is not None:
            self.expiry.cancel()
        if self.server.sessions.unbind(self):
            self.closing = self.server.spawn(self.server.hooks.emit(SessionClosed(self)))
