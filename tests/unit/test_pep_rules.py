"""PEP rules as tables: publish-options preconditions (XEP-0060 7.1.5),
access models (4.5, 6.5.9), configuration forms (8.2) and notification
targets (XEP-0163 section 4)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mixd import ns as NS
from mixd.codec.xep0004_forms import DataForm, Field
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.services.pep import rules
from mixd.services.pep.rules import OWNER, Recipient, Relation
from mixd.storage.contracts.pep import (
    AccessModel,
    LastItem,
    NodeConfig,
    PepItem,
    PepNode,
    SendLast,
)
from mixd.storage.contracts.roster import RosterItem, Subscription

OPEN, PRESENCE, ROSTER, WHITELIST = (
    AccessModel.OPEN,
    AccessModel.PRESENCE,
    AccessModel.ROSTER,
    AccessModel.WHITELIST,
)
ALICE = JID.parse("alice@example.org")
BOOKMARKS = NodeConfig(WHITELIST, None, True, SendLast.NEVER)
FRIEND = Relation(subscribed=True, groups=frozenset({"friends"}))
SUBSCRIBER = Relation(subscribed=True)
IN_GROUP_ONLY = Relation(groups=frozenset({"friends"}))
STRANGER = Relation()


def options(**fields: str) -> DataForm:
    return DataForm.with_type(
        "submit",
        NS.PUBSUB_PUBLISH_OPTIONS,
        tuple(Field(f"pubsub#{name}", (value,)) for name, value in fields.items()),
    )


def condition(exc: StanzaError) -> tuple[str, str | None]:
    return str(exc.condition), exc.app.name if exc.app else None


# -- publish-options --------------------------------------------------------

PRECONDITIONS = [
    # (existing node config, publish-options, resulting config or error)
    (None, {}, NodeConfig()),
    (None, {"access_model": "open"}, NodeConfig(OPEN)),
    (
        None,
        {
            "access_model": "whitelist",
            "max_items": "max",
            "persist_items": "true",
            "send_last_published_item": "never",
        },
        BOOKMARKS,
    ),
    (NodeConfig(), {"access_model": "presence"}, NodeConfig()),
    (NodeConfig(), {"persist_items": "1", "max_items": "1"}, NodeConfig()),
    (NodeConfig(), {"access_model": "open"}, "precondition-not-met"),
    (NodeConfig(), {"max_items": "max"}, "precondition-not-met"),
    (BOOKMARKS, {"max_items": "max", "access_model": "whitelist"}, BOOKMARKS),
    (BOOKMARKS, {"max_items": "256"}, "precondition-not-met"),
    (BOOKMARKS, {"persist_items": "false"}, "precondition-not-met"),
    (BOOKMARKS, {"deliver_payloads": "true", "notification_type": "headline"}, BOOKMARKS),
    (BOOKMARKS, {"deliver_payloads": "0"}, "precondition-not-met"),
    (None, {"access_model": "authorize"}, "precondition-not-met"),
    (None, {"max_items": "0"}, "precondition-not-met"),
    (None, {"max_items": "100000"}, "precondition-not-met"),
    (None, {"persist_items": "maybe"}, "precondition-not-met"),
    (None, {"unknown_option": "1"}, "precondition-not-met"),
    (NodeConfig(), {"unknown_option": "1"}, "precondition-not-met"),
]


@pytest.mark.parametrize(("current", "fields", "expected"), PRECONDITIONS)
def test_publish_options(
    current: NodeConfig | None, fields: dict[str, str], expected: NodeConfig | str
) -> None:
    def run() -> NodeConfig:
        return rules.publish_check(options(**fields) if fields else None)(current)

    if isinstance(expected, NodeConfig):
        assert run() == expected
    else:
        with pytest.raises(StanzaError) as info:
            run()
        assert condition(info.value) == ("conflict", expected)


def test_publish_options_need_their_form_type() -> None:
    form = DataForm("submit", (Field("pubsub#access_model", ("open",)),))
    with pytest.raises(StanzaError) as info:
        rules.publish_check(form)
    assert info.value.condition is StanzaErrorCondition.BAD_REQUEST


# -- configuration form --------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [NodeConfig(), BOOKMARKS, NodeConfig(ROSTER, 7, False, SendLast.ON_SUB, ("a", "b"))],
)
def test_config_form_round_trip(config: NodeConfig) -> None:
    form = rules.config_form(config)
    assert form.form_type == NS.PUBSUB_NODE_CONFIG
    submitted = DataForm("submit", form.fields)
    assert rules.config_change(submitted)(NodeConfig(OPEN, 3)) == config


def test_config_change_keeps_fields_not_submitted() -> None:
    form = DataForm.with_type(
        "submit", NS.PUBSUB_NODE_CONFIG, (Field("pubsub#access_model", ("open",)),)
    )
    assert rules.config_change(form)(BOOKMARKS) == NodeConfig(OPEN, None, True, SendLast.NEVER)


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("pubsub#access_model", "authorize"),
        ("pubsub#max_items", "-1"),
        ("pubsub#send_last_published_item", "sometimes"),
        ("pubsub#deliver_notifications", "0"),
        ("pubsub#title", "unsupported"),
    ],
)
def test_bad_configuration_is_not_acceptable(var: str, value: str) -> None:
    form = DataForm.with_type("submit", NS.PUBSUB_NODE_CONFIG, (Field(var, (value,)),))
    with pytest.raises(StanzaError) as info:
        rules.config_change(form)(NodeConfig())
    assert info.value.condition is StanzaErrorCondition.NOT_ACCEPTABLE


# -- access ------------------------------------------------------------------

ROSTER_FRIENDS = NodeConfig(ROSTER, roster_groups=("friends",))
ACCESS = [
    # (access model config, relation, None or (condition, pubsub condition))
    (NodeConfig(OPEN), STRANGER, None),
    (NodeConfig(PRESENCE), OWNER, None),
    (NodeConfig(PRESENCE), SUBSCRIBER, None),
    (NodeConfig(PRESENCE), IN_GROUP_ONLY, ("not-authorized", "presence-subscription-required")),
    (NodeConfig(PRESENCE), STRANGER, ("not-authorized", "presence-subscription-required")),
    (ROSTER_FRIENDS, FRIEND, None),
    (ROSTER_FRIENDS, IN_GROUP_ONLY, None),
    (ROSTER_FRIENDS, SUBSCRIBER, ("not-authorized", "not-in-roster-group")),
    (ROSTER_FRIENDS, OWNER, None),
    (BOOKMARKS, OWNER, None),
    (BOOKMARKS, FRIEND, ("not-allowed", "closed-node")),
    (BOOKMARKS, STRANGER, ("not-allowed", "closed-node")),
]


@pytest.mark.parametrize(("config", "rel", "expected"), ACCESS)
def test_access(config: NodeConfig, rel: Relation, expected: tuple[str, str] | None) -> None:
    error = rules.access_error(config, rel)
    assert (None if error is None else condition(error)) == expected


NOTIFY = [
    # Notifications need the right to retrieve and a presence subscription.
    (NodeConfig(OPEN), STRANGER, False),
    (NodeConfig(OPEN), SUBSCRIBER, True),
    (NodeConfig(PRESENCE), SUBSCRIBER, True),
    (ROSTER_FRIENDS, FRIEND, True),
    (ROSTER_FRIENDS, IN_GROUP_ONLY, False),
    (BOOKMARKS, FRIEND, False),
    (BOOKMARKS, OWNER, True),
]


@pytest.mark.parametrize(("config", "rel", "expected"), NOTIFY)
def test_may_notify(config: NodeConfig, rel: Relation, expected: bool) -> None:
    assert rules.may_notify(config, rel) is expected


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (None, STRANGER),
        (RosterItem("bob@example.org", subscription=Subscription.TO), STRANGER),
        (RosterItem("bob@example.org", subscription=Subscription.FROM), SUBSCRIBER),
        (
            RosterItem("bob@example.org", groups=("friends",), subscription=Subscription.BOTH),
            FRIEND,
        ),
        (RosterItem("bob@example.org", groups=("friends",), listed=False), STRANGER),
    ],
)
def test_relation_from_the_owners_roster(entry: RosterItem | None, expected: Relation) -> None:
    assert rules.relation(ALICE, JID.parse("bob@example.org/desk"), entry) == expected


def test_owner_relation_ignores_the_roster() -> None:
    assert rules.relation(ALICE, JID.parse("alice@example.org/phone"), None) == OWNER


# -- notification targets ---------------------------------------------------------


def test_notify_targets_filter_on_interest_and_access() -> None:
    nick = "http://jabber.org/protocol/nick"
    notify = frozenset({nick + "+notify"})
    recipients = [
        Recipient(JID.parse("alice@example.org/phone"), OWNER, notify),
        Recipient(JID.parse("alice@example.org/watch"), OWNER, frozenset({nick})),
        Recipient(JID.parse("bob@example.org/desk"), SUBSCRIBER, notify),
        Recipient(JID.parse("bob@example.org/plain"), SUBSCRIBER, frozenset()),
        Recipient(JID.parse("carol@example.org/x"), STRANGER, notify),
    ]
    targets = rules.notify_targets(nick, NodeConfig(), recipients)
    assert [str(j) for j in targets] == ["alice@example.org/phone", "bob@example.org/desk"]
    whitelisted = rules.notify_targets(nick, BOOKMARKS, recipients)
    assert [str(j) for j in whitelisted] == ["alice@example.org/phone"]


def test_interests() -> None:
    features = ["urn:a+notify", "urn:b", "+notify", "urn:xmpp:avatar:metadata+notify"]
    assert rules.interests(features) == {"urn:a", "urn:xmpp:avatar:metadata"}


def _last(user: str, node: str, config: NodeConfig) -> LastItem:
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    item = PepItem("current", "", stamp, f"{user}@example.org/r")
    return LastItem("example.org", user, PepNode(node, config), item)


def test_last_items_to_send() -> None:
    items = [
        _last("alice", "urn:nick", NodeConfig()),
        _last("alice", "urn:bookmarks", BOOKMARKS),
        _last("alice", "urn:on-sub", NodeConfig(send_last=SendLast.ON_SUB)),
        _last("bob", "urn:nick", NodeConfig()),
        _last("carol", "urn:nick", NodeConfig()),
        _last("dave", "urn:nick", NodeConfig()),
    ]
    wanted = frozenset({"urn:nick", "urn:bookmarks", "urn:on-sub"})
    relations = {
        ("example.org", "alice"): OWNER,
        ("example.org", "bob"): SUBSCRIBER,
        ("example.org", "carol"): STRANGER,
    }

    def sent(new_subscriber: bool, wanted: frozenset[str]) -> list[tuple[str, str]]:
        chosen = rules.last_items_to_send(items, relations, wanted, new_subscriber)
        return [(x.username, x.node.name) for x in chosen]

    # On presence: not `never`, not `on_sub`; not from carol (no access)
    # nor dave (not asked about).
    assert sent(False, wanted) == [("alice", "urn:nick"), ("bob", "urn:nick")]
    assert sent(True, wanted) == [
        ("alice", "urn:nick"),
        ("alice", "urn:on-sub"),
        ("bob", "urn:nick"),
    ]
    assert sent(False, frozenset({"urn:bookmarks"})) == []


def test_item_ids_and_node_names() -> None:
    assert rules.item_id("current") == "current"
    generated = {rules.item_id(None) for _ in range(10)}
    assert len(generated) == 10
    with pytest.raises(StanzaError):
        rules.item_id("x" * (rules.MAX_ITEM_ID_LENGTH + 1))
    with pytest.raises(StanzaError):
        rules.check_node("n" * (rules.MAX_NODE_LENGTH + 1))
