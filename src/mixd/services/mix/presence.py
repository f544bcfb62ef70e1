"""XEP-0403 MIX-PRESENCE 0.3.2 on the channel: the presence node.

A client's presence arrives from its server (XEP-0405) as ordinary presence
from the client's full JID to the channel. The channel keeps it, under the
client's proxy JID, in the presence node (`ChannelState.presence`, in
memory: presence is volatile) and sends it, as presence from the proxy JID
with the `<mix/>` of `NS.MIX_PRESENCE` (the client's JID and the
participant's nick) added, to the bare JID of every subscriber of the
presence node. Unavailable presence removes the item; a participant who
leaves or is removed loses every item, with unavailable sent for each; a
nick change sends the participant's items again with the new nick.

A presence from a participant's bare JID is not a client's: it asks for the
whole node (XEP-0405 5.1.9.4, a server loading or refreshing what it holds),
which the channel sends to that bare JID, as it does to a new subscriber of
the node. PubSub reads of the node follow its MIX-ADMIN rights
("Presence Node Subscription": participants by default, and owners).
"""

from __future__ import annotations

import secrets

from mixd import ns as NS
from mixd.codec.stanza import Stanza
from mixd.codec.xep0403_presence import MixPresence, strip_mix
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.services.mix import anon, rules
from mixd.services.mix.presence_state import ClientPresence, may_send, may_share, proxy_jid
from mixd.services.mix.service import MixService, NodeOps, Request
from mixd.services.mix.state import ChannelState
from mixd.storage.contracts.mix import Participant
from mixd.xml.element import Element

MAX_ITEMS = 10_000  # clients in one channel's presence node


def presence_element(
    state: ChannelState, entry: ClientPresence, available: bool, *, show_jid: bool
) -> Element:
    """The presence the channel sends about `entry` (no `to`); the client's
    real JID only when `show_jid` (MIX-ANON: `anon.may_see`)."""
    if available:
        element = entry.presence.copy()
    else:
        element = Element(NS.CLIENT, "presence", {"type": "unavailable"})
    element.attrs["from"] = str(entry.proxy)
    participant = state.participants.get(entry.user)
    jid = str(entry.client) if show_jid else None
    mix = MixPresence(jid, participant.nick if participant else None)
    element.children.insert(0, mix.encode())
    return element


class ChannelPresence:
    def __init__(self, service: MixService) -> None:
        self.service = service
        service.presence_handler = self.receive
        service.participant_listeners.append(self.participant_changed)
        # PubSub reads; `Nodes` checks the node's MIX-ADMIN rights first
        # (`admin.rights.PRESENCE`: "Presence Node Subscription").
        service.node_ops[NS.MIX_NODE_PRESENCE] = NodeOps(self.read_node)
        # Before the message is stored and reflected.
        service.message_handlers.insert(0, self.check_sender)

    # -- presence from clients' servers ----------------------------------------

    async def receive(self, stanza: Stanza, state: ChannelState) -> None:
        if NS.MIX_NODE_PRESENCE not in state.nodes:
            return  # removed from "Nodes Present" (MIX-ADMIN): no presence kept
        sender = stanza.sender
        if sender.resource is None:
            if stanza.type in ("available", "probe"):
                await self.send_node(state, str(sender))
        elif stanza.type == "available":
            await self._available(state, stanza)
        elif stanza.type == "unavailable":
            await self._unavailable(state, sender)
        # Subscription stanzas, probes from a client and errors change nothing.

    def _participant_id(self, state: ChannelState, user: JID) -> str:
        participant = state.participants.get(str(user.bare))
        if participant is not None:
            return participant.id
        return rules.participant_id(state.channel.secret, user)  # open presence

    async def _available(self, state: ChannelState, stanza: Stanza) -> None:
        client = stanza.sender
        if not may_share(state.presence_policy, str(client.bare) in state.participants):
            return
        pid = self._participant_id(state, client)
        proxy = proxy_jid(state.jid, pid, state.channel.secret, client)
        if state.presence.get(proxy) is None and len(state.presence) >= MAX_ITEMS:
            return  # bounded: clients beyond it are not shown
        entry = ClientPresence(client, pid, proxy, strip_mix(stanza.element))
        state.presence.put(entry)
        await self._distribute(state, [entry], available=True)

    async def _unavailable(self, state: ChannelState, client: JID) -> None:
        proxy = proxy_jid(
            state.jid, self._participant_id(state, client), state.channel.secret, client
        )
        entry = state.presence.remove(proxy)
        if entry is not None:
            await self._distribute(state, [entry], available=False)

    # -- distribution ----------------------------------------------------------

    async def _distribute(
        self, state: ChannelState, entries: list[ClientPresence], available: bool
    ) -> None:
        subscribers = [p.jid for p in state.subscribers(NS.MIX_NODE_PRESENCE)]
        for entry in entries:
            seeing, blind = anon.split(self.service, state, subscribers, entry.user)
            for to, show_jid in ((seeing, True), (blind, False)):
                element = presence_element(state, entry, available, show_jid=show_jid)
                element.attrs["id"] = secrets.token_hex(8)
                for user in to:
                    copy = element.copy()
                    copy.attrs["to"] = user
                    await self.service.send(copy)
        for listener in self.service.presence_listeners:
            await listener(state, entries, available)

    async def send_node(self, state: ChannelState, user: str) -> None:
        """Every item of the presence node, to a subscriber's bare JID."""
        participant = state.participants.get(user)
        if participant is None or NS.MIX_NODE_PRESENCE not in participant.nodes:
            return
        for entry in state.presence:
            show_jid = anon.may_see(self.service, state, user, entry.user)
            element = presence_element(state, entry, available=True, show_jid=show_jid)
            element.attrs["id"] = secrets.token_hex(8)
            element.attrs["to"] = user
            await self.service.send(element)

    async def participant_changed(
        self, state: ChannelState, user: str, old: Participant | None, new: Participant | None
    ) -> None:
        if new is None:
            # Left or removed: every client of the user leaves the node.
            gone = state.presence.remove_user(user)
            if gone:
                await self._distribute(state, gone, available=False)
            return
        subscribed = old is not None and NS.MIX_NODE_PRESENCE in old.nodes
        if NS.MIX_NODE_PRESENCE in new.nodes and not subscribed:
            await self.send_node(state, user)
        if old is None or old.nick != new.nick or old.preferences != new.preferences:
            # Seen as a change of the same clients (XEP-0403 section 2, item 3);
            # a MIX-ANON preference may show or hide the client JIDs now.
            await self._distribute(state, state.presence.of_user(user), available=True)

    # -- the node through PubSub, and the presence policy ----------------------

    def read_node(self, request: Request) -> list[Element]:
        items = []
        state, viewer = request.state(), str(request.sender.bare)
        for entry in state.presence:
            item = Element(NS.PUBSUB, "item", {"id": str(entry.proxy)})
            show_jid = anon.may_see(self.service, state, viewer, entry.user)
            element = presence_element(state, entry, available=True, show_jid=show_jid)
            del element.attrs["from"]
            item.append(element)
            items.append(item)
        return items

    async def check_sender(self, stanza: Stanza, state: ChannelState) -> None:
        """'Participants Must Provide Presence': no message without presence."""
        if not state.presence_policy.required:
            return
        user = str(stanza.sender.bare)
        if user in state.participants and not may_send(
            state.presence_policy, bool(state.presence.of_user(user))
        ):
            raise StanzaError(
                StanzaErrorCondition.NOT_ALLOWED, "this channel requires sharing presence"
            )
