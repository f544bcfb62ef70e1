"""Nick registration with the MIX service (XEP-0407) end to end: register,
conflicts across the service (MIX join, setnick, MUC entering), joining
without a nick, renaming in the user's channels."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from slixmpp.exceptions import IqError, PresenceError

from tests.helpers import TIMEOUT, ServerHandle
from tests.mix_client import MIX, NODES, SERVICE, Inbox, create, iq, join, mix_client
from tests.pam_client import PAM, client_join_xml, pam_client

MISC = "urn:xmpp:mix:misc:0"
PARTICIPANTS = "urn:xmpp:mix:nodes:participants"
EVENT = "http://jabber.org/protocol/pubsub#event"
PUBSUB = "http://jabber.org/protocol/pubsub"
COVEN, SABBATH = f"coven@{SERVICE}", f"sabbath@{SERVICE}"


def register(nick: str | None, ns: str = MISC) -> str:
    inner = f"<nick>{nick}</nick>" if nick is not None else ""
    return f"<register xmlns='{ns}'>{inner}</register>"


def registered(result: Any, ns: str = MISC) -> str | None:
    found = result.xml.find(f"{{{ns}}}register")
    assert found is not None, str(result)
    return found.findtext(f"{{{ns}}}nick")


async def condition(call: Any) -> str:
    with pytest.raises(IqError) as caught:
        await call
    return str(caught.value.condition)


@pytest.fixture
async def witches(server: ServerHandle) -> tuple[Any, Any, Any]:
    clients = []
    for name in ("hag66", "hecate", "greymalkin"):
        await server.add_user(f"{name}@localhost", f"pw-{name}")
        clients.append(await mix_client(server, f"{name}@localhost/r", f"pw-{name}"))
    await create(clients[0], "coven")
    await create(clients[0], "sabbath")
    return tuple(clients)  # type: ignore[return-value]


async def test_register_and_conflicts(witches: tuple[Any, ...]) -> None:
    hag, hecate, _ = witches
    info = await hag.plugin["xep_0030"].get_info(jid=SERVICE)
    assert f"{MISC}#nick-register" in info["disco_info"]["features"]
    assert registered(await iq(hag, SERVICE, register(None), "get")) is None
    assert registered(await iq(hag, SERVICE, register("Third Witch"))) == "Third Witch"
    assert registered(await iq(hag, SERVICE, register(None), "get")) == "Third Witch"
    # Another user: the same nick, case-mapped, is taken.
    assert await condition(iq(hecate, SERVICE, register("third witch"))) == "conflict"
    # A bad nick is refused as a channel nick would be.
    assert await condition(iq(hecate, SERVICE, register("x" * 65))) == "not-acceptable"
    # Without a nick the service assigns one (a UUID).
    assigned = registered(await iq(hecate, SERVICE, register(None)))
    assert assigned and re.fullmatch(r"[0-9a-f-]{36}", assigned)
    # Re-registering changes one's own registration and frees the old nick.
    assert registered(await iq(hag, SERVICE, register("Hag"))) == "Hag"
    assert registered(await iq(hecate, SERVICE, register("Third Witch"))) == "Third Witch"
    # The older draft's namespace is answered in kind.
    result = await iq(hag, SERVICE, register(None, MIX), "get")
    assert registered(result, MIX) == "Hag"


async def test_registered_nick_is_used_and_protected(witches: tuple[Any, ...]) -> None:
    hag, hecate, grey = witches
    await iq(hag, SERVICE, register("Third Witch"))
    # Joining without a nick takes the registered one.
    result = await iq(hag, COVEN, f"<join xmlns='{MIX}'><subscribe node='{NODES[0]}'/></join>")
    assert result.xml.findtext(f"{{{MIX}}}join/{{{MIX}}}nick") == "Third Witch"
    # Nobody else gets it, in any channel, by join or setnick.
    assert await condition(join(hecate, SABBATH, "THIRD WITCH")) == "conflict"
    await join(hecate, SABBATH, "hecate")
    setnick = f"<setnick xmlns='{MIX}'><nick>third witch</nick></setnick>"
    assert await condition(iq(hecate, SABBATH, setnick)) == "conflict"
    # The owner of the registration may use it anywhere.
    await join(hag, SABBATH, "Third Witch")
    # Without a registration a join still needs a nick.
    no_nick = f"<join xmlns='{MIX}'><subscribe node='{NODES[0]}'/></join>"
    assert await condition(iq(grey, COVEN, no_nick)) == "not-acceptable"


async def test_join_through_pam_uses_the_registered_nick(server: ServerHandle) -> None:
    await server.add_user("hag66@localhost", "pw-hag66")
    hag = await pam_client(server, "hag66@localhost/r", "pw-hag66")
    await create(hag, "coven")
    await iq(hag, SERVICE, register("Third Witch"))
    payload = client_join_xml(COVEN, "x").replace("<nick>x</nick>", "")
    result = await iq(hag, "hag66@localhost", payload)
    join_el = result.xml.find(f"{{{PAM}}}client-join/{{{MIX}}}join")
    assert join_el is not None and join_el.findtext(f"{{{MIX}}}nick") == "Third Witch"


async def test_registering_renames_in_every_channel(witches: tuple[Any, ...]) -> None:
    hag, hecate, grey = witches
    await join(hag, COVEN, "hag")
    await join(hag, SABBATH, "hag")
    await join(hecate, COVEN, "hecate", (*NODES,))
    await join(grey, SABBATH, "Crone")  # holds the nick in sabbath before it is registered
    events = Inbox(hecate, "pubsub")
    await iq(hag, SERVICE, register("Crone"))
    [note] = await events.wait(1)
    item = note.xml.find(f".//{{{EVENT}}}items[@node='{PARTICIPANTS}']/{{{EVENT}}}item")
    assert item is not None and item.findtext(f"{{{MIX}}}participant/{{{MIX}}}nick") == "Crone"
    nicks = {}
    for channel in (COVEN, SABBATH):
        items = f"<pubsub xmlns='{PUBSUB}'><items node='{PARTICIPANTS}'/></pubsub>"
        result = await iq(hag, channel, items, "get")
        nicks[channel] = sorted(
            p.findtext(f"{{{MIX}}}nick") or "" for p in result.xml.iter(f"{{{MIX}}}participant")
        )
    assert nicks[COVEN] == ["Crone", "hecate"]
    assert nicks[SABBATH] == ["Crone", "hag"]  # greymalkin kept it; hag's stays there


@pytest.mark.parametrize("nick", ["third witch", "Third Witch"])
async def test_muc_entering_with_a_registered_nick_is_conflict(
    server: ServerHandle, nick: str
) -> None:
    for name in ("hag66", "hecate"):
        await server.add_user(f"{name}@localhost", f"pw-{name}")
    hag = await mix_client(server, "hag66@localhost/r", "pw-hag66")
    await create(hag, "coven")
    await iq(hag, SERVICE, register("Third Witch"))
    hecate = await server.client(
        "hecate@localhost/muc", "pw-hecate", plugins=("xep_0030", "xep_0045", "xep_0199")
    )
    muc = hecate.plugin["xep_0045"]
    with pytest.raises(PresenceError) as err:
        await muc.join_muc_wait(COVEN, nick, maxstanzas=0, timeout=TIMEOUT)
    assert err.value.condition == "conflict"
    await muc.join_muc_wait(COVEN, "hecate", maxstanzas=0, timeout=TIMEOUT)


async def test_account_removal_releases_the_nick(witches: tuple[Any, ...]) -> None:
    hag, hecate, _ = witches
    await iq(hag, SERVICE, register("Third Witch"))
    assert await condition(iq(hecate, SERVICE, register("Third Witch"))) == "conflict"
    removal = hag.make_iq_set(ito="hag66@localhost")
    removal.append(ET.fromstring("<query xmlns='jabber:iq:register'><remove/></query>"))
    await removal.send(timeout=TIMEOUT)
    assert registered(await iq(hecate, SERVICE, register("Third Witch"))) == "Third Witch"


async def test_registrations_are_rate_limited(witches: tuple[Any, ...]) -> None:
    grey = witches[2]
    for n in range(5):
        await iq(grey, SERVICE, register(f"cat {n}"))
    assert await condition(iq(grey, SERVICE, register("cat 5"))) == "resource-constraint"
    assert registered(await iq(grey, SERVICE, register(None), "get")) == "cat 4"
