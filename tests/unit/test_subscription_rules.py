"""The subscription state machine against RFC 6121 Appendix A, row by row,
plus the pre-approval rules of section 3.4.

The tables below are copied from the RFC's text (A.2.1-A.2.4, A.3.1-A.3.4),
independently of the ones in `rules`."""

from __future__ import annotations

import pytest

from mixd.services.roster import rules
from mixd.services.roster.rules import State, SubscriptionType
from mixd.services.roster.subscriptions import apply
from mixd.storage.contracts.roster import RosterItem, Subscription

SUBSCRIBE = SubscriptionType.SUBSCRIBE
SUBSCRIBED = SubscriptionType.SUBSCRIBED
UNSUBSCRIBE = SubscriptionType.UNSUBSCRIBE
UNSUBSCRIBED = SubscriptionType.UNSUBSCRIBED

OUTBOUND = {
    # A.2.1 Outbound "subscribe"
    SUBSCRIBE: """
        None                  | yes | None + Pending Out
        None + Pending Out    | yes | no state change
        None + Pending In     | yes | None + Pending Out/In
        None + Pending Out/In | yes | no state change
        To                    | yes | no state change
        To + Pending In       | yes | no state change
        From                  | yes | From + Pending Out
        From + Pending Out    | yes | no state change
        Both                  | yes | no state change
    """,
    # A.2.2 Outbound "unsubscribe"
    UNSUBSCRIBE: """
        None                  | yes | no state change
        None + Pending Out    | yes | None
        None + Pending In     | yes | no state change
        None + Pending Out/In | yes | None + Pending In
        To                    | yes | None
        To + Pending In       | yes | None + Pending In
        From                  | yes | no state change
        From + Pending Out    | yes | From
        Both                  | yes | From
    """,
    # A.2.3 Outbound "subscribed" (rows without Pending In pre-approve, 3.4)
    SUBSCRIBED: """
        None                  | no  | no state change
        None + Pending Out    | no  | no state change
        None + Pending In     | yes | From
        None + Pending Out/In | yes | From + Pending Out
        To                    | no  | no state change
        To + Pending In       | yes | Both
        From                  | no  | no state change
        From + Pending Out    | no  | no state change
        Both                  | no  | no state change
    """,
    # A.2.4 Outbound "unsubscribed"
    UNSUBSCRIBED: """
        None                  | no  | no state change
        None + Pending Out    | no  | no state change
        None + Pending In     | yes | None
        None + Pending Out/In | yes | None + Pending Out
        To                    | no  | no state change
        To + Pending In       | yes | To
        From                  | yes | None
        From + Pending Out    | yes | None + Pending Out
        Both                  | yes | To
    """,
}

INBOUND = {
    # A.3.1 Inbound "subscribe" (* = the server answers "subscribed" itself)
    SUBSCRIBE: """
        None                  | yes | None + Pending In
        None + Pending Out    | yes | None + Pending Out/In
        None + Pending In     | no  | no state change
        None + Pending Out/In | no  | no state change
        To                    | yes | To + Pending In
        To + Pending In       | no  | no state change
        From                  | no* | no state change
        From + Pending Out    | no* | no state change
        Both                  | no* | no state change
    """,
    # A.3.2 Inbound "unsubscribe"
    UNSUBSCRIBE: """
        None                  | no  | no state change
        None + Pending Out    | no  | no state change
        None + Pending In     | yes | None
        None + Pending Out/In | yes | None + Pending Out
        To                    | no  | no state change
        To + Pending In       | yes | To
        From                  | yes | None
        From + Pending Out    | yes | None + Pending Out
        Both                  | yes | To
    """,
    # A.3.3 Inbound "subscribed"
    SUBSCRIBED: """
        None                  | no  | no state change
        None + Pending Out    | yes | To
        None + Pending In     | no  | no state change
        None + Pending Out/In | yes | To + Pending In
        To                    | no  | no state change
        To + Pending In       | no  | no state change
        From                  | no  | no state change
        From + Pending Out    | yes | Both
        Both                  | no  | no state change
    """,
    # A.3.4 Inbound "unsubscribed"
    UNSUBSCRIBED: """
        None                  | no  | no state change
        None + Pending Out    | yes | None
        None + Pending In     | no  | no state change
        None + Pending Out/In | yes | None + Pending In
        To                    | yes | None
        To + Pending In       | yes | None + Pending In
        From                  | no  | no state change
        From + Pending Out    | yes | From
        Both                  | yes | From
    """,
}


def rows(
    tables: dict[SubscriptionType, str],
) -> list[tuple[SubscriptionType, str, str, str]]:
    out = []
    for kind, table in tables.items():
        for line in table.strip().splitlines():
            state, forward, new = (cell.strip() for cell in line.split("|"))
            out.append((kind, state, forward, state if new == "no state change" else new))
    return out


def ids(row: tuple[SubscriptionType, str, str, str]) -> str:
    return f"{row[0]}-{row[1]}"


@pytest.mark.parametrize("row", rows(OUTBOUND), ids=ids)
def test_outbound_table(row: tuple[SubscriptionType, str, str, str]) -> None:
    kind, state, route, new = row
    outcome = rules.outbound(State.parse(state), kind)
    assert outcome.state.label == new
    assert outcome.forward is (route == "yes")
    assert outcome.reply is None


@pytest.mark.parametrize("row", rows(INBOUND), ids=ids)
def test_inbound_table(row: tuple[SubscriptionType, str, str, str]) -> None:
    kind, state, deliver, new = row
    outcome = rules.inbound(State.parse(state), kind)
    assert outcome.state.label == new
    assert outcome.forward is (deliver == "yes")
    assert outcome.reply is (SUBSCRIBED if deliver == "no*" else None)


def test_every_state_and_type_is_covered() -> None:
    for tables in (OUTBOUND, INBOUND):
        assert len(rows(tables)) == 36
        assert {(k, s) for k, s, _, _ in rows(tables)} == {
            (k, s) for k in SubscriptionType for s in {r[1] for r in rows(tables)}
        }


# -- pre-approval (RFC 6121 3.4) ------------------------------------------------


@pytest.mark.parametrize("state", ["None", "None + Pending Out", "To"])
def test_outbound_subscribed_without_request_pre_approves(state: str) -> None:
    outcome = rules.outbound(State.parse(state), SUBSCRIBED)
    assert not outcome.forward
    assert outcome.state.approved
    assert outcome.state.label == state


@pytest.mark.parametrize(
    ("state", "approved_state"),
    [("None", "From"), ("None + Pending Out", "From + Pending Out"), ("To", "Both")],
)
def test_inbound_subscribe_when_pre_approved_is_answered_by_the_server(
    state: str, approved_state: str
) -> None:
    pre_approved = rules.outbound(State.parse(state), SUBSCRIBED).state
    outcome = rules.inbound(pre_approved, SUBSCRIBE)
    assert outcome.state.label == approved_state
    assert not outcome.state.approved  # used up
    assert not outcome.forward
    assert outcome.reply is SUBSCRIBED


@pytest.mark.parametrize("state", ["None", "None + Pending Out", "To"])
def test_outbound_unsubscribed_withdraws_pre_approval(state: str) -> None:
    pre_approved = rules.outbound(State.parse(state), SUBSCRIBED).state
    outcome = rules.outbound(pre_approved, UNSUBSCRIBED)
    assert not outcome.forward
    assert outcome.state == State.parse(state)
    # A later request is then delivered to the user as usual.
    assert rules.inbound(outcome.state, SUBSCRIBE).forward


def test_pre_approval_survives_unrelated_changes() -> None:
    approved = rules.outbound(State(), SUBSCRIBED).state
    asked = rules.outbound(approved, SUBSCRIBE).state
    assert asked.label == "None + Pending Out" and asked.approved
    accepted = rules.inbound(asked, SUBSCRIBED).state
    assert accepted.label == "To" and accepted.approved


def test_pre_approval_is_meaningless_once_subscribed_from() -> None:
    assert not State(Subscription.FROM, approved=True).normalised().approved
    assert not State.of(RosterItem("a@b", subscription=Subscription.BOTH, approved=True)).approved


# -- states ---------------------------------------------------------------------


def test_labels_round_trip() -> None:
    for label in {r[1] for r in rows(OUTBOUND)}:
        assert State.parse(label).label == label


def test_state_of_absent_item_is_none() -> None:
    assert State.of(None) == State()


def test_state_of_stored_item() -> None:
    item = RosterItem("a@b", subscription=Subscription.FROM, ask=True)
    assert State.of(item).label == "From + Pending Out"
    item = RosterItem("a@b", subscription=Subscription.TO, pending_in=True)
    assert State.of(item).label == "To + Pending In"


def test_impossible_combinations_read_as_the_subscription() -> None:
    # Pending Out while already subscribed to, Pending In while subscribed from.
    assert State.of(RosterItem("a@b", subscription=Subscription.TO, ask=True)).label == "To"
    both = RosterItem("a@b", subscription=Subscription.BOTH, ask=True, pending_in=True)
    assert State.of(both).label == "Both"


# -- applying a state to a stored entry (subscriptions.apply) -------------------


def test_request_from_a_stranger_is_kept_unlisted() -> None:
    state = rules.inbound(State(), SUBSCRIBE).state
    entry = apply(None, "bob@b", state, "<presence type='subscribe'/>")
    assert entry is not None
    assert entry.pending_in and not entry.listed
    assert entry.request == "<presence type='subscribe'/>"


def test_withdrawn_or_denied_stranger_request_leaves_nothing() -> None:
    pending = apply(None, "bob@b", State(pending_in=True), "<presence type='subscribe'/>")
    assert (
        apply(pending, "bob@b", rules.inbound(State.of(pending), UNSUBSCRIBE).state, None) is None
    )
    assert (
        apply(pending, "bob@b", rules.outbound(State.of(pending), UNSUBSCRIBED).state, None) is None
    )


def test_approving_lists_the_entry_and_drops_the_request() -> None:
    pending = apply(None, "bob@b", State(pending_in=True), "<presence type='subscribe'/>")
    entry = apply(pending, "bob@b", rules.outbound(State.of(pending), SUBSCRIBED).state, None)
    assert entry is not None
    assert entry.listed and entry.subscription is Subscription.FROM
    assert not entry.pending_in and entry.request is None


def test_a_user_added_contact_stays_listed_without_subscription() -> None:
    added = RosterItem("bob@b", name="Bob", groups=("g",))
    asked = apply(added, "bob@b", rules.outbound(State.of(added), SUBSCRIBE).state, None)
    assert asked is not None and asked.ask and asked.name == "Bob" and asked.groups == ("g",)
    refused = apply(asked, "bob@b", rules.inbound(State.of(asked), UNSUBSCRIBED).state, None)
    assert refused == added


def test_pre_approval_lists_a_new_entry() -> None:
    entry = apply(None, "bob@b", rules.outbound(State(), SUBSCRIBED).state, None)
    assert entry is not None and entry.listed and entry.approved


def test_nothing_to_keep_for_an_absent_contact() -> None:
    assert apply(None, "bob@b", rules.outbound(State(), UNSUBSCRIBE).state, None) is None
