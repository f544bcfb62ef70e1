"""Resource binding policy of the SessionManager (RFC 6120 7.7.2; RELIABILITY F3, G8)."""

from __future__ import annotations

import pytest

from mixd.core.sessions import SessionManager
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.xml.element import Element

ALICE = JID("alice", "localhost", None)
BOB = JID("bob", "localhost", None)


class FakeSession:
    """A connection as the manager sees it. `replaced()` does what a real one
    may do at once: close and unbind itself."""

    def __init__(self, name: str, manager: SessionManager | None = None) -> None:
        self.name = name
        self.manager = manager
        self.jid = JID(None, "unbound.invalid", None)
        self.available = True
        self.priority = 0
        self.delivered: list[Element] = []
        self.replaced_calls = 0
        self.unbind_result: bool | None = None

    def deliver(self, element: Element) -> None:
        self.delivered.append(element)

    def terminate(self, text: str) -> None:
        self.available = False

    def replaced(self) -> None:
        self.replaced_calls += 1
        if self.manager is not None:
            self.unbind_result = self.manager.unbind(self)

    def __repr__(self) -> str:
        return f"<FakeSession {self.name}>"


def test_bind_with_resource() -> None:
    sm = SessionManager(max_resources=5)
    s = FakeSession("phone")
    full = sm.bind(s, ALICE, "phone")
    assert full == JID("alice", "localhost", "phone")
    assert s.jid == full
    assert sm.get(full) is s
    assert sm.resources(ALICE) == [s]
    assert len(sm) == 1


def test_generated_resources_are_unique_and_valid() -> None:
    sm = SessionManager(max_resources=100)
    sessions = [FakeSession(str(i)) for i in range(50)]
    jids = [sm.bind(s, ALICE, None) for s in sessions]
    resources = [j.resource for j in jids]
    assert all(r for r in resources)
    assert len(set(resources)) == 50
    assert all(j.bare == ALICE for j in jids)
    assert all(sm.get(j) is s for j, s in zip(jids, sessions, strict=True))


def test_replace_policy_ends_the_old_session() -> None:
    sm = SessionManager(max_resources=5, conflict="replace")
    old = FakeSession("old", sm)
    new = FakeSession("new", sm)
    full = sm.bind(old, ALICE, "phone")
    assert sm.bind(new, ALICE, "phone") == full
    assert old.replaced_calls == 1
    assert new.replaced_calls == 0
    # The old session's unbind (here from inside replaced()) removes nothing.
    assert old.unbind_result is False
    assert sm.get(full) is new
    assert sm.unbind(old) is False
    assert sm.get(full) is new
    assert sm.resources(ALICE) == [new]
    assert sm.unbind(new) is True
    assert sm.get(full) is None
    assert len(sm) == 0


def test_replace_at_the_resource_limit_is_allowed() -> None:
    sm = SessionManager(max_resources=2, conflict="replace")
    a, b, c = FakeSession("a"), FakeSession("b"), FakeSession("c")
    sm.bind(a, ALICE, "one")
    sm.bind(b, ALICE, "two")
    sm.bind(c, ALICE, "two")  # same resource: a replacement, not a third one
    assert b.replaced_calls == 1
    assert len(sm.resources(ALICE)) == 2


def test_refuse_policy() -> None:
    sm = SessionManager(max_resources=5, conflict="refuse")
    old = FakeSession("old", sm)
    new = FakeSession("new", sm)
    full = sm.bind(old, ALICE, "phone")
    with pytest.raises(StanzaError) as info:
        sm.bind(new, ALICE, "phone")
    assert info.value.condition is StanzaErrorCondition.CONFLICT
    assert old.replaced_calls == 0
    assert sm.get(full) is old
    assert sm.unbind(new) is False
    assert sm.get(full) is old


def test_max_resources() -> None:
    sm = SessionManager(max_resources=2)
    sm.bind(FakeSession("1"), ALICE, "one")
    sm.bind(FakeSession("2"), ALICE, None)
    extra = FakeSession("3")
    with pytest.raises(StanzaError) as info:
        sm.bind(extra, ALICE, "three")
    assert info.value.condition is StanzaErrorCondition.RESOURCE_CONSTRAINT
    with pytest.raises(StanzaError):
        sm.bind(extra, ALICE, None)
    assert len(sm.resources(ALICE)) == 2
    assert extra not in sm.all()
    # Other accounts have their own allowance.
    sm.bind(FakeSession("bob"), BOB, "one")
    assert len(sm) == 3


def test_unbind_frees_a_slot() -> None:
    sm = SessionManager(max_resources=1)
    first = FakeSession("1")
    sm.bind(first, ALICE, "one")
    assert sm.unbind(first) is True
    assert sm.unbind(first) is False
    sm.bind(FakeSession("2"), ALICE, "two")
    assert len(sm) == 1


def test_available_filters_unavailable_and_negative_priority() -> None:
    sm = SessionManager(max_resources=10)
    online = FakeSession("online")
    negative = FakeSession("negative")
    negative.priority = -1
    away = FakeSession("away")
    away.available = False
    zero = FakeSession("zero")
    zero.priority = 0
    high = FakeSession("high")
    high.priority = 127
    for s in (online, negative, away, zero, high):
        sm.bind(s, ALICE, s.name)
    sm.bind(FakeSession("bob"), BOB, "x")
    assert set(sm.available(ALICE)) == {online, zero, high}
    assert set(sm.resources(ALICE)) == {online, negative, away, zero, high}
    assert sm.available(JID("carol", "localhost", None)) == []


def test_all_and_len() -> None:
    sm = SessionManager(max_resources=10)
    sessions = [FakeSession("a1"), FakeSession("a2"), FakeSession("b1")]
    sm.bind(sessions[0], ALICE, "1")
    sm.bind(sessions[1], ALICE, "2")
    sm.bind(sessions[2], BOB, "1")
    assert set(sm.all()) == set(sessions)
    assert len(sm) == 3
    for s in sessions:
        sm.unbind(s)
    assert sm.all() == [] and len(sm) == 0


def test_sessions_of_a_bare_jid_given_as_text() -> None:
    manager = SessionManager(max_resources=5)
    alice = JID.parse("alice@example.org")
    one, two = FakeSession("one"), FakeSession("two")
    manager.bind(one, alice, "one")
    manager.bind(two, alice, "two")
    assert list(manager.of("alice@example.org")) == [one, two]
    manager.unbind(one)
    manager.unbind(two)
    assert list(manager.of("alice@example.org")) == []
    assert list(manager.of("nobody@example.org")) == []
