"""slixmpp clients that speak MIX to a test server: they advertise
urn:xmpp:mix:core:1 in their caps (TESTING.md: slixmpp does not by itself),
and send MIX IQs as raw XML so the server, not a plugin, is under test."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from slixmpp import ClientXMPP
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from tests.helpers import TIMEOUT, ServerHandle

MIX = "urn:xmpp:mix:core:1"
MIX0 = "urn:xmpp:mix:core:0"
PUBSUB_EVENT = "http://jabber.org/protocol/pubsub#event"
SERVICE = "mix.localhost"
NODES = (
    "urn:xmpp:mix:nodes:messages",
    "urn:xmpp:mix:nodes:participants",
    "urn:xmpp:mix:nodes:info",
)
PLUGINS = ("xep_0030", "xep_0115", "xep_0199", "xep_0313")


async def mix_client(server: ServerHandle, jid: str, password: str) -> ClientXMPP:
    xmpp = await server.client(jid, password, plugins=PLUGINS, presence=False)
    xmpp.plugin["xep_0030"].add_feature(MIX)
    await xmpp.plugin["xep_0115"].update_caps()
    xmpp.send_presence()  # available, with caps that include MIX
    await xmpp.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)
    return xmpp


async def iq(xmpp: ClientXMPP, to: str, payload: str, kind: str = "set") -> Any:
    """Send an IQ with a raw payload; returns the result (raises IqError)."""
    request = xmpp.Iq()
    request["type"] = kind
    request["to"] = to
    request.append(ET.fromstring(payload))
    return await request.send(timeout=TIMEOUT)


def child(stanza: Any, tag: str) -> ET.Element:
    found = stanza.xml.find(tag)
    assert found is not None, str(stanza)
    return found


async def create(xmpp: ClientXMPP, name: str) -> None:
    await iq(xmpp, SERVICE, f"<create xmlns='{MIX}' channel='{name}'/>")


async def join(xmpp: ClientXMPP, channel: str, nick: str, nodes: tuple[str, ...] = NODES) -> str:
    """Join directly; returns the stable participant id."""
    subs = "".join(f"<subscribe node='{n}'/>" for n in nodes)
    result = await iq(xmpp, channel, f"<join xmlns='{MIX}'>{subs}<nick>{nick}</nick></join>")
    joined = child(result, f"{{{MIX}}}join")
    return joined.get("id") or ""


class Inbox:
    """Stanzas of one slixmpp event, in arrival order, with a bounded wait."""

    def __init__(self, xmpp: ClientXMPP, event: str = "message", kind: str | None = None) -> None:
        """`kind` keeps only messages of that type (e.g. "groupchat"). The
        event "pubsub" collects PubSub notifications, which slixmpp's
        "message" event skips (it wants a body)."""
        self.items: list[Any] = []
        self.kind = kind
        self._changed = asyncio.Event()
        if event == "pubsub":
            matcher = MatchXPath(f"{{jabber:client}}message/{{{PUBSUB_EVENT}}}event")
            xmpp.register_handler(Callback(f"pubsub-{id(self)}", matcher, self._add))
        else:
            xmpp.add_event_handler(event, self._add)

    def _add(self, stanza: Any) -> None:
        if self.kind is not None and stanza["type"] != self.kind:
            return
        self.items.append(stanza)
        self._changed.set()

    async def wait(self, count: int) -> list[Any]:
        async def wait() -> None:
            while len(self.items) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), TIMEOUT)
        return self.items


class FromService:
    """Stanzas of one kind (`presence`, `message`, ...) a client received
    from the MIX service, in order, whatever slixmpp makes of them."""

    def __init__(self, xmpp: ClientXMPP, kind: str, domain: str = SERVICE) -> None:
        self.items: list[Any] = []
        self.domain = domain
        self._changed = asyncio.Event()
        matcher = MatchXPath(f"{{jabber:client}}{kind}")
        xmpp.register_handler(Callback(f"from-service-{kind}-{id(self)}", matcher, self._add))

    def _add(self, stanza: Any) -> None:
        if stanza["from"].domain == self.domain:
            self.items.append(stanza)
            self._changed.set()

    async def until(self, match: Callable[[Any], bool]) -> Any:
        """The first stanza (received so far or later) that matches."""

        async def wait() -> Any:
            while True:
                found = next((s for s in self.items if match(s)), None)
                if found is not None:
                    return found
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(wait(), TIMEOUT)
