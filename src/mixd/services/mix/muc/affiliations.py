"""MUC affiliations and roles (XEP-0045 section 5) as MIX-ADMIN (XEP-0406)
defines them for a channel: plain functions, no I/O.

Affiliations:
- owner: the configuration's "Owner" field;
- admin: its "Administrator" field;
- outcast: matched by the banned node (a bare JID or the user's domain);
- member: a participant of the channel, or listed in the allowed node while
  that node is present (a members-only channel);
- none: anyone else.

Roles: owners and administrators are moderators; every other occupant is a
participant (a channel has no voice: any participant may send). There are
no visitors. Server administrators have owner rights in every channel but
show the affiliation their lists give them.
"""

from __future__ import annotations

from dataclasses import dataclass

from mixd import ns as NS
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.services.mix.admin.rights import Role
from mixd.services.mix.state import ChannelState

OWNER, ADMIN, MEMBER, OUTCAST, NONE = "owner", "admin", "member", "outcast", "none"
MODERATOR, PARTICIPANT = "moderator", "participant"


def affiliation_of(state: ChannelState, user: str) -> str:
    """The MUC affiliation of `user` (a bare JID as text) in a channel."""
    config = state.config
    if user in config.owners:
        return OWNER
    if user in config.administrators:
        return ADMIN
    if state.is_banned(user):
        return OUTCAST
    if user in state.participants or is_member(state, user):
        return MEMBER
    return NONE


def is_member(state: ChannelState, user: str) -> bool:
    """On the allowed node of a members-only channel."""
    return members_only(state) and state.is_listed_allowed(user)


def members_only(state: ChannelState) -> bool:
    """A channel is members-only while its allowed node is present."""
    return NS.MIX_NODE_ALLOWED in state.nodes


def role_of(affiliation: str) -> str:
    """The role an occupant with this affiliation has while present."""
    return MODERATOR if affiliation in (OWNER, ADMIN) else PARTICIPANT


@dataclass(frozen=True, slots=True)
class Listed:
    """One entry of an affiliation list."""

    jid: str
    affiliation: str
    nick: str | None = None


def affiliation_list(state: ChannelState, affiliation: str) -> list[Listed]:
    """Who has `affiliation` (owner, admin, member or outcast), by JID."""
    config = state.config
    if affiliation == OWNER:
        jids = set(config.owners)
    elif affiliation == ADMIN:
        jids = set(config.administrators) - set(config.owners)
    elif affiliation == OUTCAST:
        jids = set(state.banned)
    elif affiliation == MEMBER:
        jids = set(state.participants)
        if members_only(state):
            jids |= state.allowed
        jids = {j for j in jids if affiliation_of(state, j) == MEMBER}
    else:
        raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "no list of affiliation none")
    listed = []
    for jid in sorted(jids):
        participant = state.participants.get(jid)
        listed.append(Listed(jid, affiliation, participant.nick if participant else None))
    return listed


def may_read_list(affiliation: str | None, role: Role, *, banned_readable: bool) -> bool:
    """Owner, admin and member lists: any participant (the room is
    non-anonymous: occupant presence shows affiliations anyway, XEP-0045
    9.5 and 10.5); the ban list: who may read the banned node, and
    administrators; role lists: participants."""
    if affiliation == OUTCAST:
        return banned_readable or role >= Role.ADMIN
    return role >= Role.PARTICIPANT


def check_affiliation_change(
    actor: str, actor_role: Role, target: str, current: str, new: str, owners: tuple[str, ...]
) -> None:
    """Refuse what XEP-0045 sections 9 and 10 refuse: only administrators
    change affiliations; only owners touch owners and administrators (an
    administrator acting on one is `not-allowed`, granting either is
    `forbidden`); nobody bans themselves, and the last owner stays."""
    if actor_role < Role.ADMIN:
        raise StanzaError(StanzaErrorCondition.FORBIDDEN, "only administrators and owners")
    if actor_role < Role.OWNER:
        if new in (OWNER, ADMIN):
            raise StanzaError(StanzaErrorCondition.FORBIDDEN, "only owners grant that")
        if current in (OWNER, ADMIN):
            raise StanzaError(
                StanzaErrorCondition.NOT_ALLOWED, f"{target} is an owner or administrator"
            )
    if new == OUTCAST and target == actor:
        raise StanzaError(StanzaErrorCondition.CONFLICT, "you cannot ban yourself")
    if current == OWNER and new != OWNER and owners == (target,):
        raise StanzaError(StanzaErrorCondition.CONFLICT, "a channel always has an owner")


def check_kick(actor: str, actor_role: Role, target: str, target_role: Role) -> None:
    """Moderators kick (XEP-0045 8.2), never someone with more rights,
    nor themselves (`conflict`)."""
    if actor_role < Role.ADMIN:
        raise StanzaError(StanzaErrorCondition.FORBIDDEN, "only moderators may kick")
    if target == actor:
        raise StanzaError(StanzaErrorCondition.CONFLICT, "you cannot kick yourself")
    if target_role > actor_role:
        raise StanzaError(StanzaErrorCondition.NOT_ALLOWED, "that occupant has more rights")


def check_role_change(actor_role: Role, target_role: Role, role: str) -> None:
    """Roles other than none follow affiliations: moderators are the
    administrators and owners, everyone else a participant with voice.
    Asking for what already holds succeeds; anything else is `not-allowed`."""
    if actor_role < Role.ADMIN:
        raise StanzaError(StanzaErrorCondition.FORBIDDEN, "only moderators change roles")
    current = MODERATOR if target_role >= Role.ADMIN else PARTICIPANT
    if role == current:
        return
    if role == MODERATOR:
        why = "moderators are the channel's administrators: grant affiliation admin"
    elif role == PARTICIPANT:
        why = "administrators and owners stay moderators"
    else:
        why = "the channel is not moderated: every participant has voice"
    raise StanzaError(StanzaErrorCondition.NOT_ALLOWED, why)
