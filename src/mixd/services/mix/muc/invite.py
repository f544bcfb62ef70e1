"""Mediated invitations (XEP-0045 7.8.2) through a channel's room JID.

An invite from a participant (MUC occupant or MIX participant; anyone else
gets `not-acceptable`) is sent on from the room, with the inviter as
`<invite from/>`: its full JID, or its occupant JID when the channel hides
JIDs. In a members-only channel (allowed node present) an invitee not yet
allowed is added to the allowed node when the inviter may change that node
(administrators and owners) or the configuration lets participants invite
("Participation Addition by Invitation from Participant"); otherwise the
invitation is `forbidden` (XEP-0045 9.5). A banned invitee is `not-allowed`,
an account that does not exist on this server `item-not-found`.

A decline goes back to the inviter from the room, with the decliner's bare
JID; the room relays it only to one of its participants (the inviter),
never to an arbitrary address (`item-not-found`), so it cannot be used to
send messages in its name.

Direct invitations (XEP-0249) go from client to client and need nothing
from the room: an invitee enters an open channel like anyone; in a
members-only channel the inviter grants membership first (or invites
through the room).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mixd import ns as NS
from mixd.codec.stanza import CodecError, Stanza
from mixd.codec.xep0045_admin import Invitation, invitations
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID, JIDError
from mixd.services.mix.admin.nodes import AdminNodes
from mixd.services.mix.muc import affiliations as aff
from mixd.services.mix.muc import roomconfig
from mixd.services.mix.service import MixService, guarded
from mixd.services.mix.state import ChannelState
from mixd.xml.element import Element

if TYPE_CHECKING:
    from mixd.services.mix.muc.face import MucFace

MAX_INVITES = 20  # invitations in one message


def _jid(text: str | None) -> JID:
    if not text:
        raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "an invitation needs a 'to'")
    try:
        return JID.parse(text)
    except JIDError as exc:
        raise StanzaError(StanzaErrorCondition.JID_MALFORMED, str(exc)) from None


class MucInvitations:
    def __init__(self, service: MixService, face: MucFace, admin: AdminNodes) -> None:
        self.service = service
        self.face = face
        self.admin = admin
        service.message_claims.append(self.claim)

    async def claim(self, stanza: Stanza, state: ChannelState) -> bool:
        if not self.face.reach.muc_here():
            return False
        try:
            found = invitations(stanza.element)
        except CodecError as exc:
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, str(exc)) from None
        if not found:
            return False
        if len(found) > MAX_INVITES:
            raise StanzaError(StanzaErrorCondition.POLICY_VIOLATION, "too many invitations")
        invites = [i for i in found if i.kind == "invite"]
        # Everything is checked before anything is sent or changed.
        targets = [await self._check_invite(stanza, state, i) for i in invites]
        declines = [(i, self._decline_target(state, i)) for i in found if i.kind == "decline"]
        for invitation, invitee in zip(invites, targets, strict=True):
            await self._invite(stanza, state, invitation, invitee)
        for invitation, inviter in declines:
            await self._decline(stanza, state, invitation, inviter)
        return True

    async def _check_invite(
        self, stanza: Stanza, state: ChannelState, invitation: Invitation
    ) -> JID:
        inviter = str(stanza.sender.bare)
        if inviter not in state.participants:
            raise StanzaError(StanzaErrorCondition.NOT_ACCEPTABLE, "not an occupant of this room")
        invitee = _jid(invitation.to)
        user = str(invitee.bare)
        if aff.affiliation_of(state, user) == aff.OUTCAST:
            raise StanzaError(StanzaErrorCondition.NOT_ALLOWED, "that user is banned here")
        server = self.service.server
        if invitee.domain in server.hosts and invitee.local is not None:
            account = await guarded(server.stores.accounts.get(invitee.domain, invitee.local))
            if account is None:
                raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "no such user")
        elif invitee.local is None:
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "invite a user")
        if self._needs_membership(state, user) and not self._may_add(state, stanza.sender):
            raise StanzaError(
                StanzaErrorCondition.FORBIDDEN, "only administrators invite to this room"
            )
        return invitee

    def _needs_membership(self, state: ChannelState, user: str) -> bool:
        return aff.members_only(state) and aff.affiliation_of(state, user) == aff.NONE

    def _may_add(self, state: ChannelState, inviter: JID) -> bool:
        if self.service.may(state, inviter, NS.MIX_NODE_ALLOWED, "update"):
            return True
        return state.config.flag(roomconfig.INVITATION)

    def _inviter_address(self, stanza: Stanza, state: ChannelState) -> str:
        """The inviter as the invitee sees it: the full JID, or the occupant
        JID when the channel hides JIDs."""
        if state.config.one(roomconfig.JID_VISIBILITY) in ("jid-hidden", "jid-maybe-visible"):
            participant = state.participants[str(stanza.sender.bare)]
            return f"{state.jid}/{participant.nick}"
        return str(stanza.sender)

    async def _invite(
        self, stanza: Stanza, state: ChannelState, invitation: Invitation, invitee: JID
    ) -> None:
        user = str(invitee.bare)
        if self._needs_membership(state, user):
            await self.admin.add_entry(state, "allowed", user)
        sent = Invitation("invite", None, self._inviter_address(stanza, state),
                          invitation.reason, invitation.continue_thread)  # fmt: skip
        await self._send(stanza, state, str(invitee), sent)

    def _decline_target(self, state: ChannelState, invitation: Invitation) -> str:
        """The inviter a decline goes to: a participant, by JID or occupant JID."""
        to = _jid(invitation.to)
        if to.bare == state.jid and to.resource is not None:
            user = state.nick_holder(to.resource)
        else:
            user = str(to.bare) if str(to.bare) in state.participants else None
        if user is None:
            raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "no such inviter here")
        return user if to.bare == state.jid else str(to)

    async def _decline(
        self, stanza: Stanza, state: ChannelState, invitation: Invitation, inviter: str
    ) -> None:
        sent = Invitation("decline", None, str(stanza.sender.bare), invitation.reason)
        await self._send(stanza, state, inviter, sent)

    async def _send(self, stanza: Stanza, state: ChannelState, to: str, sent: Invitation) -> None:
        message = Element(NS.CLIENT, "message", {"from": str(state.jid), "to": to})
        message.set("id", stanza.id)
        message.add(NS.MUC_USER, "x").append(sent.encode())
        await self.face.reach.send(message)
