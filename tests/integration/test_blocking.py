"""XEP-0191 with real clients: the list and its pushes, and what a block
does to messages, presence and IQs in both directions."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError

from tests.helpers import TIMEOUT, ServerHandle
from tests.mam_client import MAM_PLUGINS, mam_query
from tests.mix_client import Inbox, iq
from tests.roster_client import befriend

BLOCKING = "urn:xmpp:blocking"
BLOCKED = "{urn:xmpp:blocking:errors}blocked"
PLUGINS = (*MAM_PLUGINS, "xep_0191")


async def login(server: ServerHandle, jid: str, presence: bool = True) -> ClientXMPP:
    return await server.client(jid, "pw", plugins=PLUGINS, presence=presence)


async def settled(*clients: ClientXMPP) -> None:
    """Everything the server sent each client before now has arrived."""
    for xmpp in clients:
        await xmpp.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)


async def blocked_list(xmpp: ClientXMPP) -> set[str]:
    return {str(j) for j in await xmpp.plugin["xep_0191"].get_blocked_jids(timeout=TIMEOUT)}


@pytest.fixture
async def users(server: ServerHandle) -> ServerHandle:
    for name in ("juliet", "romeo", "nurse"):
        await server.add_user(f"{name}@localhost", "pw")
    return server


async def test_disco_shows_the_feature(users: ServerHandle) -> None:
    juliet = await login(users, "juliet@localhost/a")
    for target in ("localhost", "juliet@localhost"):
        info = await juliet.plugin["xep_0030"].get_info(jid=target, timeout=TIMEOUT)
        assert BLOCKING in info["disco_info"]["features"]


async def test_block_unblock_and_pushes_to_interested_resources(users: ServerHandle) -> None:
    one = await login(users, "juliet@localhost/one")
    two = await login(users, "juliet@localhost/two")
    three = await login(users, "juliet@localhost/three")  # never asks for the list
    assert await blocked_list(one) == set()
    assert await blocked_list(two) == set()
    pushes = {name: Inbox(c, "blocked") for name, c in (("one", one), ("two", two))}
    unpushes = {name: Inbox(c, "unblocked") for name, c in (("one", one), ("two", two))}
    silent = [Inbox(three, "blocked"), Inbox(three, "unblocked")]

    await one.plugin["xep_0191"].block(
        ["romeo@localhost", "Spam.Example", "nurse@localhost/kitchen"], timeout=TIMEOUT
    )
    for inbox in pushes.values():
        [push] = await inbox.wait(1)
        items = {str(i["jid"]) for i in push["block"]}
        assert items == {"romeo@localhost", "spam.example", "nurse@localhost/kitchen"}
    assert await blocked_list(two) == {
        "romeo@localhost",
        "spam.example",
        "nurse@localhost/kitchen",
    }
    # Blocking again what is listed changes nothing and pushes nothing.
    await two.plugin["xep_0191"].block("romeo@localhost", timeout=TIMEOUT)

    await two.plugin["xep_0191"].unblock("spam.example", timeout=TIMEOUT)
    for inbox in unpushes.values():
        [push] = await inbox.wait(1)
        assert [str(i["jid"]) for i in push["unblock"]] == ["spam.example"]
    # slixmpp's unblock([]) sends no <unblock/> at all: the raw request.
    await iq(two, "juliet@localhost", f"<unblock xmlns='{BLOCKING}'/>")
    for inbox in unpushes.values():
        _, push = await inbox.wait(2)
        assert push.xml.find(f"{{{BLOCKING}}}unblock") is not None
        assert list(push["unblock"]) == []
    assert await blocked_list(three) == set()
    await settled(one, two, three)
    assert len(pushes["one"].items) == 1 and len(pushes["two"].items) == 1
    assert [len(inbox.items) for inbox in silent] == [0, 0]


@pytest.mark.parametrize(
    ("payload", "condition"),
    [
        (f"<block xmlns='{BLOCKING}'/>", "bad-request"),
        (f"<block xmlns='{BLOCKING}'><item jid='a@b@c'/></block>", "jid-malformed"),
        (f"<block xmlns='{BLOCKING}'><item jid=''/></block>", "jid-malformed"),
        (f"<unblock xmlns='{BLOCKING}'><item jid='@x'/></unblock>", "jid-malformed"),
        (f"<block xmlns='{BLOCKING}'><item jid='juliet@localhost/x'/></block>", "not-acceptable"),
        (f"<block xmlns='{BLOCKING}'><item/></block>", "bad-request"),
    ],
)
async def test_bad_requests(users: ServerHandle, payload: str, condition: str) -> None:
    juliet = await login(users, "juliet@localhost/a")
    with pytest.raises(IqError) as caught:
        await iq(juliet, "juliet@localhost", payload)
    assert caught.value.iq["error"]["condition"] == condition
    assert await blocked_list(juliet) == set()


async def test_another_accounts_list_is_forbidden(users: ServerHandle) -> None:
    romeo = await login(users, "romeo@localhost/a")
    with pytest.raises(IqError) as caught:
        await iq(romeo, "juliet@localhost", f"<blocklist xmlns='{BLOCKING}'/>", "get")
    assert caught.value.iq["error"]["condition"] == "forbidden"


async def test_list_size_is_limited(server_factory: Any) -> None:
    server = await server_factory(blocking={"max_items": 2})
    await server.add_user("juliet@localhost", "pw")
    juliet = await login(server, "juliet@localhost/a")
    await juliet.plugin["xep_0191"].block(["a@x.example", "b@x.example"], timeout=TIMEOUT)
    with pytest.raises(IqError) as caught:
        await juliet.plugin["xep_0191"].block("c@x.example", timeout=TIMEOUT)
    assert caught.value.iq["error"]["condition"] == "not-allowed"
    assert await blocked_list(juliet) == {"a@x.example", "b@x.example"}


def error_inbox(xmpp: ClientXMPP, event: str) -> asyncio.Queue[Any]:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    xmpp.add_event_handler(event, queue.put_nowait)
    return queue


async def test_messages_and_iqs_both_directions(users: ServerHandle) -> None:
    juliet = await login(users, "juliet@localhost/a")
    romeo = await login(users, "romeo@localhost/b")
    nurse = await login(users, "nurse@localhost/c")
    await juliet.plugin["xep_0191"].block("romeo@localhost", timeout=TIMEOUT)
    got = Inbox(juliet)
    romeo_errors = error_inbox(romeo, "message_error")
    juliet_errors = error_inbox(juliet, "message_error")

    # Inbound: refused with service-unavailable, never delivered nor archived.
    romeo.send_message(mto="juliet@localhost", mbody="can you hear me?", mtype="chat")
    error = await asyncio.wait_for(romeo_errors.get(), TIMEOUT)
    assert error["error"]["condition"] == "service-unavailable"
    with pytest.raises(IqError) as caught:
        await romeo.plugin["xep_0199"].ping("juliet@localhost/a", timeout=TIMEOUT)
    assert caught.value.iq["error"]["condition"] == "service-unavailable"
    with pytest.raises(IqError) as caught:  # the account's bare JID answers no one blocked
        await romeo.plugin["xep_0030"].get_info(jid="juliet@localhost", timeout=TIMEOUT)
    assert caught.value.iq["error"]["condition"] == "service-unavailable"

    # Outbound: not-acceptable with <blocked/>, and not routed.
    juliet.send_message(mto="romeo@localhost/b", mbody="go away", mtype="chat")
    error = await asyncio.wait_for(juliet_errors.get(), TIMEOUT)
    assert error["error"]["condition"] == "not-acceptable"
    assert error.xml.find(f"{{jabber:client}}error/{BLOCKED}") is not None
    with pytest.raises(IqError) as caught:
        await juliet.plugin["xep_0199"].ping("romeo@localhost/b", timeout=TIMEOUT)
    assert caught.value.iq["error"]["condition"] == "not-acceptable"
    assert caught.value.iq.xml.find(f"{{jabber:client}}error/{BLOCKED}") is not None

    # Someone else still gets through.
    nurse.send_message(mto="juliet@localhost", mbody="dinner", mtype="chat")
    [message] = await got.wait(1)
    assert message["body"] == "dinner"
    romeo_got = Inbox(romeo)
    await settled(juliet, romeo)
    assert [m["body"] for m in got.items] == ["dinner"] and romeo_got.items == []
    page = await mam_query(juliet)
    assert page.bodies == ["dinner"]
    assert (await mam_query(romeo)).bodies == []

    # Unblocked: delivered again.
    await juliet.plugin["xep_0191"].unblock("romeo@localhost", timeout=TIMEOUT)
    romeo.send_message(mto="juliet@localhost", mbody="again", mtype="chat")
    await got.wait(2)
    assert got.items[1]["body"] == "again"


async def test_domain_and_full_jid_entries(users: ServerHandle) -> None:
    juliet = await login(users, "juliet@localhost/a")
    romeo_b = await login(users, "romeo@localhost/b")
    romeo_c = await login(users, "romeo@localhost/c")
    await juliet.plugin["xep_0191"].block("romeo@localhost/b", timeout=TIMEOUT)
    got = Inbox(juliet)
    errors = error_inbox(romeo_b, "message_error")
    romeo_b.send_message(mto="juliet@localhost", mbody="from b", mtype="chat")
    assert (await asyncio.wait_for(errors.get(), TIMEOUT))["error"]["condition"] == (
        "service-unavailable"
    )
    romeo_c.send_message(mto="juliet@localhost", mbody="from c", mtype="chat")
    [message] = await got.wait(1)
    assert message["body"] == "from c"


async def test_offline_messages_from_blocked_sender_are_not_stored(users: ServerHandle) -> None:
    juliet = await login(users, "juliet@localhost/a")
    await juliet.plugin["xep_0191"].block("romeo@localhost", timeout=TIMEOUT)
    await juliet.disconnect(wait=2.0)
    romeo = await login(users, "romeo@localhost/b")
    nurse = await login(users, "nurse@localhost/c")
    errors = error_inbox(romeo, "message_error")
    romeo.send_message(mto="juliet@localhost", mbody="while you sleep", mtype="chat")
    assert (await asyncio.wait_for(errors.get(), TIMEOUT))["error"]["condition"] == (
        "service-unavailable"
    )
    nurse.send_message(mto="juliet@localhost", mbody="wake up", mtype="chat")
    await settled(nurse)
    assert users.app.server is not None
    assert await users.app.server.stores.offline.count("juliet@localhost") == 1
    juliet = await login(users, "juliet@localhost/a", presence=False)
    got = Inbox(juliet)
    juliet.send_presence()
    [message] = await got.wait(1)
    assert message["body"] == "wake up"
    assert (await mam_query(juliet)).bodies == ["wake up"]


def presences(xmpp: ClientXMPP, sender: str) -> asyncio.Queue[Any]:
    """Every presence stanza from `sender` (bare JID) the client gets."""
    queue: asyncio.Queue[Any] = asyncio.Queue()

    def on_presence(stanza: Any) -> None:
        if str(stanza["from"].bare) == sender:
            queue.put_nowait(stanza)

    for event in ("presence_available", "presence_unavailable", "presence_error"):
        xmpp.add_event_handler(event, on_presence)
    return queue


async def available(queue: asyncio.Queue[Any]) -> None:
    while (await asyncio.wait_for(queue.get(), TIMEOUT))["type"] != "available":
        pass


async def test_presence_on_block_and_unblock(users: ServerHandle) -> None:
    await befriend(users, "juliet@localhost", "romeo@localhost")
    romeo = await login(users, "romeo@localhost/b", presence=False)
    from_juliet = presences(romeo, "juliet@localhost")
    romeo.send_presence()
    juliet = await login(users, "juliet@localhost/a", presence=False)
    from_romeo = presences(juliet, "romeo@localhost")
    juliet.send_presence(pstatus="on the balcony")
    await available(from_juliet)
    await available(from_romeo)
    await settled(juliet, romeo)
    for queue in (from_juliet, from_romeo):  # the answers to login probes
        while not queue.empty():
            queue.get_nowait()

    # 3.3: the blocked contact sees the user go offline (and the user's
    # clients stop showing the contact online)...
    await juliet.plugin["xep_0191"].block("romeo@localhost", timeout=TIMEOUT)
    assert (await asyncio.wait_for(from_juliet.get(), TIMEOUT))["type"] == "unavailable"
    assert (await asyncio.wait_for(from_romeo.get(), TIMEOUT))["type"] == "unavailable"
    # ...and nothing more either way: broadcasts, directed presence, probes.
    juliet.send_presence(pstatus="still here")
    romeo.send_presence(pstatus="hello?")
    romeo.send_presence(pto="juliet@localhost", ptype="probe")
    juliet.send_presence(pto="romeo@localhost/b", pstatus="directed")
    error = await asyncio.wait_for(from_romeo.get(), TIMEOUT)
    assert error["type"] == "error" and error["error"]["condition"] == "not-acceptable"
    assert error.xml.find(f"{{jabber:client}}error/{BLOCKED}") is not None
    await settled(juliet, romeo)
    assert from_juliet.empty() and from_romeo.empty()

    # 3.4: unblocking sends the current presence (and asks for the contact's).
    await juliet.plugin["xep_0191"].unblock("romeo@localhost", timeout=TIMEOUT)
    current = await asyncio.wait_for(from_juliet.get(), TIMEOUT)
    assert current["type"] == "available" and current["status"] == "still here"
    current = await asyncio.wait_for(from_romeo.get(), TIMEOUT)
    assert current["type"] == "available" and current["status"] == "hello?"


async def test_account_removal_erases_the_list(users: ServerHandle) -> None:
    juliet = await login(users, "juliet@localhost/a")
    await juliet.plugin["xep_0191"].block("romeo@localhost", timeout=TIMEOUT)
    remove = juliet.make_iq_set()
    remove.append(ET.fromstring("<query xmlns='jabber:iq:register'><remove/></query>"))
    await remove.send(timeout=TIMEOUT)
    assert users.app.server is not None
    assert await users.app.server.stores.blocklist.blocklist("localhost", "juliet") == ()
    await users.add_user("juliet@localhost", "pw")
    juliet = await login(users, "juliet@localhost/b")
    assert await blocked_list(juliet) == set()
    romeo = await login(users, "romeo@localhost/b")
    got = Inbox(juliet)
    romeo.send_message(mto="juliet@localhost", mbody="a new start", mtype="chat")
    [message] = await got.wait(1)
    assert message["body"] == "a new start"


async def test_unavailable_on_block_respects_the_contacts_own_block(users: ServerHandle) -> None:
    """Romeo blocked juliet first: her block sends him nothing either."""
    await befriend(users, "juliet@localhost", "romeo@localhost")
    romeo = await login(users, "romeo@localhost/b")
    juliet = await login(users, "juliet@localhost/a")
    await romeo.plugin["xep_0191"].block("juliet@localhost", timeout=TIMEOUT)
    await settled(romeo, juliet)
    from_juliet = presences(romeo, "juliet@localhost")
    await juliet.plugin["xep_0191"].block("romeo@localhost", timeout=TIMEOUT)
    await settled(juliet, romeo)
    assert from_juliet.empty()
