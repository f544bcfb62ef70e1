"""Private messages between participants through the channel (XEP-0404
section 4.2) with slixmpp clients: addressed to proxy JIDs, sent on from
the sender's proxy JID, never in the channel's archive, kept in the
participants' own archives, and refused where the channel or the recipient
does not take them."""

from __future__ import annotations

from typing import Any

import pytest
from slixmpp.exceptions import IqError

from tests.anon_client import ALL_NODES, CHANNEL, configure, make_witches, set_preferences
from tests.helpers import ServerHandle
from tests.integration.test_blocking_mix import block
from tests.mam_client import mam_query
from tests.mix_client import MIX, SERVICE, FromService, Inbox, join

STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"


@pytest.fixture
async def witches(server: ServerHandle) -> tuple[Any, ...]:
    """hag66 owns the coven; hecate and greymalkin are users of the server."""
    return await make_witches(server)


def proxy(pid: str) -> str:
    return f"{pid}#coven@{SERVICE}"


async def error_of(xmpp: Any, to: str, body: str, mtype: str = "chat") -> tuple[str, str]:
    """Send a message expected to bounce: (condition, error sender)."""
    errors = FromService(xmpp, "message")
    xmpp.send_message(mto=to, mbody=body, mtype=mtype)
    bounced = await errors.until(lambda m: m["type"] == "error")
    condition = next(iter(bounced.xml.find("{jabber:client}error")), None)
    assert condition is not None and condition.tag.startswith(f"{{{STANZAS}}}")
    return condition.tag.split("}")[1], str(bounced["from"])


async def test_private_messages_both_ways_through_proxy_jids(witches: tuple[Any, ...]) -> None:
    _, hecate, grey = witches
    hecate_id = await join(hecate, CHANNEL, "hecate", ALL_NODES)
    grey_id = await join(grey, CHANNEL, "grey", ALL_NODES)
    grey_inbox, hecate_inbox = Inbox(grey, kind="chat"), Inbox(hecate, kind="chat")
    hecate.send_message(mto=proxy(grey_id), mbody="a word in private", mtype="chat")
    [received] = await grey_inbox.wait(1)
    sender = received["from"]
    assert sender.bare == proxy(hecate_id) and sender.resource  # the client's mapped resource
    assert received.xml.findtext(f"{{{MIX}}}mix/{{{MIX}}}nick") == "hecate"
    assert "hecate@localhost" not in str(received).lower()
    # The answer goes to the proxy JID it came from.
    grey.send_message(mto=sender, mbody="agreed", mtype="chat")
    [answer] = await hecate_inbox.wait(1)
    assert answer["from"].bare == proxy(grey_id) and answer["body"] == "agreed"
    assert "greymalkin@localhost" not in str(answer).lower()
    # Never in the channel's archive; in both participants' own archives.
    hecate.send_message(mto=CHANNEL, mbody="in public", mtype="groupchat")
    assert (await mam_query(grey, to=CHANNEL, fields={})).bodies == ["in public"]
    grey_archive = await mam_query(grey)
    assert {"a word in private", "agreed"} <= set(grey_archive.bodies)
    hecate_archive = await mam_query(hecate)
    assert {"a word in private", "agreed"} <= set(hecate_archive.bodies)
    for message in grey_archive.forwarded:
        if message["type"] == "chat":
            assert "hecate@localhost" not in str(message).lower()


async def test_private_message_to_a_present_client(witches: tuple[Any, ...]) -> None:
    _, hecate, grey = witches
    await join(hecate, CHANNEL, "hecate", ALL_NODES)
    grey_id = await join(grey, CHANNEL, "grey", ALL_NODES)
    seen = FromService(hecate, "presence")
    grey.send_presence(pto=CHANNEL, pshow="chat")
    present = await seen.until(lambda p: p["from"].bare == proxy(grey_id) and p["show"] == "chat")
    inbox = Inbox(grey, kind="chat")
    hecate.send_message(mto=present["from"], mbody="to your client", mtype="chat")
    [received] = await inbox.wait(1)
    assert str(received["to"]) == "greymalkin@localhost/r"
    assert received["body"] == "to your client"


async def test_private_message_refusals(witches: tuple[Any, ...]) -> None:
    hag, hecate, grey = witches
    await join(hag, CHANNEL, "hag", ALL_NODES)
    grey_id = await join(grey, CHANNEL, "grey", ALL_NODES)
    # Not a participant.
    assert (await error_of(hecate, proxy(grey_id), "hi"))[0] == "forbidden"
    await join(hecate, CHANNEL, "hecate", ALL_NODES)
    # No such participant.
    condition, bounced_from = await error_of(hecate, proxy("nosuchid"), "hi")
    assert condition == "item-not-found" and bounced_from == proxy("nosuchid")
    # Private messages are not groupchat.
    assert (await error_of(hecate, proxy(grey_id), "hi", "groupchat"))[0] == "bad-request"
    # The recipient takes none.
    await set_preferences(grey, ("Private Messages", "block"))
    assert (await error_of(hecate, proxy(grey_id), "hi"))[0] == "not-allowed"
    await set_preferences(grey, ("Private Messages", "allow"))
    # The channel allows none.
    await configure(hag, ("Private Messages", "false"))
    assert (await error_of(hecate, proxy(grey_id), "hi"))[0] == "not-allowed"
    await configure(hag, ("Private Messages", "true"))
    inbox = Inbox(grey, kind="chat")
    hecate.send_message(mto=proxy(grey_id), mbody="now it goes", mtype="chat")
    [received] = await inbox.wait(1)
    assert received["body"] == "now it goes"
    # An IQ to a proxy JID still goes the MIX-PRESENCE way (relay).
    with pytest.raises(IqError) as err:
        await hecate.plugin["xep_0030"].get_info(jid=f"{proxy(grey_id)}/nosuch", timeout=5)
    assert err.value.condition == "service-unavailable"


async def test_an_error_from_the_recipient_goes_back_without_its_text(
    witches: tuple[Any, ...],
) -> None:
    _, hecate, grey = witches
    hecate_id = await join(hecate, CHANNEL, "hecate", ALL_NODES)
    grey_id = await join(grey, CHANNEL, "grey", ALL_NODES)
    inbox = Inbox(grey, kind="chat")
    hecate.send_message(mto=proxy(grey_id), mbody="are you there", mtype="chat")
    [received] = await inbox.wait(1)
    assert received["from"].bare == proxy(hecate_id)
    # grey's client refuses it, saying more than it should.
    bounced = FromService(hecate, "message")
    refusal = grey.Message()
    refusal["to"], refusal["type"], refusal["id"] = received["from"], "error", received["id"]
    refusal["error"]["condition"] = "not-acceptable"
    refusal["error"]["text"] = "greymalkin@localhost does not read this"
    refusal.send()
    error = await bounced.until(lambda m: m["type"] == "error")
    assert str(error["from"]) == proxy(grey_id) and error["id"] == received["id"]
    assert error["error"]["condition"] == "not-acceptable"
    assert "greymalkin@localhost" not in str(error).lower()


async def test_a_recipient_who_blocks_the_sender_gets_nothing(witches: tuple[Any, ...]) -> None:
    _, hecate, grey = witches
    hecate_id = await join(hecate, CHANNEL, "hecate", ALL_NODES)
    grey_id = await join(grey, CHANNEL, "grey", ALL_NODES)
    await block(grey, proxy(hecate_id))  # XEP-0191, on grey's own server
    inbox = Inbox(grey, kind="chat")
    condition, bounced_from = await error_of(hecate, proxy(grey_id), "let me in")
    assert condition == "service-unavailable" and bounced_from == proxy(grey_id)
    # Unblocked, the next one goes through.
    await block(grey, proxy(hecate_id), "unblock")
    hecate.send_message(mto=proxy(grey_id), mbody="and now?", mtype="chat")
    [received] = await inbox.wait(1)
    assert received["body"] == "and now?"
