"""`muc#admin` queries on a room (XEP-0045 sections 8-10) done with
MIX-ADMIN (XEP-0406): kicking, role and affiliation changes, and the
affiliation and role lists. `affiliations.py` holds the mapping and the
rules; this slice applies them through MIX's own operations, so MIX
participants see the same changes (participant items retracted, the
banned, allowed and configuration nodes changed and announced).

- Kick (role none, by nick): the participation ends, whatever the user's
  clients (MUC and MIX), with 307 to every MUC client.
- Ban (affiliation outcast, by bare JID or domain): an entry of the banned
  node, which removes matching participants (301). An owner banning an
  owner or administrator takes that role away first.
- Owner and admin: the configuration's "Owner" and "Administrator" fields.
- Member: an entry of the allowed node in a members-only channel; in an
  open channel participation is membership, so granting it only lifts a
  ban or a higher affiliation. None: removed from every list; in a
  members-only channel a participant no longer allowed is removed (321).

A request with several items is checked whole before anything changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mixd import ns as NS
from mixd.codec.xep0004_forms import DataForm, Field
from mixd.codec.xep0045_admin import AdminItem, admin_query, decode_admin_query
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID, JIDError
from mixd.services.mix.admin.config import ADMINISTRATOR, OWNER
from mixd.services.mix.admin.nodes import AdminNodes, access_entry
from mixd.services.mix.admin.rights import Role
from mixd.services.mix.muc import affiliations as aff
from mixd.services.mix.muc import rules
from mixd.services.mix.muc.removal import Removal
from mixd.services.mix.notify import notify_retract
from mixd.services.mix.service import MixService, Request, guarded
from mixd.services.mix.state import ChannelState
from mixd.xml.element import Element

if TYPE_CHECKING:
    from mixd.services.mix.muc.face import MucFace


@dataclass(frozen=True, slots=True)
class _Change:
    """One checked affiliation change."""

    target: str  # bare JID, or a domain (bans and members only)
    current: str
    new: str
    reason: str | None


def _target_jid(item: AdminItem) -> str:
    if item.jid is None:
        raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "an affiliation change needs a jid")
    try:
        jid = JID.parse(item.jid)
    except JIDError as exc:
        raise StanzaError(StanzaErrorCondition.JID_MALFORMED, str(exc)) from None
    if jid.local is None and item.affiliation in (aff.OWNER, aff.ADMIN):
        raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "owners and admins are users")
    return str(jid.bare)  # a full JID stands for its bare JID (XEP-0045 10.3)


class Moderation:
    def __init__(self, service: MixService, face: MucFace, admin: AdminNodes) -> None:
        self.service = service
        self.face = face
        self.admin = admin
        service.on_iq("channel", NS.MUC_ADMIN, "query", "get", self.get)
        service.on_iq("channel", NS.MUC_ADMIN, "query", "set", self.set)

    # -- lists -------------------------------------------------------------------------

    async def get(self, request: Request) -> Element | None:
        self.face.reach.require_muc()
        state = request.state()
        item = decode_admin_query(request.payload)[0]
        role = self.service.role(state, request.sender)
        banned_readable = self.service.may(state, request.sender, NS.MIX_NODE_BANNED, "read")
        if not aff.may_read_list(item.affiliation, role, banned_readable=banned_readable):
            raise StanzaError(StanzaErrorCondition.FORBIDDEN, "you may not read that list")
        if item.affiliation is not None:
            listed = aff.affiliation_list(state, item.affiliation)
            items = tuple(AdminItem(e.affiliation, jid=e.jid, nick=e.nick) for e in listed)
        elif item.role is not None:
            items = self._role_list(state, item.role)
        else:
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "ask for a role or affiliation")
        return admin_query(items)

    def _role_list(self, state: ChannelState, role: str) -> tuple[AdminItem, ...]:
        """Present occupants with that role (moderator or participant)."""
        found: list[AdminItem] = []
        for entry in state.presence:
            participant = state.participants.get(entry.user)
            if participant is None or any(i.nick == participant.nick for i in found):
                continue
            affiliation = aff.affiliation_of(state, entry.user)
            if aff.role_of(affiliation) == role:
                found.append(AdminItem(affiliation, role, str(entry.client), participant.nick))
        return tuple(sorted(found, key=lambda i: i.nick or ""))

    # -- changes -----------------------------------------------------------------------

    async def set(self, request: Request) -> Element | None:
        self.face.reach.require_muc()
        state = request.state()
        items = decode_admin_query(request.payload)
        actor = str(request.sender.bare)
        actor_role = self.service.role(state, request.sender)
        kicks: list[tuple[str, AdminItem]] = []
        changes: list[_Change] = []
        for item in items:
            if item.role is not None and item.affiliation is not None:
                raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "a role or an affiliation")
            if item.role is not None:
                target = self._by_nick(state, item.nick)
                target_role = self.service.role(state, JID.parse(target))
                if item.role == aff.NONE:
                    aff.check_kick(actor, actor_role, target, target_role)
                    kicks.append((target, item))
                else:
                    aff.check_role_change(actor_role, target_role, item.role)
            elif item.affiliation is not None:
                target = _target_jid(item)
                current = aff.affiliation_of(state, target)
                owners = state.config.owners
                aff.check_affiliation_change(
                    actor, actor_role, target, current, item.affiliation, owners
                )
                changes.append(_Change(target, current, item.affiliation, item.reason))
            else:
                raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "a role or an affiliation")
        self._check_lists(state, changes)
        actor_nick = self._nick_of(state, actor)
        if changes:
            await self._apply(state, request.sender, changes, actor_nick)
        for target, item in kicks:
            await self.kick(state, target, Removal((rules.KICKED,), actor_nick, item.reason))
        return None

    @staticmethod
    def _by_nick(state: ChannelState, nick: str | None) -> str:
        if not nick:
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "a role change needs a nick")
        user = state.nick_holder(nick)
        if user is None:
            raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "no occupant with that nick")
        return user

    @staticmethod
    def _nick_of(state: ChannelState, user: str) -> str | None:
        participant = state.participants.get(user)
        return participant.nick if participant is not None else None

    def _check_lists(self, state: ChannelState, changes: list[_Change]) -> None:
        """The nodes a change needs are there (before anything changes)."""
        owners = set(state.config.owners)
        for change in changes:
            if change.new == aff.OUTCAST and NS.MIX_NODE_BANNED not in state.nodes:
                raise StanzaError(StanzaErrorCondition.NOT_ALLOWED, "the channel has no ban list")
            if change.new == aff.OWNER:
                owners.add(change.target)
            elif change.target in owners:
                owners.discard(change.target)
        if not owners:
            raise StanzaError(StanzaErrorCondition.CONFLICT, "a channel always has an owner")

    async def _apply(
        self, state: ChannelState, by: JID, changes: list[_Change], actor_nick: str | None
    ) -> None:
        owners, admins = list(state.config.owners), list(state.config.administrators)
        for change in changes:
            owners = [o for o in owners if o != change.target]
            admins = [a for a in admins if a != change.target]
            if change.new == aff.OWNER:
                owners.append(change.target)
            elif change.new == aff.ADMIN:
                admins.append(change.target)
        if (tuple(sorted(owners)), tuple(sorted(admins))) != (
            tuple(sorted(state.config.owners)),
            tuple(sorted(state.config.administrators)),
        ):
            form = DataForm.with_type(
                "submit",
                NS.MIX_ADMIN,
                (
                    Field(OWNER, tuple(owners)),
                    Field(ADMINISTRATOR, tuple(admins)),
                ),
            )
            await self.admin.configure(state, by, form)
        for change in changes:
            await self._apply_lists(state, change, actor_nick)

    async def _apply_lists(self, state: ChannelState, change: _Change, actor: str | None) -> None:
        entry = access_entry(change.target)
        if change.new != aff.OUTCAST and entry in state.banned:
            await self.admin.remove_entry(state, "banned", entry)
        allowed_node = NS.MIX_NODE_ALLOWED in state.nodes
        if change.new == aff.MEMBER and allowed_node and entry not in state.allowed:
            await self.admin.add_entry(state, "allowed", entry)
        elif change.new in (aff.NONE, aff.OUTCAST) and entry in state.allowed:
            await self.admin.remove_entry(state, "allowed", entry)
        key = (str(state.jid), entry)
        if change.new == aff.OUTCAST:
            self.face.removals[key] = Removal((rules.BANNED,), actor, change.reason)
            try:
                await self.admin.add_entry(state, "banned", entry)
            finally:
                self.face.removals.pop(key, None)
        elif change.new == aff.NONE and change.target in state.participants:
            # Members-only: a participant no longer allowed leaves (321).
            role = self.service.role(state, JID.parse(change.target))
            if role < Role.ADMIN and not self._may_stay(state, change.target):
                removal = Removal((rules.REMOVED,), actor, change.reason)
                await self.kick(state, change.target, removal)

    @staticmethod
    def _may_stay(state: ChannelState, user: str) -> bool:
        return not aff.members_only(state) or state.is_listed_allowed(user)

    async def kick(self, state: ChannelState, user: str, removal: Removal) -> None:
        """End `user`'s participation: MUC clients get `removal`, MIX
        participants see the participant item retracted (the user first,
        while its server still takes the channel's notifications)."""
        participant = state.participants.get(user)
        if participant is None:
            return
        await guarded(self.service.store.leave(str(state.jid), user))
        node = NS.MIX_NODE_PARTICIPANTS
        await notify_retract(self.service, state, node, participant.id, [user])
        key = (str(state.jid), user)
        self.face.removals[key] = removal
        try:
            await self.service.set_participant(state, user, None)
        finally:
            self.face.removals.pop(key, None)
        subscribers = [p.jid for p in state.subscribers(node)]
        await notify_retract(self.service, state, node, participant.id, subscribers)
