"""The MIX channel service on one domain: receives every stanza addressed to
the domain or a channel on it, and dispatches to the feature slices.

IQ requests are looked up in a table keyed by (target, namespace, element,
type), where target is the service itself or a channel; slices register
their handlers there, so MIX-ADMIN, -PRESENCE and -ANON add entries rather
than branches.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeVar

from mixd import ns as NS
from mixd.codec.stanza import CodecError, Kind, Stanza, iq_payload, iq_result
from mixd.codec.xep0060_pubsub import Item
from mixd.errors import ErrorType, StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.services.mix.admin import rights as admin_rights
from mixd.services.mix.admin.config import ChannelConfig
from mixd.services.mix.admin.rights import NodeRights, Role
from mixd.services.mix.local import LocalParticipants
from mixd.services.mix.presence_state import PresencePolicy
from mixd.services.mix.state import ChannelState
from mixd.storage.contracts.mix import Channel, MixStore, Participant
from mixd.storage.errors import StorageUnavailable
from mixd.xml.element import Element

if TYPE_CHECKING:
    from mixd.core.server import Server
    from mixd.services.mix.muc.mirror import MucMirror
    from mixd.services.mix.presence_state import ClientPresence
    from mixd.storage.contracts.archive import ArchiveStore

log = logging.getLogger(__name__)

Target = Literal["service", "channel"]
Action = Literal["read", "update"]


@dataclass(frozen=True, slots=True)
class Request:
    stanza: Stanza
    payload: Element
    channel: ChannelState | None  # None for requests to the service itself

    @property
    def sender(self) -> JID:
        return self.stanza.sender

    def state(self) -> ChannelState:
        assert self.channel is not None
        return self.channel


Handler = Callable[[Request], Awaitable[Element | None]]
# (channel, user, participant before, participant after; None: not one)
ParticipantListener = Callable[
    [ChannelState, str, Participant | None, Participant | None], Awaitable[None]
]
# (channel, presence-node items that changed, available): after MIX-PRESENCE sent them
PresenceListener = Callable[[ChannelState, "list[ClientPresence]", bool], Awaitable[None]]
# (channel, message as reflected, its sender, the sender's stanza, resent duplicate)
ReflectListener = Callable[[ChannelState, Element, Participant, Element, bool], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class NodeOps:
    """What PubSub can do with one channel node, after the rights check
    (`MixService.rights`): list its items, publish or retract one. A node
    without `publish`/`retract` is changed by other means only."""

    items: Callable[[Request], list[Element]]  # <item/> elements in the pubsub namespace
    publish: Callable[[Request, Item], Awaitable[str]] | None = None  # returns the item id
    retract: Callable[[Request, str], Awaitable[None]] | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    create_policy: Literal["local", "admins", "anyone"] = "local"
    destroy_archive: Literal["delete", "keep"] = "delete"
    admins: frozenset[str] = frozenset()
    message_rate: float = 50.0  # messages/s per participant and channel; 0: unlimited
    message_burst: int = 200
    expiry_interval: float = 60.0  # seconds between end-of-life sweeps
    retraction_window: float = 0.0  # seconds a sender may retract its message; 0: always
    invitation_lifetime: float = 7 * 86400.0  # seconds an invitation (XEP-0407) is valid


class MixService:
    def __init__(self, server: Server, domain: str, store: MixStore, settings: Settings) -> None:
        self.server = server
        self.domain = domain
        self.jid = JID(None, domain, None)
        self.store = store
        self.archive: ArchiveStore = server.stores.archive
        self.settings = settings
        self.handlers: dict[tuple[Target, str, str, str], Handler] = {}
        # Called in order for each groupchat to a channel; one returning
        # True has taken the message and the rest are skipped.
        self.message_handlers: list[Callable[[Stanza, ChannelState], Awaitable[bool | None]]] = []
        # Messages to a channel that are not groupchat: True = taken.
        self.message_claims: list[Callable[[Stanza, ChannelState], Awaitable[bool]]] = []
        # Slices beyond MIX-CORE (MIX-PRESENCE) take presence to a channel,
        # stanzas to a participant's proxy JID ('<participant id>#<channel>'),
        # and hear of every participation change; their nodes go in `rights`
        # and `node_ops`.
        self.presence_handler: Callable[[Stanza, ChannelState], Awaitable[None]] | None = None
        self.proxy_handler: Callable[[Stanza, ChannelState, str], Awaitable[None]] | None = None
        self.participant_listeners: list[ParticipantListener] = []
        # The MUC face (XEP-0408): stanzas to '<channel>/<nick>', and what it
        # mirrors to MUC occupants.
        self.occupant_handler: Callable[[Stanza, ChannelState, str], Awaitable[None]] | None = None
        self.presence_listeners: list[PresenceListener] = []
        self.reflect_listeners: list[ReflectListener] = []
        # Rewrites the answer to an IQ request before it is sent (the MUC
        # mirror domain answers with its own JIDs).
        self.answer_hook: Callable[[Element], Element] | None = None
        # The MUC mirror domain's handler (XEP-0408 partially integrated mode).
        self.muc_mirror: MucMirror | None = None
        # Told of a committed configuration change (channel, configuration before).
        self.config_listeners: list[Callable[[ChannelState, ChannelConfig], Awaitable[None]]] = []
        # Told of a destroyed channel (by request, End of Life or command).
        self.destroy_listeners: list[Callable[[ChannelState], Awaitable[None]]] = []
        self.local: LocalParticipants | None = None  # set by MIX-PAM
        # Whether this process answers for a channel (bare JID text); a
        # cluster narrows it to the channels this node owns.
        self.owns: Callable[[str], bool] = lambda _channel: True
        # Who may read and change each node (MIX-ADMIN); a slice adding a
        # node adds its entry before channels are loaded.
        self.rights: dict[str, NodeRights] = admin_rights.default_rights()
        self.node_ops: dict[str, NodeOps] = {}  # PubSub access, per node
        # disco#items of a named node (e.g. the ad-hoc command list), and
        # features slices add to disco#info of the service and channels.
        self.item_nodes: dict[tuple[Target, str], Handler] = {}
        self.features: set[str] = set()
        self._channels: dict[str, ChannelState] = {}

    def on_iq(self, target: Target, ns: str, name: str, iq_type: str, handler: Handler) -> None:
        self.handlers[(target, ns, name, iq_type)] = handler

    # -- channels --------------------------------------------------------------

    async def channel(self, jid: JID) -> ChannelState | None:
        key = str(jid.bare)
        state = self._channels.get(key)
        if state is None:
            stored = await guarded(self.store.get_channel(key))
            if stored is None:
                return None
            participants = await guarded(self.store.participants(key))
            loaded = ChannelState.load(stored, participants)
            allowed = await guarded(self.store.access_list(key, "allowed"))
            banned = await guarded(self.store.access_list(key, "banned"))
            self.adopt(loaded, stored, allowed, banned)
            if self.local is not None:
                following = (p.jid for p in loaded.subscribers(NS.MIX_NODE_MESSAGES))
                local = frozenset(u for u in following if self.local.is_local(u))
                await guarded(self.local.reconcile(loaded, local))
            state = self._channels.setdefault(key, loaded)
        return state

    def follow_for(
        self, state: ChannelState, user: str, participant: Participant
    ) -> Awaitable[None] | None:
        """The archive follow `set_participant` would make for this change,
        to be awaited together with the participant's own store write, so
        both go in one group commit (then `set_participant(...,
        followed=True)`); None when the change needs none."""
        old = state.participants.get(user)
        if old is not None and NS.MIX_NODE_MESSAGES in old.nodes:
            return None
        if NS.MIX_NODE_MESSAGES not in participant.nodes:
            return None
        if self.local is None or not self.local.is_local(user):
            return None
        return guarded(self.local.follow(state, user))

    async def set_participant(
        self,
        state: ChannelState,
        user: str,
        participant: Participant | None,
        *,
        followed: bool = False,
    ) -> None:
        """Apply a committed change of `user`'s participation (None: gone) to
        the channel in memory, keeping the user's archive in step: it follows
        the channel before the user receives messages, and stops after
        (`followed`: the caller already awaited `follow_for`)."""
        old = state.participants.get(user)
        was = old is not None and NS.MIX_NODE_MESSAGES in old.nodes
        now = participant is not None and NS.MIX_NODE_MESSAGES in participant.nodes
        local = self.local if self.local is not None and self.local.is_local(user) else None
        if local is not None and now and not was and not followed:
            await guarded(local.follow(state, user))
        if participant is not None:
            state.put(participant)
        else:
            state.remove(user)
        if local is not None and was and not now:
            await guarded(local.unfollow(state, user))
        for listener in self.participant_listeners:
            await listener(state, user, old, participant)

    def adopt(
        self,
        state: ChannelState,
        channel: Channel,
        allowed: Iterable[str] | None = None,
        banned: Iterable[str] | None = None,
    ) -> None:
        """Take a committed channel record (and access lists, when given) as
        the channel's: its configuration and the nodes it makes present."""
        state.channel = channel
        state.config = ChannelConfig.of(channel, admin_rights.default_present(self.rights))
        state.nodes = admin_rights.present_nodes(state.config, self.rights)
        state.presence_policy = PresencePolicy(
            open=state.config.flag("Open Presence"),
            required=state.config.flag("Participants Must Provide Presence"),
        )
        if allowed is not None:
            state.allowed = set(allowed)
        if banned is not None:
            state.banned = set(banned)

    def role(self, state: ChannelState, user: JID) -> Role:
        return admin_rights.role_of(state, str(user.bare), self.settings.admins)

    def may(self, state: ChannelState, user: JID, node: str, action: Action) -> bool:
        """May `user` read (or subscribe to) / update `node` of this channel?"""
        rights = self.rights.get(node)
        if rights is None or node not in state.nodes:
            return False
        role = self.role(state, user)
        if action == "read":
            return admin_rights.may_read(rights, state.config, role)
        return admin_rights.may_update(rights, state.config, role)

    def require(self, state: ChannelState, user: JID, node: str, action: Action) -> None:
        if not self.may(state, user, node, action):
            what = "read" if action == "read" else "change"
            raise StanzaError(StanzaErrorCondition.FORBIDDEN, f"you may not {what} {node}")

    def add_channel(self, state: ChannelState) -> None:
        self.adopt(state, state.channel)
        self._channels[str(state.jid)] = state

    def forget_channel(self, jid: JID) -> None:
        self._channels.pop(str(jid.bare), None)

    def cached_channels(self) -> list[str]:
        """The channels held in memory (a cluster drops those another node
        now owns: the owner's copy is the one kept current)."""
        return list(self._channels)

    # -- receiving -------------------------------------------------------------

    async def receive(self, stanza: Stanza) -> None:
        to = stanza.to
        assert to is not None
        state = None
        if to.local is not None:
            state = await self.channel(to) if to.resource is None else None
            if state is None:
                if await self._to_proxy(stanza, to):
                    return
                if await self._to_occupant(stanza, to):
                    return
                if to.resource is not None:
                    # Neither a proxy JID nor an occupant: nothing lives there.
                    raise StanzaError(StanzaErrorCondition.SERVICE_UNAVAILABLE)
                if stanza.kind is Kind.PRESENCE or stanza.is_error:
                    return
                raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "no such channel")
        elif to.resource is not None:
            raise StanzaError(StanzaErrorCondition.SERVICE_UNAVAILABLE)
        if stanza.kind is Kind.IQ:
            await self._iq(stanza, state)
        elif stanza.kind is Kind.PRESENCE and state is not None:
            if self.presence_handler is not None:
                await self.presence_handler(stanza, state)
        elif stanza.kind is Kind.MESSAGE and state is not None and stanza.type == "groupchat":
            for handler in self.message_handlers:
                if await handler(stanza, state):
                    break
        elif stanza.kind is Kind.MESSAGE and not stanza.is_error:
            claimed = state is not None and await self._claimed(stanza, state)
            if not claimed:
                raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "send groupchat messages")

    async def _claimed(self, stanza: Stanza, state: ChannelState) -> bool:
        """Whether a slice took a message to the channel that is not a
        groupchat (a MUC invitation)."""
        for claim in self.message_claims:
            if await claim(stanza, state):
                return True
        return False

    async def _to_proxy(self, stanza: Stanza, to: JID) -> bool:
        """Hand a stanza for a proxy JID of an existing channel to its slice."""
        local = to.local or ""
        pid, sep, name = local.partition("#")
        if self.proxy_handler is None or not sep or not pid or not name:
            return False
        state = await self.channel(JID(name, to.domain, None))
        if state is None:
            return False
        await self.proxy_handler(stanza, state, pid)
        return True

    async def _to_occupant(self, stanza: Stanza, to: JID) -> bool:
        """Hand a stanza for '<channel>/<nick>' of an existing channel to the MUC face."""
        if self.occupant_handler is None or to.resource is None:
            return False
        state = await self.channel(to.bare)
        if state is None:
            return False
        await self.occupant_handler(stanza, state, to.resource)
        return True

    async def _iq(self, stanza: Stanza, state: ChannelState | None) -> None:
        if not stanza.is_request:
            return
        payload = iq_payload(stanza)
        assert payload is not None
        target: Target = "service" if state is None else "channel"
        handler = self.handlers.get((target, payload.ns, payload.name, stanza.type))
        if handler is None:
            raise StanzaError(StanzaErrorCondition.SERVICE_UNAVAILABLE)
        try:
            result = await handler(Request(stanza, payload, state))
        except CodecError as exc:
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, str(exc)) from None
        answer = iq_result(stanza, result)
        await self.send(self.answer_hook(answer) if self.answer_hook is not None else answer)

    # -- sending ---------------------------------------------------------------

    async def reflect(self, state: ChannelState, message: Element, users: list[str]) -> None:
        """Send a channel message (no `to`) to each user's bare JID: users on
        this server in one pass through `local`, others one routed copy each.

        `users` were fixed before the message was stored; whoever stopped
        participating since (left, or was banned) is skipped, here and before
        each routed copy, so a ban takes effect even on a fan-out under way."""
        participants, leaving = state.participants, state.leaving
        users = [u for u in users if u in participants and u not in leaving]
        elsewhere = users
        if self.local is not None:
            is_local = self.local.is_local
            elsewhere = [u for u in users if not is_local(u)]
            here = users if not elsewhere else [u for u in users if is_local(u)]
            self.local.deliver(state, message, here)
        for user in elsewhere:
            if user not in participants or user in leaving:
                continue
            copy = message.copy()
            copy.attrs["to"] = user
            await self.send(copy)

    async def send(self, element: Element) -> None:
        """Route a stanza the service emits (`from` and `to` set)."""
        await self.server.router.send(element)


T = TypeVar("T")


async def guarded(call: Awaitable[T]) -> T:
    """Storage trouble answers `wait`/internal-server-error, in one place."""
    try:
        return await call
    except StorageUnavailable:
        raise StanzaError(
            StanzaErrorCondition.INTERNAL_SERVER_ERROR, "storage unavailable, retry", ErrorType.WAIT
        ) from None
