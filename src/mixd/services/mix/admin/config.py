"""XEP-0406 MIX-ADMIN 0.3.1 section 2.4: the configuration node's fields,
their defaults, validation of a submitted form and the form we show. Plain
functions, no I/O.

A channel's configuration is every field's values by field name, defaults
filled in; only what was changed is stored (`Channel.config`), the owners in
`Channel.owners` and the end of life in `Channel.end_of_life`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mixd import ns as NS
from mixd.codec.stanza import CodecError
from mixd.codec.xep0004_forms import DataForm, Field
from mixd.codec.xep0082_datetime import format_datetime, parse_datetime
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID, JIDError
from mixd.storage.contracts.mix import Channel

LAST_CHANGE = "Last Change Made By"
OWNER = "Owner"
ADMINISTRATOR = "Administrator"
END_OF_LIFE = "End of Life"
NODES_PRESENT = "Nodes Present"
PRIVATE_MESSAGES = "Private Messages"
# COMPAT(XEP-0406 0.3.1 example): the spec's own example submits "No Private
# Messages"; it is read as the negation of "Private Messages".
NO_PRIVATE_MESSAGES = "No Private Messages"

SUBSCRIBE = ("participants", "allowed", "anyone")
SUBSCRIBE_ADMIN = ("participants", "allowed", "anyone", "nobody", "admins", "owners")
RESTRICTED = ("participants", "allowed", "nobody", "admins", "owners")
UPDATE = ("participants", "admins", "owners")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    var: str
    type: str  # XEP-0004 field type
    label: str
    options: tuple[str, ...] = ()  # list fields; Nodes Present's come from the service
    default: tuple[str, ...] = ()


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(LAST_CHANGE, "jid-single", "Last change made by"),
    FieldSpec(OWNER, "jid-multi", "Owners"),
    FieldSpec(ADMINISTRATOR, "jid-multi", "Administrators"),
    FieldSpec(END_OF_LIFE, "text-single", "End of life (XEP-0082 date and time)"),
    FieldSpec(NODES_PRESENT, "list-multi", "Nodes present"),
    FieldSpec("Messages Node Subscription", "list-single", "Who may subscribe to messages",
              SUBSCRIBE, ("participants",)),
    FieldSpec("Presence Node Subscription", "list-single", "Who may subscribe to presence",
              SUBSCRIBE, ("participants",)),
    FieldSpec("Participants Node Subscription", "list-single",
              "Who may subscribe to participants", SUBSCRIBE_ADMIN, ("participants",)),
    FieldSpec("Information Node Subscription", "list-single",
              "Who may subscribe to information", SUBSCRIBE, ("participants",)),
    FieldSpec("Allowed Node Subscription", "list-single", "Who may subscribe to allowed",
              RESTRICTED, ("admins",)),
    FieldSpec("Banned Node Subscription", "list-single", "Who may subscribe to banned",
              RESTRICTED, ("admins",)),
    FieldSpec("Configuration Node Access", "list-single", "Who may read the configuration",
              RESTRICTED, ("owners",)),
    FieldSpec("Information Node Update Rights", "list-single", "Who may change information",
              UPDATE, ("admins",)),
    FieldSpec("Avatar Nodes Update Rights", "list-single", "Who may change the avatar",
              UPDATE, ("admins",)),
    FieldSpec("Open Presence", "boolean", "Anyone may register presence", default=("false",)),
    FieldSpec("Participants Must Provide Presence", "boolean",
              "Participants must share presence", default=("false",)),
    FieldSpec("User Message Retraction", "boolean", "Users may retract their messages",
              default=("false",)),
    FieldSpec("Administrator Message Retraction Rights", "list-single",
              "Who may retract any message", ("nobody", "admins", "owners"), ("owners",)),
    FieldSpec("Participation Addition by Invitation from Participant", "boolean",
              "Participants may invite", default=("false",)),
    FieldSpec(PRIVATE_MESSAGES, "boolean", "Private messages allowed", default=("true",)),
    FieldSpec("Mandatory Nicks", "boolean", "Every participant needs a nick", default=("true",)),
    # In XEP-0369 0.9.5 this was an information field; XEP-0406's example
    # configures it. MIX-ANON (services/mix/anon.py) acts on it; the default
    # keeps what channels did before it existed.
    FieldSpec("JID Visibility", "list-single", "JID visibility",
              ("jid-hidden", "jid-maybe-visible", "jid-visible", "jid-mandatory-visible"),
              ("jid-visible",)),
)  # fmt: skip
SPECS: Mapping[str, FieldSpec] = {spec.var: spec for spec in FIELDS}
_TRUE, _FALSE = ("1", "true"), ("0", "false")


def bad(var: str, why: str) -> StanzaError:
    """Every refusal names the field it is about."""
    return StanzaError(StanzaErrorCondition.BAD_REQUEST, f"{var}: {why}")


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    """Every field's values by name, defaults filled in."""

    values: Mapping[str, tuple[str, ...]]
    updated: int = 0  # microseconds of the last change; 0 = never

    def get(self, var: str) -> tuple[str, ...]:
        return self.values.get(var, ())

    def one(self, var: str) -> str:
        values = self.get(var)
        return values[0] if values else ""

    def flag(self, var: str) -> bool:
        return self.one(var) in _TRUE

    @property
    def owners(self) -> tuple[str, ...]:
        return self.get(OWNER)

    @property
    def administrators(self) -> tuple[str, ...]:
        return self.get(ADMINISTRATOR)

    @property
    def nodes_present(self) -> frozenset[str]:
        return frozenset(self.get(NODES_PRESENT))

    @property
    def end_of_life(self) -> int | None:
        text = self.one(END_OF_LIFE)
        return parse_datetime(text) if text else None

    @classmethod
    def of(cls, channel: Channel, default_nodes: tuple[str, ...]) -> ChannelConfig:
        values = {spec.var: spec.default for spec in FIELDS}
        values[NODES_PRESENT] = default_nodes
        values.update((k, v) for k, v in channel.config.items() if k in SPECS)
        values[OWNER] = channel.owners
        eol = channel.end_of_life
        values[END_OF_LIFE] = (format_datetime(eol),) if eol is not None else ()
        return cls(values, channel.config_updated)

    def stored(self) -> dict[str, tuple[str, ...]]:
        """What `Channel.config` keeps (owners and end of life have columns)."""
        return {k: v for k, v in self.values.items() if k not in (OWNER, END_OF_LIFE)}

    def form(self, kind: str, node_options: tuple[str, ...]) -> DataForm:
        fields = []
        for spec in FIELDS:
            options = node_options if spec.var == NODES_PRESENT else spec.options
            offered = options if kind == "form" else ()
            values = self.get(spec.var)
            fields.append(Field(spec.var, values, spec.type, spec.label, False, offered))
        return DataForm.with_type(kind, NS.MIX_ADMIN, tuple(fields))


def changed(
    current: ChannelConfig, form: DataForm, node_options: tuple[str, ...], by: str, now: int
) -> ChannelConfig:
    """The configuration after a submitted form: the fields it carries are
    replaced (others keep their values), each validated; `by` becomes the
    last change's author. Raises bad-request naming the offending field."""
    if form.type not in ("submit", "result"):
        raise bad("FORM_TYPE", "submit a form of type submit")
    if form.form_type != NS.MIX_ADMIN:
        raise bad("FORM_TYPE", f"must be {NS.MIX_ADMIN}")
    values = dict(current.values)
    for field in form.fields:
        var = field.var
        if var is None or var in ("FORM_TYPE", LAST_CHANGE):
            continue  # the server keeps Last Change Made By itself
        if var == NO_PRIVATE_MESSAGES:
            negated = _boolean(var, field.values)
            values[PRIVATE_MESSAGES] = ("false",) if negated == ("true",) else ("true",)
            continue
        spec = SPECS.get(var)
        if spec is None:
            raise bad(var, "not a field of this configuration")
        options = node_options if var == NODES_PRESENT else spec.options
        values[var] = _validated(spec, field.values, options)
    if not values[OWNER]:
        raise bad(OWNER, "a channel always has at least one owner")
    values[LAST_CHANGE] = (by,)
    return ChannelConfig(values, now)


def _validated(
    spec: FieldSpec, given: tuple[str, ...], options: tuple[str, ...]
) -> tuple[str, ...]:
    var, kind = spec.var, spec.type
    if kind == "boolean":
        return _boolean(var, given)
    if kind == "jid-multi":
        return tuple(sorted({_bare_jid(var, v) for v in given if v.strip()}))
    if kind == "list-multi":
        for value in given:
            if value not in options:
                raise bad(var, f"{value!r} is not one of {', '.join(options)}")
        return tuple(sorted(set(given)))
    if len(given) > 1:
        raise bad(var, "takes one value")
    value = given[0].strip() if given else ""
    if kind == "list-single":
        if value not in options:
            raise bad(var, f"{value!r} is not one of {', '.join(options)}")
        return (value,)
    if var == END_OF_LIFE and value:
        try:
            return (format_datetime(parse_datetime(value)),)
        except CodecError as exc:
            raise bad(var, f"{exc} (e.g. 2030-01-31T12:00:00Z)") from None
    return (value,) if value else ()


def _boolean(var: str, given: tuple[str, ...]) -> tuple[str, ...]:
    if len(given) != 1 or given[0] not in _TRUE + _FALSE:
        raise bad(var, "must be true or false")
    return ("true",) if given[0] in _TRUE else ("false",)


def _bare_jid(var: str, text: str) -> str:
    try:
        jid = JID.parse(text.strip())
    except JIDError as exc:
        raise bad(var, f"{text!r} is not a JID ({exc})") from None
    if jid.resource is not None or jid.local is None:
        raise bad(var, f"{text!r} is not a bare JID of a user")
    return str(jid)
