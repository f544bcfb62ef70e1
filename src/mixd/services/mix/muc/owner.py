"""`muc#owner` queries on a room (XEP-0045 section 10): the configuration
form, mapped to the MIX configuration and information nodes
(`roomconfig.py`), and destroying the room, which destroys the channel.

Only owners (who may change the MIX configuration node) configure or
destroy; anyone else gets `forbidden`. A submitted form goes through
MIX-ADMIN's own configuration change (validated, stored, announced on the
config node) and the information node's publish, so MIX participants see
the change; occupants get status 104 (and, through the configuration
listeners, the presence again of who gained or lost owner or admin).
Turning members-only on adds the allowed node with every current
participant on it, so nobody already in the room loses the right to come
back.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from mixd import ns as NS
from mixd.codec.xep0045_admin import DestroyRequest, OwnerQuery
from mixd.codec.xep0045_muc import user_x
from mixd.codec.xep0060_pubsub import Item
from mixd.codec.xep0082_datetime import now_micros
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.services.mix.admin import config as cfg
from mixd.services.mix.admin import rights as admin_rights
from mixd.services.mix.admin.config import ChannelConfig
from mixd.services.mix.admin.nodes import AdminNodes
from mixd.services.mix.admin.rights import Role
from mixd.services.mix.lifecycle import destroy_channel
from mixd.services.mix.muc import roomconfig, rules
from mixd.services.mix.muc.room import Room
from mixd.services.mix.nodes import info_form
from mixd.services.mix.service import MixService, Request
from mixd.services.mix.state import ChannelState
from mixd.xml.element import Element

if TYPE_CHECKING:
    from mixd.services.mix.muc.face import MucFace


class RoomOwner:
    def __init__(self, service: MixService, face: MucFace, admin: AdminNodes) -> None:
        self.service = service
        self.face = face
        self.admin = admin
        service.on_iq("channel", NS.MUC_OWNER, "query", "get", self.get)
        service.on_iq("channel", NS.MUC_OWNER, "query", "set", self.set)
        # While a MUC owner's destroy is applied: its reason and venue, by channel.
        self.destroying: dict[str, DestroyRequest] = {}
        service.config_listeners.append(self.config_changed)
        # Every way a channel goes (destroy, End of Life, ad-hoc command).
        service.destroy_listeners.append(self.destroyed)

    def _require_owner(self, request: Request) -> None:
        self.face.reach.require_muc()
        if not self.service.may(request.state(), request.sender, NS.MIX_NODE_CONFIG, "update"):
            raise StanzaError(StanzaErrorCondition.FORBIDDEN, "only owners configure the room")

    async def get(self, request: Request) -> Element | None:
        self._require_owner(request)
        query = Element(NS.MUC_OWNER, "query")
        query.append(roomconfig.room_form(request.state()).encode())
        return query

    async def set(self, request: Request) -> Element | None:
        self.face.reach.require_muc()
        query = OwnerQuery.decode(request.payload)
        if query.destroy is not None:
            await self._destroy(request, query)
            return None
        self._require_owner(request)
        form = query.form
        if form is None:
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "submit a form or destroy")
        if form.type == "cancel":
            return None  # nothing changed yet
        if form.type != "submit":
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "submit the form")
        state = request.state()
        change = roomconfig.submitted(state, form, now_micros())
        mix_form = roomconfig.mix_form(change)
        if change.config:
            # Checked whole before anything is written.
            options = admin_rights.node_options(self.service.rights)
            cfg.changed(state.config, mix_form, options, str(request.sender.bare), now_micros())
        info_right = self.service.may(state, request.sender, NS.MIX_NODE_INFO, "update")
        if change.info is not None and not info_right:
            raise StanzaError(StanzaErrorCondition.FORBIDDEN, "you may not change the info")
        if change.config:
            await self.admin.configure(state, request.sender, mix_form)
        if change.members_only_now:
            for user in sorted(state.participants):
                if not state.is_listed_allowed(user):
                    await self.admin.add_entry(state, "allowed", user)
        if change.info is not None:
            info_ops = self.service.node_ops[NS.MIX_NODE_INFO]
            assert info_ops.publish is not None
            item = Item(None, info_form(change.info, "submit"))
            await info_ops.publish(request, item)
        room = self.face.rooms.get(str(state.jid))
        if change.info is not None and not change.config and room is not None:
            await self.notify_config(state, room)  # else the config change did
        return None

    async def config_changed(self, state: ChannelState, before: ChannelConfig) -> None:
        """Status 104 to every joined client (XEP-0045 10.2.1), and the
        presence of occupants who gained or lost owner or admin again."""
        room = self.face.rooms.get(str(state.jid))
        if room is None:
            return
        await self.notify_config(state, room)
        now = state.config
        changed = set(before.owners) ^ set(now.owners)
        changed |= set(before.administrators) ^ set(now.administrators)
        await self.face.refresh(state, sorted(changed))

    async def notify_config(self, state: ChannelState, room: Room) -> None:
        notice = Element(NS.CLIENT, "message", {"from": str(state.jid), "type": "groupchat"})
        notice.attrs["id"] = secrets.token_hex(8)
        code = {"code": str(rules.CONFIG_CHANGED)}
        notice.add(NS.MUC_USER, "x").add(NS.MUC_USER, "status", code)
        await self.face.delivery.many(list(room.occupants), notice)

    async def _destroy(self, request: Request, query: OwnerQuery) -> None:
        state = request.state()
        if self.service.role(state, request.sender) < Role.OWNER:
            raise StanzaError(StanzaErrorCondition.FORBIDDEN, "only an owner may destroy")
        assert query.destroy is not None
        key = str(state.jid)
        self.destroying[key] = query.destroy
        try:
            await destroy_channel(self.service, state)
        finally:
            self.destroying.pop(key, None)

    async def destroyed(self, state: ChannelState) -> None:
        """The channel is destroyed: every joined MUC client is told the room
        is gone (XEP-0045 10.9)."""
        key = str(state.jid)
        room = self.face.rooms.pop(key, None)
        request = self.destroying.get(key, DestroyRequest())
        if room is not None:
            for client, user in room.occupants.items():
                shown = room.shown.get(user)
                nick = shown.nick if shown is not None else client.resource or ""
                gone = Element(NS.CLIENT, "presence", {"type": "unavailable"})
                gone.attrs["from"] = f"{key}/{nick}"
                x = user_x("none", "none", codes=(rules.SELF,))
                x.append(request.user_element())
                gone.append(x)
                await self.face.delivery.one(client, gone)
