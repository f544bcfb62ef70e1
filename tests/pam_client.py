"""slixmpp clients for MIX-PAM tests: MIX-capable clients with the
xep_0369/xep_0405 plugins (and MAM), client-join as raw XML, and a look at
the server's own state for what the wire cannot show."""

from __future__ import annotations

import asyncio
from typing import Any

from slixmpp import ClientXMPP

from mixd.core.events import SessionClosed
from mixd.jid import JID
from mixd.services.mix.module import MixModule
from mixd.services.mix.state import ChannelState
from tests.helpers import TIMEOUT, ServerHandle
from tests.mix_client import MIX, NODES, PLUGINS, child, iq

PAM = "urn:xmpp:mix:pam:2"
MIX_ROSTER = "urn:xmpp:mix:roster:0"
SID = "urn:xmpp:sid:0"
PAM_PLUGINS = (*PLUGINS, "xep_0004", "xep_0059", "xep_0297", "xep_0369", "xep_0405")


async def pam_client(server: ServerHandle, jid: str, password: str) -> ClientXMPP:
    """Logged in, available, MIX in its caps, MIX-PAM and MAM plugins loaded."""
    xmpp = await server.client(jid, password, plugins=PAM_PLUGINS, presence=False)
    xmpp.plugin["xep_0030"].add_feature(MIX)
    await xmpp.plugin["xep_0115"].update_caps()
    xmpp.send_presence()
    await xmpp.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)
    return xmpp


async def plain_client(server: ServerHandle, jid: str, password: str) -> ClientXMPP:
    """Logged in and available, but without MIX in its disco features."""
    xmpp = await server.client(jid, password, plugins=("xep_0030", "xep_0115", "xep_0199"))
    await xmpp.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)
    return xmpp


def client_join_xml(channel: str, nick: str, nodes: tuple[str, ...] = NODES) -> str:
    subs = "".join(f"<subscribe node='{n}'/>" for n in nodes)
    return (
        f"<client-join xmlns='{PAM}' channel='{channel}'>"
        f"<join xmlns='{MIX}'>{subs}<nick>{nick}</nick></join></client-join>"
    )


async def client_join(xmpp: ClientXMPP, channel: str, nick: str) -> str:
    """client-join through the user's own server; the participant id."""
    result = await iq(xmpp, xmpp.boundjid.bare, client_join_xml(channel, nick))
    joined = child(result, f"{{{PAM}}}client-join").find(f"{{{MIX}}}join")
    assert joined is not None
    return joined.get("id") or ""


async def client_leave(xmpp: ClientXMPP, channel: str) -> Any:
    payload = (
        f"<client-leave xmlns='{PAM}' channel='{channel}'><leave xmlns='{MIX}'/></client-leave>"
    )
    return await iq(xmpp, xmpp.boundjid.bare, payload)


def stanza_ids(message: Any) -> dict[str, str]:
    """by -> id of a message's <stanza-id/>s."""
    return {el.get("by"): el.get("id") for el in message.xml.findall(f"{{{SID}}}stanza-id")}


async def channel_state(server: ServerHandle, channel: str) -> ChannelState | None:
    assert server.app.server is not None
    mix = server.app.server.registry.modules["mix"]
    assert isinstance(mix, MixModule)
    jid = JID.parse(channel)
    return await mix.services[jid.domain].channel(jid)


async def log_out(server: ServerHandle, xmpp: ClientXMPP) -> None:
    """Disconnect and wait until the server has ended the session."""
    assert server.app.server is not None
    hooks = server.app.server.hooks
    jid = JID.parse(str(xmpp.boundjid))
    closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def on_closed(event: SessionClosed) -> None:
        if event.session.jid == jid and not closed.done():
            closed.set_result(None)

    hooks.on(SessionClosed, on_closed)
    try:
        xmpp.disconnect()
        await asyncio.wait_for(closed, TIMEOUT)
    finally:
        hooks.off(SessionClosed, on_closed)
