"""Invitations (XEP-0407 'Inviting another User to join a Channel that the
user does not have Permission to Join').

An inviter asks the channel (`<invite><invitee/></invite>`, iq get) and
gets an `<invitation>` (inviter, invitee, channel, token) to pass on to the
invitee, who joins with it (the `<invitation/>` inside `<join/>`, also
through MIX-PAM's client-join). Who may invite: administrators and owners,
and participants when "Participation Addition by Invitation from
Participant" is on. A banned invitee gets no invitation and cannot join
with one. A valid invitation admits the invitee where the allowed node
would not: the invitee is added to the allowed node as part of the join
(as the XEP requires), so the invitation is not needed again.

The token is stateless: `<expiry>.<mac>`, the MAC being HMAC-SHA256 over
(channel, inviter, invitee, expiry) under a key derived from the channel's
secret, so it cannot be forged or moved to another user or channel, dies
with the channel (a new channel of the same name has a new secret) and
expires after `mix.invitation_lifetime`. At the join the inviter must still
have the right to invite: taking an inviter's rights away withdraws its
invitations.

The invitation message from inviter to invitee and the invitee's
`<invitation-ack/>` travel between the users like any message; telling
someone about a channel (XEP-0372 reference) needs nothing of the channel.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from functools import partial

from mixd import ns as NS
from mixd.codec.stanza import CodecError
from mixd.codec.xep0369_mix import NAMESPACES
from mixd.codec.xep0407_misc import Invitation
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.services.mix import rules
from mixd.services.mix.admin import rights as admin_rights
from mixd.services.mix.admin.nodes import AdminNodes
from mixd.services.mix.admin.rights import Role
from mixd.services.mix.service import Handler, MixService, Request
from mixd.services.mix.state import ChannelState
from mixd.xml.element import Element

BY_PARTICIPANTS = "Participation Addition by Invitation from Participant"
_KEY_LABEL = NS.MIX_MISC.encode() + b" invitation"  # the derived key's purpose (same bytes)


def invitation_key(secret: bytes) -> bytes:
    """A key for tokens only, so a token says nothing about participant ids."""
    return hmac.new(secret, _KEY_LABEL, hashlib.sha256).digest()


def _mac(key: bytes, channel: str, inviter: str, invitee: str, expiry: int) -> str:
    message = "\0".join((channel, inviter, invitee, str(expiry))).encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode()


def make_token(key: bytes, channel: str, inviter: str, invitee: str, expiry: int) -> str:
    return f"{expiry}.{_mac(key, channel, inviter, invitee, expiry)}"


def token_valid(key: bytes, invitation: Invitation, now: float) -> bool:
    expiry_text, dot, mac = invitation.token.partition(".")
    if not dot or not expiry_text.isdigit() or len(expiry_text) > 12:
        return False
    expiry = int(expiry_text)
    wanted = _mac(key, invitation.channel, invitation.inviter, invitation.invitee, expiry)
    return hmac.compare_digest(wanted, mac) and now <= expiry


def _forbidden(why: str) -> StanzaError:
    return StanzaError(StanzaErrorCondition.FORBIDDEN, why)


class Invitations:
    def __init__(self, service: MixService, admin: AdminNodes) -> None:
        self.service = service
        self.admin = admin
        self.clock = time.time
        service.on_iq("channel", NS.MIX_MISC, "invite", "get", self.invite)
        for ns in NAMESPACES:
            inner: Handler = service.handlers[("channel", ns, "join", "set")]
            service.on_iq("channel", ns, "join", "set", partial(self.join, inner=inner))
        # XEP-0407's example joins in its own namespace; answered in kind.
        join: Handler = service.handlers[("channel", NS.MIX_CORE, "join", "set")]
        service.on_iq("channel", NS.MIX_MISC, "join", "set", join)

    def may_invite(self, state: ChannelState, inviter: JID) -> bool:
        role = self.service.role(state, inviter)
        if role >= Role.ADMIN:
            return True
        return role == Role.PARTICIPANT and state.config.flag(BY_PARTICIPANTS)

    async def invite(self, request: Request) -> Element | None:
        state, inviter = request.state(), request.sender.bare
        if not self.may_invite(state, inviter):
            raise _forbidden("you may not invite to this channel")
        invitee_text = request.payload.find_text(NS.MIX_MISC, "invitee")
        if not invitee_text or not invitee_text.strip():
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "name the <invitee/>")
        invitee = rules.parse_jid(invitee_text.strip()).bare
        if invitee.local is None:
            raise StanzaError(StanzaErrorCondition.JID_MALFORMED, "the invitee is a user")
        if state.is_banned(str(invitee)):
            raise _forbidden(f"{invitee} is banned in this channel")
        channel = str(state.jid)
        expiry = int(self.clock() + self.service.settings.invitation_lifetime)
        key = invitation_key(state.channel.secret)
        token = make_token(key, channel, str(inviter), str(invitee), expiry)
        invitation = Invitation(str(inviter), str(invitee), channel, token)
        result = Element(NS.MIX_MISC, "invite")
        result.append(invitation.encode())
        return result

    async def join(self, request: Request, *, inner: Handler) -> Element | None:
        payload = request.payload
        try:
            invitation = Invitation.find(payload)
        except CodecError as exc:
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, str(exc)) from None
        if invitation is not None:
            await self._admit(request.state(), request.sender.bare, invitation)
        return await inner(request)

    async def _admit(self, state: ChannelState, user: JID, invitation: Invitation) -> None:
        """Check an invitation presented at a join; put the invitee on the
        allowed node when that is what keeps it out."""
        channel, invitee = str(state.jid), str(user)
        if invitation.channel != channel or invitation.invitee != invitee:
            raise _forbidden("this invitation is for someone else")
        if not token_valid(invitation_key(state.channel.secret), invitation, self.clock()):
            raise _forbidden("invalid or expired invitation")
        if state.is_banned(invitee):
            raise _forbidden("you are banned in this channel")
        try:
            inviter = JID.parse(invitation.inviter)
        except ValueError:
            raise _forbidden("invalid invitation") from None
        if not self.may_invite(state, inviter):
            raise _forbidden("the inviter may no longer invite to this channel")
        if not admin_rights.may_join(self.service.role(state, user)):
            await self.admin.add_entry(state, "allowed", invitee)
