"""Joining, leaving, nicks and node subscriptions (XEP-0369 section 7.1).

A user (bare JID), not a client, is the participant: requests normally come
from the user's server with the bare JID as `from`; a request from a full JID
acts for its bare JID.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from mixd import ns as NS
from mixd.codec.xep0082_datetime import now_micros
from mixd.codec.xep0369_mix import NAMESPACES, Join, Leave, SetNick, UpdateSubscription
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.services.mix import rules
from mixd.services.mix.admin import rights as admin_rights
from mixd.services.mix.admin.rights import Role
from mixd.services.mix.anonymity import join_preferences, preferences_result
from mixd.services.mix.notify import notify_participant, notify_retract
from mixd.services.mix.service import MixService, Request, guarded
from mixd.services.mix.state import ChannelState
from mixd.storage.contracts.mix import NickTaken, Participant
from mixd.xml.element import Element


def _conflict() -> StanzaError:
    return StanzaError(StanzaErrorCondition.CONFLICT, "that nick is taken in this channel")


def _participant(state: ChannelState, user: str) -> Participant:
    participant = state.participants.get(user)
    if participant is None:
        raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "not a participant")
    return participant


class Membership:
    def __init__(self, service: MixService) -> None:
        self.service = service
        for ns in NAMESPACES:
            service.on_iq("channel", ns, "join", "set", self.join)
            service.on_iq("channel", ns, "leave", "set", self.leave)
            service.on_iq("channel", ns, "setnick", "set", self.setnick)
            service.on_iq("channel", ns, "update-subscription", "set", self.update_subscription)

    def _free_nick(self, state: ChannelState, requested: str | None, user: str) -> str:
        if requested is None or not requested.strip():
            raise StanzaError(StanzaErrorCondition.NOT_ACCEPTABLE, "a nick is required")
        nick = rules.nick(requested)
        holder = state.nick_holder(nick)
        if holder is not None and holder != user:
            raise _conflict()
        return nick

    def _permitted(
        self, state: ChannelState, role: Role, nodes: tuple[str, ...]
    ) -> tuple[str, ...]:
        """The nodes a participant with `role` may subscribe to (MIX-ADMIN);
        the others are left out of the result, which lists what was granted."""
        role = max(role, Role.PARTICIPANT)
        rights = self.service.rights
        return tuple(
            n for n in nodes if n in rights and admin_rights.may_read(rights[n], state.config, role)
        )

    async def join(self, request: Request) -> Element | None:
        state, join = request.state(), Join.decode(request.payload)
        user = request.sender.bare
        role = self.service.role(state, user)
        if not admin_rights.may_join(role):
            why = "banned" if state.is_banned(str(user)) else "not allowed"
            raise StanzaError(StanzaErrorCondition.FORBIDDEN, f"you are {why} in this channel")
        nick = self._free_nick(state, join.nick, str(user))
        nodes = rules.subscribable(join.subscribe, state.nodes)
        if join.subscribe and not nodes:
            raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, f"no node {join.subscribe[0]}")
        nodes = self._permitted(state, role, nodes)
        old = state.participants.get(str(user))
        preferences, with_form = join_preferences(state, request.payload, old)  # MIX-ANON
        participant = Participant(
            str(state.jid),
            str(user),
            rules.participant_id(state.channel.secret, user),
            nick,
            frozenset(nodes),
            old.joined if old is not None else now_micros(),
            preferences,
        )
        await self._store_join(state, str(user), participant)
        if state.is_banned(str(user)) and self.service.role(state, user) < Role.ADMIN:
            # Banned while this join was being stored: banned wins.
            await self._undo_join(state, str(user))
            raise StanzaError(StanzaErrorCondition.FORBIDDEN, "you are banned in this channel")
        await self.service.set_participant(state, str(user), participant, followed=True)
        # Subscribers hear of the new participant before the joiner's result.
        await notify_participant(self.service, state, participant)
        result = Join(nodes, nick, participant.id, str(state.jid), join.ns).encode()
        if with_form:
            result.append(preferences_result(preferences))
        return result

    async def _store_join(self, state: ChannelState, user: str, participant: Participant) -> None:
        """The participant's row and, for a new messages subscriber on this
        server, the archive follow: written together (one group commit, the
        larger part of a join's latency), both or neither."""
        follow = self.service.follow_for(state, user, participant)
        stored = guarded(self.service.store.join(participant))
        if follow is None:
            try:
                await stored
            except NickTaken:
                raise _conflict() from None
            return
        joined, followed = await asyncio.gather(stored, follow, return_exceptions=True)
        if isinstance(joined, BaseException) or isinstance(followed, BaseException):
            await self._undo_join(
                state, user, left=not isinstance(joined, BaseException),
                unfollow=not isinstance(followed, BaseException),
            )  # fmt: skip
            error = joined if isinstance(joined, BaseException) else followed
            assert isinstance(error, BaseException)
            if isinstance(error, NickTaken):
                raise _conflict() from None
            raise error

    async def _undo_join(
        self, state: ChannelState, user: str, *, left: bool = True, unfollow: bool = True
    ) -> None:
        if left:
            await guarded(self.service.store.leave(str(state.jid), user))
        local = self.service.local
        if unfollow and local is not None and local.is_local(user):
            was = state.participants.get(user)
            if was is None or NS.MIX_NODE_MESSAGES not in was.nodes:
                await guarded(local.unfollow(state, user))

    async def leave(self, request: Request) -> Element | None:
        state, leave = request.state(), Leave.decode(request.payload)
        user = str(request.sender.bare)
        participant = _participant(state, user)
        await guarded(self.service.store.leave(str(state.jid), user))
        await self.service.set_participant(state, user, None)
        subscribers = [p.jid for p in state.subscribers(NS.MIX_NODE_PARTICIPANTS)]
        await notify_retract(
            self.service, state, NS.MIX_NODE_PARTICIPANTS, participant.id, subscribers
        )
        return Leave(leave.ns).encode()

    async def setnick(self, request: Request) -> Element | None:
        state, setnick = request.state(), SetNick.decode(request.payload)
        user = str(request.sender.bare)
        old = _participant(state, user)
        nick = self._free_nick(state, setnick.nick, user)
        try:
            await guarded(self.service.store.set_nick(str(state.jid), user, nick))
        except NickTaken:
            raise _conflict() from None
        participant = replace(old, nick=nick)
        await self.service.set_participant(state, user, participant)
        await notify_participant(self.service, state, participant)
        return SetNick(nick, setnick.ns).encode()

    async def update_subscription(self, request: Request) -> Element | None:
        state = request.state()
        update = UpdateSubscription.decode(request.payload)
        user = str(request.sender.bare)
        if update.jid is not None and rules.parse_jid(update.jid).bare != request.sender.bare:
            # Changing someone else's subscriptions is an administrator's act (MIX-ADMIN).
            raise StanzaError(StanzaErrorCondition.FORBIDDEN)
        participant = _participant(state, user)
        added = rules.subscribable(update.subscribe, state.nodes) if update.subscribe else ()
        added = self._permitted(state, self.service.role(state, request.sender), added)
        nodes = frozenset((participant.nodes | set(added)) - set(update.unsubscribe))
        await guarded(self.service.store.set_nodes(str(state.jid), user, nodes))
        await self.service.set_participant(state, user, replace(participant, nodes=nodes))
        return UpdateSubscription(added, update.unsubscribe, user, update.ns).encode()
