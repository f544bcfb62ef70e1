"""XEP-0405 MIX-PAM 0.5.3: what the user's own server does for MIX.

- client-join / client-leave: the client asks its own server, which sends the
  join or leave to the channel from the user's bare JID (through the router,
  so a channel elsewhere works the same once federation exists) and returns
  the channel's answer, errors included, wrapped for the client.
- delivery: what channels send is accepted only from channels the user
  participates in (anything else claiming to be one is dropped) and goes to
  the user's available resources whose client supports MIX (caps).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mixd import ns as NS
from mixd.codec.base import Payload
from mixd.codec.stanza import Stanza, error_from_reply
from mixd.codec.xep0405_pam import ClientJoin, ClientJoin0, ClientLeave, ClientLeave0
from mixd.core.module import IqRequest, IqRoute, Module, Scope, Xep
from mixd.core.pipeline import MessageStage
from mixd.core.sessions import Session
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.services.caps import CapsModule
from mixd.services.mix.module import MixModule
from mixd.services.mix.rules import parse_jid
from mixd.services.mix.service import MixService
from mixd.xml.element import Element

CHANNEL_TIMEOUT = 15.0


class ChannelDelivery(MessageStage):
    def __init__(self, module: MixPamModule) -> None:
        self.module = module

    async def claim(self, stanza: Stanza, to: JID) -> list[Session] | None:
        sender = stanza.sender
        service = self.module.local_service(sender.domain)
        if service is None or sender.local is None:
            return None
        state = await service.channel(sender.bare)
        if state is None or str(to) not in state.participants:
            return []  # not from a channel this user joined: dropped, never archived
        return [s for s in self.module.server.sessions.available(to) if await self.module.is_mix(s)]


class MixPamModule(Module):
    name = "mix_pam"
    xeps = (Xep(405, "0.5.3"),)
    account_features = (NS.MIX_PAM,)

    def routes(self) -> Sequence[IqRoute]:
        return (
            IqRoute(Scope.ACCOUNT, ClientJoin, set=self.client_join),
            IqRoute(Scope.ACCOUNT, ClientJoin0, set=self.client_join),
            IqRoute(Scope.ACCOUNT, ClientLeave, set=self.client_leave),
            IqRoute(Scope.ACCOUNT, ClientLeave0, set=self.client_leave),
        )

    async def client_join(self, iq: IqRequest[Any]) -> Payload | None:
        return await self._relay(iq, "join")

    async def client_leave(self, iq: IqRequest[Any]) -> Payload | None:
        return await self._relay(iq, "leave")

    async def _relay(self, iq: IqRequest[Any], name: str) -> Payload | None:
        user = iq.sender.bare
        if iq.to is not None and iq.to != user:
            raise StanzaError(StanzaErrorCondition.FORBIDDEN, "join for your own account only")
        wrapper = iq.payload
        if not wrapper.channel:
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "which channel?")
        channel = parse_jid(wrapper.channel).bare
        request = Element(NS.CLIENT, "iq", {"type": "set", "from": str(user)})
        request.append(wrapper.inner.copy())
        try:
            answer = await self.server.router.request(request, channel, CHANNEL_TIMEOUT)
        except TimeoutError:
            raise StanzaError(StanzaErrorCondition.REMOTE_SERVER_TIMEOUT) from None
        if answer.get("type") == "error":
            raise error_from_reply(answer)  # every channel error reaches the client
        inner = next((e for e in answer.elements if e.name == name), None)
        if inner is None:
            raise StanzaError(StanzaErrorCondition.UNDEFINED_CONDITION, "bad channel answer")
        return type(wrapper)(None, inner, wrapper.ns)  # type: ignore[no-any-return]

    async def start(self) -> None:
        self.stage = ChannelDelivery(self)
        self.server.router.message_stages.append(self.stage)

    async def stop(self) -> None:
        self.server.router.message_stages.remove(self.stage)

    def local_service(self, domain: str) -> MixService | None:
        mix = self.server.registry.modules.get("mix")
        return mix.services.get(domain) if isinstance(mix, MixModule) else None

    async def is_mix(self, session: Session) -> bool:
        caps = self.server.registry.modules.get("caps")
        return isinstance(caps, CapsModule) and await caps.supports(session, NS.MIX_CORE)
