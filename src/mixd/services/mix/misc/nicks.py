"""Nick registration with the MIX service (XEP-0407 'Registering a Nick').

`<register xmlns='urn:xmpp:mix:misc:0'><nick/></register>` to the service
registers the sender's nick (RFC 8266, like channel nicks; without a nick
the service assigns a UUID, as the XEP recommends); a nick registered by
another user of the service (compared case-mapped) is `conflict`.
Registering again changes the user's registration. The same element in
`urn:xmpp:mix:core:1` (older drafts) is answered in kind; a get returns the
current registration.

A registered nick is the user's across the service:
- registering renames the user in every channel of this service it is a
  participant of (participants node notified), except where another
  participant holds that nick already;
- a join (MIX or through MIX-PAM) without a nick uses the registered one;
- nobody else may take it in any channel: join, setnick and entering
  through the MUC face with a nick registered to another user are
  `conflict`.
A participant who held the nick in a channel before someone registered it
keeps it there until changing nick (the registration does not evict).
Removing an account (XEP-0077) releases its registrations.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial

from mixd import ns as NS
from mixd.codec.stanza import Kind, Stanza, stanza_error_reply
from mixd.codec.xep0369_mix import NAMESPACES
from mixd.codec.xep0407_misc import Register
from mixd.core.rate import KeyedBuckets
from mixd.errors import ErrorType, StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.services.mix import rules
from mixd.services.mix.muc.delivery import Delivery
from mixd.services.mix.notify import notify_participant
from mixd.services.mix.service import Handler, MixService, Request, guarded
from mixd.services.mix.state import ChannelState
from mixd.storage.contracts.mix_misc import MixMiscStore, NickTaken, RegisteredNick
from mixd.xml.element import Element

OccupantHandlerType = Callable[[Stanza, ChannelState, str], Awaitable[None]]
# Each registration renames the user everywhere: a few in a row, then one a minute.
REGISTER_RATE, REGISTER_BURST = 1 / 60, 5


def _registered_elsewhere() -> StanzaError:
    return StanzaError(StanzaErrorCondition.CONFLICT, "that nick is registered to another user")


class RegisteredNicks:
    def __init__(self, service: MixService) -> None:
        self.service = service
        self.store: MixMiscStore = service.server.stores.mix_misc
        self.registrations = KeyedBuckets(REGISTER_RATE, REGISTER_BURST)
        for ns in (NS.MIX_MISC, NS.MIX_CORE):
            service.on_iq("service", ns, "register", "set", self.register)
            service.on_iq("service", ns, "register", "get", self.current)
        service.features.add(NS.MIX_MISC_NICK_REGISTER)
        for ns in NAMESPACES:
            for name in ("join", "setnick"):
                inner: Handler = service.handlers[("channel", ns, name, "set")]
                service.on_iq("channel", ns, name, "set", partial(self.nick_request, inner=inner))
        self.delivery = Delivery(service)
        occupant = service.occupant_handler
        if occupant is not None:  # the MUC face: entering or changing nick
            service.occupant_handler = partial(self.occupant, inner=occupant)

    # -- registering ---------------------------------------------------------------

    async def current(self, request: Request) -> Element | None:
        mine = await guarded(self.store.registered_nick(self.service.domain, _user(request)))
        return Register(mine.nick if mine else None, request.payload.ns).encode()

    async def register(self, request: Request) -> Element | None:
        asked = Register.decode(request.payload)
        user = _user(request)
        if not self.registrations.try_take(user):
            raise StanzaError(
                StanzaErrorCondition.RESOURCE_CONSTRAINT,
                "too many registrations, retry later",
                ErrorType.WAIT,
            )
        wanted = asked.nick.strip() if asked.nick else ""
        nick = rules.nick(wanted) if wanted else str(uuid.uuid4())
        record = RegisteredNick(self.service.domain, user, nick, rules.nick_key(nick))
        try:
            await guarded(self.store.register_nick(record))
        except NickTaken:
            raise _registered_elsewhere() from None
        await self._rename(user, nick)
        return Register(nick, asked.ns).encode()

    async def _rename(self, user: str, nick: str) -> None:
        """The registered nick becomes the user's in each of its channels here
        (XEP-0407: the participants node reflects it)."""
        for channel in await guarded(self.store.channels_of(self.service.domain, user)):
            if not self.service.owns(channel):
                continue  # another node of a cluster answers for it
            state = await self.service.channel(JID.parse(channel))
            participant = state.participants.get(user) if state is not None else None
            if state is None or participant is None or participant.nick == nick:
                continue
            holder = state.nick_holder(nick)
            if holder is not None and holder != user:
                continue  # held there before the registration
            try:
                await guarded(self.service.store.set_nick(channel, user, nick))
            except NickTaken:
                continue
            renamed = state.participants.get(user)
            if renamed is None:
                continue  # left meanwhile
            updated = replace(renamed, nick=nick)
            await self.service.set_participant(state, user, updated)
            await notify_participant(self.service, state, updated)

    # -- using it ------------------------------------------------------------------

    async def nick_request(self, request: Request, *, inner: Handler) -> Element | None:
        """join/setnick: no nick means the registered one; another user's
        registered nick is refused."""
        payload, user = request.payload, _user(request)
        requested = payload.find_text(payload.ns, "nick")
        if requested is None or not requested.strip():
            mine = await guarded(self.store.registered_nick(self.service.domain, user))
            if mine is not None:
                payload = payload.copy()
                payload.remove_all(payload.ns, "nick")
                payload.add_text_child(payload.ns, "nick", mine.nick)
                request = Request(request.stanza, payload, request.channel)
        else:
            await self._check(request.state(), user, requested)
        return await inner(request)

    async def occupant(
        self, stanza: Stanza, state: ChannelState, nick: str, *, inner: OccupantHandlerType
    ) -> None:
        """Presence to `channel/nick` from a MUC client: a nick registered to
        another user is refused as the face refuses a taken one (XEP-0045
        7.2.9), unless the user enters under its own participant nick."""
        user = str(stanza.sender.bare)
        participant = state.participants.get(user)
        if (
            stanza.kind is Kind.PRESENCE
            and stanza.type == "available"
            and (participant is None or participant.nick != nick)
        ):
            try:
                await self._check(state, user, nick)
            except StanzaError as error:
                if error.condition is not StanzaErrorCondition.CONFLICT:
                    await inner(stanza, state, nick)  # a bad nick: the face refuses it
                    return
                reply = stanza_error_reply(stanza, error)
                reply.children.insert(0, Element(NS.MUC, "x"))
                await self.delivery.one(stanza.sender, reply)
                return
        await inner(stanza, state, nick)

    async def _check(self, state: ChannelState, user: str, requested: str) -> None:
        nick = rules.nick(requested)
        holder = await guarded(self.store.nick_holder(self.service.domain, rules.nick_key(nick)))
        if holder is not None and holder != user and state.nick_holder(nick) != user:
            raise _registered_elsewhere()


def _user(request: Request) -> str:
    return str(request.sender.bare)


async def release_nick(service: MixService, account: JID) -> None:
    """Forget the nick `account` registered with `service` (account removal)."""
    await guarded(service.server.stores.mix_misc.unregister_nick(service.domain, str(account.bare)))
