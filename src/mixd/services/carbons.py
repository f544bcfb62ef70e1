"""XEP-0280 Message Carbons 1.0.1: a user's other resources get copies of
the chats it sends and receives.

Copies go to resources that enabled carbons, as `<sent/>` or `<received/>`
wrappers from the user's bare JID. Carbon wrappers a client puts in its own
messages are removed: only the server may send them (RELIABILITY C5).
"""

from __future__ import annotations

from collections.abc import Sequence

from mixd import ns as NS
from mixd.codec.base import Payload
from mixd.codec.stanza import Stanza
from mixd.codec.xep0280_carbons import CarbonsDisable, CarbonsEnable
from mixd.core.module import IqRequest, IqRoute, Module, Scope, Xep
from mixd.core.pipeline import MessageStage
from mixd.core.sessions import Session
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.xml.element import Element


def is_eligible(stanza: Stanza) -> bool:
    """XEP-0280 section 6: chats, and normal messages with a body."""
    el = stanza.element
    if el.find(NS.CARBONS, "private") is not None or el.find(NS.HINTS, "no-copy") is not None:
        return False
    if stanza.type == "chat":
        return True
    return stanza.type == "normal" and el.find(NS.CLIENT, "body") is not None


def wrap(direction: str, owner: JID, to: JID, original: Element) -> Element:
    copy = Element(NS.CLIENT, "message", {"from": str(owner), "to": str(to), "type": "chat"})
    copy.add(NS.CARBONS, direction).add(NS.FORWARD, "forwarded").append(original)
    return copy


def wants_carbons(session: Session) -> bool:
    return bool(getattr(session, "carbons", False))


class CarbonsStage(MessageStage):
    def __init__(self, module: CarbonsModule) -> None:
        self.module = module

    async def outbound(self, stanza: Stanza, session: Session) -> None:
        el = stanza.element
        for direction in ("sent", "received"):
            el.remove_all(NS.CARBONS, direction)
        if not is_eligible(stanza):
            return
        sender = stanza.sender
        for other in self.module.server.sessions.resources(sender.bare):
            if other is not session and wants_carbons(other):
                other.deliver(wrap("sent", sender.bare, other.jid, el))

    async def delivered(self, stanza: Stanza, to: JID, sessions: list[Session]) -> None:
        if not is_eligible(stanza):
            return
        for other in self.module.server.sessions.resources(to):
            if other not in sessions and wants_carbons(other):
                other.deliver(wrap("received", to, other.jid, stanza.element))


class CarbonsModule(Module):
    name = "carbons"
    xeps = (Xep(280, "1.0.1"),)
    host_features = (NS.CARBONS,)

    def routes(self) -> Sequence[IqRoute]:
        return (
            IqRoute(Scope.ACCOUNT, CarbonsEnable, set=self.enable),
            IqRoute(Scope.ACCOUNT, CarbonsDisable, set=self.disable),
        )

    async def start(self) -> None:
        self.stage = CarbonsStage(self)
        self.server.router.message_stages.append(self.stage)

    async def stop(self) -> None:
        self.server.router.message_stages.remove(self.stage)

    def _session(self, iq: IqRequest[CarbonsEnable] | IqRequest[CarbonsDisable]) -> Session:
        if iq.to is not None and iq.to != iq.sender.bare:
            raise StanzaError(StanzaErrorCondition.FORBIDDEN)
        session = self.server.sessions.get(iq.sender)
        if session is None:
            raise StanzaError(StanzaErrorCondition.UNEXPECTED_REQUEST)
        return session

    async def enable(self, iq: IqRequest[CarbonsEnable]) -> Payload | None:
        self._session(iq).carbons = True  # type: ignore[attr-defined]
        return None

    async def disable(self, iq: IqRequest[CarbonsDisable]) -> Payload | None:
        self._session(iq).carbons = False  # type: ignore[attr-defined]
        return None
