"""MIX-PRESENCE (XEP-0403) end to end with slixmpp clients: each MIX client's
presence goes through its own server (XEP-0405) to the channel, which sends
it from the client's proxy JID to the presence node's subscribers, whose
servers pass it to their MIX clients only; IQs relayed through the channel
between participants. Presence values are those of the XEP-0403 examples."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from mixd.services.mix.presence_state import PresencePolicy
from tests.helpers import ServerHandle
from tests.mix_client import MIX, NODES, SERVICE, FromService, Inbox, child, create, iq
from tests.pam_client import (
    PAM_PLUGINS,
    channel_state,
    client_join_xml,
    client_leave,
    log_out,
    pam_client,
    plain_client,
)
from tests.roster_client import sync

PRESENCE = "urn:xmpp:mix:presence:0"
PRESENCE_NODE = "urn:xmpp:mix:nodes:presence"
PUBSUB = "http://jabber.org/protocol/pubsub"
DISCO_INFO = "http://jabber.org/protocol/disco#info"
CHANNEL = f"coven@{SERVICE}"
WITH_PRESENCE = (*NODES, PRESENCE_NODE)


async def online(server: ServerHandle, jid: str, password: str) -> tuple[ClientXMPP, FromService]:
    """A MIX client (as `pam_client`) that records channel presence from
    before its initial presence on."""
    xmpp = await server.client(jid, password, plugins=PAM_PLUGINS, presence=False)
    seen = FromService(xmpp, "presence")
    xmpp.plugin["xep_0030"].add_feature(MIX)
    await xmpp.plugin["xep_0115"].update_caps()
    xmpp.send_presence()
    await sync(xmpp)
    return xmpp, seen


def mix_of(stanza: Any) -> tuple[str | None, str | None]:
    """(jid, nick) of the <mix xmlns='urn:xmpp:mix:presence:0'/> a presence carries."""
    mix = child(stanza, f"{{{PRESENCE}}}mix")
    return mix.findtext(f"{{{PRESENCE}}}jid"), mix.findtext(f"{{{PRESENCE}}}nick")


def about(client: str, kind: str = "available", status: str | None = None) -> Callable[[Any], bool]:
    def match(stanza: Any) -> bool:
        if stanza.xml.find(f"{{{PRESENCE}}}mix") is None or mix_of(stanza)[0] != client:
            return False
        if (stanza.xml.get("type") or "available") != kind:
            return False
        return status is None or stanza["status"] == status

    return match


async def join(xmpp: ClientXMPP, nick: str, nodes: tuple[str, ...] = WITH_PRESENCE) -> str:
    result = await iq(xmpp, xmpp.boundjid.bare, client_join_xml(CHANNEL, nick, nodes))
    joined = child(result, "{urn:xmpp:mix:pam:2}client-join").find(f"{{{MIX}}}join")
    assert joined is not None
    return joined.get("id") or ""


def brew(xmpp: ClientXMPP) -> None:
    """XEP-0403 example 'Client Sets Presence Status on Server'."""
    xmpp.send_presence(pshow="dnd", pstatus="Making a Brew")


@pytest.fixture
async def coven(server: ServerHandle) -> dict[str, Any]:
    """hag66 (one MIX client) and hecate (two) in a channel, sharing presence."""
    for user in ("hag66", "hecate", "peter"):
        await server.add_user(f"{user}@localhost", f"pw-{user}")
    hag, hag_seen = await online(server, "hag66@localhost/UUID-a1j/7533", "pw-hag66")
    one, one_seen = await online(server, "hecate@localhost/UUID-x4r/2491", "pw-hecate")
    two, two_seen = await online(server, "hecate@localhost/phone", "pw-hecate")
    seen = {"hag": hag_seen, "one": one_seen, "two": two_seen}
    await create(hag, "coven")
    hag_id = await join(hag, "thirdwitch")
    hecate_id = await join(one, "hecate")
    return {"server": server, "hag": hag, "one": one, "two": two, "seen": seen,
            "hag_id": hag_id, "hecate_id": hecate_id}  # fmt: skip


async def test_presence_reaches_both_mix_clients_of_another_user(coven: dict[str, Any]) -> None:
    hag, seen = coven["hag"], coven["seen"]
    brew(hag)
    for name in ("one", "two"):
        got = await seen[name].until(about(str(hag.boundjid), status="Making a Brew"))
        assert got["show"] == "dnd"
        assert mix_of(got) == ("hag66@localhost/UUID-a1j/7533", "thirdwitch")
        proxy = got["from"]
        assert proxy.user == f"{coven['hag_id']}#coven" and proxy.domain == SERVICE
        assert proxy.resource and proxy.resource != "UUID-a1j/7533"  # a mapped resource
        assert got["to"] == coven[name].boundjid  # passed on by hecate's own server
    # and each user sees the other's clients (and its own) through the channel
    for client in (coven["one"], coven["two"]):
        await seen["hag"].until(about(str(client.boundjid)))


async def test_joining_subscriber_gets_current_presence(coven: dict[str, Any]) -> None:
    server, hag = coven["server"], coven["hag"]
    brew(hag)
    await coven["seen"]["one"].until(about(str(hag.boundjid), status="Making a Brew"))
    peter, seen = await online(server, "peter@localhost/desk", "pw-peter")
    await join(peter, "peter")
    got = await seen.until(about(str(hag.boundjid)))
    assert got["status"] == "Making a Brew"
    # Without the presence node: nothing about the others' clients.
    await client_leave(peter, CHANNEL)
    quiet, quiet_seen = await online(server, "peter@localhost/other", "pw-peter")
    await join(quiet, "peter", NODES)
    await sync(quiet)
    assert [p for p in quiet_seen.items if mix_of(p)[0] == str(hag.boundjid)] == []


async def test_unavailable_when_the_client_goes_offline(coven: dict[str, Any]) -> None:
    server, hag, seen = coven["server"], coven["hag"], coven["seen"]["one"]
    await seen.until(about(str(hag.boundjid)))
    hag.send_presence(ptype="unavailable")
    got = await seen.until(about(str(hag.boundjid), "unavailable"))
    assert mix_of(got) == (str(hag.boundjid), "thirdwitch")
    # logging out without unavailable presence
    cauldron = await pam_client(server, "hag66@localhost/cauldron", "pw-hag66")
    await seen.until(about("hag66@localhost/cauldron"))
    await log_out(server, cauldron)
    await seen.until(about("hag66@localhost/cauldron", "unavailable"))
    # the connection dropping
    broom = await pam_client(server, "hag66@localhost/broom", "pw-hag66")
    await seen.until(about("hag66@localhost/broom"))
    broom.abort()
    await seen.until(about("hag66@localhost/broom", "unavailable"))
    state = await channel_state(server, CHANNEL)
    assert state is not None and not state.presence.of_user("hag66@localhost")


async def test_leaving_removes_the_users_presence(coven: dict[str, Any]) -> None:
    server, seen = coven["server"], coven["seen"]
    one, two = coven["one"], coven["two"]
    for client in (one, two):
        await seen["hag"].until(about(str(client.boundjid)))
    await seen["one"].until(about(str(coven["hag"].boundjid)))
    await client_leave(one, CHANNEL)
    for client in (one, two):
        await seen["hag"].until(about(str(client.boundjid), "unavailable"))
    # hecate's own server withdraws what the channel had shown her clients
    await seen["two"].until(about(str(coven["hag"].boundjid), "unavailable"))
    state = await channel_state(server, CHANNEL)
    assert state is not None and not state.presence.of_user("hecate@localhost")


async def test_no_channel_presence_for_a_client_without_mix(coven: dict[str, Any]) -> None:
    server, hag = coven["server"], coven["hag"]
    plain = await plain_client(server, "hecate@localhost/old", "pw-hecate")
    received: list[Any] = []
    plain.add_event_handler("presence", received.append)
    brew(hag)
    await coven["seen"]["one"].until(about(str(hag.boundjid), status="Making a Brew"))
    await sync(plain)
    assert [p for p in received if p["from"].domain == SERVICE] == []
    state = await channel_state(server, CHANNEL)
    assert state is not None
    assert [e.client.resource for e in state.presence.of_user("hecate@localhost")] != []
    assert "old" not in [e.client.resource for e in state.presence.of_user("hecate@localhost")]


async def test_client_coming_online_gets_channel_presence(coven: dict[str, Any]) -> None:
    server, hag = coven["server"], coven["hag"]
    brew(hag)
    await coven["seen"]["one"].until(about(str(hag.boundjid), status="Making a Brew"))
    # Another client while hecate has MIX clients online: from what her server holds.
    third, third_seen = await online(server, "hecate@localhost/third", "pw-hecate")
    got = await third_seen.until(about(str(hag.boundjid), status="Making a Brew"))
    assert got["to"] == third.boundjid
    # hecate fully offline, then back: her server asks the channel again.
    for client in (coven["one"], coven["two"], third):
        await log_out(server, client)
    back, back_seen = await online(server, "hecate@localhost/back", "pw-hecate")
    got = await back_seen.until(about(str(hag.boundjid), status="Making a Brew"))
    assert mix_of(got) == (str(hag.boundjid), "thirdwitch") and got["to"] == back.boundjid


async def test_nick_change_is_seen_on_the_same_clients(coven: dict[str, Any]) -> None:
    hag, seen = coven["hag"], coven["seen"]["one"]
    first = await seen.until(about(str(hag.boundjid)))
    await iq(hag, CHANNEL, f"<setnick xmlns='{MIX}'><nick>witch</nick></setnick>")
    again = await seen.until(lambda p: about(str(hag.boundjid))(p) and mix_of(p)[1] == "witch")
    assert again["from"] == first["from"]


async def test_presence_node_through_pubsub(coven: dict[str, Any]) -> None:
    server, hag = coven["server"], coven["hag"]
    brew(hag)
    got = await coven["seen"]["one"].until(about(str(hag.boundjid), status="Making a Brew"))
    query = f"<pubsub xmlns='{PUBSUB}'><items node='{PRESENCE_NODE}'/></pubsub>"
    result = await iq(coven["one"], CHANNEL, query, "get")
    items = {item.get("id"): item for item in result.xml.iter(f"{{{PUBSUB}}}item")}
    item = items[str(got["from"])]
    presence = item.find("{jabber:client}presence")
    assert presence is not None and presence.findtext("{jabber:client}status") == "Making a Brew"
    mix = presence.find(f"{{{PRESENCE}}}mix")
    assert mix is not None and mix.findtext(f"{{{PRESENCE}}}nick") == "thirdwitch"
    peter = await pam_client(server, "peter@localhost/desk", "pw-peter")
    with pytest.raises(IqError) as err:
        await iq(peter, CHANNEL, query, "get")
    assert err.value.condition == "forbidden"


async def test_iq_relay_between_participants(coven: dict[str, Any]) -> None:
    server, hag, one = coven["server"], coven["hag"], coven["one"]
    target = (await coven["seen"]["hag"].until(about(str(one.boundjid))))["from"]
    asked: list[Any] = []
    matcher = MatchXPath(f"{{jabber:client}}iq/{{{DISCO_INFO}}}query")
    one.register_handler(Callback("seen-disco", matcher, asked.append))
    result = await iq(hag, str(target), f"<query xmlns='{DISCO_INFO}'/>", "get")
    assert result["from"] == target
    features = {f.get("var") for f in result.xml.iter(f"{{{DISCO_INFO}}}feature")}
    assert MIX in features  # answered by hecate's client
    request = next(a for a in asked if a["type"] == "get")
    sender = request["from"]
    assert sender.bare == f"{coven['hag_id']}#coven@{SERVICE}" and sender.resource  # not hag's JID
    # The participant's bare proxy JID: the user's server answers (vCard).
    bare = f"{coven['hecate_id']}#coven@{SERVICE}"
    vcard = await iq(hag, bare, "<vCard xmlns='vcard-temp'/>", "get")
    assert vcard["from"] == bare and vcard.xml.find("{vcard-temp}vCard") is not None
    # No presence behind that resource: as for an offline client.
    with pytest.raises(IqError) as err:
        await iq(hag, f"{bare}/nobody", f"<query xmlns='{DISCO_INFO}'/>", "get")
    assert err.value.condition == "service-unavailable"
    # Only participants may ask.
    peter = await pam_client(server, "peter@localhost/desk", "pw-peter")
    with pytest.raises(IqError) as err:
        await iq(peter, str(target), f"<query xmlns='{DISCO_INFO}'/>", "get")
    assert err.value.condition == "forbidden"


async def set_policy(owner: ClientXMPP, open_presence: bool, required: bool) -> None:
    """Change the two MIX-ADMIN fields through the configuration node."""
    fields = (("Open Presence", open_presence), ("Participants Must Provide Presence", required))
    form = "".join(
        f"<field var='{var}'><value>{str(value).lower()}</value></field>" for var, value in fields
    )
    await iq(
        owner,
        CHANNEL,
        "<pubsub xmlns='http://jabber.org/protocol/pubsub'>"
        "<publish node='urn:xmpp:mix:nodes:config'><item><x xmlns='jabber:x:data' type='submit'>"
        "<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mix:admin:0</value></field>"
        f"{form}</x></item></publish></pubsub>",
    )


async def test_presence_policy(coven: dict[str, Any]) -> None:
    """The two MIX-ADMIN fields, set by the owner through the configuration node."""
    server, hag = coven["server"], coven["hag"]
    state = await channel_state(server, CHANNEL)
    assert state is not None and state.presence_policy == PresencePolicy()  # spec defaults
    # Closed (default): a non-participant's presence is not registered.
    peter = await pam_client(server, "peter@localhost/desk", "pw-peter")
    peter.send_presence(pto=CHANNEL)
    await sync(peter)
    assert state.presence.of_user("peter@localhost") == []
    await set_policy(hag, open_presence=True, required=False)
    assert state.presence_policy == PresencePolicy(open=True)
    peter.send_presence(pto=CHANNEL, pstatus="lurking")
    got = await coven["seen"]["one"].until(about(str(peter.boundjid), status="lurking"))
    assert mix_of(got)[1] is None  # no nick: not a participant
    # Required: a participant sharing no presence may not send messages.
    await set_policy(hag, open_presence=False, required=True)
    assert state.presence_policy == PresencePolicy(required=True)
    hag.send_presence(ptype="unavailable")
    await coven["seen"]["one"].until(about(str(hag.boundjid), "unavailable"))
    errors: list[Any] = []
    hag.add_event_handler("message_error", errors.append)
    hag.send_message(mto=CHANNEL, mbody="hello", mtype="groupchat")
    await sync(hag)
    assert [e["error"]["condition"] for e in errors] == ["not-allowed"]
    reflected = Inbox(coven["two"], kind="groupchat")
    coven["one"].send_message(mto=CHANNEL, mbody="shared", mtype="groupchat")  # shares: fine
    [message] = await reflected.wait(1)
    assert message["body"] == "shared"
