"""XEP-0408 partially integrated mode (`mix.muc_mode = "separate"`): the
MUC face on its own domain mirrors every channel; each domain names the
other in disco and advertises only its own protocol; MUC and MIX clients
share the channel through the two domains."""

from __future__ import annotations

from typing import Any

import pytest
from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError, PresenceError

from tests.helpers import TIMEOUT, ServerHandle
from tests.integration.test_muc import MUC, MUC_PLUGINS, PRESENCE, PRESENCE_NODE, codes, item
from tests.mam_client import mam_query
from tests.mix_client import MIX, NODES, SERVICE, FromService, Inbox, child, create, iq
from tests.pam_client import PAM_PLUGINS, client_join_xml
from tests.roster_client import sync

MUC_SERVICE = "muc.localhost"
MIX_CHANNEL = f"coven@{SERVICE}"
ROOM = f"coven@{MUC_SERVICE}"
SID = "urn:xmpp:sid:0"


@pytest.fixture
async def mirrored(server_factory: Any) -> ServerHandle:
    handle: ServerHandle = await server_factory(mix={"muc_mode": "separate"})
    return handle


async def owner_with_mix(server: ServerHandle) -> tuple[ClientXMPP, FromService]:
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
    await iq(xmpp, xmpp.boundjid.bare, client_join_xml(MIX_CHANNEL, "third witch", nodes))
    await presences.until(lambda p: p.xml.find(f"{{{PRESENCE}}}mix") is not None)
    return xmpp, presences


async def muc_user(server: ServerHandle, name: str) -> tuple[ClientXMPP, FromService, FromService]:
    await server.add_user(f"{name}@localhost", f"pw-{name}")
    xmpp = await server.client(f"{name}@localhost/muc", f"pw-{name}", plugins=MUC_PLUGINS)
    presences = FromService(xmpp, "presence", MUC_SERVICE)
    messages = FromService(xmpp, "message", MUC_SERVICE)
    await sync(xmpp)
    return xmpp, presences, messages


def form_field(info: Any, form_type: str, var: str) -> list[str]:
    for form in info.xml.iter("{jabber:x:data}x"):
        fields = {
            f.get("var"): [v.text for v in f.findall("{jabber:x:data}value")]
            for f in form.findall("{jabber:x:data}field")
        }
        if fields.get("FORM_TYPE") == [form_type]:
            return fields.get(var, [])
    return []


async def test_each_domain_names_the_other(mirrored: ServerHandle) -> None:
    owner, _ = await owner_with_mix(mirrored)
    disco = owner.plugin["xep_0030"]
    mix = await disco.get_info(jid=SERVICE, timeout=TIMEOUT)
    assert MUC not in mix["disco_info"]["features"] and MIX in mix["disco_info"]["features"]
    assert form_field(mix, "urn:xmpp:mix:muc:0#muc-mirror", "muc-mirror") == [MUC_SERVICE]
    muc = await disco.get_info(jid=MUC_SERVICE, timeout=TIMEOUT)
    assert MUC in muc["disco_info"]["features"] and MIX not in muc["disco_info"]["features"]
    assert {i[:2] for i in muc["disco_info"]["identities"]} == {("conference", "text")}
    assert form_field(muc, "urn:xmpp:mix:muc:0#mix-mirror", "mix-mirror") == [SERVICE]
    rooms = await disco.get_items(jid=MUC_SERVICE, timeout=TIMEOUT)
    assert ROOM in {i[0] for i in rooms["disco_items"]["items"]}
    room = await disco.get_info(jid=ROOM, timeout=TIMEOUT)
    assert MUC in room["disco_info"]["features"] and MIX not in room["disco_info"]["features"]
    channel = await disco.get_info(jid=MIX_CHANNEL, timeout=TIMEOUT)  # MIX only
    assert MUC not in channel["disco_info"]["features"]
    assert {i[:2] for i in channel["disco_info"]["identities"]} == {("conference", "mix")}
    card = await iq(owner, ROOM, "<vCard xmlns='vcard-temp'/>", "get")  # the room's avatar
    assert str(card["from"]) == ROOM
    # MIX requests are not answered on the MUC domain.
    with pytest.raises(IqError) as err:
        await iq(owner, MUC_SERVICE, f"<create xmlns='{MIX}' channel='other'/>")
    assert err.value.condition == "service-unavailable"
    with pytest.raises(IqError) as err:
        await iq(owner, ROOM, f"<join xmlns='{MIX}'><nick>x</nick></join>")
    assert err.value.condition == "service-unavailable"


async def test_muc_and_mix_clients_share_the_channel(mirrored: ServerHandle) -> None:
    owner, owner_presences = await owner_with_mix(mirrored)
    owner_inbox = Inbox(owner, kind="groupchat")
    hecate, _, messages = await muc_user(mirrored, "hecate")
    muc = hecate.plugin["xep_0045"]
    # The MIX domain does not take MUC clients.
    with pytest.raises(PresenceError) as refused:
        await muc.join_muc_wait(MIX_CHANNEL, "hecate", timeout=TIMEOUT)
    assert refused.value.condition == "service-unavailable"
    own, _, occupants, _ = await muc.join_muc_wait(ROOM, "hecate", maxstanzas=0, timeout=TIMEOUT)
    assert str(own["from"]) == f"{ROOM}/hecate" and 110 in codes(own)
    [third] = [p for p in occupants if p["from"].resource == "third witch"]
    assert str(third["from"]) == f"{ROOM}/third witch"
    assert item(third)["affiliation"] == "owner"
    seen = await owner_presences.until(
        lambda p: (
            p.xml.find(f"{{{PRESENCE}}}mix/{{{PRESENCE}}}nick") is not None
            and p.xml.find(f"{{{PRESENCE}}}mix/{{{PRESENCE}}}nick").text == "hecate"
        )
    )
    assert seen["from"].domain == SERVICE  # MIX clients see the MIX domain
    hecate.make_message(mto=ROOM, mbody="From the cave", mtype="groupchat").send()
    reflected = await messages.until(lambda m: m["body"] == "From the cave")
    assert str(reflected["from"]) == f"{ROOM}/hecate"
    [sid] = reflected.xml.findall(f"{{{SID}}}stanza-id")
    assert sid.get("by") == ROOM
    [at_mix] = await owner_inbox.wait(1)
    assert str(at_mix["from"].bare) == MIX_CHANNEL
    assert child(at_mix, f"{{{MIX}}}mix").findtext(f"{{{MIX}}}nick") == "hecate"
    owner.make_message(mto=MIX_CHANNEL, mbody="Round about", mtype="groupchat").send()
    from_mix = await messages.until(lambda m: m["body"] == "Round about")
    assert str(from_mix["from"]) == f"{ROOM}/third witch"
    # MAM and moderation through the MUC domain.
    page = await mam_query(hecate, to=ROOM)
    assert page.bodies == ["From the cave", "Round about"]
    assert {str(m["from"]) for m in page.forwarded} == {f"{ROOM}/hecate", f"{ROOM}/third witch"}
    kicked_seen = FromService(hecate, "presence", MUC_SERVICE)
    owner_muc = await mirrored.client("hag66@localhost/muc", "pw-hag66", plugins=MUC_PLUGINS)
    await owner_muc.plugin["xep_0045"].join_muc_wait(
        ROOM, "third witch", maxstanzas=0, timeout=TIMEOUT
    )
    lists = await owner_muc.plugin["xep_0045"].get_affiliation_list(ROOM, "owner", timeout=TIMEOUT)
    assert lists == ["hag66@localhost"]
    await owner_muc.plugin["xep_0045"].set_role(ROOM, "hecate", "none", timeout=TIMEOUT)
    kicked = await kicked_seen.until(lambda p: p["type"] == "unavailable")
    assert str(kicked["from"]) == f"{ROOM}/hecate" and 307 in codes(kicked)
