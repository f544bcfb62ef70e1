"""Helpers for MIX-ANON tests (XEP-0404): a channel with three users,
configuration and preference forms, and what the participants node shows."""

from __future__ import annotations

from typing import Any

from tests.helpers import ServerHandle
from tests.integration.test_muc import MUC_PLUGINS
from tests.mam_client import MAM_PLUGINS
from tests.mix_client import MIX, NODES, SERVICE, FromService, create, iq, mix_client
from tests.roster_client import sync

PUBSUB = "http://jabber.org/protocol/pubsub"
EVENT = "http://jabber.org/protocol/pubsub#event"
XDATA = "jabber:x:data"
ADMIN = "urn:xmpp:mix:admin:0"
ANON = "urn:xmpp:mix:anon:0"
CONFIG = "urn:xmpp:mix:nodes:config"
JIDMAP = "urn:xmpp:mix:nodes:jidmap"
PARTICIPANTS = "urn:xmpp:mix:nodes:participants"
PRESENCE_NODE = "urn:xmpp:mix:nodes:presence"
PRESENCE = "urn:xmpp:mix:presence:0"
CHANNEL = f"coven@{SERVICE}"
ALL_NODES = (*NODES, PRESENCE_NODE)


def form(form_type: str, *fields: tuple[str, str]) -> str:
    body = "".join(f"<field var='{var}'><value>{value}</value></field>" for var, value in fields)
    return (
        f"<x xmlns='{XDATA}' type='submit'><field var='FORM_TYPE' type='hidden'>"
        f"<value>{form_type}</value></field>{body}</x>"
    )


async def configure(owner: Any, *fields: tuple[str, str]) -> None:
    await iq(
        owner,
        CHANNEL,
        f"<pubsub xmlns='{PUBSUB}'><publish node='{CONFIG}'><item>"
        f"{form(ADMIN, *fields)}</item></publish></pubsub>",
    )


async def set_preferences(xmpp: Any, *fields: tuple[str, str]) -> dict[str, str]:
    result = await iq(
        xmpp, CHANNEL, f"<user-preference xmlns='{ANON}'>{form(ANON, *fields)}</user-preference>"
    )
    return form_values(result.xml.find(f"{{{ANON}}}user-preference/{{{XDATA}}}x"))


def form_values(x: Any) -> dict[str, str]:
    assert x is not None
    return {
        f.get("var"): (f.findtext(f"{{{XDATA}}}value") or "")
        for f in x.findall(f"{{{XDATA}}}field")
        if f.get("var") != "FORM_TYPE"
    }


async def participant_jids(xmpp: Any) -> dict[str, str | None]:
    """nick -> real JID (None when hidden) from the participants node."""
    result = await iq(
        xmpp, CHANNEL, f"<pubsub xmlns='{PUBSUB}'><items node='{PARTICIPANTS}'/></pubsub>", "get"
    )
    shown: dict[str, str | None] = {}
    for entry in result.xml.iter(f"{{{PUBSUB}}}item"):
        participant = entry.find(f"{{{MIX}}}participant")
        assert participant is not None
        shown[participant.findtext(f"{{{MIX}}}nick") or ""] = participant.findtext(f"{{{MIX}}}jid")
    return shown


def mix_jid(message: Any) -> str | None:
    return message.xml.findtext(f"{{{MIX}}}mix/{{{MIX}}}jid")


async def muc_client(
    server: ServerHandle, name: str, password: str
) -> tuple[Any, FromService, FromService]:
    """A MUC client of an existing user, recording what the service sends."""
    xmpp = await server.client(f"{name}@localhost/muc", password, plugins=MUC_PLUGINS)
    presences, messages = FromService(xmpp, "presence"), FromService(xmpp, "message")
    await sync(xmpp)
    return xmpp, presences, messages


async def make_witches(server: ServerHandle) -> tuple[Any, ...]:
    """hag66 owns the coven; hecate and greymalkin are users of the server."""
    for name in ("hag66", "hecate", "greymalkin"):
        await server.add_user(f"{name}@localhost", f"pw-{name}")
    clients = []
    for name in ("hag66", "hecate", "greymalkin"):
        xmpp = await mix_client(server, f"{name}@localhost/r", f"pw-{name}")
        for plugin in MAM_PLUGINS:
            xmpp.register_plugin(plugin)
        clients.append(xmpp)
    await create(clients[0], "coven")
    return tuple(clients)
