"""XEP-0160 Best Practices for Handling Offline Messages 1.0.1.

A chat or normal message for an existing account with no available resource
is stored (with a XEP-0203 delay stamp) and delivered when a resource becomes
available with non-negative priority. The sender's stanza counts as handled
only after the store committed; a full queue answers `resource-constraint`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mixd import ns as NS
from mixd.codec.stanza import Stanza
from mixd.core.events import AccountRemoving, SessionAvailable
from mixd.core.module import Listener, Module, Xep
from mixd.core.pipeline import MessageStage
from mixd.errors import ErrorType, StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.storage.contracts.offline import OfflineStore
from mixd.storage.errors import StorageUnavailable
from mixd.xml.element import Element
from mixd.xml.fragment import parse_element
from mixd.xml.serializer import serialize

if TYPE_CHECKING:
    from mixd.core.server import Server

log = logging.getLogger(__name__)

QUEUE_LIMIT = 1000  # messages waiting per account
DELIVERY_BATCH = 100


def is_storable(stanza: Stanza) -> bool:
    """RFC 6121 8.5.2 / XEP-0160: chat and normal messages with content."""
    if stanza.type not in ("chat", "normal"):
        return False
    el = stanza.element
    if el.find(NS.HINTS, "no-store") is not None:
        return False
    return any(True for _ in el.elements)


def stamp(iso_time: datetime) -> str:
    return iso_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class OfflineStage(MessageStage):
    def __init__(self, module: OfflineModule) -> None:
        self.module = module

    async def undeliverable(self, stanza: Stanza, to: JID) -> bool:
        if not is_storable(stanza) or to.local is None:
            return False
        server = self.module.server
        try:
            if await server.stores.accounts.get(to.domain, to.local) is None:
                return False  # no such account: the router answers service-unavailable
            element = stanza.element.copy()
            now = datetime.now(UTC)
            element.remove_all(NS.DELAY, "delay")
            element.add(NS.DELAY, "delay", {"from": to.domain, "stamp": stamp(now)})
            stored = await self.module.store.push(str(to), serialize(element), now, QUEUE_LIMIT)
        except StorageUnavailable:
            raise StanzaError(
                StanzaErrorCondition.INTERNAL_SERVER_ERROR,
                "message could not be stored, try again",
                ErrorType.WAIT,
            ) from None
        if not stored:
            raise StanzaError(
                StanzaErrorCondition.RESOURCE_CONSTRAINT, "the recipient's offline queue is full"
            )
        return True


class OfflineModule(Module):
    name = "offline"
    xeps = (Xep(160, "1.0.1"), Xep(203, "2.0"))
    host_features = (NS.MSGOFFLINE,)

    def __init__(self, server: Server) -> None:
        super().__init__(server)
        self.store: OfflineStore = self.server.stores.offline
        self.stage = OfflineStage(self)

    def listeners(self) -> Sequence[Listener]:
        return (
            Listener(SessionAvailable, self.on_available),
            Listener(AccountRemoving, self.on_account_removing),
        )

    async def on_account_removing(self, event: AccountRemoving) -> None:
        owner = str(event.account)
        while batch := await self.store.fetch(owner, DELIVERY_BATCH):
            await self.store.delete(owner, [m.id for m in batch])

    async def start(self) -> None:
        self.server.router.message_stages.append(self.stage)

    async def stop(self) -> None:
        self.server.router.message_stages.remove(self.stage)

    async def _admitted(self, element: Element) -> bool:
        try:
            stanza = self.server.router.stanza(element)
        except (KeyError, ValueError):
            return True  # stored by an older version without from or to
        return await self.server.router.admitted(stanza)

    async def on_available(self, event: SessionAvailable) -> None:
        session = event.session
        if session.priority < 0:
            return  # RFC 6121 8.5.2.1.1: negative priority never gets them
        owner = str(session.jid.bare)
        while True:
            batch = await self.store.fetch(owner, DELIVERY_BATCH)
            if not batch:
                return
            for message in batch:
                element = parse_element(message.stanza)
                if await self._admitted(element):  # a sender blocked since is not delivered
                    session.deliver(element)
            await self.store.delete(owner, [m.id for m in batch])
            if len(batch) < DELIVERY_BATCH:
                return
