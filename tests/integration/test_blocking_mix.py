"""XEP-0191 and MIX (XEP-0405 "Blocking Considerations"): a user who blocks
a channel gets nothing from it; one who blocks a participant, in any of its
forms, does not get that participant's messages while the others' arrive."""

from __future__ import annotations

from typing import Any

import pytest
from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError

from mixd.services.blocking import BlockingModule
from tests.helpers import TIMEOUT, ServerHandle
from tests.mix_client import MIX, NODES, SERVICE, FromService, Inbox, child, create, iq
from tests.pam_client import PAM_PLUGINS, client_join, client_join_xml, pam_client

BLOCKING = "urn:xmpp:blocking"
BLOCKED = "{urn:xmpp:blocking:errors}blocked"
CHANNEL = f"coven@{SERVICE}"


async def block(xmpp: ClientXMPP, jid: str, command: str = "block") -> None:
    await iq(
        xmpp, xmpp.boundjid.bare, f"<{command} xmlns='{BLOCKING}'><item jid='{jid}'/></{command}>"
    )


async def settled(*clients: ClientXMPP) -> None:
    for xmpp in clients:
        await xmpp.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)


async def say(xmpp: ClientXMPP, text: str, own: Inbox) -> None:
    """A groupchat message, once the channel reflected it to its sender
    (every local participant's copy was queued in the same pass)."""
    before = len(own.items)
    xmpp.send_message(mto=CHANNEL, mbody=text, mtype="groupchat")
    await own.wait(before + 1)


@pytest.fixture
async def coven(server: ServerHandle) -> dict[str, Any]:
    clients: dict[str, Any] = {}
    for name in ("hag", "hecate", "crone"):
        await server.add_user(f"{name}@localhost", "pw")
        clients[name] = await pam_client(server, f"{name}@localhost/r", "pw")
    await create(clients["hag"], "coven")
    pids = {name: await client_join(xmpp, CHANNEL, name) for name, xmpp in clients.items()}
    inboxes = {name: Inbox(xmpp, kind="groupchat") for name, xmpp in clients.items()}
    return {"clients": clients, "pids": pids, "inboxes": inboxes}


async def test_blocked_channel_reaches_the_user_no_more(coven: dict[str, Any]) -> None:
    c, got = coven["clients"], coven["inboxes"]
    await block(c["crone"], CHANNEL)
    await say(c["hag"], "double, double", got["hag"])
    await got["hecate"].wait(1)
    await settled(c["crone"])
    assert got["crone"].items == []
    # Sending to it is refused by the user's own server.
    errors: list[Any] = []
    c["crone"].add_event_handler("message_error", errors.append)
    c["crone"].send_message(mto=CHANNEL, mbody="let me out", mtype="groupchat")
    await settled(c["crone"])
    assert [e["error"]["condition"] for e in errors] == ["not-acceptable"]
    assert errors[0].xml.find(f"{{jabber:client}}error/{BLOCKED}") is not None
    assert len(got["hecate"].items) == 1

    await block(c["crone"], CHANNEL, "unblock")
    await say(c["hag"], "toil and trouble", got["hag"])
    [message] = await got["crone"].wait(1)
    assert message["body"] == "toil and trouble"


@pytest.mark.parametrize("form", ["real", "proxy", "in-channel"])
async def test_blocked_participant_is_not_heard(coven: dict[str, Any], form: str) -> None:
    c, got, pid = coven["clients"], coven["inboxes"], coven["pids"]["hag"]
    target = {
        "real": "hag@localhost",
        "proxy": f"{pid}#{CHANNEL}",
        "in-channel": f"{CHANNEL}/{pid}",
    }[form]
    await block(c["crone"], target)
    await say(c["hag"], "from hag", got["hag"])
    await say(c["hecate"], "from hecate", got["hecate"])
    [message] = await got["crone"].wait(1)
    assert message["body"] == "from hecate"
    await settled(c["crone"])
    assert [m["body"] for m in got["crone"].items] == ["from hecate"]
    assert [m["body"] for m in got["hecate"].items] == ["from hag", "from hecate"]


async def test_relayed_iq_from_blocked_participant_is_refused(coven: dict[str, Any]) -> None:
    """An IQ through the channel from a blocked participant's proxy JID
    gets service-unavailable, as a direct one would. (A relayed IQ carries
    no real JID: the proxy or in-channel form names the participant.)"""
    c, pid = coven["clients"], coven["pids"]
    await block(c["crone"], f"{CHANNEL}/{pid['hag']}")
    with pytest.raises(IqError) as caught:
        await iq(c["hag"], f"{pid['crone']}#{CHANNEL}", "<vCard xmlns='vcard-temp'/>", "get")
    assert caught.value.iq["error"]["condition"] == "service-unavailable"
    result = await iq(
        c["hecate"], f"{pid['crone']}#{CHANNEL}", "<vCard xmlns='vcard-temp'/>", "get"
    )
    assert result["type"] == "result"


MIX_PRESENCE = "urn:xmpp:mix:presence:0"
WITH_PRESENCE = (*NODES, "urn:xmpp:mix:nodes:presence")


async def online(server: ServerHandle, jid: str) -> tuple[ClientXMPP, FromService]:
    """A MIX client recording channel presence from before its initial presence."""
    xmpp = await server.client(jid, "pw", plugins=PAM_PLUGINS, presence=False)
    seen = FromService(xmpp, "presence")
    xmpp.plugin["xep_0030"].add_feature(MIX)
    await xmpp.plugin["xep_0115"].update_caps()
    xmpp.send_presence()
    await settled(xmpp)
    return xmpp, seen


def statuses_of(seen: FromService, client: ClientXMPP) -> list[str]:
    """Statuses of the channel presence about `client` (by its <mix><jid>)."""
    found = []
    for stanza in seen.items:
        mix = stanza.xml.find(f"{{{MIX_PRESENCE}}}mix")
        if mix is not None and mix.findtext(f"{{{MIX_PRESENCE}}}jid") == str(client.boundjid):
            found.append(str(stanza["status"]))
    return found


@pytest.mark.parametrize("form", ["real", "proxy", "channel"])
async def test_blocked_presence_is_not_delivered(server: ServerHandle, form: str) -> None:
    people: dict[str, tuple[ClientXMPP, FromService]] = {}
    for name in ("hag", "hecate", "crone"):
        await server.add_user(f"{name}@localhost", "pw")
        people[name] = await online(server, f"{name}@localhost/r")
    (hag, _), (hecate, hecate_seen), (crone, crone_seen) = people.values()
    await create(hag, "coven")
    pids = {}
    for name, (xmpp, _) in people.items():
        result = await iq(xmpp, xmpp.boundjid.bare, client_join_xml(CHANNEL, name, WITH_PRESENCE))
        pids[name] = child(result, "{urn:xmpp:mix:pam:2}client-join")[0].get("id")
    target = {"real": "hag@localhost", "proxy": f"{pids['hag']}#{CHANNEL}", "channel": CHANNEL}
    await block(crone, target[form])

    hag.send_presence(pstatus="Making a Brew")
    await settled(hag)  # the channel's copies were routed while this waited
    hecate.send_presence(pstatus="Stirring")
    await settled(hecate)
    await hecate_seen.until(lambda p: p["status"] == "Stirring")
    await settled(crone)
    assert "Making a Brew" in statuses_of(hecate_seen, hag)
    assert "Making a Brew" not in statuses_of(crone_seen, hag)
    # Someone the user did not block is still seen, unless the whole channel is.
    assert ("Stirring" in statuses_of(crone_seen, hecate)) is (form != "channel")


async def test_fan_out_waits_for_a_list_still_loading(
    server: ServerHandle, coven: dict[str, Any]
) -> None:
    """A recipient whose list is not in memory yet (a session bound a moment
    ago) is checked once it is loaded: blocked, nothing; else, the message."""
    c, got = coven["clients"], coven["inboxes"]
    await block(c["crone"], CHANNEL)
    assert server.app.server is not None
    blocking = server.app.server.registry.modules["blocking"]
    assert isinstance(blocking, BlockingModule)
    for user in ("crone@localhost", "hecate@localhost"):
        blocking.lists.invalidate(user)  # as if the load at bind were under way
        assert blocking.lists.now(user) is None
    await say(c["hag"], "wait for it", got["hag"])
    [message] = await got["hecate"].wait(1)
    assert message["body"] == "wait for it"
    await server.app.server.finish_tasks(TIMEOUT)
    await settled(c["crone"])
    assert got["crone"].items == []
    assert blocking.lists.now("crone@localhost") == frozenset({CHANNEL})
