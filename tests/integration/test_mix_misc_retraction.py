"""Message retraction (XEP-0407) end to end with slixmpp clients: who may
retract what, the tombstone in the channel's archive and in participants'
own archives (MAM), the retraction reflected, and every refusal."""

from __future__ import annotations

from typing import Any

from tests.helpers import ServerHandle
from tests.mam_client import mam_query
from tests.misc_client import error_for, retract, retract_id, retracted, send_raw
from tests.mix_client import SERVICE, FromService, Inbox, create, iq
from tests.pam_client import client_join, pam_client
from tests.roster_client import sync

CHANNEL = f"coven@{SERVICE}"
PUBSUB = "http://jabber.org/protocol/pubsub"
CONFIG = "urn:xmpp:mix:nodes:config"
ADMIN = "urn:xmpp:mix:admin:0"
MIX = "urn:xmpp:mix:core:1"


def configure(*fields: tuple[str, str]) -> str:
    body = "".join(f"<field var='{var}'><value>{value}</value></field>" for var, value in fields)
    return (
        f"<pubsub xmlns='{PUBSUB}'><publish node='{CONFIG}'><item>"
        f"<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
        f"<value>{ADMIN}</value></field>{body}</x></item></publish></pubsub>"
    )


async def coven(server: ServerHandle, *config: tuple[str, str]) -> tuple[Any, Any, Any]:
    """hag66 owns the coven; hag66, hecate and greymalkin are participants."""
    clients = []
    for name in ("hag66", "hecate", "greymalkin"):
        await server.add_user(f"{name}@localhost", f"pw-{name}")
        clients.append(await pam_client(server, f"{name}@localhost/r", f"pw-{name}"))
    hag, hecate, grey = clients
    await create(hag, "coven")
    if config:
        await iq(hag, CHANNEL, configure(*config))
    for xmpp, nick in ((hag, "third witch"), (hecate, "top witch"), (grey, "cat")):
        await client_join(xmpp, CHANNEL, nick)
    return hag, hecate, grey


async def notice_of(received: FromService, target: str) -> Any:
    """The reflected retraction of `target` (bodiless, so slixmpp's message
    event does not carry it)."""
    return await received.until(lambda m: m["type"] == "groupchat" and retract_id(m) == target)


async def say(sender: Any, body: str, *readers: Any) -> str:
    """A channel message every reader received; its archive id."""
    inboxes = [Inbox(r, kind="groupchat") for r in readers]
    counts = [len(i.items) for i in inboxes]
    sender.send_message(mto=CHANNEL, mbody=body, mtype="groupchat")
    ids = set()
    for inbox, count in zip(inboxes, counts, strict=True):
        got = await inbox.wait(count + 1)
        ids.add(got[count]["id"])
    assert len(ids) == 1
    return ids.pop()


async def test_sender_retracts_own_message_tombstone_everywhere(server: ServerHandle) -> None:
    hag, hecate, grey = await coven(server, ("User Message Retraction", "true"))
    target = await say(hecate, "I did not mean that", hag, hecate, grey)
    kept = await say(hag, "this one stays", hag, hecate, grey)
    told = [FromService(x, "message") for x in (hag, hecate, grey)]

    retract(hecate, CHANNEL, target)

    notices = [await notice_of(inbox, target) for inbox in told]
    assert {retract_id(n) for n in notices} == {target}
    assert all(not n["body"] for n in notices)
    notice_id = notices[0]["id"]
    assert {n["id"] for n in notices} == {notice_id} and notice_id != target
    assert str(notices[0]["from"]).startswith(f"{CHANNEL}/")
    # The channel's archive: the tombstone, the untouched message, the retraction.
    page = await mam_query(grey, to=CHANNEL)
    assert page.ids == [target, kept, notice_id]
    tomb = page.forwarded[0]
    assert not tomb["body"]
    mark = retracted(tomb)
    assert mark is not None and mark.get("by") == "hecate@localhost" and mark.get("time")
    assert tomb.xml.find(f"{{{MIX}}}mix/{{{MIX}}}nick").text == "top witch"
    assert page.bodies[1] == "this one stays"
    assert retract_id(page.forwarded[2]) == target
    # A participant's own archive follows the channel's: the same tombstone.
    own = await mam_query(hag, fields={"with": CHANNEL})
    assert own.ids == page.ids
    assert retracted(own.forwarded[0]) is not None and not own.forwarded[0]["body"]
    assert own.bodies[1] == "this one stays"


async def test_retraction_needs_the_configured_rights(server: ServerHandle) -> None:
    hag, hecate, grey = await coven(server)  # "User Message Retraction" is off
    replies = FromService(hecate, "message")
    own = await say(hecate, "mine", hag, hecate, grey)
    assert await error_for(replies, retract(hecate, CHANNEL, own)) == "forbidden"
    # The owner ("Administrator Message Retraction Rights" = owners) may.
    told = FromService(grey, "message")
    retract(hag, CHANNEL, own)
    notice = await notice_of(told, own)
    assert retract_id(notice) == own
    # With the right given to nobody, not even the owner.
    await iq(hag, CHANNEL, configure(("Administrator Message Retraction Rights", "nobody")))
    other = await say(grey, "cat's message", hag, hecate, grey)
    owner_replies = FromService(hag, "message")
    assert await error_for(owner_replies, retract(hag, CHANNEL, other)) == "forbidden"


async def test_users_retract_only_their_own_messages(server: ServerHandle) -> None:
    hag, hecate, grey = await coven(
        server,
        ("User Message Retraction", "true"),
        ("Administrator Message Retraction Rights", "admins"),
        ("Administrator", "greymalkin@localhost"),
    )
    replies = FromService(hecate, "message")
    owners = await say(hag, "owner's words", hag, hecate, grey)
    assert await error_for(replies, retract(hecate, CHANNEL, owners)) == "forbidden"
    # An administrator retracts anyone's message, the owner's included.
    told = FromService(hecate, "message")
    retract(grey, CHANNEL, owners)
    notice = await notice_of(told, owners)
    assert retract_id(notice) == owners
    page = await mam_query(hecate, to=CHANNEL, fields={"ids": [owners]})
    mark = retracted(page.forwarded[0])
    assert mark is not None and mark.get("by") == "greymalkin@localhost"


async def test_bad_retractions_are_refused(server: ServerHandle) -> None:
    hag, hecate, grey = await coven(server, ("User Message Retraction", "true"))
    replies = FromService(hecate, "message")
    target = await say(hecate, "oops", hag, hecate, grey)
    unknown = "0" * 32
    assert await error_for(replies, retract(hecate, CHANNEL, unknown)) == "item-not-found"
    with_body = send_raw(
        hecate, CHANNEL, f"<retract xmlns='urn:xmpp:mix:misc:0' id='{target}'/>", body="no"
    )
    assert await error_for(replies, with_body) == "bad-request"
    no_id = send_raw(hecate, CHANNEL, "<retract xmlns='urn:xmpp:mix:misc:0'/>")
    assert await error_for(replies, no_id) == "bad-request"
    retract(hecate, CHANNEL, target)
    notice = await notice_of(replies, target)
    assert await error_for(replies, retract(hecate, CHANNEL, target)) == "conflict"
    assert await error_for(replies, retract(hecate, CHANNEL, notice["id"])) == "not-acceptable"
    # Nothing of that reached the others or the archive.
    await sync(hag, hecate, grey)
    page = await mam_query(grey, to=CHANNEL)
    assert page.ids == [target, notice["id"]]


async def test_resent_retraction_is_not_repeated(server: ServerHandle) -> None:
    hag, hecate, grey = await coven(server, ("User Message Retraction", "true"))
    target = await say(hecate, "twice", hag, hecate, grey)
    mine, theirs = FromService(hecate, "message"), FromService(grey, "message")
    retract(hecate, CHANNEL, target, origin="r-1")
    first = await notice_of(mine, target)
    retract(hecate, CHANNEL, target, origin="r-1")  # after a lost acknowledgement
    second = await mine.until(lambda m: retract_id(m) == target and m is not first)
    assert second["id"] == first["id"]
    await sync(hag, hecate, grey)
    assert [retract_id(m) for m in theirs.items] == [target]
    page = await mam_query(grey, to=CHANNEL)
    assert page.ids == [target, first["id"]]


async def test_non_participant_cannot_retract(server: ServerHandle) -> None:
    hag, hecate, grey = await coven(server, ("User Message Retraction", "true"))
    await server.add_user("macbeth@localhost", "pw-macbeth")
    macbeth = await pam_client(server, "macbeth@localhost/r", "pw-macbeth")
    replies = FromService(macbeth, "message")
    target = await say(hecate, "hello", hag, hecate, grey)
    assert await error_for(replies, retract(macbeth, CHANNEL, target)) == "forbidden"


async def test_retraction_window_limits_users_not_admins(server_factory: Any) -> None:
    server = await server_factory(mix={"retraction_window": 1})
    hag, hecate, grey = await coven(server, ("User Message Retraction", "true"))
    target = await say(hecate, "old news", hag, hecate, grey)
    # Age the stored message past the window rather than waiting.
    store = server.app.server.stores.archive
    assert hasattr(store, "_db")
    await store._db.run(
        lambda c: c.execute("UPDATE archive_entries SET ts = ts - 5000000 WHERE id = ?", (target,))
    )
    replies = FromService(hecate, "message")
    assert await error_for(replies, retract(hecate, CHANNEL, target)) == "forbidden"
    told = FromService(hecate, "message")
    retract(hag, CHANNEL, target)  # the owner is not limited by the window
    notice = await notice_of(told, target)
    assert retract_id(notice) == target
