"""RFC 6121 presence subscription states: the pure state machine.

The tables are RFC 6121 Appendix A.2 (outbound: what the user's server does
with a subscription stanza the user sends) and A.3 (inbound: what the user's
server does with one addressed to the user), row for row, plus the
pre-approval rules of section 3.4 on top:

- an outbound "subscribed" with nothing pending in ("None", "None + Pending
  Out", "To") is not routed: it pre-approves the contact;
- an outbound "unsubscribed" in those states withdraws a pre-approval;
- an inbound "subscribe" from a pre-approved contact is approved by the
  server at once (reply "subscribed", no delivery), landing in "From",
  "From + Pending Out" or "Both".

Nothing here does I/O; the presence module applies the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from mixd.storage.contracts.roster import RosterItem, Subscription


class SubscriptionType(StrEnum):
    """The presence types that manage subscriptions (RFC 6121 section 3)."""

    SUBSCRIBE = "subscribe"
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBE = "unsubscribe"
    UNSUBSCRIBED = "unsubscribed"


@dataclass(frozen=True, slots=True)
class State:
    """A contact's subscription state as the user's server sees it."""

    subscription: Subscription = Subscription.NONE
    pending_out: bool = False  # the user asked the contact
    pending_in: bool = False  # the contact asked the user
    approved: bool = False  # the user pre-approved the contact

    @property
    def to(self) -> bool:
        """The user receives the contact's presence."""
        return self.subscription in (Subscription.TO, Subscription.BOTH)

    @property
    def from_(self) -> bool:
        """The contact receives the user's presence."""
        return self.subscription in (Subscription.FROM, Subscription.BOTH)

    @classmethod
    def of(cls, item: RosterItem | None) -> State:
        """The state of a stored entry (absent = "None"). Impossible
        combinations (Pending Out while subscribed to, Pending In while
        subscribed from) are read as the subscription alone."""
        if item is None:
            return cls()
        state = cls(item.subscription, item.ask, item.pending_in, item.approved)
        return state.normalised()

    def normalised(self) -> State:
        return replace(
            self,
            pending_out=self.pending_out and not self.to,
            pending_in=self.pending_in and not self.from_,
            approved=self.approved and not self.from_ and not self.pending_in,
        )

    @property
    def label(self) -> str:
        """The RFC 6121 name of the state, e.g. "None + Pending Out/In"."""
        name = self.subscription.value.capitalize()
        if self.pending_out and self.pending_in:
            return f"{name} + Pending Out/In"
        if self.pending_out:
            return f"{name} + Pending Out"
        if self.pending_in:
            return f"{name} + Pending In"
        return name

    @classmethod
    def parse(cls, label: str) -> State:
        """The inverse of `label` (for tables and tests)."""
        return _BY_LABEL[label]


_STATES = (
    State(),
    State(pending_out=True),
    State(pending_in=True),
    State(pending_out=True, pending_in=True),
    State(Subscription.TO),
    State(Subscription.TO, pending_in=True),
    State(Subscription.FROM),
    State(Subscription.FROM, pending_out=True),
    State(Subscription.BOTH),
)
_BY_LABEL = {state.label: state for state in _STATES}

# "no state change" in the RFC tables is written as the state itself.
_Table = dict[tuple[str, SubscriptionType], tuple[bool, str]]

_S, _SD, _U, _UD = (
    SubscriptionType.SUBSCRIBE,
    SubscriptionType.SUBSCRIBED,
    SubscriptionType.UNSUBSCRIBE,
    SubscriptionType.UNSUBSCRIBED,
)

# RFC 6121 A.2: (existing state, outbound type) -> (route?, new state).
# "subscribe" and "unsubscribe" are always routed (A.2.1, A.2.2): the
# contact's server may have lost state and needs to hear them again.
OUTBOUND: _Table = {
    ("None", _S): (True, "None + Pending Out"),
    ("None + Pending Out", _S): (True, "None + Pending Out"),
    ("None + Pending In", _S): (True, "None + Pending Out/In"),
    ("None + Pending Out/In", _S): (True, "None + Pending Out/In"),
    ("To", _S): (True, "To"),
    ("To + Pending In", _S): (True, "To + Pending In"),
    ("From", _S): (True, "From + Pending Out"),
    ("From + Pending Out", _S): (True, "From + Pending Out"),
    ("Both", _S): (True, "Both"),
    ("None", _U): (True, "None"),
    ("None + Pending Out", _U): (True, "None"),
    ("None + Pending In", _U): (True, "None + Pending In"),
    ("None + Pending Out/In", _U): (True, "None + Pending In"),
    ("To", _U): (True, "None"),
    ("To + Pending In", _U): (True, "None + Pending In"),
    ("From", _U): (True, "From"),
    ("From + Pending Out", _U): (True, "From"),
    ("Both", _U): (True, "From"),
    ("None", _SD): (False, "None"),
    ("None + Pending Out", _SD): (False, "None + Pending Out"),
    ("None + Pending In", _SD): (True, "From"),
    ("None + Pending Out/In", _SD): (True, "From + Pending Out"),
    ("To", _SD): (False, "To"),
    ("To + Pending In", _SD): (True, "Both"),
    ("From", _SD): (False, "From"),
    ("From + Pending Out", _SD): (False, "From + Pending Out"),
    ("Both", _SD): (False, "Both"),
    ("None", _UD): (False, "None"),
    ("None + Pending Out", _UD): (False, "None + Pending Out"),
    ("None + Pending In", _UD): (True, "None"),
    ("None + Pending Out/In", _UD): (True, "None + Pending Out"),
    ("To", _UD): (False, "To"),
    ("To + Pending In", _UD): (True, "To"),
    ("From", _UD): (True, "None"),
    ("From + Pending Out", _UD): (True, "None + Pending Out"),
    ("Both", _UD): (True, "To"),
}

# RFC 6121 A.3: (existing state, inbound type) -> (deliver?, new state).
INBOUND: _Table = {
    ("None", _S): (True, "None + Pending In"),
    ("None + Pending Out", _S): (True, "None + Pending Out/In"),
    ("None + Pending In", _S): (False, "None + Pending In"),
    ("None + Pending Out/In", _S): (False, "None + Pending Out/In"),
    ("To", _S): (True, "To + Pending In"),
    ("To + Pending In", _S): (False, "To + Pending In"),
    ("From", _S): (False, "From"),  # auto-reply "subscribed"
    ("From + Pending Out", _S): (False, "From + Pending Out"),  # auto-reply
    ("Both", _S): (False, "Both"),  # auto-reply
    ("None", _U): (False, "None"),
    ("None + Pending Out", _U): (False, "None + Pending Out"),
    ("None + Pending In", _U): (True, "None"),
    ("None + Pending Out/In", _U): (True, "None + Pending Out"),
    ("To", _U): (False, "To"),
    ("To + Pending In", _U): (True, "To"),
    ("From", _U): (True, "None"),
    ("From + Pending Out", _U): (True, "None + Pending Out"),
    ("Both", _U): (True, "To"),
    ("None", _SD): (False, "None"),
    ("None + Pending Out", _SD): (True, "To"),
    ("None + Pending In", _SD): (False, "None + Pending In"),
    ("None + Pending Out/In", _SD): (True, "To + Pending In"),
    ("To", _SD): (False, "To"),
    ("To + Pending In", _SD): (False, "To + Pending In"),
    ("From", _SD): (False, "From"),
    ("From + Pending Out", _SD): (True, "Both"),
    ("Both", _SD): (False, "Both"),
    ("None", _UD): (False, "None"),
    ("None + Pending Out", _UD): (True, "None"),
    ("None + Pending In", _UD): (False, "None + Pending In"),
    ("None + Pending Out/In", _UD): (True, "None + Pending In"),
    ("To", _UD): (True, "None"),
    ("To + Pending In", _UD): (True, "None + Pending In"),
    ("From", _UD): (False, "From"),
    ("From + Pending Out", _UD): (True, "From"),
    ("Both", _UD): (True, "From"),
}

# Pre-approval applies where nothing is pending in and the contact is not
# yet subscribed from (RFC 6121 3.4).
_PRE_APPROVABLE = frozenset({"None", "None + Pending Out", "To"})
_APPROVED_TARGET = {"None": "From", "None + Pending Out": "From + Pending Out", "To": "Both"}


@dataclass(frozen=True, slots=True)
class Outcome:
    state: State
    forward: bool  # outbound: route to the contact; inbound: deliver to the user
    reply: SubscriptionType | None = None  # inbound: what the server answers itself


def outbound(state: State, kind: SubscriptionType) -> Outcome:
    """The user sent `kind` to a contact in `state` (RFC 6121 A.2, 3.4)."""
    state = state.normalised()
    label = state.label
    if kind is SubscriptionType.SUBSCRIBED and label in _PRE_APPROVABLE:
        return Outcome(replace(state, approved=True), forward=False)
    if kind is SubscriptionType.UNSUBSCRIBED and label in _PRE_APPROVABLE:
        return Outcome(replace(state, approved=False), forward=False)
    forward, new_label = OUTBOUND[label, kind]
    return Outcome(_carry(state, new_label), forward)


def inbound(state: State, kind: SubscriptionType) -> Outcome:
    """A contact in `state` sent `kind` to the user (RFC 6121 A.3, 3.4)."""
    state = state.normalised()
    label = state.label
    if kind is SubscriptionType.SUBSCRIBE:
        if state.from_:
            # Already subscribed: the server confirms on the user's behalf.
            return Outcome(state, forward=False, reply=SubscriptionType.SUBSCRIBED)
        if state.approved and label in _PRE_APPROVABLE:
            approved = State.parse(_APPROVED_TARGET[label])
            return Outcome(approved, forward=False, reply=SubscriptionType.SUBSCRIBED)
    forward, new_label = INBOUND[label, kind]
    return Outcome(_carry(state, new_label), forward)


def _carry(old: State, label: str) -> State:
    """`label`'s state, keeping a pre-approval while it still means something."""
    return replace(State.parse(label), approved=old.approved).normalised()
