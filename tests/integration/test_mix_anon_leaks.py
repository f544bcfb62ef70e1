"""A JID Hidden channel seen by a participant who does not administer it
(XEP-0404): greymalkin's clients record every byte the server sends them
(MIX through MIX-PAM, and MUC) while the others join, post, change presence
and nick, send private messages and leave, and while greymalkin reads
everything it may (nodes, archives, disco, preferences) and tries what it
may not (the JID Map, another's vCard). No other participant's real JID,
in any case, is anywhere in it; the owner reads the JID Map."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest
from slixmpp.exceptions import IqError

from tests.anon_client import (
    ALL_NODES,
    ANON,
    CHANNEL,
    EVENT,
    JIDMAP,
    PARTICIPANTS,
    PRESENCE_NODE,
    PUBSUB,
    configure,
    muc_client,
    set_preferences,
)
from tests.helpers import TIMEOUT, ServerHandle
from tests.mam_client import mam_query
from tests.mix_client import MIX, SERVICE, FromService, create, iq
from tests.pam_client import PAM, client_join_xml, client_leave, pam_client

OTHERS = ("hag66@localhost", "hecate@localhost", "mab@localhost")
DISCO_INFO = "http://jabber.org/protocol/disco#info"
MISC = "urn:xmpp:mix:misc:0"


class Recorder:
    """Every byte a slixmpp client receives, as the server sent it."""

    def __init__(self, xmpp: Any) -> None:
        self.chunks: list[bytes] = []
        receive = xmpp.data_received

        def record(data: bytes) -> None:
            self.chunks.append(data)
            receive(data)

        xmpp.data_received = record  # the transport looks it up on each read

    def text(self) -> str:
        return b"".join(self.chunks).decode("utf-8", "replace").lower()


async def mix_join(xmpp: Any, nick: str) -> str:
    result = await iq(xmpp, xmpp.boundjid.bare, client_join_xml(CHANNEL, nick, ALL_NODES))
    joined = result.xml.find(f"{{{PAM}}}client-join/{{{MIX}}}join")
    assert joined is not None
    return joined.get("id") or ""


def body(text: str) -> Callable[[Any], bool]:
    return lambda stanza: stanza["body"] == text


async def test_nothing_reveals_another_participants_jid(server: ServerHandle) -> None:
    for name in ("hag66", "hecate", "mab", "greymalkin"):
        await server.add_user(f"{name}@localhost", f"pw-{name}")
    hag = await pam_client(server, "hag66@localhost/mix", "pw-hag66")
    await create(hag, "coven")
    await configure(hag, ("JID Visibility", "jid-hidden"))
    await mix_join(hag, "hag")

    # greymalkin: a MIX client and a MUC client, both recorded from now on.
    grey = await pam_client(server, "greymalkin@localhost/mix", "pw-greymalkin")
    grey_mix = Recorder(grey)
    grey_messages, grey_presence = FromService(grey, "message"), FromService(grey, "presence")
    grey_id = await mix_join(grey, "grey")
    grey_muc, muc_presence, muc_messages = await muc_client(server, "greymalkin", "pw-greymalkin")
    grey_room = Recorder(grey_muc)
    await grey_muc.plugin["xep_0045"].join_muc_wait(CHANNEL, "grey", timeout=TIMEOUT)

    # The others arrive: hecate through MIX-PAM, mab through MUC only.
    hecate = await pam_client(server, "hecate@localhost/mix", "pw-hecate")
    hecate_id = await mix_join(hecate, "hecate")
    mab, _, _ = await muc_client(server, "mab", "pw-mab")
    await mab.plugin["xep_0045"].join_muc_wait(CHANNEL, "mab", maxstanzas=0, timeout=TIMEOUT)
    await muc_presence.until(lambda p: str(p["from"]) == f"{CHANNEL}/mab")
    hecate_present = await grey_presence.until(
        lambda p: p["from"].bare == f"{hecate_id}#coven@{SERVICE}"
    )

    # They post, change presence and nick, set preferences.
    for xmpp, text in ((hecate, "from hecate"), (hag, "from hag"), (mab, "from mab")):
        xmpp.send_message(mto=CHANNEL, mbody=text, mtype="groupchat")
        await grey_messages.until(body(text))
        await muc_messages.until(body(text))
    hecate.send_presence(pshow="away", pstatus="brewing")
    await grey_presence.until(lambda p: p["show"] == "away")
    await muc_presence.until(lambda p: p["show"] == "away")
    await iq(hecate, CHANNEL, f"<setnick xmlns='{MIX}'><nick>hecate2</nick></setnick>")
    await set_preferences(hecate, ("JID Visibility", "prefer"))  # hidden channel: still hidden
    await muc_presence.until(lambda p: str(p["from"]) == f"{CHANNEL}/hecate2")

    # Private messages both ways, and one to nobody.
    hecate.send_message(mto=f"{grey_id}#coven@{SERVICE}", mbody="psst", mtype="chat")
    whisper = await grey_messages.until(body("psst"))
    grey.send_message(mto=whisper["from"], mbody="yes?", mtype="chat")
    grey.send_message(mto=f"nosuch#coven@{SERVICE}", mbody="anyone?", mtype="chat")
    await grey_messages.until(lambda m: m["type"] == "error")

    # Everything greymalkin may read, and what it may not.
    for node in (PARTICIPANTS, PRESENCE_NODE):
        await iq(grey, CHANNEL, f"<pubsub xmlns='{PUBSUB}'><items node='{node}'/></pubsub>", "get")
    with pytest.raises(IqError) as err:
        await iq(
            grey, CHANNEL, f"<pubsub xmlns='{PUBSUB}'><items node='{JIDMAP}'/></pubsub>", "get"
        )
    assert err.value.condition == "forbidden"
    with pytest.raises(IqError) as err:
        await iq(grey, f"{hecate_id}#coven@{SERVICE}", "<vCard xmlns='vcard-temp'/>", "get")
    assert err.value.condition == "forbidden"
    await iq(grey, str(hecate_present["from"]), f"<query xmlns='{DISCO_INFO}'/>", "get")
    assert (await mam_query(grey, to=CHANNEL)).bodies == ["from hecate", "from hag", "from mab"]
    await mam_query(grey)
    await mam_query(grey_muc, to=CHANNEL)
    disco = grey.plugin["xep_0030"]
    await disco.get_info(jid=CHANNEL, timeout=TIMEOUT)
    await disco.get_info(jid=CHANNEL, node="mix", timeout=TIMEOUT)
    await disco.get_items(jid=CHANNEL, node="mix", timeout=TIMEOUT)
    await disco.get_info(jid=SERVICE, timeout=TIMEOUT)
    await iq(grey, CHANNEL, f"<user-preference xmlns='{ANON}'/>", "get")
    # A second MUC entry: history and every occupant again.
    grey_muc.plugin["xep_0045"].leave_muc(CHANNEL, "grey")
    await muc_presence.until(lambda p: p["type"] == "unavailable" and p["from"].resource == "grey")
    await grey_muc.plugin["xep_0045"].join_muc_wait(CHANNEL, "grey", maxstanzas=10, timeout=TIMEOUT)

    # hecate retracts her message: who retracted it stays hidden too.
    await configure(hag, ("User Message Retraction", "true"))
    first = await grey_messages.until(body("from hecate"))
    retraction = hecate.Message()
    retraction["to"], retraction["type"] = CHANNEL, "groupchat"
    retraction.xml.append(ET.fromstring(f"<retract xmlns='{MISC}' id='{first['id']}'/>"))
    retraction.send()
    await grey_messages.until(lambda m: m.xml.find(f"{{{MISC}}}retract") is not None)
    page = await mam_query(grey, to=CHANNEL)
    assert any(m.xml.find(f"{{{MISC}}}retracted") is not None for m in page.forwarded)

    # The others leave.
    await client_leave(hecate, CHANNEL)
    await grey_messages.until(lambda m: m.xml.find(f".//{{{EVENT}}}retract") is not None)
    mab.plugin["xep_0045"].leave_muc(CHANNEL, "mab")
    await muc_presence.until(lambda p: p["type"] == "unavailable" and p["from"].resource == "mab")
    for xmpp in (grey, grey_muc):
        await xmpp.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)  # all delivered

    # The owner reads the JID Map.
    jidmap = await iq(
        hag, CHANNEL, f"<pubsub xmlns='{PUBSUB}'><items node='{JIDMAP}'/></pubsub>", "get"
    )
    assert "greymalkin@localhost" in str(jidmap)

    for recorded in (grey_mix.text(), grey_room.text()):
        assert "from hecate" in recorded and "from mab" in recorded  # it saw the traffic
        assert "greymalkin@localhost" in recorded  # and would see a JID
        for jid in OTHERS:
            assert jid not in recorded, f"{jid} leaked"
    assert "psst" in grey_mix.text() and hecate_id in grey_mix.text()
