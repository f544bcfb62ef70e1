"""XEP-0406 MIX-ADMIN 0.3.1 section 2.1: roles and the rights the
configuration gives them, per node. Plain functions, no I/O.

Roles are strictly ordered (owner > administrator > participant > allowed
> anyone), so a right is the lowest role that has it ("nobody": none).
Each node's rights are one `NodeRights` entry in a table keyed by node
(`MixService.rights`); a slice that adds a node adds its entry, and every
check (pubsub reads and writes, subscribing at join) looks it up there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

from mixd import ns as NS
from mixd.services.mix.admin.config import ChannelConfig

if TYPE_CHECKING:
    from mixd.services.mix.state import ChannelState


class Role(IntEnum):
    ANYONE = 0  # banned users too (they are never more than this)
    ALLOWED = 1
    PARTICIPANT = 2
    ADMIN = 3
    OWNER = 4  # configured owners and the server's administrators


_LEVELS = {
    "anyone": Role.ANYONE,
    "allowed": Role.ALLOWED,
    "participants": Role.PARTICIPANT,
    "admins": Role.ADMIN,
    "owners": Role.OWNER,
}

# A right as the configuration states it: one of the level names above or "nobody".
Right = Callable[[ChannelConfig], str]


def permits(level: str, role: Role) -> bool:
    needed = _LEVELS.get(level)  # "nobody" has no role
    return needed is not None and role >= needed


def fixed(level: str) -> Right:
    return lambda _config: level


def configured(var: str) -> Right:
    return lambda config: config.one(var)


@dataclass(frozen=True, slots=True)
class NodeRights:
    """Who may subscribe to and read a node, and who may change its items.
    Whoever may change a node may also read it."""

    subscribe: Right
    update: Right
    option: str | None = None  # its name in "Nodes Present"; None: always there
    present_by_default: bool = True


MESSAGES = NodeRights(configured("Messages Node Subscription"), fixed("participants"))
PARTICIPANTS = NodeRights(
    configured("Participants Node Subscription"), fixed("nobody"), "participants"
)
INFO = NodeRights(
    configured("Information Node Subscription"),
    configured("Information Node Update Rights"),
    "information",
)
CONFIG = NodeRights(configured("Configuration Node Access"), fixed("owners"))
# An allowed node, once present, admits only who it lists: a channel stays
# open unless its owner adds it (XEP-0406 lists every node as present by
# default, which with an empty allowed node would admit nobody).
ALLOWED = NodeRights(
    configured("Allowed Node Subscription"), fixed("admins"), "allowed", present_by_default=False
)
BANNED = NodeRights(configured("Banned Node Subscription"), fixed("admins"), "banned")
# The presence node (XEP-0403; the slice is services/mix/presence.py).
PRESENCE = NodeRights(
    configured("Presence Node Subscription"),
    lambda config: "anyone" if config.flag("Open Presence") else "participants",
    "presence",
)


def default_rights() -> dict[str, NodeRights]:
    return {
        NS.MIX_NODE_MESSAGES: MESSAGES,
        NS.MIX_NODE_PARTICIPANTS: PARTICIPANTS,
        NS.MIX_NODE_INFO: INFO,
        NS.MIX_NODE_PRESENCE: PRESENCE,
        NS.MIX_NODE_CONFIG: CONFIG,
        NS.MIX_NODE_ALLOWED: ALLOWED,
        NS.MIX_NODE_BANNED: BANNED,
    }


def node_options(rights: Mapping[str, NodeRights]) -> tuple[str, ...]:
    """The values "Nodes Present" offers: the optional nodes this service has
    (one option may stand for several nodes: "avatar")."""
    return tuple(sorted({r.option for r in rights.values() if r.option is not None}))


def default_present(rights: Mapping[str, NodeRights]) -> tuple[str, ...]:
    return tuple(
        sorted({r.option for r in rights.values() if r.option is not None and r.present_by_default})
    )


def present_nodes(config: ChannelConfig, rights: Mapping[str, NodeRights]) -> frozenset[str]:
    present = config.nodes_present
    return frozenset(node for node, r in rights.items() if r.option is None or r.option in present)


def role_of(state: ChannelState, user: str, server_admins: frozenset[str]) -> Role:
    """`user` is a bare JID as text."""
    config = state.config
    if user in server_admins or user in config.owners:
        return Role.OWNER
    if user in config.administrators:
        return Role.ADMIN
    if state.is_banned(user):
        return Role.ANYONE
    if user in state.participants:
        return Role.PARTICIPANT
    if NS.MIX_NODE_ALLOWED not in state.nodes or state.is_listed_allowed(user):
        return Role.ALLOWED
    return Role.ANYONE


def may_read(rights: NodeRights, config: ChannelConfig, role: Role) -> bool:
    return permits(rights.subscribe(config), role) or permits(rights.update(config), role)


def may_update(rights: NodeRights, config: ChannelConfig, role: Role) -> bool:
    return permits(rights.update(config), role)


def may_join(role: Role) -> bool:
    """Allowed users join; banned users are never more than "anyone"."""
    return role >= Role.ALLOWED
