"""MIX channels in a cluster: one owner node per channel, one copy per node.

- Ownership: rendezvous hashing of the channel's bare JID over the live
  nodes (`node.owner_of`). Every stanza to a channel or to one of its proxy
  JIDs (`<participant id>#<channel>`) is handled by the owner, forwarded
  there if it arrived elsewhere. The owner holds the channel in memory
  (`MixService.channel()` loads it from PostgreSQL on first use), so a new
  owner after a node died or joined starts from the stored state.
- When the live nodes change, each node drops the channels it held in
  memory unless it owned them before and still does: a channel loaded
  while another node owned it may be stale.
- Fan-out: the owner reflects each message once. Its own users' sessions
  get it as today (`LocalMembers`); for each other node holding sessions of
  recipients it publishes ONE copy, the serialized message with the list of
  those users, and that node splices and delivers it to its sessions
  (`LocalMembers.deliver_message`). A user with sessions on two nodes is in
  both lists and each node serves only its own sessions, so every session
  gets the message exactly once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from mixd.cluster.inbound import arrived
from mixd.cluster.node import ClusterNode, owner_of
from mixd.codec.stanza import Kind, Stanza
from mixd.core.router import ServiceHandler
from mixd.jid import JID
from mixd.services.mix.local import LocalParticipants
from mixd.services.mix.service import MixService
from mixd.services.mix.state import ChannelState
from mixd.services.mix_pam.local import LocalMembers
from mixd.xml.element import Element
from mixd.xml.serializer import serialize


def channel_of(to: JID) -> str | None:
    """The bare JID of the channel a stanza to `to` concerns (a channel, a
    proxy JID of one), as text; None for the service itself."""
    if to.local is None:
        return None
    pid, sep, name = to.local.partition("#")
    return f"{name}@{to.domain}" if sep and pid and name else f"{to.local}@{to.domain}"


class ClusterMembers:
    """`MixService.local` in a cluster: splits recipients by node."""

    def __init__(self, inner: LocalParticipants, node: ClusterNode) -> None:
        self.inner = inner
        self.node = node

    def is_local(self, user: str) -> bool:
        return self.inner.is_local(user)

    async def follow(self, state: ChannelState, user: str) -> None:
        await self.inner.follow(state, user)

    async def unfollow(self, state: ChannelState, user: str) -> None:
        await self.inner.unfollow(state, user)

    async def reconcile(self, state: ChannelState, users: frozenset[str]) -> None:
        await self.inner.reconcile(state, users)

    def deliver(self, state: ChannelState, message: Element, users: Iterable[str]) -> None:
        sessions = self.node.server.sessions
        directory = self.node.directory
        here: list[str] = []
        elsewhere: defaultdict[str, list[str]] = defaultdict(list)
        for user in users:
            if sessions.of(user):
                here.append(user)
            for remote in directory.resources(user):
                users_there = elsewhere[remote.node]
                if not users_there or users_there[-1] != user:
                    users_there.append(user)
        if here:
            self.inner.deliver(state, message, here)
        if elsewhere:
            data = serialize(message)
            for node, users_there in elsewhere.items():
                self.node.send_channel_message(node, data, users_there)


class ChannelOwnership:
    def __init__(self, node: ClusterNode) -> None:
        self.node = node
        self.services: dict[str, MixService] = {}
        node.membership_listeners.append(self._membership_changed)

    def attach(self, service: MixService, local: LocalMembers | None) -> None:
        """Take over the service's routing and fan-out (after MIX-PAM attached)."""
        self.services[service.domain] = service
        router = self.node.server.router
        handler = router.services[service.domain]
        router.services[service.domain] = self._owned(service, handler)
        # Background work on channels (the end-of-life sweep) only for those owned here.
        service.owns = lambda channel: self.owner(channel) == self.node.name
        if service.local is not None:
            service.local = ClusterMembers(service.local, self.node)
        if local is not None:
            self.node.mix_handler = local.deliver_message

    def owner(self, channel: str) -> str:
        return owner_of(channel, self.node.live)

    def _owned(self, service: MixService, handler: ServiceHandler) -> ServiceHandler:
        node = self.node

        async def route(stanza: Stanza) -> None:
            to = stanza.to
            assert to is not None
            channel = channel_of(to)
            if channel is None:
                await handler(stanza)
                # A channel created (or looked at) here may be owned elsewhere.
                self._drop_unowned(service)
                return
            owner = self.owner(channel)
            if owner == node.name or arrived.get() is stanza:
                await handler(stanza)
            elif stanza.kind is Kind.MESSAGE and not stanza.is_error:
                # Acknowledged means stored: the owner archives it.
                await node.route_confirmed(owner, stanza.element)
            else:
                node.route_on(owner, stanza.element)

        return route

    def _drop_unowned(self, service: MixService) -> None:
        me = self.node.name
        for channel in service.cached_channels():
            if self.owner(channel) != me:
                service.forget_channel(JID.parse(channel))

    def _membership_changed(self, before: frozenset[str], after: frozenset[str]) -> None:
        me = self.node.name
        for service in self.services.values():
            for channel in service.cached_channels():
                if owner_of(channel, before) != me or owner_of(channel, after) != me:
                    service.forget_channel(JID.parse(channel))
