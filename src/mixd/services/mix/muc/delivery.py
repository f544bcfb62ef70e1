"""Stanzas from the MUC face to occupants' clients (full JIDs).

A client on this server gets the stanza straight into its session: what a
room sends an occupant is not a MIX channel's traffic for the user's server
(MIX-PAM would keep it from clients without MIX, and archive it) but MUC
traffic for that one client. Clients elsewhere get a routed copy."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from mixd.jid import JID
from mixd.services.mix.service import MixService
from mixd.xml.element import Element
from mixd.xml.splice import OPEN, Spliced

if TYPE_CHECKING:
    from mixd.services.mix.muc.mirror import MucMirror


class Delivery:
    def __init__(self, service: MixService, mirror: MucMirror | None = None) -> None:
        self.service = service
        self.mirror = mirror  # partially integrated: sent as from the MUC domain

    async def one(self, client: JID, element: Element) -> None:
        """A copy of `element` (no `to`) to `client`."""
        copy = element.copy()
        if self.mirror is not None:
            self.mirror.outgoing(copy)
        copy.attrs["to"] = str(client)
        server = self.service.server
        session = server.sessions.get(client)
        if session is not None:
            session.deliver(copy)
        elif client.domain not in server.hosts:
            await self.service.send(copy)

    async def many(self, clients: Iterable[JID], element: Element) -> None:
        """`element` (no `to`) to each client, serialized once."""
        if self.mirror is not None:
            element = self.mirror.outgoing(element.copy())
        template = element.copy()
        template.attrs["to"] = OPEN
        spliced = Spliced(template, holes=1)
        server = self.service.server
        for client in clients:
            session = server.sessions.get(client)
            if session is not None:
                session.deliver_xml(spliced.render(str(client)))
            elif client.domain not in server.hosts:
                copy = element.copy()
                copy.attrs["to"] = str(client)
                await self.service.send(copy)
