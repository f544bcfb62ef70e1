"""XEP-0313 user archives with real slixmpp clients: archiving both sides of
a conversation once, exact RSM paging, filters, access control, the page
limits and id errors of RELIABILITY E1/E2/E5 and forged stanza-ids (C4)."""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError

from mixd.services.mam import MamModule
from mixd.storage.contracts.archive import Direction, MessageRecord, NewEntry
from mixd.storage.errors import StorageUnavailable
from tests.helpers import TIMEOUT, ServerHandle
from tests.mam_client import MAM, MAM_PLUGINS, collect, mam_query, stanza_ids

PW = "pw"


async def login(server: ServerHandle, jid: str, **kw: Any) -> ClientXMPP:
    await server.add_user(jid.split("/")[0], PW)
    return await server.client(jid, PW, plugins=MAM_PLUGINS, **kw)


async def ready(*clients: ClientXMPP) -> None:
    """A ping round trip orders each client's earlier presence before what follows."""
    for client in clients:
        await client.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)


async def db_count(server: ServerHandle, table: str) -> int:
    assert server.app.db is not None
    sql = f"SELECT COUNT(*) FROM {table}"
    return int(await server.app.db.run(lambda c: c.execute(sql).fetchone()[0]))


async def seed(server: ServerHandle, owner: str, n: int) -> None:
    """n archived messages straight into storage (the query path is under test)."""
    assert server.app.server is not None
    store = server.app.server.stores.archive
    base = time.time_ns() // 1000 - 10_000_000
    calls = []
    for i in range(n):
        body = f"<body>s{i:03}</body>"
        xml = f"<message type='chat' from='bob@localhost/b' to='{owner}'>{body}</message>"
        record = MessageRecord(xml, base + i, "bob@localhost", "chat")
        calls.append(
            store.store(record, [NewEntry(owner, "bob@localhost", Direction.IN, base + i)])
        )
    await asyncio.gather(*calls)  # group commit: a few transactions


async def error_of(query: Any) -> tuple[str, str]:
    with pytest.raises(IqError) as err:
        await query
    return err.value.condition, err.value.etype


async def test_account_advertises_mam(server: ServerHandle) -> None:
    alice = await login(server, "alice@localhost/home")
    info = await alice.plugin["xep_0030"].get_info(jid="alice@localhost", timeout=TIMEOUT)
    features = set(info["disco_info"]["features"])
    assert {MAM, f"{MAM}#extended", "urn:xmpp:sid:0"} <= features
    fields = await alice.plugin["xep_0313"].get_fields(timeout=TIMEOUT)
    assert {"FORM_TYPE", "with", "start", "end", "before-id", "after-id", "ids"} <= set(
        fields.get_fields()
    )


async def test_conversation_is_archived_once_and_pages_exactly(server: ServerHandle) -> None:
    alice = await login(server, "alice@localhost/home")
    bob = await login(server, "bob@localhost/work")
    await ready(bob)
    received = collect(bob, 120)
    for n in range(120):
        alice.send_message(mto="bob@localhost", mbody=f"m{n:03}", mtype="chat")
    got = await asyncio.wait_for(received, TIMEOUT)
    bodies = [f"m{n:03}" for n in range(120)]
    assert [str(m["body"]) for m in got] == bodies
    bob_ids = []
    for msg in got:
        ((sid, by),) = stanza_ids(msg)
        assert by == "bob@localhost" and sid
        bob_ids.append(sid)
    # One stored message per chat message, one entry in each archive.
    assert await db_count(server, "messages") == 120
    assert await db_count(server, "archive_entries") == 240

    forward, after = [], None
    while True:
        page = await mam_query(alice, max=50, after=after)
        forward.append(page)
        assert page.rsm("first") == page.ids[0] and page.rsm("last") == page.ids[-1]
        if page.complete:
            break
        after = page.rsm("last")
    assert [(len(p.ids), p.rsm("first_index"), p.rsm("count")) for p in forward] == [
        (50, "0", "120"),
        (50, "50", "120"),
        (20, "100", "120"),
    ]
    assert [p.complete for p in forward] == [False, False, True]
    alice_ids = [i for p in forward for i in p.ids]
    assert [b for p in forward for b in p.bodies] == bodies
    assert all(str(m["to"]) == "bob@localhost" for p in forward for m in p.forwarded)
    assert all(str(m["from"]) == "alice@localhost" for p in forward for m in p.results)
    assert not set(alice_ids) & set(bob_ids)  # each archive has its own ids

    backward: list[Any] = []
    before: str | bool = True
    while True:
        page = await mam_query(alice, max=50, before=before)
        backward.append(page)
        if page.complete:
            break
        before = page.rsm("first")
    assert [(len(p.ids), p.rsm("first_index"), p.complete) for p in backward] == [
        (50, "70", False),
        (50, "20", False),
        (20, "0", True),
    ]
    assert backward[0].ids == alice_ids[70:] and backward[2].ids == alice_ids[:20]

    mine = await mam_query(bob, max=250)
    assert mine.ids == bob_ids and mine.bodies == bodies and mine.complete
    assert all(str(m["from"]) == "alice@localhost/home" for m in mine.forwarded)
    assert all(m["mam_result"]["forwarded"]["delay"]["stamp"] for m in mine.results)


async def test_with_filter(server: ServerHandle) -> None:
    alice = await login(server, "alice@localhost/home")
    bob = await login(server, "bob@localhost/work")
    carol = await login(server, "carol@localhost/desk")
    await ready(bob, carol)
    to_bob, to_carol = collect(bob, 4), collect(carol, 2)
    for n in range(3):
        alice.send_message(mto="bob@localhost", mbody=f"bob {n}", mtype="chat")
    alice.send_message(mto="bob@localhost/work", mbody="bob direct", mtype="chat")
    for n in range(2):
        alice.send_message(mto="carol@localhost", mbody=f"carol {n}", mtype="chat")
    await asyncio.wait_for(asyncio.gather(to_bob, to_carol), TIMEOUT)

    with_bob = await mam_query(alice, fields={"with": "bob@localhost"})
    assert with_bob.bodies == ["bob 0", "bob 1", "bob 2", "bob direct"]
    assert with_bob.complete and with_bob.rsm("count") == "4"
    resource = await mam_query(alice, fields={"with": "bob@localhost/work"})
    assert resource.bodies == ["bob direct"]
    with_carol = await mam_query(alice, fields={"with": "carol@localhost"})
    assert with_carol.bodies == ["carol 0", "carol 1"]
    from_alice = await mam_query(bob, fields={"with": "alice@localhost/home"})
    assert len(from_alice.ids) == 4
    assert (await mam_query(bob, fields={"with": "carol@localhost"})).ids == []
    # LIKE wildcards and SQL are just characters in a JID (RELIABILITY E5).
    for value in ("%@localhost", "_ob@localhost", "bob@localhost/' OR '1'='1"):
        assert (await mam_query(alice, fields={"with": value})).ids == []
    for value in ("x" * 10_000, "' OR 1=1 --@localhost"):
        assert await error_of(mam_query(alice, fields={"with": value})) == ("bad-request", "modify")


async def test_other_users_archive_is_forbidden(server: ServerHandle) -> None:
    alice = await login(server, "alice@localhost/home")
    await login(server, "bob@localhost/work")
    assert await error_of(mam_query(alice, to="bob@localhost")) == ("forbidden", "auth")
    prefs = alice.make_iq_get(ito="bob@localhost")
    prefs.xml.append(prefs_element())
    assert await error_of(prefs.send(timeout=TIMEOUT)) == ("forbidden", "auth")
    meta = alice.plugin["xep_0313"].get_archive_metadata(jid="bob@localhost", timeout=TIMEOUT)
    assert await error_of(meta) == ("forbidden", "auth")


def prefs_element(default: str | None = None, always: tuple[str, ...] = ()) -> ET.Element:
    el = ET.Element(f"{{{MAM}}}prefs")
    if default:
        el.set("default", default)
        parent = ET.SubElement(el, f"{{{MAM}}}always")
        for jid in always:
            ET.SubElement(parent, f"{{{MAM}}}jid").text = jid
        ET.SubElement(el, f"{{{MAM}}}never")
    return el


async def test_page_limits(server: ServerHandle) -> None:
    """RELIABILITY E1: absent max -> 50, above 250 -> 250, 0 -> count only,
    negative or not a number -> bad-request."""
    alice = await login(server, "alice@localhost/home")
    await seed(server, "alice@localhost", 260)
    default = await mam_query(alice)
    assert (len(default.ids), default.rsm("count"), default.complete) == (50, "260", False)
    clamped = await mam_query(alice, max=100_000)
    assert (len(clamped.ids), clamped.complete) == (250, False)
    assert clamped.bodies == [f"s{i:03}" for i in range(250)]
    count_only = await mam_query(alice, max=0)
    assert (count_only.ids, count_only.rsm("count"), count_only.rsm("first")) == ([], "260", "")
    for bad in ("-1", "ten", "1.5"):
        assert await error_of(mam_query(alice, max=bad)) == ("bad-request", "modify")


async def test_ids_and_flipped_pages(server: ServerHandle) -> None:
    """RELIABILITY E2: unknown or malformed ids -> item-not-found; flipped
    pages and boundaries exact."""
    alice = await login(server, "alice@localhost/home")
    await seed(server, "alice@localhost", 30)
    ids = (await mam_query(alice)).ids
    assert len(ids) == 30
    for unknown in ("nosuchid", "x" * 10_000, "' OR '1'='1"):
        for query in (
            mam_query(alice, after=unknown),
            mam_query(alice, before=unknown),
            mam_query(alice, fields={"after-id": unknown}),
            mam_query(alice, fields={"before-id": unknown}),
            mam_query(alice, fields={"ids": [ids[0], unknown]}),
        ):
            assert await error_of(query) == ("item-not-found", "cancel")

    flipped = await mam_query(alice, max=10, before=True, flip=True)
    assert flipped.ids == list(reversed(ids[20:]))
    assert (flipped.rsm("first"), flipped.rsm("last")) == (ids[20], ids[29])
    last = await mam_query(alice, max=10, after=ids[19])
    assert (last.ids, last.complete) == (ids[20:], True)
    empty = await mam_query(alice, max=10, after=ids[29])
    assert (empty.ids, empty.complete, empty.rsm("count")) == ([], True, "30")
    between = await mam_query(alice, fields={"after-id": ids[4], "before-id": ids[9]})
    assert between.ids == ids[5:9]
    chosen = await mam_query(alice, fields={"ids": [ids[7], ids[3]]})
    assert chosen.ids == [ids[3], ids[7]]
    jump = await mam_query(alice, max=5, index=25)
    assert (jump.ids, jump.rsm("first_index"), jump.complete) == (ids[25:], "25", True)
    meta = await alice.plugin["xep_0313"].get_archive_metadata(timeout=TIMEOUT)
    assert meta["mam_metadata"]["start"]["id"] == ids[0]
    assert meta["mam_metadata"]["end"]["id"] == ids[-1]


@pytest.mark.parametrize("copies", [2, 3])
async def test_forged_stanza_ids_are_stripped(server: ServerHandle, copies: int) -> None:
    """RELIABILITY C4: every client-supplied stanza-id claiming a local JID goes."""
    alice = await login(server, "alice@localhost/home")
    bob = await login(server, "bob@localhost/work")
    await ready(bob)
    received = collect(bob, 1)
    forged = "".join(
        f"<stanza-id xmlns='urn:xmpp:sid:0' id='forged{i}' by='{by}'/>"
        for i in range(copies)
        for by in ("bob@localhost", "BOB@localhost", "alice@localhost", "localhost")
    )
    alice.send_raw(
        "<message to='bob@localhost' type='chat'><body>trust me</body>"
        f"{forged}<stanza-id xmlns='urn:xmpp:sid:0' id='theirs' by='elsewhere.example'/>"
        "<origin-id xmlns='urn:xmpp:sid:0' id='origin-1'/></message>"
    )
    (msg,) = await asyncio.wait_for(received, TIMEOUT)
    ids = stanza_ids(msg)
    assert ("theirs", "elsewhere.example") in ids
    ours = [i for i, by in ids if by != "elsewhere.example"]
    assert len(ours) == 1 and not ours[0].startswith("forged")  # type: ignore[union-attr]
    assert (await mam_query(bob)).ids == ours
    archived = (await mam_query(alice)).forwarded[0]
    assert [by for _, by in stanza_ids(archived)] == ["elsewhere.example"]
    assert archived.xml.find("{urn:xmpp:sid:0}origin-id").get("id") == "origin-1"


async def test_offline_recipient_archive_and_stanza_id(server: ServerHandle) -> None:
    """MAM runs before offline storage: the recipient's archive gets the message
    and the stored offline copy carries the archive's stanza-id."""
    alice = await login(server, "alice@localhost/home")
    await server.add_user("bob@localhost", PW)
    alice.send_message(mto="bob@localhost", mbody="while you were out", mtype="chat")
    await ready(alice)
    bob = await server.client("bob@localhost/work", PW, plugins=MAM_PLUGINS, presence=False)
    received = collect(bob, 1)
    bob.send_presence()
    (msg,) = await asyncio.wait_for(received, TIMEOUT)
    ((sid, by),) = stanza_ids(msg)
    assert by == "bob@localhost"
    assert (await mam_query(bob)).ids == [sid]
    assert await db_count(server, "messages") == 1


async def test_message_to_self_is_archived_once(server: ServerHandle) -> None:
    alice = await login(server, "alice@localhost/home")
    await ready(alice)
    received = collect(alice, 1)
    alice.send_message(mto="alice@localhost", mbody="note to self", mtype="chat")
    (msg,) = await asyncio.wait_for(received, TIMEOUT)
    ((sid, _),) = stanza_ids(msg)
    page = await mam_query(alice, fields={"with": "alice@localhost"})
    assert page.ids == [sid] and page.bodies == ["note to self"]


async def test_preferences(server: ServerHandle) -> None:
    alice = await login(server, "alice@localhost/home")
    bob = await login(server, "bob@localhost/work")
    carol = await login(server, "carol@localhost/desk")
    await ready(bob, carol)
    iq = alice.make_iq_set()
    iq.xml.append(prefs_element("never", ("Bob@localhost",)))
    answer = await iq.send(timeout=TIMEOUT)
    prefs = answer.xml.find(f"{{{MAM}}}prefs")
    assert prefs.get("default") == "never"
    assert [j.text for j in prefs.iter(f"{{{MAM}}}jid")] == ["bob@localhost"]
    got = collect(bob, 1), collect(carol, 1)
    alice.send_message(mto="bob@localhost", mbody="kept", mtype="chat")
    alice.send_message(mto="carol@localhost", mbody="not kept", mtype="chat")
    await asyncio.wait_for(asyncio.gather(*got), TIMEOUT)
    assert (await mam_query(alice)).bodies == ["kept"]
    assert (await mam_query(carol)).bodies == ["not kept"]  # carol's own prefs: always
    read = alice.make_iq_get()
    read.xml.append(prefs_element())
    stored = (await read.send(timeout=TIMEOUT)).xml.find(f"{{{MAM}}}prefs")
    assert stored.get("default") == "never"


async def test_storage_failure_is_an_error_and_nothing_is_delivered(
    server: ServerHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RELIABILITY G6: the sender gets internal-server-error (wait), no delivery."""
    alice = await login(server, "alice@localhost/home")
    bob = await login(server, "bob@localhost/work")
    await ready(bob)
    assert server.app.server is not None
    module = server.app.server.registry.modules["mam"]
    assert isinstance(module, MamModule)

    async def unavailable(*args: object) -> None:
        raise StorageUnavailable("disk on fire")

    monkeypatch.setattr(module.stage.store, "store", unavailable)
    bounced: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    alice.add_event_handler("message_error", lambda m: bounced.done() or bounced.set_result(m))
    delivered = collect(bob, 1)
    alice.send_message(mto="bob@localhost", mbody="lost?", mtype="chat")
    error = await asyncio.wait_for(bounced, TIMEOUT)
    assert (error["error"]["condition"], error["error"]["type"]) == (
        "internal-server-error",
        "wait",
    )
    await ready(alice, bob)
    assert not delivered.done()
    monkeypatch.undo()
    alice.send_message(mto="bob@localhost", mbody="again", mtype="chat")
    (msg,) = await asyncio.wait_for(delivered, TIMEOUT)
    assert msg["body"] == "again"


async def test_roster_default_archives_contacts_only(server: ServerHandle) -> None:
    alice = await login(server, "alice@localhost/home")
    bob = await login(server, "bob@localhost/work")
    carol = await login(server, "carol@localhost/desk")
    await ready(bob, carol)
    await alice.update_roster("bob@localhost", name="Bob", timeout=TIMEOUT)
    iq = alice.make_iq_set()
    iq.xml.append(prefs_element("roster"))
    await iq.send(timeout=TIMEOUT)
    got = collect(bob, 1), collect(carol, 1)
    alice.send_message(mto="bob@localhost", mbody="contact", mtype="chat")
    alice.send_message(mto="carol@localhost", mbody="stranger", mtype="chat")
    await asyncio.wait_for(asyncio.gather(*got), TIMEOUT)
    assert (await mam_query(alice)).bodies == ["contact"]


async def test_resent_chat_message_is_archived_and_delivered_once(server: ServerHandle) -> None:
    """A client resending what it never saw acknowledged (same origin-id,
    XEP-0359) creates no second copy and no second delivery; a new origin-id
    is a new message."""
    alice = await login(server, "alice@localhost/home")
    bob = await login(server, "bob@localhost/work")
    await ready(bob)
    received = collect(bob, 2)
    message = (
        "<message xmlns='jabber:client' to='bob@localhost' type='chat' id='c1'>"
        "<body>once</body><origin-id xmlns='urn:xmpp:sid:0' id='origin-1'/></message>"
    )
    for text in (message, message, message.replace("origin-1", "origin-2")):
        alice.send_raw(text)
    got = await asyncio.wait_for(received, TIMEOUT)
    await ready(alice)  # all three were routed before this ping's answer
    assert [str(m["body"]) for m in got] == ["once", "once"]
    assert [o.get("id") for m in got for o in m.xml.findall("{urn:xmpp:sid:0}origin-id")] == [
        "origin-1",
        "origin-2",
    ]
    assert await db_count(server, "messages") == 2
    for client in (alice, bob):
        page = await mam_query(
            client, fields={"with": "bob@localhost" if client is alice else "alice@localhost"}
        )
        assert page.bodies == ["once", "once"]
