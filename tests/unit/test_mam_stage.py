"""The archiving stage on memory stores, called the way the router calls it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import pytest

from mixd import ns as NS
from mixd.codec.stanza import Stanza, header_from_element
from mixd.codec.xep0359_sid import stanza_ids
from mixd.core.sessions import Session
from mixd.errors import ErrorType, StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.services.mam.archive import ArchiveStage
from mixd.services.mam.storage import PrefsCache
from mixd.storage.contracts.archive import ArchiveQuery, DefaultMode, Direction, Prefs
from mixd.storage.errors import StorageUnavailable
from mixd.storage.memory.accounts import MemoryAccountStore
from mixd.storage.memory.archive import MemoryArchiveStore
from mixd.xml.fragment import parse_element

ALICE = JID.parse("alice@localhost/home")
BOB = JID.parse("bob@localhost")


def session_of(jid: JID) -> Session:
    """The stage reads nothing from the session; any object stands in."""

    @dataclass
    class FakeSession:
        jid: JID
        available: bool = True
        priority: int = 0

    return cast(Session, FakeSession(jid))


@pytest.fixture
async def env() -> tuple[ArchiveStage, MemoryArchiveStore]:
    store, accounts = MemoryArchiveStore(), MemoryAccountStore()
    for user in ("alice", "bob"):
        await accounts.create("localhost", user, ())
    stage = ArchiveStage(frozenset({"localhost"}), store, accounts, PrefsCache(store))
    return stage, store


def chat(body: str, *extra: str, sender: JID = ALICE, to: JID = BOB) -> Stanza:
    payload = f"<body>{body}</body>{''.join(extra)}"
    xml = f"<message from='{sender}' to='{to}' type='chat'>{payload}</message>"
    return header_from_element(parse_element(xml), sender, to)


def forged(by: str, n: int = 1) -> str:
    return f"<stanza-id xmlns='{NS.SID}' id='forged{n}' by='{by}'/>"


async def items(store: MemoryArchiveStore, owner: JID) -> list[tuple[str, Direction, str]]:
    page = await store.query(ArchiveQuery(str(owner), 100))
    return [(i.id, i.direction, i.with_jid) for i in page.items]


async def test_local_chat_is_one_message_two_entries(
    env: tuple[ArchiveStage, MemoryArchiveStore],
) -> None:
    stage, store = env
    stanza = chat("hi")
    await stage.outbound(stanza, session_of(ALICE))
    await stage.inbound(stanza, BOB)
    assert store.message_count() == 1
    ((alice_id, alice_dir, with_bob),) = await items(store, ALICE.bare)
    ((bob_id, bob_dir, with_alice),) = await items(store, BOB)
    assert (alice_dir, with_bob, bob_dir, with_alice) == (
        Direction.OUT,
        str(BOB),
        Direction.IN,
        str(ALICE.bare),
    )
    # Only the recipient's id travels with the message.
    assert stanza_ids(stanza.element) == [(bob_id, str(BOB))]
    assert alice_id != bob_id


async def test_handoff_is_per_stanza(env: tuple[ArchiveStage, MemoryArchiveStore]) -> None:
    stage, store = env
    await stage.outbound(chat("first"), session_of(ALICE))
    other = chat("from elsewhere", sender=JID.parse("carol@remote.example/x"))
    await stage.inbound(other, BOB)  # not the stanza the outbound step stored
    assert store.message_count() == 2


async def test_inbound_strips_forged_ids_for_the_recipient(
    env: tuple[ArchiveStage, MemoryArchiveStore],
) -> None:
    stage, store = env
    sender = JID.parse("carol@remote.example/x")
    stanza = chat(
        "hello",
        forged("bob@localhost", 1),
        forged("Bob@LocalHost", 2),
        forged("bob@localhost/phone", 3),
        forged("remote.example", 4),
        sender=sender,
    )
    await stage.inbound(stanza, BOB)
    ((bob_id, _, _),) = await items(store, BOB)
    assert stanza_ids(stanza.element) == [("forged4", "remote.example"), (bob_id, str(BOB))]
    page = await store.query(ArchiveQuery(str(BOB), 10))
    assert "forged1" not in page.items[0].xml and "forged4" in page.items[0].xml


async def test_undeliverable_archives_for_existing_accounts_only(
    env: tuple[ArchiveStage, MemoryArchiveStore],
) -> None:
    stage, store = env
    stanza = chat("anyone?", to=JID.parse("nobody@localhost"))
    assert await stage.undeliverable(stanza, JID.parse("nobody@localhost")) is False
    assert await items(store, JID.parse("nobody@localhost")) == []
    stanza = chat("later")
    assert await stage.undeliverable(stanza, BOB) is False
    ((bob_id, _, _),) = await items(store, BOB)
    assert stanza_ids(stanza.element) == [(bob_id, str(BOB))]


async def test_not_archivable_is_left_alone(env: tuple[ArchiveStage, MemoryArchiveStore]) -> None:
    stage, store = env
    element = parse_element(f"<message to='{BOB}' type='headline'><body>news</body></message>")
    stanza = header_from_element(element, ALICE, BOB)
    await stage.outbound(stanza, session_of(ALICE))
    await stage.inbound(stanza, BOB)
    assert store.message_count() == 0 and stanza_ids(stanza.element) == []


async def test_prefs_and_roster(env: tuple[ArchiveStage, MemoryArchiveStore]) -> None:
    stage, store = env
    await stage.prefs.set(str(BOB), Prefs(DefaultMode.ROSTER))
    await stage.inbound(chat("from a stranger"), BOB)
    assert await items(store, BOB) == []

    async def everyone(owner: JID, contact: JID) -> bool:
        return contact == ALICE.bare

    stage.in_roster = everyone
    await stage.inbound(chat("from a contact"), BOB)
    assert len(await items(store, BOB)) == 1


async def test_storage_failure_becomes_wait_error(
    env: tuple[ArchiveStage, MemoryArchiveStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    stage, store = env

    async def unavailable(*args: object) -> None:
        raise StorageUnavailable("down")

    monkeypatch.setattr(store, "store", unavailable)
    with pytest.raises(StanzaError) as err:
        await stage.outbound(chat("hi"), session_of(ALICE))
    assert err.value.condition is StanzaErrorCondition.INTERNAL_SERVER_ERROR
    assert err.value.error_type is ErrorType.WAIT
