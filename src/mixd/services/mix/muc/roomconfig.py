"""The `muc#roomconfig` form (XEP-0045 10.2, 15.5.3) of a channel, mapped to
the MIX configuration and information nodes. Plain functions, no I/O.

| muc#roomconfig field | MIX |
|---|---|
| `roomname`, `roomdesc` | the information node's Name and Description |
| `membersonly` | "allowed" in "Nodes Present" (the allowed node) |
| `allowinvites` | "Participation Addition by Invitation from Participant" |
| `allowpm` (`anyone` / `none`) | "Private Messages" |
| `whois` (`anyone` / `moderators`) | "JID Visibility" (`jid-visible` / `jid-hidden`) |
| `roomowners`, `roomadmins` | "Owner", "Administrator" |

Fields a channel cannot change are shown with their fixed value:
`persistentroom` (true), `publicroom` (false for ad hoc channels only),
`moderatedroom` and `passwordprotectedroom` (false), `enablelogging`
(true: the channel archives everything). Submitting another value is
`not-acceptable` naming the field. Fields the form does not offer are
ignored, as clients often send back more than they were given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mixd import ns as NS
from mixd.codec.xep0004_forms import DataForm, Field
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.services.mix.admin import config as cfg
from mixd.services.mix.state import ChannelState
from mixd.storage.contracts.mix import ChannelInfo

PREFIX = "muc#roomconfig_"
ROOMNAME, ROOMDESC = PREFIX + "roomname", PREFIX + "roomdesc"
MEMBERSONLY, ALLOWINVITES = PREFIX + "membersonly", PREFIX + "allowinvites"
ALLOWPM, WHOIS = PREFIX + "allowpm", PREFIX + "whois"
OWNERS, ADMINS = PREFIX + "roomowners", PREFIX + "roomadmins"
INVITATION = "Participation Addition by Invitation from Participant"
JID_VISIBILITY = "JID Visibility"
ALLOWED = "allowed"  # the allowed node's name in "Nodes Present"
_TRUE, _FALSE = ("1", "true"), ("0", "false")


def _flag(value: bool) -> tuple[str, ...]:
    return ("1",) if value else ("0",)


def fixed_values(state: ChannelState) -> dict[str, tuple[str, ...]]:
    """What a channel always is, as room configuration."""
    return {
        PREFIX + "persistentroom": ("1",),
        PREFIX + "publicroom": _flag(not state.channel.adhoc),
        PREFIX + "moderatedroom": ("0",),
        PREFIX + "passwordprotectedroom": ("0",),
        PREFIX + "enablelogging": ("1",),
    }


def room_form(state: ChannelState) -> DataForm:
    """The configuration form with the channel's current values."""
    info, config = state.channel.info, state.config
    hidden = config.one(JID_VISIBILITY) in ("jid-hidden", "jid-maybe-visible")
    fields = [
        Field(ROOMNAME, (info.name,) if info.name else (), "text-single", "Room name"),
        Field(ROOMDESC, (info.description,) if info.description else (), "text-single",
              "Room description"),
        Field(MEMBERSONLY, _flag(ALLOWED in config.nodes_present), "boolean",
              "Members only (the allowed list)"),
        Field(ALLOWINVITES, _flag(config.flag(INVITATION)), "boolean",
              "Participants may invite others"),
        Field(ALLOWPM, ("anyone",) if config.flag(cfg.PRIVATE_MESSAGES) else ("none",),
              "list-single", "Who may send private messages", options=("anyone", "none")),
        Field(WHOIS, ("moderators",) if hidden else ("anyone",), "list-single",
              "Who may discover real JIDs", options=("moderators", "anyone")),
        Field(OWNERS, config.owners, "jid-multi", "Room owners"),
        Field(ADMINS, config.administrators, "jid-multi", "Room admins"),
    ]  # fmt: skip
    labels = {
        "persistentroom": "Persistent (always)",
        "publicroom": "Listed in the service's rooms",
        "moderatedroom": "Moderated (never)",
        "passwordprotectedroom": "Password protected (never)",
        "enablelogging": "Logged (always: the channel archives every message)",
    }
    for var, values in fixed_values(state).items():
        fields.append(Field(var, values, "boolean", labels[var.removeprefix(PREFIX)]))
    return DataForm.with_type("form", NS.MUC_ROOMCONFIG, tuple(fields))


@dataclass(frozen=True, slots=True)
class RoomChange:
    """A submitted form as changes: the MIX configuration fields to set
    (only those that change) and the new information, if it changes."""

    config: Mapping[str, tuple[str, ...]]
    info: ChannelInfo | None
    members_only_now: bool  # the allowed node is being added


def _one(field: Field) -> str:
    if len(field.values) > 1:
        raise _bad(field.var or "", "takes one value")
    return field.values[0].strip() if field.values else ""


def _boolean(field: Field) -> bool:
    value = _one(field)
    if value not in _TRUE + _FALSE:
        raise _bad(field.var or "", "must be true or false")
    return value in _TRUE


def _bad(var: str, why: str) -> StanzaError:
    return StanzaError(StanzaErrorCondition.NOT_ACCEPTABLE, f"{var}: {why}")


def submitted(state: ChannelState, form: DataForm, now: int) -> RoomChange:
    """What a submitted form changes; unknown fields are ignored. Values are
    checked here for the MUC side; MIX-ADMIN checks the MIX values again."""
    if form.form_type not in (None, NS.MUC_ROOMCONFIG):
        raise StanzaError(StanzaErrorCondition.BAD_REQUEST, f"FORM_TYPE: {NS.MUC_ROOMCONFIG}")
    config = state.config
    info = state.channel.info
    name, description = info.name, info.description
    wanted: dict[str, tuple[str, ...]] = {}
    fixed = fixed_values(state)
    for field in form.fields:
        var = field.var
        if var is None:
            continue
        if var in fixed and fixed[var] != _flag(_boolean(field)):
            raise _bad(var, "a channel cannot change this")
        if var == ROOMNAME:
            name = _one(field) or None
        elif var == ROOMDESC:
            description = _one(field) or None
        elif var == MEMBERSONLY:
            nodes = set(config.nodes_present)
            nodes = nodes | {ALLOWED} if _boolean(field) else nodes - {ALLOWED}
            wanted[cfg.NODES_PRESENT] = tuple(sorted(nodes))
        elif var == ALLOWINVITES:
            wanted[INVITATION] = ("true",) if _boolean(field) else ("false",)
        elif var == ALLOWPM:
            value = _one(field)
            if value not in ("anyone", "none"):
                raise _bad(var, "anyone or none")
            wanted[cfg.PRIVATE_MESSAGES] = ("true",) if value == "anyone" else ("false",)
        elif var == WHOIS:
            value = _one(field)
            if value not in ("anyone", "moderators"):
                raise _bad(var, "anyone or moderators")
            hidden = config.one(JID_VISIBILITY) in ("jid-hidden", "jid-maybe-visible")
            if (value == "moderators") != hidden:  # keep a finer MIX value that agrees
                wanted[JID_VISIBILITY] = (
                    ("jid-hidden",) if value == "moderators" else ("jid-visible",)
                )
        elif var == OWNERS:
            wanted[cfg.OWNER] = tuple(v for v in field.values if v.strip())
        elif var == ADMINS:
            wanted[cfg.ADMINISTRATOR] = tuple(v for v in field.values if v.strip())
    changes = {k: v for k, v in wanted.items() if tuple(sorted(v)) != tuple(sorted(config.get(k)))}
    new_info = None
    if (name, description) != (info.name, info.description):
        new_info = ChannelInfo(name, description, info.contact, now)
    members_only_now = ALLOWED in changes.get(cfg.NODES_PRESENT, ()) and (
        ALLOWED not in config.nodes_present
    )
    return RoomChange(changes, new_info, members_only_now)


def mix_form(change: RoomChange) -> DataForm:
    """The MIX-ADMIN configuration form that applies `change`."""
    fields = tuple(Field(var, values) for var, values in change.config.items())
    return DataForm.with_type("submit", NS.MIX_ADMIN, fields)
