"""MIX-PAM delivery and archive (XEP-0405 5.1.2, 5.1.11) with real clients:
channel messages reach the MIX-capable resources only, enter every local
participant's archive whether or not a client is online (as a reference
to the channel's stored message, not a copy), and a client that comes back
catches up with MAM filtered by the channel."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from slixmpp.exceptions import IqError

from mixd.storage.contracts.archive import ArchiveItem, ArchiveQuery
from mixd.xml.element import Element
from tests.helpers import ServerHandle
from tests.mam_client import mam_query
from tests.mix_client import SERVICE, Inbox, create, iq
from tests.pam_client import (
    client_join,
    client_leave,
    log_out,
    pam_client,
    plain_client,
    stanza_ids,
)
from tests.roster_client import next_event, wait

CHANNEL = f"coven@{SERVICE}"
OTHER = f"sabbath@{SERVICE}"
BURST = 200


@pytest.fixture
async def users(server: ServerHandle) -> ServerHandle:
    for name in ("hag66", "hecate", "greymalkin"):
        await server.add_user(f"{name}@localhost", f"pw-{name}")
    return server


async def archive(server: ServerHandle, owner: str, with_jid: str) -> list[ArchiveItem]:
    """An archive as stored, oldest first."""
    assert server.app.server is not None
    page = await server.app.server.stores.archive.query(ArchiveQuery(owner, 1000, with_jid))
    return list(page.items)


async def after_a_chat(sender: Any, receiver: Any) -> None:
    """A chat message from `sender` reaches `receiver`: everything `sender`
    routed before it has been delivered (one session routes in order)."""
    marker = next_event(receiver, "message", lambda m: m["type"] == "chat")
    sender.send_message(mto=receiver.boundjid, mbody="marker", mtype="chat")
    await wait(marker)


async def test_delivered_to_mix_resources_with_the_users_stanza_id(users: ServerHandle) -> None:
    hag = await pam_client(users, "hag66@localhost/r", "pw-hag66")
    hecate = await pam_client(users, "hecate@localhost/mix", "pw-hecate")
    plain = await plain_client(users, "hecate@localhost/plain", "pw-hecate")
    grey = await pam_client(users, "greymalkin@localhost/r", "pw-greymalkin")
    await create(hag, "coven")
    await client_join(hag, CHANNEL, "third witch")
    await client_join(hecate, CHANNEL, "top witch")
    await client_join(grey, CHANNEL, "cat")
    got, not_mix = Inbox(hecate, kind="groupchat"), Inbox(plain, kind="groupchat")
    grey_got = Inbox(grey, kind="groupchat")

    hag.send_message(mto=CHANNEL, mbody="hello coven", mtype="groupchat")

    [message] = await got.wait(1)
    [other] = await grey_got.wait(1)
    assert other["id"] == message["id"] and set(stanza_ids(other)) == {
        CHANNEL,
        "greymalkin@localhost",
    }
    ids = stanza_ids(message)
    assert set(ids) == {CHANNEL, "hecate@localhost"}
    assert ids[CHANNEL] == message["id"]
    await after_a_chat(hag, plain)
    assert not_mix.items == []
    # The archive entry the client was told about, found with MAM by the channel.
    page = await mam_query(hecate, fields={"with": CHANNEL})
    assert page.ids == [ids["hecate@localhost"]] and page.bodies == ["hello coven"]
    # Stored once: hecate's entry references the channel's message.
    [channel_item] = await archive(users, CHANNEL, "hag66@localhost")
    [own] = await archive(users, "hecate@localhost", CHANNEL)
    assert own.message_id == channel_item.message_id and own.id == ids["hecate@localhost"]


async def test_offline_user_catches_up_from_own_archive(users: ServerHandle) -> None:
    hag = await pam_client(users, "hag66@localhost/r", "pw-hag66")
    hecate = await pam_client(users, "hecate@localhost/r", "pw-hecate")
    grey = await pam_client(users, "greymalkin@localhost/r", "pw-greymalkin")
    await create(hag, "coven")
    for xmpp, nick in ((hag, "third witch"), (hecate, "top witch"), (grey, "cat")):
        await client_join(xmpp, CHANNEL, nick)
    await log_out(users, grey)  # no session at all from here
    live = Inbox(hecate, kind="groupchat")

    for n in range(BURST):
        hag.send_message(mto=CHANNEL, mbody=f"message {n}", mtype="groupchat")
    received = await live.wait(BURST)

    grey = await pam_client(users, "greymalkin@localhost/back", "pw-greymalkin")
    pages, after = [], None
    while True:
        page = await mam_query(grey, fields={"with": CHANNEL}, max=50, after=after)
        pages.append(page)
        if page.complete:
            break
        after = page.rsm("last")
    assert len(pages) == BURST // 50
    bodies = [b for p in pages for b in p.bodies]
    assert bodies == [f"message {n}" for n in range(BURST)]
    grey_ids = [i for p in pages for i in p.ids]
    stored = await archive(users, "greymalkin@localhost", CHANNEL)
    assert grey_ids == [item.id for item in stored]
    # One stored message per channel message, whatever the number of archives.
    channel_items = await archive(users, CHANNEL, "hag66@localhost")
    assert [i.message_id for i in stored] == [i.message_id for i in channel_items]
    # What a live client was told matches its archive, id for id.
    hecate_page = await mam_query(hecate, fields={"with": CHANNEL}, max=BURST)
    assert hecate_page.ids[:50] == [stanza_ids(m)["hecate@localhost"] for m in received[:50]]


async def test_channels_not_joined_are_neither_delivered_nor_archived(
    users: ServerHandle,
) -> None:
    hag = await pam_client(users, "hag66@localhost/r", "pw-hag66")
    hecate = await pam_client(users, "hecate@localhost/r", "pw-hecate")
    for name in ("coven", "sabbath"):
        await create(hag, name)
        await client_join(hag, f"{name}@{SERVICE}", "third witch")
    await client_join(hecate, CHANNEL, "top witch")
    got = Inbox(hecate, kind="groupchat")

    hag.send_message(mto=OTHER, mbody="not for hecate", mtype="groupchat")
    # A message claiming to come from a channel hecate is not in, as a broken
    # or hostile channel service would send it.
    assert users.app.server is not None
    forged = Element("jabber:client", "message", {"type": "groupchat", "id": "f1"})
    forged.attrs.update({"from": f"{OTHER}/x", "to": "hecate@localhost"})
    forged.add_text_child("jabber:client", "body", "forged")
    await users.app.server.router.send(forged)
    hag.send_message(mto=CHANNEL, mbody="for the coven", mtype="groupchat")

    [message] = await got.wait(1)
    assert message["body"] == "for the coven"
    await after_a_chat(hag, hecate)
    assert len(got.items) == 1
    assert await archive(users, "hecate@localhost", OTHER) == []
    assert [i.with_jid for i in await archive(users, "hecate@localhost", CHANNEL)] == [CHANNEL]
    page = await mam_query(hecate)
    assert page.bodies == ["for the coven", "marker"]


UNSUBSCRIBE_MESSAGES = (
    "<update-subscription xmlns='urn:xmpp:mix:core:1'>"
    "<unsubscribe node='urn:xmpp:mix:nodes:messages'/></update-subscription>"
)
SUBSCRIBE_MESSAGES = (
    "<update-subscription xmlns='urn:xmpp:mix:core:1'>"
    "<subscribe node='urn:xmpp:mix:nodes:messages'/></update-subscription>"
)


async def test_archive_holds_what_arrived_while_subscribed(users: ServerHandle) -> None:
    """The user's archive shows the channel's messages from the join to the
    leave (or unsubscription), and again after joining again: exactly those
    the user was sent, with the ids the user was told."""
    hag = await pam_client(users, "hag66@localhost/r", "pw-hag66")
    grey = await pam_client(users, "greymalkin@localhost/r", "pw-greymalkin")
    await create(hag, "coven")
    await client_join(hag, CHANNEL, "third witch")
    hag_got, grey_got = Inbox(hag, kind="groupchat"), Inbox(grey, kind="groupchat")

    async def say(text: str, expected: int) -> None:
        hag.send_message(mto=CHANNEL, mbody=text, mtype="groupchat")
        await hag_got.wait(expected)  # reflected: stored and fanned out

    await say("before the join", 1)
    await client_join(grey, CHANNEL, "cat")
    await say("while joined", 2)
    await iq(grey, CHANNEL, UNSUBSCRIBE_MESSAGES)
    await say("while unsubscribed", 3)
    await iq(grey, CHANNEL, SUBSCRIBE_MESSAGES)
    await say("subscribed again", 4)
    await client_leave(grey, CHANNEL)
    await say("after the leave", 5)
    await client_join(grey, CHANNEL, "cat")
    await say("back", 6)

    told = [stanza_ids(m)["greymalkin@localhost"] for m in await grey_got.wait(3)]
    page = await mam_query(grey, fields={"with": CHANNEL})
    assert page.bodies == ["while joined", "subscribed again", "back"]
    assert page.ids == told
    assert len((await mam_query(hag, fields={"with": CHANNEL})).ids) == 6


async def test_resent_channel_message_is_stored_and_reflected_once(users: ServerHandle) -> None:
    """A client that lost the reflection resends with the same origin-id
    (XEP-0359): the channel keeps one copy, the others get it once, the
    sender gets its reflection again with the same archive id."""
    hag = await pam_client(users, "hag66@localhost/r", "pw-hag66")
    grey = await pam_client(users, "greymalkin@localhost/r", "pw-greymalkin")
    await create(hag, "coven")
    await client_join(hag, CHANNEL, "third witch")
    await client_join(grey, CHANNEL, "cat")
    hag_got, grey_got = Inbox(hag, kind="groupchat"), Inbox(grey, kind="groupchat")
    resend = (
        f"<message xmlns='jabber:client' to='{CHANNEL}' type='groupchat' id='m1'>"
        "<body>once</body><origin-id xmlns='urn:xmpp:sid:0' id='origin-1'/></message>"
    )
    hag.send_raw(resend)
    hag.send_raw(resend)
    hag.send_raw(resend.replace("origin-1", "origin-2").replace("once", "twice"))
    reflections = await hag_got.wait(3)
    assert [m["body"] for m in reflections] == ["once", "once", "twice"]
    assert reflections[0]["id"] == reflections[1]["id"] != reflections[2]["id"]
    assert [m["body"] for m in await grey_got.wait(2)] == ["once", "twice"]
    channel_items = await archive(users, CHANNEL, "hag66@localhost")
    assert len(channel_items) == 2
    assert (await mam_query(grey, fields={"with": CHANNEL})).bodies == ["once", "twice"]


async def test_a_join_refused_in_storage_leaves_no_archive_following(users: ServerHandle) -> None:
    """The participant row and the archive follow are written together: two
    users racing for one nick, the loser gets `conflict` and its archive
    does not follow the channel."""
    hag = await pam_client(users, "hag66@localhost/r", "pw-hag66")
    grey = await pam_client(users, "greymalkin@localhost/r", "pw-greymalkin")
    await create(hag, "coven")
    outcomes = await asyncio.gather(
        client_join(hag, CHANNEL, "cat"), client_join(grey, CHANNEL, "cat"), return_exceptions=True
    )
    refused = [o for o in outcomes if isinstance(o, IqError)]
    assert len(refused) == 1 and refused[0].condition == "conflict"
    assert users.app.server is not None
    followers = await users.app.server.stores.archive.followers(CHANNEL)
    winner = "hag66@localhost" if not isinstance(outcomes[0], IqError) else "greymalkin@localhost"
    assert followers == {winner}
