"""XEP-0405 MIX-PAM 0.5.3: what the user's own server does for MIX.

This slice delivers what channels send to the user: accepted only from
channels the user participates in (anything else claiming to be one is
dropped), delivered to the user's available resources whose client supports
MIX (learned from entity capabilities).
"""

from __future__ import annotations

from mixd import ns as NS
from mixd.codec.stanza import Stanza
from mixd.core.module import Module, Xep
from mixd.core.pipeline import MessageStage
from mixd.core.sessions import Session
from mixd.jid import JID
from mixd.services.caps import CapsModule
from mixd.services.mix.module import MixModule
from mixd.services.mix.service import MixService


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
    xeps = (Xep(405, "0.5.3", "channel message delivery"),)

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
