"""What channels send to a user (XEP-0405 5.1.2): accepted only from a
channel the user participates in (anything else claiming to be one is
dropped, never archived), archived in the user's archive when it is a
groupchat message, then delivered to every available resource whose client
supports MIX (caps), whatever its priority, and to no other."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from mixd import ns as NS
from mixd.codec.stanza import Stanza
from mixd.codec.xep0045_admin import is_invitation
from mixd.core.pipeline import MessageStage
from mixd.core.sessions import Session
from mixd.jid import JID
from mixd.services.caps import CapsModule
from mixd.services.mix.presence_state import split_proxy

if TYPE_CHECKING:
    from mixd.services.mix_pam.module import MixPamModule


class ChannelDelivery(MessageStage):
    def __init__(self, module: MixPamModule) -> None:
        self.module = module

    async def claim(self, stanza: Stanza, to: JID) -> list[Session] | None:
        joined = await self._joined(stanza, to)
        if joined is None:
            return None  # not from a channel: the RFC 6121 rules apply
        if not joined:
            return []  # from a channel this user is not in: dropped
        if stanza.type == "groupchat":
            local = self.module.local_service(stanza.sender.domain) is not None
            await self.module.archives.archive(stanza, to, followed=local)
        elif joined == "private":
            # A private message through the channel (MIX-ANON): the channel
            # keeps none, the user's archive keeps it as a chat.
            await self.module.archives.archive(stanza, to, followed=False)
        return await self.mix_sessions(to)

    async def _joined(self, stanza: Stanza, to: JID) -> bool | Literal["private"] | None:
        """Whether `to` participates in the channel that sent `stanza`
        ("private": yes, and it is a private message from a participant's
        proxy JID); None when the sender is not a channel."""
        sender = stanza.sender
        service = self.module.local_service(sender.domain)
        if service is not None:
            if sender.local is None or is_invitation(stanza.element):
                return None  # a room's invitation goes to anyone, as any message
            state = await service.channel(sender.bare)
            proxy = split_proxy(sender) if state is None else None
            if proxy is not None:
                state = await service.channel(proxy[1])
                if state is not None and str(to) in state.participants:
                    return "private" if stanza.type != "groupchat" else False
            return state is not None and str(to) in state.participants
        if stanza.type != "groupchat" or sender.local is None:
            return None
        # A channel elsewhere (once federation exists): the roster knows.
        return await self.module.roster.is_joined(to, sender.bare) or None

    async def mix_sessions(self, user: JID) -> list[Session]:
        caps = self.module.server.registry.modules.get("caps")
        if not isinstance(caps, CapsModule):
            return []
        sessions = self.module.server.sessions.resources(user)
        return [s for s in sessions if s.available and await caps.supports(s, NS.MIX_CORE)]
