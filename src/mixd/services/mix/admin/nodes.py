"""XEP-0406 MIX-ADMIN 0.3.1 sections 2.2-2.4 and 3: the configuration,
allowed and banned nodes. PubSub reaches them through `Nodes` (which has
checked the node is present and the requester's right); the ad-hoc commands
call the same operations.

Every change is committed first, then applied to the channel in memory, then
announced to the node's subscribers who may still read it.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from mixd import ns as NS
from mixd.codec.xep0004_forms import DataForm
from mixd.codec.xep0060_pubsub import Item
from mixd.codec.xep0082_datetime import format_datetime, now_micros
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID, JIDError
from mixd.services.mix.admin import config as cfg
from mixd.services.mix.admin import rights as admin_rights
from mixd.services.mix.admin.rights import Role
from mixd.services.mix.nodes import item_form
from mixd.services.mix.notify import notify_retract, send_event
from mixd.services.mix.service import MixService, NodeOps, Request, guarded
from mixd.services.mix.state import ChannelState
from mixd.storage.contracts.mix import AccessList, ChannelNotFound
from mixd.xml.element import Element

LISTS: dict[str, AccessList] = {NS.MIX_NODE_ALLOWED: "allowed", NS.MIX_NODE_BANNED: "banned"}


def access_entry(text: str) -> str:
    """An allowed/banned item id: a bare JID or a domain, normalised."""
    try:
        jid = JID.parse(text.strip())
    except JIDError as exc:
        raise StanzaError(StanzaErrorCondition.BAD_REQUEST, f"item id {text!r}: {exc}") from None
    if jid.resource is not None:
        raise StanzaError(
            StanzaErrorCondition.BAD_REQUEST, f"item id {text!r}: a bare JID or a domain"
        )
    return str(jid)


def config_item_id(state: ChannelState) -> str:
    return format_datetime(state.config.updated or state.channel.created)


class AdminNodes:
    def __init__(self, service: MixService) -> None:
        self.service = service
        service.node_ops[NS.MIX_NODE_CONFIG] = NodeOps(self.config_items, self.publish_config)
        for node, which in LISTS.items():
            service.node_ops[node] = NodeOps(
                partial(self.list_items, which=which),
                partial(self.publish_entry, which=which),
                partial(self.retract_entry, which=which),
            )

    # -- configuration -------------------------------------------------------------

    def config_form(self, state: ChannelState, kind: str) -> DataForm:
        return state.config.form(kind, admin_rights.node_options(self.service.rights))

    def config_items(self, request: Request) -> list[Element]:
        state = request.state()
        item = Element(NS.PUBSUB, "item", {"id": config_item_id(state)})
        item.append(self.config_form(state, "result").encode())
        return [item]

    async def publish_config(self, request: Request, item: Item) -> str:
        state = request.state()
        await self.configure(state, request.sender, item_form(item))
        return config_item_id(state)

    async def configure(self, state: ChannelState, by: JID, form: DataForm) -> None:
        """Apply a submitted configuration form (the caller checked `by` is an owner)."""
        options = admin_rights.node_options(self.service.rights)
        new = cfg.changed(state.config, form, options, str(by.bare), now_micros())
        jid = str(state.jid)
        try:
            await guarded(
                self.service.store.set_config(
                    jid, new.owners, new.stored(), new.updated, new.end_of_life
                )
            )
        except ChannelNotFound:
            raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "no such channel") from None
        before, old = state.nodes, state.config
        channel = replace(
            state.channel,
            owners=new.owners,
            config=new.stored(),
            config_updated=new.updated,
            end_of_life=new.end_of_life,
        )
        self.service.adopt(state, channel)
        # A list whose node was removed is gone with it ("Nodes Present").
        for node, which in LISTS.items():
            if node in before and node not in state.nodes:
                await guarded(self.service.store.clear_access(jid, which))
                getattr(state, which).clear()
        await self._announce_config(state)
        for listener in self.service.config_listeners:
            await listener(state, old)

    async def _announce_config(self, state: ChannelState) -> None:
        items = Element(NS.PUBSUB_EVENT, "items", {"node": NS.MIX_NODE_CONFIG})
        item = items.add(NS.PUBSUB_EVENT, "item", {"id": config_item_id(state)})
        item.append(self.config_form(state, "result").encode())
        await send_event(
            self.service, state, NS.MIX_NODE_CONFIG, items, self._readers(state, NS.MIX_NODE_CONFIG)
        )

    def _readers(self, state: ChannelState, node: str) -> list[str]:
        """Subscribers who may still read the node (rights can change after
        they subscribed)."""
        return [
            p.jid
            for p in state.subscribers(node)
            if self.service.may(state, JID.parse(p.jid), node, "read")
        ]

    # -- allowed and banned ----------------------------------------------------------

    def list_items(self, request: Request, which: AccessList) -> list[Element]:
        entries = sorted(getattr(request.state(), which))
        return [Element(NS.PUBSUB, "item", {"id": entry}) for entry in entries]

    async def publish_entry(self, request: Request, item: Item, which: AccessList) -> str:
        if not item.id:
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "the item id is the JID")
        entry = access_entry(item.id)
        await self.add_entry(request.state(), which, entry)
        return entry

    async def retract_entry(self, request: Request, item_id: str, which: AccessList) -> None:
        await self.remove_entry(request.state(), which, access_entry(item_id))

    async def add_entry(self, state: ChannelState, which: AccessList, entry: str) -> None:
        service = self.service
        if (
            which == "banned"
            and "@" in entry
            and service.role(state, JID.parse(entry)) >= Role.ADMIN
        ):
            # Owners and administrators keep their rights until the
            # configuration takes them away (a domain ban removes them
            # as participants, but they may join again).
            raise StanzaError(
                StanzaErrorCondition.NOT_ALLOWED, f"{entry} is an owner or administrator"
            )
        jid = str(state.jid)
        try:
            removed = await guarded(service.store.add_access(jid, which, entry))
        except ChannelNotFound:
            raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "no such channel") from None
        getattr(state, which).add(entry)
        # From here on the removed users receive nothing (MixService.reflect
        # skips `leaving`), even before each removal below is applied.
        gone = {p.jid for p in removed}
        state.leaving |= gone
        try:
            for participant in removed:
                # The user learns it first, while the user's server still
                # takes notifications from this channel for the user.
                await notify_retract(
                    service, state, NS.MIX_NODE_PARTICIPANTS, participant.id, [participant.jid]
                )
                await service.set_participant(state, participant.jid, None)
        finally:
            state.leaving -= gone
        for participant in removed:
            to = [p.jid for p in state.subscribers(NS.MIX_NODE_PARTICIPANTS)]
            await notify_retract(service, state, NS.MIX_NODE_PARTICIPANTS, participant.id, to)
        node = NS.MIX_NODE_BANNED if which == "banned" else NS.MIX_NODE_ALLOWED
        items = Element(NS.PUBSUB_EVENT, "items", {"node": node})
        items.add(NS.PUBSUB_EVENT, "item", {"id": entry})
        await send_event(service, state, node, items, self._readers(state, node))

    async def remove_entry(self, state: ChannelState, which: AccessList, entry: str) -> None:
        await guarded(self.service.store.remove_access(str(state.jid), which, entry))
        getattr(state, which).discard(entry)
        node = NS.MIX_NODE_BANNED if which == "banned" else NS.MIX_NODE_ALLOWED
        await notify_retract(self.service, state, node, entry, self._readers(state, node))
