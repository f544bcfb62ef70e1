"""The MUC face of MIX channels (XEP-0408 fully integrated mode) end to end:
slixmpp's xep_0045 MUC client and MIX clients (MIX-PAM) share one channel.
Joining both ways, occupant presence, messages both ways with attribution,
history on entering, MAM from the MUC side, nick conflicts across sides,
leaving."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError, PresenceError

from tests.helpers import TIMEOUT, ServerHandle
from tests.mam_client import MAM_PLUGINS, mam_query
from tests.mix_client import MIX, NODES, SERVICE, FromService, Inbox, child, create, iq, join
from tests.pam_client import PAM_PLUGINS, channel_state, client_join_xml, log_out
from tests.roster_client import sync

CHANNEL = f"coven@{SERVICE}"
MUC = "http://jabber.org/protocol/muc"
MUC_USER = "http://jabber.org/protocol/muc#user"
OCCUPANT_ID = "urn:xmpp:occupant-id:0"
DELAY = "urn:xmpp:delay"
SID = "urn:xmpp:sid:0"
PRESENCE = "urn:xmpp:mix:presence:0"
PRESENCE_NODE = "urn:xmpp:mix:nodes:presence"
MUC_PLUGINS = (*MAM_PLUGINS, "xep_0045", "xep_0082", "xep_0115", "xep_0203", "xep_0359")


async def muc_client(
    server: ServerHandle, name: str
) -> tuple[ClientXMPP, FromService, FromService]:
    """A MUC client (no MIX in its caps) recording what the service sends."""
    await server.add_user(f"{name}@localhost", f"pw-{name}")
    xmpp = await server.client(f"{name}@localhost/muc", f"pw-{name}", plugins=MUC_PLUGINS)
    presences, messages = FromService(xmpp, "presence"), FromService(xmpp, "message")
    await sync(xmpp)
    return xmpp, presences, messages


def codes(presence: Any) -> set[int]:
    return {int(s.get("code")) for s in presence.xml.iter(f"{{{MUC_USER}}}status")}


def item(presence: Any) -> dict[str, str]:
    found = presence.xml.find(f"{{{MUC_USER}}}x/{{{MUC_USER}}}item")
    assert found is not None, str(presence)
    return dict(found.attrib)


def occupant_id(stanza: Any) -> str:
    found = stanza.xml.findall(f"{{{OCCUPANT_ID}}}occupant-id")
    assert len(found) == 1, str(stanza)
    return str(found[0].get("id"))


def frm(jid: str) -> Callable[[Any], bool]:
    return lambda stanza: str(stanza["from"]) == jid


def body(text: str) -> Callable[[Any], bool]:
    return lambda stanza: stanza["body"] == text


@pytest.fixture
async def hag(server: ServerHandle) -> tuple[ClientXMPP, FromService]:
    """The channel's owner, a MIX participant sharing presence."""
    await server.add_user("hag66@localhost", "pw-hag66")
    xmpp = await server.client(
        "hag66@localhost/mix", "pw-hag66", plugins=PAM_PLUGINS, presence=False
    )
    presences = FromService(xmpp, "presence")
    xmpp.plugin["xep_0030"].add_feature(MIX)
    await xmpp.plugin["xep_0115"].update_caps()
    xmpp.send_presence()
    await create(xmpp, "coven")
    nodes = (*NODES, PRESENCE_NODE)
    await iq(xmpp, xmpp.boundjid.bare, client_join_xml(CHANNEL, "third witch", nodes))
    await presences.until(lambda p: p.xml.find(f"{{{PRESENCE}}}mix") is not None)
    return xmpp, presences


async def test_disco_answers_as_muc_and_as_mix(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    hecate, _, _ = await muc_client(server, "hecate")
    disco = hecate.plugin["xep_0030"]
    info = await disco.get_info(jid=CHANNEL, timeout=TIMEOUT)
    features = set(info["disco_info"]["features"])
    assert {MUC, "muc_persistent", "muc_open", "muc_nonanonymous", OCCUPANT_ID, MIX} <= features
    identities = {i[:2] for i in info["disco_info"]["identities"]}
    assert identities == {("conference", "text"), ("conference", "mix")}
    form = {
        field.get("var"): [v.text for v in field.findall("{jabber:x:data}value")]
        for field in info.xml.iter("{jabber:x:data}field")
    }
    assert form["FORM_TYPE"] == ["http://jabber.org/protocol/muc#roominfo"]
    assert form["muc#roominfo_occupants"] == ["1"]  # hag's MIX client
    mix_info = await disco.get_info(jid=CHANNEL, node="mix", timeout=TIMEOUT)
    assert MUC not in mix_info["disco_info"]["features"]
    assert {i[:2] for i in mix_info["disco_info"]["identities"]} == {("conference", "mix")}
    items = await disco.get_items(jid=CHANNEL, timeout=TIMEOUT)
    assert not items["disco_items"]["items"]
    nodes = await disco.get_items(jid=CHANNEL, node="mix", timeout=TIMEOUT)
    assert {i[1] for i in nodes["disco_items"]["items"]} >= set(NODES)
    service = await disco.get_info(jid=SERVICE, timeout=TIMEOUT)
    assert MUC in service["disco_info"]["features"]


async def test_muc_join_sees_mix_occupants_and_is_seen(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    hag_client, hag_seen = hag
    hecate, presences, messages = await muc_client(server, "hecate")
    muc = hecate.plugin["xep_0045"]
    own, subject, occupants, history = await muc.join_muc_wait(
        CHANNEL, "hecate", maxstanzas=0, timeout=TIMEOUT
    )
    assert str(own["from"]) == f"{CHANNEL}/hecate"
    assert {110, 100, 170} <= codes(own) and 210 not in codes(own)
    assert item(own) == {
        "affiliation": "member",
        "role": "participant",
        "jid": "hecate@localhost/muc",
    }
    assert occupant_id(own)
    assert not subject["subject"] and history == []
    # The MIX participant who shares presence is an occupant, the owner.
    [third] = [p for p in occupants if p["from"].resource == "third witch"]
    assert item(third) == {
        "affiliation": "owner",
        "role": "moderator",
        "jid": "hag66@localhost/mix",
    }
    # hecate is a participant of the channel (one with no MIX subscriptions)...
    state = await channel_state(server, CHANNEL)
    assert state is not None
    participant = state.participants["hecate@localhost"]
    assert participant.nick == "hecate" and participant.nodes == frozenset()
    # ...whose MUC client MIX clients see in the presence node.
    seen = await hag_seen.until(
        lambda p: (
            p.xml.find(f"{{{PRESENCE}}}mix/{{{PRESENCE}}}nick") is not None
            and p.xml.find(f"{{{PRESENCE}}}mix/{{{PRESENCE}}}nick").text == "hecate"
        )
    )
    assert seen["from"].user.startswith(f"{participant.id}#coven")
    mix = seen.xml.find(f"{{{PRESENCE}}}mix/{{{PRESENCE}}}jid")
    assert mix is not None and mix.text == "hecate@localhost/muc"
    # A MIX presence change reaches the MUC client as occupant presence.
    hag_client.send_presence(pshow="away")
    away = await presences.until(lambda p: frm(f"{CHANNEL}/third witch")(p) and p["show"] == "away")
    assert occupant_id(away) == occupant_id(third)
    # A second MUC user: both MUC occupants see each other enter.
    grey, grey_presences, _ = await muc_client(server, "greymalkin")
    _, _, grey_occupants, _ = await grey.plugin["xep_0045"].join_muc_wait(
        CHANNEL, "grey", maxstanzas=0, timeout=TIMEOUT
    )
    assert {str(p["from"]) for p in grey_occupants} == {
        f"{CHANNEL}/third witch",
        f"{CHANNEL}/hecate",
        f"{CHANNEL}/grey",  # slixmpp counts its own entry among them
    }
    entered = await presences.until(frm(f"{CHANNEL}/grey"))
    assert item(entered)["jid"] == "greymalkin@localhost/muc" and 110 not in codes(entered)
    del grey_presences, messages


async def test_messages_both_ways(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    hag_client, _ = hag
    hag_inbox = Inbox(hag_client, kind="groupchat")
    hecate, _, messages = await muc_client(server, "hecate")
    own, _, _, _ = await hecate.plugin["xep_0045"].join_muc_wait(
        CHANNEL, "hecate", maxstanzas=0, timeout=TIMEOUT
    )
    # MUC -> channel: archived, reflected to MIX with <mix/>, and to the sender.
    sent = hecate.make_message(mto=CHANNEL, mbody="Harpier cries", mtype="groupchat")
    sent.send()
    reflected = await messages.until(body("Harpier cries"))
    assert str(reflected["from"]) == f"{CHANNEL}/hecate"
    assert reflected["id"] == sent["id"]  # the sender recognises its own message
    assert occupant_id(reflected) == occupant_id(own)
    assert reflected.xml.find(f"{{{MIX}}}mix") is None
    [sid] = reflected.xml.findall(f"{{{SID}}}stanza-id")
    assert sid.get("by") == CHANNEL
    [at_mix] = await hag_inbox.wait(1)
    attribution = child(at_mix, f"{{{MIX}}}mix")
    assert attribution.findtext(f"{{{MIX}}}nick") == "hecate"
    assert attribution.findtext(f"{{{MIX}}}jid") == "hecate@localhost"
    assert at_mix["id"] == sid.get("id")
    # MIX -> MUC, from the sender's occupant JID.
    hag_client.make_message(mto=CHANNEL, mbody="'Tis time", mtype="groupchat").send()
    from_mix = await messages.until(body("'Tis time"))
    assert str(from_mix["from"]) == f"{CHANNEL}/third witch"
    assert occupant_id(from_mix) != occupant_id(own)
    assert from_mix.xml.find(f"{{{MIX}}}mix") is None
    # A forged occupant id or <mix/> from a MUC client is replaced, every copy.
    forged = hecate.make_message(mto=CHANNEL, mbody="forged", mtype="groupchat")
    for _ in range(2):
        forged.xml.append(_element(f"{{{OCCUPANT_ID}}}occupant-id", id="fake"))
    forged.send()
    got = await messages.until(body("forged"))
    assert occupant_id(got) == occupant_id(own)


def _element(tag: str, **attrs: str) -> Any:
    import xml.etree.ElementTree as ET

    return ET.Element(tag, attrs)


async def test_history_on_enter(server: ServerHandle, hag: tuple[ClientXMPP, FromService]) -> None:
    hag_client, _ = hag
    inbox = Inbox(hag_client, kind="groupchat")
    for n in range(5):
        hag_client.make_message(mto=CHANNEL, mbody=f"line {n}", mtype="groupchat").send()
    received = await inbox.wait(5)
    stamps = [m["stanza_id"]["id"] for m in received]
    assert len(stamps) == 5
    hecate, _, _ = await muc_client(server, "hecate")
    muc = hecate.plugin["xep_0045"]
    _, _, _, history = await muc.join_muc_wait(CHANNEL, "hecate", maxstanzas=2, timeout=TIMEOUT)
    assert [m["body"] for m in history] == ["line 3", "line 4"]
    first = history[0]
    assert str(first["from"]) == f"{CHANNEL}/third witch"
    assert first["delay"]["from"] == CHANNEL
    assert occupant_id(first)
    assert first.xml.find(f"{{{SID}}}stanza-id").get("id") == stamps[3]
    since = first["delay"]["stamp"]
    muc.leave_muc(CHANNEL, "hecate")
    await sync(hecate)
    # `since` (inclusive) and `maxchars`.
    _, _, _, history = await muc.join_muc_wait(CHANNEL, "hecate", since=since, timeout=TIMEOUT)
    assert [m["body"] for m in history] == ["line 3", "line 4"]
    muc.leave_muc(CHANNEL, "hecate")
    await sync(hecate)
    _, _, _, history = await muc.join_muc_wait(CHANNEL, "hecate", maxchars=0, timeout=TIMEOUT)
    assert history == []
    muc.leave_muc(CHANNEL, "hecate")
    await sync(hecate)
    _, _, _, history = await muc.join_muc_wait(CHANNEL, "hecate", seconds=3600, timeout=TIMEOUT)
    assert [m["body"] for m in history] == [f"line {n}" for n in range(5)]
    muc.leave_muc(CHANNEL, "hecate")
    await sync(hecate)
    future = datetime(2100, 1, 1, tzinfo=UTC)
    _, _, _, history = await muc.join_muc_wait(CHANNEL, "hecate", since=future, timeout=TIMEOUT)
    assert history == []


async def test_mam_from_the_muc_side(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    hag_client, _ = hag
    inbox = Inbox(hag_client, kind="groupchat")
    hecate, _, _ = await muc_client(server, "hecate")
    await hecate.plugin["xep_0045"].join_muc_wait(CHANNEL, "hecate", maxstanzas=0, timeout=TIMEOUT)
    hag_client.make_message(mto=CHANNEL, mbody="from mix", mtype="groupchat").send()
    hecate.make_message(mto=CHANNEL, mbody="from muc", mtype="groupchat").send()
    await inbox.wait(2)
    page = await mam_query(hecate, to=CHANNEL)
    assert page.bodies == ["from mix", "from muc"]
    assert [str(m["from"]) for m in page.forwarded] == [
        f"{CHANNEL}/third witch",
        f"{CHANNEL}/hecate",
    ]
    assert all(m.xml.find(f"{{{MIX}}}mix") is None for m in page.forwarded)
    assert all(occupant_id(m) for m in page.forwarded)
    assert page.ids == [m["stanza_id"]["id"] for m in inbox.items]
    # The MIX participant still gets the MIX form.
    mix_page = await mam_query(hag_client, to=CHANNEL)
    assert mix_page.bodies == ["from mix", "from muc"]
    assert all(m.xml.find(f"{{{MIX}}}mix") is not None for m in mix_page.forwarded)


async def test_nick_conflicts_across_sides(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    hecate, _, _ = await muc_client(server, "hecate")
    muc = hecate.plugin["xep_0045"]
    with pytest.raises(PresenceError) as err:
        await muc.join_muc_wait(CHANNEL, "Third Witch", timeout=TIMEOUT)  # case-mapped
    assert err.value.condition == "conflict"
    assert str(err.value.presence["from"]) == f"{CHANNEL}/Third Witch"
    await muc.join_muc_wait(CHANNEL, "hecate", maxstanzas=0, timeout=TIMEOUT)
    await server.add_user("greymalkin@localhost", "pw-greymalkin")
    grey = await server.client("greymalkin@localhost/r", "pw-greymalkin", plugins=PAM_PLUGINS)
    with pytest.raises(IqError) as iq_err:
        await join(grey, CHANNEL, "Hecate")
    assert iq_err.value.condition == "conflict"


async def test_mix_participant_enters_under_its_nick(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    """One nick per user: a participant entering with another gets its own (210)."""
    muc_side = await server.client("hag66@localhost/muc", "pw-hag66", plugins=MUC_PLUGINS)
    own, _, _, _ = await muc_side.plugin["xep_0045"].join_muc_wait(
        CHANNEL, "hag", maxstanzas=0, timeout=TIMEOUT
    )
    assert str(own["from"]) == f"{CHANNEL}/third witch"
    assert {110, 210} <= codes(own)
    assert item(own)["affiliation"] == "owner"
    # Leaving the MUC side keeps the MIX participation.
    muc_side.plugin["xep_0045"].leave_muc(CHANNEL, "third witch")
    await sync(muc_side)
    state = await channel_state(server, CHANNEL)
    assert state is not None and "hag66@localhost" in state.participants


async def test_leaving_ends_the_occupancy_and_participation(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    _, hag_seen = hag
    hecate, presences, _ = await muc_client(server, "hecate")
    muc = hecate.plugin["xep_0045"]
    await muc.join_muc_wait(CHANNEL, "hecate", maxstanzas=0, timeout=TIMEOUT)
    second, second_presences, _ = await _second_resource(server)
    await second.plugin["xep_0045"].join_muc_wait(CHANNEL, "hecate", maxstanzas=0, timeout=TIMEOUT)
    muc.leave_muc(CHANNEL, "hecate")
    gone = await presences.until(lambda p: p["type"] == "unavailable")
    assert str(gone["from"]) == f"{CHANNEL}/hecate" and 110 in codes(gone)
    state = await channel_state(server, CHANNEL)
    assert state is not None and "hecate@localhost" in state.participants  # one client left
    await log_out(server, second)  # the end of the session leaves too
    assert "hecate@localhost" not in state.participants
    hidden = await hag_seen.until(lambda p: p["type"] == "unavailable")
    mix = hidden.xml.find(f"{{{PRESENCE}}}mix/{{{PRESENCE}}}nick")
    assert mix is not None and mix.text == "hecate"
    del second_presences


async def _second_resource(server: ServerHandle) -> tuple[ClientXMPP, FromService, FromService]:
    xmpp = await server.client("hecate@localhost/other", "pw-hecate", plugins=MUC_PLUGINS)
    presences, messages = FromService(xmpp, "presence"), FromService(xmpp, "message")
    await sync(xmpp)
    return xmpp, presences, messages


async def test_self_ping_and_nick_change(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    hecate, presences, _ = await muc_client(server, "hecate")
    ping = hecate.plugin["xep_0199"]
    with pytest.raises(IqError) as err:
        await ping.ping(f"{CHANNEL}/hecate", timeout=TIMEOUT)
    assert err.value.condition == "not-acceptable"
    muc = hecate.plugin["xep_0045"]
    await muc.join_muc_wait(CHANNEL, "hecate", maxstanzas=0, timeout=TIMEOUT)
    await ping.ping(f"{CHANNEL}/hecate", timeout=TIMEOUT)
    await muc.set_self_nick(CHANNEL, "Hecate Queen", timeout=TIMEOUT)
    changed = await presences.until(lambda p: 303 in codes(p))
    assert str(changed["from"]) == f"{CHANNEL}/hecate"
    assert item(changed)["nick"] == "Hecate Queen" and 110 in codes(changed)
    state = await channel_state(server, CHANNEL)
    assert state is not None and state.participants["hecate@localhost"].nick == "Hecate Queen"


async def test_private_messages_between_occupants(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    hecate, _, hecate_messages = await muc_client(server, "hecate")
    grey, _, grey_messages = await muc_client(server, "greymalkin")
    own, _, _, _ = await hecate.plugin["xep_0045"].join_muc_wait(
        CHANNEL, "hecate", maxstanzas=0, timeout=TIMEOUT
    )
    # Not an occupant yet: refused.
    grey.make_message(mto=f"{CHANNEL}/hecate", mbody="early", mtype="chat").send()
    refused = await grey_messages.until(lambda m: m["type"] == "error")
    assert refused["error"]["condition"] == "not-acceptable"
    await grey.plugin["xep_0045"].join_muc_wait(CHANNEL, "grey", maxstanzas=0, timeout=TIMEOUT)
    hecate.make_message(mto=f"{CHANNEL}/grey", mbody="psst", mtype="chat").send()
    private = await grey_messages.until(body("psst"))
    assert str(private["from"]) == f"{CHANNEL}/hecate" and private["type"] == "chat"
    assert private.xml.find(f"{{{MUC_USER}}}x") is not None
    assert occupant_id(private) == occupant_id(own)
    # The MIX participant is not reachable this way (MIX-ANON), nor is a nobody.
    hecate.make_message(mto=f"{CHANNEL}/third witch", mbody="hi", mtype="chat").send()
    hecate.make_message(mto=f"{CHANNEL}/nobody", mbody="hi", mtype="chat").send()
    first = await hecate_messages.until(
        lambda m: m["type"] == "error" and m["from"].resource == "third witch"
    )
    assert first["error"]["condition"] == "feature-not-implemented"
    second = await hecate_messages.until(
        lambda m: m["type"] == "error" and m["from"].resource == "nobody"
    )
    assert second["error"]["condition"] == "item-not-found"


async def test_mix_side_changes_reach_muc_clients(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    """A MIX nick change is a MUC nick change; leaving through MIX ends the
    user's MUC occupancies too."""
    hag_client, _ = hag
    hecate, presences, _ = await muc_client(server, "hecate")
    await hecate.plugin["xep_0045"].join_muc_wait(CHANNEL, "hecate", maxstanzas=0, timeout=TIMEOUT)
    hag_muc = await server.client("hag66@localhost/muc", "pw-hag66", plugins=MUC_PLUGINS)
    hag_muc_presences = FromService(hag_muc, "presence")
    await hag_muc.plugin["xep_0045"].join_muc_wait(
        CHANNEL, "third witch", maxstanzas=0, timeout=TIMEOUT
    )
    await iq(hag_client, CHANNEL, f"<setnick xmlns='{MIX}'><nick>first witch</nick></setnick>")
    renamed = await presences.until(lambda p: 303 in codes(p))
    assert str(renamed["from"]) == f"{CHANNEL}/third witch"
    assert item(renamed)["nick"] == "first witch" and 110 not in codes(renamed)
    await presences.until(frm(f"{CHANNEL}/first witch"))
    await iq(
        hag_client,
        hag_client.boundjid.bare,
        f"<client-leave xmlns='urn:xmpp:mix:pam:2' channel='{CHANNEL}'>"
        f"<leave xmlns='{MIX}'/></client-leave>",
    )
    removed = await hag_muc_presences.until(
        lambda p: p["type"] == "unavailable" and 321 in codes(p)
    )
    assert 110 in codes(removed)
    gone = await presences.until(
        lambda p: frm(f"{CHANNEL}/first witch")(p) and p["type"] == "unavailable"
    )
    assert 110 not in codes(gone)


async def test_iqs_to_occupants_are_relayed(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    hecate, _, _ = await muc_client(server, "hecate")
    grey, _, _ = await muc_client(server, "greymalkin")
    for xmpp, nick in ((hecate, "hecate"), (grey, "grey")):
        await xmpp.plugin["xep_0045"].join_muc_wait(CHANNEL, nick, maxstanzas=0, timeout=TIMEOUT)
    # A vCard request goes to the occupant's account, answered by its server.
    vcard = await iq(hecate, f"{CHANNEL}/grey", "<vCard xmlns='vcard-temp'/>", kind="get")
    assert str(vcard["from"]) == f"{CHANNEL}/grey"
    assert vcard.xml.find("{vcard-temp}vCard") is not None
    # Other IQs go to the occupant's MUC client, which answers through the room.
    await hecate.plugin["xep_0199"].ping(f"{CHANNEL}/grey", timeout=TIMEOUT)
    # Only MUC clients: the MIX-only occupant is not reachable this way yet.
    with pytest.raises(IqError) as err:
        await hecate.plugin["xep_0199"].ping(f"{CHANNEL}/third witch", timeout=TIMEOUT)
    assert err.value.condition == "feature-not-implemented"


async def test_destroying_the_channel_tells_muc_clients(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    hag_client, _ = hag
    hecate, presences, _ = await muc_client(server, "hecate")
    await hecate.plugin["xep_0045"].join_muc_wait(CHANNEL, "hecate", maxstanzas=0, timeout=TIMEOUT)
    await iq(hag_client, SERVICE, f"<destroy xmlns='{MIX}' channel='coven'/>")
    gone = await presences.until(lambda p: p["type"] == "unavailable")
    assert str(gone["from"]) == f"{CHANNEL}/hecate"
    assert gone.xml.find(f"{{{MUC_USER}}}x/{{{MUC_USER}}}destroy") is not None
    assert item(gone) == {"affiliation": "none", "role": "none"}


async def test_mix_admin_applies_to_muc_clients(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    """A banned user cannot enter as a MUC occupant; an occupant who is
    banned is put out and gets no more messages; an expired channel tells
    its MUC clients it is gone (MIX-ADMIN, XEP-0406)."""
    hag_client, _ = hag
    banned = (
        "<pubsub xmlns='http://jabber.org/protocol/pubsub'>"
        "<publish node='urn:xmpp:mix:nodes:banned'><item id='{}'/></publish></pubsub>"
    )
    lear, _, _ = await muc_client(server, "lear")
    await iq(hag_client, CHANNEL, banned.format("lear@localhost"))
    with pytest.raises(PresenceError) as err:
        await lear.plugin["xep_0045"].join_muc_wait(CHANNEL, "lear", timeout=TIMEOUT)
    assert err.value.condition == "forbidden"
    hecate, presences, messages = await muc_client(server, "hecate")
    await hecate.plugin["xep_0045"].join_muc_wait(CHANNEL, "hecate", maxstanzas=0, timeout=TIMEOUT)
    await iq(hag_client, CHANNEL, banned.format("hecate@localhost"))
    await presences.until(lambda p: p["type"] == "unavailable" and 110 in codes(p))
    hag_client.send_message(mto=CHANNEL, mbody="after the ban", mtype="groupchat")
    await sync(hag_client)
    await sync(hecate)
    assert not [m for m in messages.items if m["body"] == "after the ban"]
