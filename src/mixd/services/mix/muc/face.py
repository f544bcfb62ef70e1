"""XEP-0408 fully integrated mode: every channel is also a MUC room
(XEP-0045) on the same JID.

Occupancy and participation. A MUC client enters with presence to
`channel/nick` from its full JID. Its user becomes a participant of the
channel (the same record, nick rules and nick namespace as a MIX join; a
nick held by another user is `conflict`), subscribed to no node: MUC clients
get everything through this face, never MIX's form. A user who is already a
participant enters under the participant's nick (status 210 when it differs
from the requested one). The participation lasts while any MUC client of
the user is joined: unavailable (or the end of the session) from the last
one ends it, unless the user also subscribed to nodes with a MIX join, in
which case it stays. Removing the participant (MIX leave, later a ban)
ends every MUC occupancy of the user.

Presence. A joined client's presence is an item of the channel's presence
node (MIX-PRESENCE), so MIX subscribers see MUC occupants; every change of
that node reaches MUC clients as occupant presence (`channel/nick`): users
with at least one client in the node are the room's occupants.

Messages. A groupchat from a MUC client takes the channel's path (archive,
then reflect with `<mix/>`); every message the channel reflects then goes to
each joined MUC client from `channel/nick`, with the sender's original id
and the sender's occupant id, serialized once. Private messages go between
joined MUC clients only (not archived); MIX participants get theirs through
proxy JIDs (MIX-ANON, services/mix/private.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace

from mixd import ns as NS
from mixd.codec.stanza import CodecError, Kind, Stanza, stanza_error_reply
from mixd.codec.xep0045_muc import MucJoin
from mixd.codec.xep0082_datetime import now_micros
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.services.mix import anon
from mixd.services.mix import rules as mix_rules
from mixd.services.mix.admin import rights as admin_rights
from mixd.services.mix.admin.nodes import AdminNodes
from mixd.services.mix.anon_rules import Mode
from mixd.services.mix.misc.retraction import Retractions
from mixd.services.mix.muc import rules
from mixd.services.mix.muc.archive import MucArchive
from mixd.services.mix.muc.between import BetweenOccupants
from mixd.services.mix.muc.delivery import Delivery
from mixd.services.mix.muc.disco import MucDiscovery
from mixd.services.mix.muc.invite import MucInvitations
from mixd.services.mix.muc.messages import ChannelMessages
from mixd.services.mix.muc.mirror import MucMirror, Reach
from mixd.services.mix.muc.moderation import Moderation
from mixd.services.mix.muc.owner import RoomOwner
from mixd.services.mix.muc.presence import occupant_presence, subject_message
from mixd.services.mix.muc.removal import Removal, mark
from mixd.services.mix.muc.retraction import MucRetractions
from mixd.services.mix.muc.room import Room, Shown
from mixd.services.mix.notify import notify_participant, notify_retract
from mixd.services.mix.presence_state import ClientPresence
from mixd.services.mix.service import MixService, guarded
from mixd.services.mix.state import ChannelState
from mixd.storage.contracts.mix import NickTaken, Participant
from mixd.xml.element import Element

log = logging.getLogger(__name__)

JOINED = (rules.SELF, rules.NON_ANONYMOUS, rules.LOGGING)


def _conflict() -> StanzaError:
    return StanzaError(StanzaErrorCondition.CONFLICT, "that nick is taken in this channel")


class MucFace:
    def __init__(
        self,
        service: MixService,
        admin: AdminNodes,
        muc_domain: str | None = None,
        retractions: Retractions | None = None,
    ) -> None:
        self.service = service
        # Partially integrated mode: MUC clients use this mirror's domain.
        self.mirror = MucMirror(service, muc_domain) if muc_domain else None
        self.reach = Reach(service, self.mirror)
        self.rooms: dict[str, Room] = {}  # by channel, only while MUC clients are joined
        # While a kick, ban or affiliation change is applied: why each user
        # (or domain) is removed, by (channel, user or domain).
        self.removals: dict[tuple[str, str], Removal] = {}
        self.delivery = Delivery(service, self.mirror)
        self.archive = MucArchive(service, self)
        self.between = BetweenOccupants(service, self)
        MucDiscovery(service, self)
        self.moderation = Moderation(service, self, admin)
        RoomOwner(service, self, admin)
        MucInvitations(service, self, admin)
        # Message retraction (XEP-0424/0425) needs MIX-MISC's retractions.
        self.retractions = MucRetractions(service, self, retractions) if retractions else None
        service.occupant_handler = self.receive
        service.presence_listeners.append(self.presence_changed)
        service.participant_listeners.append(self.participant_changed)
        ChannelMessages(service, self)

    def is_occupant(self, state: ChannelState, client: JID) -> bool:
        room = self.rooms.get(str(state.jid))
        return room is not None and client in room.occupants

    # -- stanzas to <channel>/<nick> -------------------------------------------

    async def receive(self, stanza: Stanza, state: ChannelState, nick: str) -> None:
        if not self.reach.muc_here():
            await self.reach.not_here(stanza)
            return
        if stanza.kind is Kind.PRESENCE:
            await self._presence(stanza, state, nick)
        elif stanza.kind is Kind.IQ:
            await self.between.iq(stanza, state, nick)
        elif not stanza.is_error:
            await self.between.message(stanza, state, nick)

    async def _presence(self, stanza: Stanza, state: ChannelState, nick: str) -> None:
        client = stanza.sender
        room = self.rooms.get(str(state.jid))
        joined = room is not None and client in room.occupants
        if stanza.type in ("unavailable", "error"):
            if room is not None and joined:
                await self._leave(state, room, client)
            return
        if stanza.type != "available":
            return  # probes and subscription requests mean nothing to a room
        try:
            if client.resource is None:
                raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "join from a full JID")
            if room is not None and joined:
                await self._update(stanza, state, room, nick)
            else:
                await self._join(stanza, state, nick)
        except CodecError as exc:
            await self._refuse(stanza, StanzaError(StanzaErrorCondition.BAD_REQUEST, str(exc)))
        except StanzaError as exc:
            await self._refuse(stanza, exc)

    async def _refuse(self, stanza: Stanza, error: StanzaError) -> None:
        """A presence error from the occupant JID asked for (XEP-0045 7.2.8-9)."""
        reply = stanza_error_reply(stanza, error)
        reply.children.insert(0, Element(NS.MUC, "x"))
        await self.delivery.one(stanza.sender, reply)

    async def _join(self, stanza: Stanza, state: ChannelState, requested: str) -> None:
        client = stanza.sender
        user = str(client.bare)
        x = stanza.element.find(NS.MUC, "x")
        join = MucJoin.decode(x) if x is not None else MucJoin()
        participant = state.participants.get(user)
        if participant is None:
            participant = await self._participate(state, client, mix_rules.nick(requested))
        codes = set(JOINED)
        if participant.nick != requested:
            codes.add(rules.NICK_MODIFIED)
        key = str(state.jid)
        room = self.rooms.get(key)
        if room is None:
            room = self.rooms[key] = Room()
            for entry in state.presence:
                found = state.participants.get(entry.user)
                if found is not None and entry.user not in room.shown:
                    room.shown[entry.user] = Shown(found.nick, entry.proxy)
        # Occupants first, then self-presence, history and subject (7.2.2-7.2.15).
        for other, shown in list(room.shown.items()):
            if other != user:
                item = state.presence.get(shown.proxy)
                seen = anon.may_see(self.service, state, user, other)
                element = occupant_presence(state, other, shown.nick, item, show_jid=seen)
                await self.delivery.one(client, element)
        await self._share(stanza, state)
        room.occupants[client] = user
        if anon.mode(state) is not Mode.VISIBLE:
            codes.discard(rules.NON_ANONYMOUS)
        own = occupant_presence(
            state, user, participant.nick, stanza.element, codes, client=client, show_jid=True
        )
        await self.delivery.one(client, own)
        try:
            await self.archive.send_history(state, client, join.history)
        except StanzaError:
            # The archive is unavailable: the client is in, without history.
            log.warning("no history for %s entering %s", client, state.jid)
        await self.delivery.one(client, subject_message(state))

    async def _participate(self, state: ChannelState, client: JID, nick: str) -> Participant:
        """Make the user a participant subscribed to no node (MUC-only), if
        MIX-ADMIN lets the user join (XEP-0045 7.2.7-8 conditions)."""
        user = str(client.bare)
        if not admin_rights.may_join(self.service.role(state, client)):
            if state.is_banned(user):
                raise StanzaError(StanzaErrorCondition.FORBIDDEN, "you are banned in this room")
            raise StanzaError(StanzaErrorCondition.REGISTRATION_REQUIRED, "not on the allowed list")
        holder = state.nick_holder(nick)
        if holder is not None and holder != user:
            raise _conflict()
        secret = state.channel.secret
        pid = mix_rules.participant_id(secret, client.bare)
        participant = Participant(str(state.jid), user, pid, nick, frozenset(), now_micros())
        try:
            await guarded(self.service.store.join(participant))
        except NickTaken:
            raise _conflict() from None
        await self.service.set_participant(state, user, participant)
        await notify_participant(self.service, state, participant)
        return participant

    async def _update(
        self, stanza: Stanza, state: ChannelState, room: Room, requested: str
    ) -> None:
        """Presence of a joined client: a new status, or a new nick (7.6)."""
        user = room.occupants[stanza.sender]
        participant = state.participants.get(user)
        if participant is not None and requested != participant.nick:
            nick = mix_rules.nick(requested)
            holder = state.nick_holder(nick)
            if holder is not None and holder != user:
                raise _conflict()
            try:
                await guarded(self.service.store.set_nick(str(state.jid), user, nick))
            except NickTaken:
                raise _conflict() from None
            # MIX-PRESENCE sends the user's items again; `presence_changed` turns
            # that into the MUC nick change for every occupant.
            await self.service.set_participant(state, user, replace(participant, nick=nick))
            await notify_participant(self.service, state, state.participants[user])
        await self._share(stanza, state)

    async def _leave(self, state: ChannelState, room: Room, client: JID) -> None:
        user = room.occupants.pop(client)
        participant = state.participants.get(user)
        shown = room.shown.get(user)
        nick = shown.nick if shown is not None else participant.nick if participant else ""
        gone = Element(NS.CLIENT, "presence", {"type": "unavailable"})
        left = Stanza(Kind.PRESENCE, "unavailable", None, client, state.jid, gone)
        await self._share(left, state)
        own = occupant_presence(state, user, nick, None, (rules.SELF,))
        await self.delivery.one(client, own)
        if participant is not None and not participant.nodes and not room.resources_of(user):
            await guarded(self.service.store.leave(str(state.jid), user))
            await self.service.set_participant(state, user, None)
            subscribers = [p.jid for p in state.subscribers(NS.MIX_NODE_PARTICIPANTS)]
            await notify_retract(
                self.service, state, NS.MIX_NODE_PARTICIPANTS, participant.id, subscribers
            )
        self._forget_if_empty(state, room)

    def _forget_if_empty(self, state: ChannelState, room: Room) -> None:
        if not room.occupants and self.rooms.get(str(state.jid)) is room:
            del self.rooms[str(state.jid)]

    async def _share(self, stanza: Stanza, state: ChannelState) -> None:
        """A MUC client's presence into the channel's presence node."""
        if self.service.presence_handler is None:
            return
        element = stanza.element.copy()
        rules.strip_server_owned(element)
        shared = Stanza(Kind.PRESENCE, stanza.type, stanza.id, stanza.sender, state.jid, element)
        await self.service.presence_handler(shared, state)

    # -- the channel, mirrored to MUC clients ----------------------------------

    async def presence_changed(
        self, state: ChannelState, entries: list[ClientPresence], available: bool
    ) -> None:
        room = self.rooms.get(str(state.jid))
        if room is None:
            return
        done: set[str] = set()
        for entry in entries:
            if entry.user not in done:
                done.add(entry.user)
                await self._sync(state, room, entry.user, entry if available else None)

    def removal_of(self, state: ChannelState, user: str) -> Removal | None:
        """Why `user`, no participant any more, was removed: what the
        operation under way recorded (for the user or the user's domain),
        else a ban if there is one; None when the user left."""
        key = str(state.jid)
        found = self.removals.get((key, user)) or self.removals.get((key, user.rpartition("@")[2]))
        if found is None and state.is_banned(user):
            found = Removal((rules.BANNED,))
        return found

    async def _sync(
        self, state: ChannelState, room: Room, user: str, changed: ClientPresence | None
    ) -> None:
        """Show MUC clients the user's current presence (from the node)."""
        participant = state.participants.get(user)
        removal = self.removal_of(state, user) if participant is None else None
        if participant is None:
            await self._evict(state, room, user, removal)
        entries = state.presence.of_user(user) if participant is not None else []
        old = room.shown.get(user)
        if participant is None or not entries:
            if old is not None:
                del room.shown[user]
                codes = removal.codes if removal is not None else ()
                await self._broadcast(state, room, user, old.nick, None, codes, removal=removal)
            return
        current = state.presence.get(old.proxy) if old is not None else None
        entry = changed if changed in entries else current or entries[0]
        room.shown[user] = Shown(participant.nick, entry.proxy)
        if old is not None and old.nick != participant.nick:
            await self._broadcast(
                state, room, user, old.nick, None, (rules.NICK_CHANGED,), participant.nick
            )
        await self._broadcast(state, room, user, participant.nick, entry)

    async def _broadcast(
        self,
        state: ChannelState,
        room: Room,
        user: str,
        nick: str,
        entry: ClientPresence | None,
        codes: tuple[int, ...] = (),
        new_nick: str | None = None,
        removal: Removal | None = None,
    ) -> None:
        """Occupant presence to every joined client, with 110 to the user's own."""
        others = [c for c, owner in room.occupants.items() if owner != user]
        own = room.resources_of(user)
        for show_jid in (True, False):  # MIX-ANON: the JID only to who may see it
            to = [
                c
                for c in others
                if anon.may_see(self.service, state, str(c.bare), user) is show_jid
            ]
            if to:
                element = occupant_presence(
                    state, user, nick, entry, codes, new_nick, show_jid=show_jid
                )
                if removal is not None:
                    mark(element, removal)
                await self.delivery.many(to, element)
        if own:
            element = occupant_presence(
                state, user, nick, entry, (*codes, rules.SELF), new_nick, show_jid=True
            )
            if removal is not None:
                mark(element, removal)
            await self.delivery.many(own, element)

    async def refresh(self, state: ChannelState, users: Iterable[str]) -> None:
        """The affiliation (and so the role) of these users may have
        changed: their occupant presence again to every joined client."""
        room = self.rooms.get(str(state.jid))
        if room is None:
            return
        for user in users:
            shown = room.shown.get(user)
            entry = state.presence.get(shown.proxy) if shown is not None else None
            if shown is not None and entry is not None and user in state.participants:
                await self._broadcast(state, room, user, shown.nick, entry)

    async def _evict(
        self, state: ChannelState, room: Room, user: str, removal: Removal | None
    ) -> None:
        """The user is no participant any more: its MUC clients are out."""
        codes = removal.codes if removal is not None else (rules.REMOVED,)
        for client in room.resources_of(user):
            del room.occupants[client]
            shown = room.shown.get(user)
            nick = shown.nick if shown is not None else client.resource or ""
            own = occupant_presence(state, user, nick, None, (rules.SELF, *codes))
            if removal is not None:
                mark(own, removal)
            await self.delivery.one(client, own)

    async def participant_changed(
        self, state: ChannelState, user: str, old: Participant | None, new: Participant | None
    ) -> None:
        room = self.rooms.get(str(state.jid))
        if room is None or new is not None:
            return
        await self._sync(state, room, user, None)
        self._forget_if_empty(state, room)
