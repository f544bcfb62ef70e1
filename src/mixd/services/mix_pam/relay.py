"""client-join and client-leave (XEP-0405 5.1.7-5.1.8, `pam:2`, and the
`pam:0` of ejabberd's guide): the client asks its own server, which sends
the join or leave to the channel from the user's bare JID (through the
router, so a channel elsewhere works the same once federation exists),
updates the user's roster, and returns the channel's answer, errors
included, wrapped for the client."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mixd import ns as NS
from mixd.codec.base import Payload
from mixd.codec.stanza import error_from_reply
from mixd.core.module import IqRequest
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.services.mix.rules import parse_jid
from mixd.services.mix_pam import rules
from mixd.xml.element import Element

if TYPE_CHECKING:
    from mixd.services.mix_pam.module import MixPamModule

CHANNEL_TIMEOUT = 15.0


class Relay:
    def __init__(self, module: MixPamModule) -> None:
        self.module = module

    async def client_join(self, iq: IqRequest[Any]) -> Payload | None:
        user, channel, wrapper = self._check(iq)
        inner = await self.ask(user, channel, wrapper.inner.copy())
        pid = rules.participant_id(inner, channel)
        if pid is None:
            raise StanzaError(StanzaErrorCondition.UNDEFINED_CONDITION, "no participant id")
        # The roster changes (and is pushed) before the client hears back.
        await self.module.roster.joined(user, channel, await self._name(channel), pid)
        return type(wrapper)(None, inner, wrapper.ns)  # type: ignore[no-any-return]

    async def client_leave(self, iq: IqRequest[Any]) -> Payload | None:
        user, channel, wrapper = self._check(iq)
        try:
            inner = await self.ask(user, channel, wrapper.inner.copy())
        except StanzaError as exc:
            if exc.condition is StanzaErrorCondition.ITEM_NOT_FOUND:
                # No such channel or not in it: a stale roster item goes too.
                await self.module.roster.left(user, channel)
            raise
        await self.module.roster.left(user, channel)
        return type(wrapper)(None, inner, wrapper.ns)  # type: ignore[no-any-return]

    async def leave(self, user: JID, channel: JID) -> None:
        """Leave on the user's behalf (account deletion)."""
        await self.ask(user, channel, Element(NS.MIX_CORE, "leave"))
        await self.module.roster.left(user, channel)

    def _check(self, iq: IqRequest[Any]) -> tuple[JID, JID, Any]:
        user = iq.sender.bare
        if iq.to is not None and iq.to != user:
            raise StanzaError(StanzaErrorCondition.FORBIDDEN, "join for your own account only")
        wrapper = iq.payload
        if not wrapper.channel:
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "which channel?")
        return user, parse_jid(wrapper.channel).bare, wrapper

    async def ask(self, user: JID, channel: JID, payload: Element) -> Element:
        """Send `payload` (join or leave) to the channel from the user's bare
        JID; the answer's element of the same name, or the channel's error."""
        request = Element(NS.CLIENT, "iq", {"type": "set", "from": str(user)})
        request.append(payload)
        try:
            answer = await self.module.server.router.request(request, channel, CHANNEL_TIMEOUT)
        except TimeoutError:
            raise StanzaError(StanzaErrorCondition.REMOTE_SERVER_TIMEOUT) from None
        if answer.get("type") == "error":
            raise error_from_reply(answer)  # every channel error reaches the client
        inner = next((e for e in answer.elements if e.name == payload.name), None)
        if inner is None:
            raise StanzaError(StanzaErrorCondition.UNDEFINED_CONDITION, "bad channel answer")
        return inner

    async def _name(self, channel: JID) -> str | None:
        """The channel's name for the roster, when this server hosts it."""
        service = self.module.local_service(channel.domain)
        state = await service.channel(channel) if service is not None else None
        return state.channel.info.name if state is not None else None
