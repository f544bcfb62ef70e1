"""Helpers for the MIX-MISC (XEP-0407) tests: messages with raw payloads
and the answers they get, sent by slixmpp clients."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from slixmpp import ClientXMPP

from tests.mix_client import FromService

MISC = "urn:xmpp:mix:misc:0"
SID = "urn:xmpp:sid:0"


def send_raw(
    xmpp: ClientXMPP, to: str, payloads: str = "", body: str | None = None, kind: str = "groupchat"
) -> str:
    """Send a message with raw payload XML; returns its id."""
    message = xmpp.Message()
    message["to"] = to
    message["type"] = kind
    if body is not None:
        message["body"] = body
    if payloads:
        for element in ET.fromstring(f"<x>{payloads}</x>"):
            message.xml.append(element)
    message["id"] = message["id"] or xmpp.new_id()
    message.send()
    return str(message["id"])


def retract(xmpp: ClientXMPP, channel: str, target: str, origin: str | None = None) -> str:
    extra = f"<origin-id xmlns='{SID}' id='{origin}'/>" if origin else ""
    return send_raw(xmpp, channel, f"<retract xmlns='{MISC}' id='{target}'/>{extra}")


async def error_for(replies: FromService, sent_id: str) -> str:
    """The error condition the service answered the message `sent_id` with."""
    error = await replies.until(lambda m: m["type"] == "error" and m["id"] == sent_id)
    return str(error["error"]["condition"])


def retract_id(message: Any) -> str | None:
    el = message.xml.find(f"{{{MISC}}}retract")
    return None if el is None else el.get("id")


def retracted(message: Any) -> ET.Element | None:
    return message.xml.find(f"{{{MISC}}}retracted")
