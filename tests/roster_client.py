"""Helpers for roster and presence tests with slixmpp clients: bounded
waits for events, raw roster IQs, and direct access to the roster store."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree as ET

from slixmpp import ClientXMPP

from mixd.storage.contracts.roster import RosterItem, RosterStore, Subscription
from tests.helpers import TIMEOUT, ServerHandle

ROSTER = "jabber:iq:roster"


async def add_users(server: ServerHandle, *names: str) -> None:
    for name in names or ("alice", "bob", "carol"):
        await server.add_user(f"{name}@localhost", f"pw-{name}")


def next_event(
    xmpp: ClientXMPP, event: str, match: Callable[[Any], bool] = lambda _: True
) -> asyncio.Future[Any]:
    """The next `event` whose payload satisfies `match`."""
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def handler(payload: Any) -> None:
        if not future.done() and match(payload):
            future.set_result(payload)
            xmpp.del_event_handler(event, handler)

    xmpp.add_event_handler(event, handler)
    return future


def collect(xmpp: ClientXMPP, event: str) -> list[Any]:
    got: list[Any] = []
    xmpp.add_event_handler(event, got.append)
    return got


async def wait(future: asyncio.Future[Any]) -> Any:
    return await asyncio.wait_for(future, TIMEOUT)


async def sync(*clients: ClientXMPP) -> None:
    """A ping round trip per client: everything the server sent each of them
    before answering has been received."""
    for xmpp in clients:
        await xmpp.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)


def from_(jid: str) -> Callable[[Any], bool]:
    return lambda stanza: str(stanza["from"]) == jid


def push_for(jid: str) -> Callable[[Any], bool]:
    """A roster push (iq set) about `jid`."""
    return lambda iq: iq["type"] == "set" and jid in iq["roster"]["items"]


async def roster_get(xmpp: ClientXMPP, ver: str | None = None) -> Any:
    iq = xmpp.make_iq_get()
    query = ET.Element(f"{{{ROSTER}}}query")
    if ver is not None:
        query.set("ver", ver)
    iq.append(query)
    return await iq.send(timeout=TIMEOUT)


async def roster_set(xmpp: ClientXMPP, *items: str, to: str | None = None) -> Any:
    iq = xmpp.make_iq_set(ito=to)
    query = ET.fromstring(f"<query xmlns='{ROSTER}'>{''.join(items)}</query>")
    iq.append(query)
    return await iq.send(timeout=TIMEOUT)


def store(server: ServerHandle) -> RosterStore:
    assert server.app.server is not None
    return server.app.server.stores.roster


async def item(server: ServerHandle, owner: str, contact: str) -> RosterItem | None:
    user, _, host = owner.partition("@")
    return await store(server).get(host, user, contact)


async def befriend(server: ServerHandle, a: str, b: str) -> None:
    """Mutual subscription, written straight to the store."""
    for owner, contact in ((a, b), (b, a)):
        user, _, host = owner.partition("@")
        both = RosterItem(contact, subscription=Subscription.BOTH)
        await store(server).update(host, user, contact, lambda _old, i=both: i)


async def login(
    server: ServerHandle, jid: str, *, presence: bool = True, roster: bool = True
) -> ClientXMPP:
    """A logged-in client that (by default) asked for the roster and is available.
    Subscription requests are left to each test."""
    user = jid.partition("@")[0]
    xmpp = await server.client(jid, f"pw-{user}", presence=False)
    xmpp.auto_authorize = None
    xmpp.auto_subscribe = False
    if roster:
        await xmpp.get_roster(timeout=TIMEOUT)
    if presence:
        xmpp.send_presence()
        await sync(xmpp)
    return xmpp
