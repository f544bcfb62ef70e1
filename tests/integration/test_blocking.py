"""XEP-0191 with real clients: the list and its pushes, and what a block
does to messages, presence and IQs in both directions."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError

from tests.helpers import TIMEOUT, ServerHandle
from tests.mam_client import MAM_PLUGINS, mam_query
from tests.mix_client import Inbox, iq

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
