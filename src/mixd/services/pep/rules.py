"""Pure PEP rules: node configuration from forms, publish-options
preconditions, access models and who gets which notification.

Choices (XEP-0060 1.30.0, XEP-0163 1.2.2):
- Defaults (XEP-0163 section 5): access model `presence`, one item,
  persistent, last item sent on presence.
- publish-options (XEP-0060 7.1.5): every field is a precondition. For an
  existing node a field that differs from its configuration, is unknown or
  has a value we cannot take means `conflict` + `<precondition-not-met/>`;
  a new node takes the fields as its configuration (or fails the same way).
  `pubsub#max_items` `max` matches only a node configured with `max`.
- Access (XEP-0060 4.5, 6.5.9): the owner always; `open` anyone; `presence`
  a contact with a subscription to the owner's presence (`from`/`both` in the
  owner's roster), else `not-authorized` + `<presence-subscription-required/>`;
  `roster` a contact in one of the allowed groups, else `not-authorized` +
  `<not-in-roster-group/>`; `whitelist` only the owner (no affiliations can
  be added), else `not-allowed` + `<closed-node/>`.
- Notifications (XEP-0163 section 4): the owner's available resources and
  those of contacts subscribed to the owner's presence whom the access model
  admits, each only if its caps advertise `<node>+notify`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from mixd import ns as NS
from mixd.codec.xep0004_forms import DataForm, Field
from mixd.errors import AppCondition, StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.storage.contracts.pep import (
    MAX_ITEMS,
    AccessModel,
    ConfigChange,
    LastItem,
    NodeConfig,
    PublishCheck,
    SendLast,
)
from mixd.storage.contracts.roster import RosterItem, Subscription

DEFAULT_CONFIG = NodeConfig()
MAX_NODE_LENGTH = 512
MAX_ITEM_ID_LENGTH = 256
NOTIFY_SUFFIX = "+notify"

ACCESS_MODEL = "pubsub#access_model"
MAX_ITEMS_FIELD = "pubsub#max_items"
PERSIST_ITEMS = "pubsub#persist_items"
SEND_LAST = "pubsub#send_last_published_item"
ROSTER_GROUPS = "pubsub#roster_groups_allowed"
# Fields with one value here: accepted as preconditions when they ask for it.
FIXED = {
    "pubsub#deliver_notifications": "1",
    "pubsub#deliver_payloads": "1",
    "pubsub#notification_type": "headline",
}
_TRUE, _FALSE = frozenset({"1", "true"}), frozenset({"0", "false"})
_ON_PRESENCE = frozenset({SendLast.ON_SUB_AND_PRESENCE})
_ON_SUBSCRIPTION = frozenset({SendLast.ON_SUB, SendLast.ON_SUB_AND_PRESENCE})


def pubsub_error(
    condition: StanzaErrorCondition, app: str | None = None, text: str | None = None
) -> StanzaError:
    """A stanza error with an optional XEP-0060 pubsub#errors condition."""
    return StanzaError(
        condition, text, app=None if app is None else AppCondition(NS.PUBSUB_ERRORS, app)
    )


def unsupported(feature: str) -> StanzaError:
    """XEP-0060: `feature-not-implemented` + `<unsupported feature=.../>`."""
    app = AppCondition(NS.PUBSUB_ERRORS, "unsupported", (("feature", feature),))
    return StanzaError(StanzaErrorCondition.FEATURE_NOT_IMPLEMENTED, app=app)


def precondition_not_met(text: str) -> StanzaError:
    return pubsub_error(StanzaErrorCondition.CONFLICT, "precondition-not-met", text)


def check_node(node: str) -> None:
    if len(node) > MAX_NODE_LENGTH:
        raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "node name too long")


def item_id(requested: str | None) -> str:
    """The id an item is stored under: the publisher's, or a fresh one."""
    if requested is None:
        return secrets.token_hex(16)
    if len(requested) > MAX_ITEM_ID_LENGTH:
        raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "item id too long")
    return requested


# -- configuration forms -----------------------------------------------------


class ConfigError(ValueError):
    """A form field we do not know or a value we cannot take."""


def apply_form(config: NodeConfig, form: DataForm) -> NodeConfig:
    """`config` with the form's fields applied; raises ConfigError."""
    for field in form.fields:
        if field.var is None or field.var == "FORM_TYPE":
            continue
        config = _apply_field(config, field.var, field.values)
    return config


def _apply_field(config: NodeConfig, var: str, values: tuple[str, ...]) -> NodeConfig:
    if var == ROSTER_GROUPS:
        return replace(config, roster_groups=tuple(sorted(set(values))))
    value = values[0].strip() if len(values) == 1 else None
    if value is None:
        raise ConfigError(f"{var} needs one value")
    if var == ACCESS_MODEL:
        try:
            return replace(config, access_model=AccessModel(value))
        except ValueError:
            raise ConfigError(f"access model {value!r} is not supported") from None
    if var == MAX_ITEMS_FIELD:
        return replace(config, max_items=_max_items(value))
    if var == PERSIST_ITEMS:
        return replace(config, persist_items=_boolean(value))
    if var == SEND_LAST:
        try:
            return replace(config, send_last=SendLast(value))
        except ValueError:
            raise ConfigError(f"{SEND_LAST} {value!r} is not supported") from None
    fixed = FIXED.get(var)
    if fixed is None:
        raise ConfigError(f"unknown option {var}")
    matches = _boolean(value) == _boolean(fixed) if fixed in _TRUE else value == fixed
    if not matches:
        raise ConfigError(f"{var} is always {fixed}")
    return config


def _max_items(value: str) -> int | None:
    if value == "max":
        return None
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_ITEMS:
        raise ConfigError(f"{MAX_ITEMS_FIELD} must be 1..{MAX_ITEMS} or max")
    return int(value)


def _boolean(value: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"not a boolean: {value!r}")


def _check_form_type(form: DataForm, form_type: str) -> None:
    if form.form_type != form_type:
        raise StanzaError(StanzaErrorCondition.BAD_REQUEST, f"FORM_TYPE must be {form_type}")


def publish_check(options: DataForm | None) -> PublishCheck:
    """The store callback deciding the configuration a publication runs under."""
    if options is None:
        return lambda current: DEFAULT_CONFIG if current is None else current
    _check_form_type(options, NS.PUBSUB_PUBLISH_OPTIONS)
    try:
        for_new = apply_form(DEFAULT_CONFIG, options)
    except ConfigError as exc:
        raise precondition_not_met(str(exc)) from None

    def check(current: NodeConfig | None) -> NodeConfig:
        if current is None:
            return for_new
        try:
            wanted = apply_form(current, options)
        except ConfigError as exc:
            raise precondition_not_met(str(exc)) from None
        if wanted != current:
            raise precondition_not_met("the node's configuration differs")
        return current

    return check


def _configured(current: NodeConfig, form: DataForm) -> NodeConfig:
    try:
        return apply_form(current, form)
    except ConfigError as exc:
        raise StanzaError(StanzaErrorCondition.NOT_ACCEPTABLE, str(exc)) from None


def config_change(form: DataForm) -> ConfigChange:
    """An owner's configuration submission (XEP-0060 8.2.5) as a change to
    the node's configuration; one that cannot apply is `not-acceptable`,
    raised here, before storage is touched."""
    _check_form_type(form, NS.PUBSUB_NODE_CONFIG)
    _configured(DEFAULT_CONFIG, form)
    return lambda current: _configured(current, form)


def config_form(config: NodeConfig) -> DataForm:
    max_items = "max" if config.max_items is None else str(config.max_items)
    fields = (
        Field(ACCESS_MODEL, (str(config.access_model),), "list-single"),
        Field(MAX_ITEMS_FIELD, (max_items,), "text-single"),
        Field(PERSIST_ITEMS, ("1" if config.persist_items else "0",), "boolean"),
        Field(SEND_LAST, (str(config.send_last),), "list-single"),
        Field(ROSTER_GROUPS, config.roster_groups, "list-multi"),
        *(
            Field(var, (value,), "boolean" if value in _TRUE else "list-single")
            for var, value in FIXED.items()
        ),
    )
    return DataForm.with_type("form", NS.PUBSUB_NODE_CONFIG, fields)


# -- access ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Relation:
    """What a requester is to a node owner."""

    owner: bool = False
    subscribed: bool = False  # receives the owner's presence
    groups: frozenset[str] = frozenset()  # in the owner's roster


OWNER = Relation(owner=True)


def relation(owner: JID, requester: JID, item: RosterItem | None) -> Relation:
    """From the owner's roster entry (if any) for the requester."""
    if requester.bare == owner.bare:
        return OWNER
    if item is None:
        return Relation()
    subscribed = item.subscription in (Subscription.FROM, Subscription.BOTH)
    groups = frozenset(item.groups) if item.listed else frozenset()
    return Relation(subscribed=subscribed, groups=groups)


def access_error(config: NodeConfig, rel: Relation) -> StanzaError | None:
    """Why `rel` may not retrieve the node's items, or None if it may."""
    model = config.access_model
    if rel.owner or model is AccessModel.OPEN:
        return None
    if model is AccessModel.PRESENCE:
        if rel.subscribed:
            return None
        return pubsub_error(StanzaErrorCondition.NOT_AUTHORIZED, "presence-subscription-required")
    if model is AccessModel.ROSTER:
        if rel.groups & set(config.roster_groups):
            return None
        return pubsub_error(StanzaErrorCondition.NOT_AUTHORIZED, "not-in-roster-group")
    return pubsub_error(StanzaErrorCondition.NOT_ALLOWED, "closed-node")


def may_retrieve(config: NodeConfig, rel: Relation) -> bool:
    return access_error(config, rel) is None


def may_notify(config: NodeConfig, rel: Relation) -> bool:
    """Notifications go to the owner and to presence subscribers the access
    model admits (XEP-0163 section 4)."""
    return rel.owner or (rel.subscribed and may_retrieve(config, rel))


# -- notification targets ------------------------------------------------------


def interests(features: Iterable[str]) -> frozenset[str]:
    """The nodes a resource asked notifications for (`<node>+notify`)."""
    cut = len(NOTIFY_SUFFIX)
    return frozenset(f[:-cut] for f in features if f.endswith(NOTIFY_SUFFIX) and len(f) > cut)


@dataclass(frozen=True, slots=True)
class Recipient:
    jid: JID  # an available resource
    relation: Relation
    features: frozenset[str]


def notify_targets(node: str, config: NodeConfig, recipients: Iterable[Recipient]) -> list[JID]:
    want = node + NOTIFY_SUFFIX
    return [r.jid for r in recipients if want in r.features and may_notify(config, r.relation)]


def last_items_to_send(
    items: Sequence[LastItem],
    relations: Mapping[tuple[str, str], Relation],
    wanted: frozenset[str],
    new_subscriber: bool = False,
) -> list[LastItem]:
    """XEP-0163 4.3.4: the last items a resource gets when it becomes
    available (or first asks for a node), or when its account becomes a
    presence subscriber: nodes in `wanted`, configured to be sent then, that
    it may see."""
    when = _ON_SUBSCRIPTION if new_subscriber else _ON_PRESENCE
    out = []
    for last in items:
        rel = relations.get((last.host, last.username))
        if (
            rel is not None
            and last.node.name in wanted
            and last.node.config.send_last in when
            and may_notify(last.node.config, rel)
        ):
            out.append(last)
    return out
