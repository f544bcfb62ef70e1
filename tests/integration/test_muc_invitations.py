"""Invitations from MUC occupants (XEP-0045 7.8): mediated invitations sent
on by the room, declines sent back, members-only channels adding the
invitee to the MIX allowed node when the inviter may; direct invitations
(XEP-0249) between clients."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from slixmpp import ClientXMPP
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from tests.helpers import TIMEOUT, ServerHandle
from tests.integration.test_muc import CHANNEL, MUC_PLUGINS, MUC_USER, hag, muc_client
from tests.integration.test_muc_moderation import ALLOWED, entries, hag_in_muc
from tests.mix_client import FromService, iq
from tests.roster_client import sync

__all__ = ["hag"]  # the fixture, shared with test_muc.py

CONFERENCE = "jabber:x:conference"


def invite(stanza: Any) -> ET.Element | None:
    return stanza.xml.find(f"{{{MUC_USER}}}x/{{{MUC_USER}}}invite")


def invite_xml(xmpp: ClientXMPP, to: str, reason: str = "") -> Any:
    """A mediated invitation to the room (type normal), as XEP-0045 7.8.2 shows it."""
    message = xmpp.make_message(mto=CHANNEL)
    x = ET.SubElement(message.xml, f"{{{MUC_USER}}}x")
    element = ET.SubElement(x, f"{{{MUC_USER}}}invite", {"to": to})
    if reason:
        ET.SubElement(element, f"{{{MUC_USER}}}reason").text = reason
    return message


def error_for(messages: FromService, message_id: str) -> Any:
    return messages.until(lambda m: m["type"] == "error" and m["id"] == message_id)


async def test_mediated_invitation_and_decline(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    hecate, _, hecate_messages = await muc_client(server, "hecate")
    grey, _, grey_messages = await muc_client(server, "greymalkin")
    # Not in the room: no invitations through it.
    early = invite_xml(grey, "hecate@localhost")
    early.send()
    refused = await error_for(grey_messages, early["id"])
    assert refused["error"]["condition"] == "not-acceptable"
    await hecate.plugin["xep_0045"].join_muc_wait(CHANNEL, "hecate", maxstanzas=0, timeout=TIMEOUT)
    sent = invite_xml(hecate, "greymalkin@localhost", "Come, all good witches")
    sent.send()
    got = await grey_messages.until(lambda m: invite(m) is not None)
    assert str(got["from"]) == CHANNEL and got["id"] == sent["id"]
    element = invite(got)
    assert element is not None and element.get("from") == "hecate@localhost/muc"
    assert element.findtext(f"{{{MUC_USER}}}reason") == "Come, all good witches"
    # grey declines; hecate hears it from the room.
    grey.plugin["xep_0045"].decline(CHANNEL, "hecate@localhost", "Too busy")
    declined = await hecate_messages.until(
        lambda m: m.xml.find(f"{{{MUC_USER}}}x/{{{MUC_USER}}}decline") is not None
    )
    decline = declined.xml.find(f"{{{MUC_USER}}}x/{{{MUC_USER}}}decline")
    assert decline.get("from") == "greymalkin@localhost"
    assert decline.findtext(f"{{{MUC_USER}}}reason") == "Too busy"
    # A decline goes only to a participant; an unknown account is not invited.
    grey.plugin["xep_0045"].decline(CHANNEL, "stranger@localhost")
    await sync(grey)
    stray = invite_xml(hecate, "nobody@localhost")
    stray.send()
    unknown = await error_for(hecate_messages, stray["id"])
    assert unknown["error"]["condition"] == "item-not-found"
    # A banned user is not invited.
    await server.add_user("lear@localhost", "pw-lear")
    ban = (
        "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish"
        " node='urn:xmpp:mix:nodes:banned'><item id='lear@localhost'/></publish></pubsub>"
    )
    await iq(hag[0], CHANNEL, ban)
    to_banned = invite_xml(hecate, "lear@localhost")
    to_banned.send()
    banned = await error_for(hecate_messages, to_banned["id"])
    assert banned["error"]["condition"] == "not-allowed"
    assert [m for m in grey_messages.items if m["type"] == "error" and m["error"]["condition"]][-1][
        "error"
    ]["condition"] == "item-not-found"


async def test_members_only_invitations_add_to_the_allowed_node(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    hag_mix, _ = hag
    owner, _ = await hag_in_muc(server)
    hecate, _, hecate_messages = await muc_client(server, "hecate")
    await hecate.plugin["xep_0045"].join_muc_wait(CHANNEL, "hecate", maxstanzas=0, timeout=TIMEOUT)
    muc = owner.plugin["xep_0045"]
    form = await muc.get_room_config(CHANNEL, timeout=TIMEOUT)
    form.set_values({"muc#roomconfig_membersonly": True})
    await muc.set_room_config(CHANNEL, form, timeout=TIMEOUT)
    lear, _, lear_messages = await muc_client(server, "lear")
    # A member may not invite to a members-only room by default.
    denied = invite_xml(hecate, "lear@localhost")
    denied.send()
    forbidden = await error_for(hecate_messages, denied["id"])
    assert forbidden["error"]["condition"] == "forbidden"
    assert "lear@localhost" not in await entries(hag_mix, ALLOWED)
    # The owner may: lear is allowed, invited, and gets in.
    owner.plugin["xep_0045"].invite(CHANNEL, "lear@localhost", "Join us")
    await lear_messages.until(lambda m: invite(m) is not None)
    assert "lear@localhost" in await entries(hag_mix, ALLOWED)
    await lear.plugin["xep_0045"].join_muc_wait(CHANNEL, "lear", maxstanzas=0, timeout=TIMEOUT)
    # With "allowinvites", members invite too.
    form.set_values({"muc#roomconfig_allowinvites": True})
    await muc.set_room_config(CHANNEL, form, timeout=TIMEOUT)
    await server.add_user("macbeth@localhost", "pw-macbeth")
    allowed = invite_xml(hecate, "macbeth@localhost")
    allowed.send()
    await sync(hecate)
    assert "macbeth@localhost" in await entries(hag_mix, ALLOWED)


async def test_direct_invitation_between_clients(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    """XEP-0249: the invitation goes from client to client; the invitee
    enters the (open) room it names."""
    hecate, _, _ = await muc_client(server, "hecate")
    await hecate.plugin["xep_0045"].join_muc_wait(CHANNEL, "hecate", maxstanzas=0, timeout=TIMEOUT)
    await server.add_user("greymalkin@localhost", "pw-greymalkin")
    grey = await server.client("greymalkin@localhost/muc", "pw-greymalkin", plugins=MUC_PLUGINS)
    received: list[Any] = []
    matcher = MatchXPath(f"{{jabber:client}}message/{{{CONFERENCE}}}x")
    grey.register_handler(Callback("direct-invite", matcher, received.append))
    message = hecate.make_message(mto="greymalkin@localhost/muc")
    ET.SubElement(message.xml, f"{{{CONFERENCE}}}x", {"jid": CHANNEL, "reason": "Join us"})
    message.send()
    await sync(hecate)
    await sync(grey)
    [direct] = [m for m in received if m.xml.find(f"{{{CONFERENCE}}}x") is not None]
    room = direct.xml.find(f"{{{CONFERENCE}}}x").get("jid")
    assert str(direct["from"]) == "hecate@localhost/muc" and room == CHANNEL
    await grey.plugin["xep_0045"].join_muc_wait(room, "grey", maxstanzas=0, timeout=TIMEOUT)
