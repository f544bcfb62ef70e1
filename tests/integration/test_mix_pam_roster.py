"""MIX-PAM and the roster (XEP-0405 5.1.9-5.1.10) with real clients: a
joined channel is a roster item pushed to the user's other resources,
annotated for clients that ask, never treated as a presence contact, and
gone after leave or account deletion."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from slixmpp.exceptions import IqError

from mixd.codec.stanza import Kind, Stanza
from mixd.storage.contracts.roster import Subscription
from tests.helpers import TIMEOUT, ServerHandle
from tests.integration.test_mix_admin import BANNED, config_publish, entry_publish
from tests.mix_client import MIX, SERVICE, Inbox, create, iq
from tests.pam_client import (
    MIX_ROSTER,
    PAM,
    channel_state,
    client_join,
    client_leave,
    pam_client,
)
from tests.roster_client import (
    ROSTER,
    item,
    next_event,
    push_for,
    roster_get,
    roster_set,
    sync,
    wait,
)

CHANNEL = f"coven@{SERVICE}"
OTHER = f"sabbath@{SERVICE}"


@pytest.fixture
async def users(server: ServerHandle) -> ServerHandle:
    for name in ("hag66", "hecate"):
        await server.add_user(f"{name}@localhost", f"pw-{name}")
    return server


def annotation(stanza: Any, jid: str) -> ET.Element | None:
    """The <channel/> annotation of `jid`'s item in a roster result or push."""
    for el in stanza.xml.iter(f"{{{ROSTER}}}item"):
        if el.get("jid") == jid:
            return el.find(f"{{{MIX_ROSTER}}}channel")
    raise AssertionError(f"no item {jid} in {stanza}")


async def name_channel(xmpp: Any, channel: str, name: str) -> None:
    form = (
        "<x xmlns='jabber:x:data' type='submit'>"
        f"<field var='FORM_TYPE' type='hidden'><value>{MIX}</value></field>"
        f"<field var='Name'><value>{name}</value></field></x>"
    )
    await iq(
        xmpp,
        channel,
        "<pubsub xmlns='http://jabber.org/protocol/pubsub'>"
        f"<publish node='urn:xmpp:mix:nodes:info'><item>{form}</item></publish></pubsub>",
    )


async def test_account_advertises_pam_and_archive(users: ServerHandle) -> None:
    hag = await pam_client(users, "hag66@localhost/r", "pw-hag66")
    assert await hag.plugin["xep_0405"].check_server_capability()
    info = await hag.plugin["xep_0030"].get_info(jid="hag66@localhost", timeout=TIMEOUT)
    features = [
        f.get("var") for f in info.xml.iter("{http://jabber.org/protocol/disco#info}feature")
    ]
    assert features.count(PAM) == 1 and features.count(f"{PAM}#archive") == 1


async def test_join_pushes_the_channel_annotated_only_where_asked(users: ServerHandle) -> None:
    desk = await pam_client(users, "hag66@localhost/desk", "pw-hag66")
    phone = await pam_client(users, "hag66@localhost/phone", "pw-hag66")
    plain = await pam_client(users, "hag66@localhost/plain", "pw-hag66")
    await create(desk, "coven")
    await name_channel(desk, CHANNEL, "Witches Coven")
    await phone.plugin["xep_0405"].get_mix_roster(timeout=TIMEOUT)  # with <annotate/>
    await roster_get(plain)  # without
    phone_push = next_event(phone, "roster_update", push_for(CHANNEL))
    plain_push = next_event(plain, "roster_update", push_for(CHANNEL))

    pid = await client_join(desk, CHANNEL, "third witch")

    pushed = await wait(phone_push)
    entry = pushed["roster"]["items"][CHANNEL]
    assert entry["subscription"] == "both" and entry["name"] == "Witches Coven"
    channel = annotation(pushed, CHANNEL)
    assert channel is not None and channel.get("participant-id") == pid
    assert annotation(await wait(plain_push), CHANNEL) is None
    # A roster get with <annotate/> shows it as a channel; one without does not.
    contacts, channels = await desk.plugin["xep_0405"].get_mix_roster(timeout=TIMEOUT)
    assert contacts == [] and [str(c["jid"]) for c in channels] == [CHANNEL]
    assert channels[0]["channel"]["participant-id"] == pid
    assert annotation(await roster_get(desk), CHANNEL) is None
    stored = await item(users, "hag66@localhost", CHANNEL)
    assert stored is not None and stored.subscription is Subscription.BOTH
    assert stored.mix_participant_id == pid


async def test_slixmpp_pam_plugin_joins_and_leaves(users: ServerHandle) -> None:
    hag = await pam_client(users, "hag66@localhost/r", "pw-hag66")
    await create(hag, "coven")
    failed = await hag.plugin["xep_0405"].join_channel(CHANNEL, "third witch", timeout=TIMEOUT)
    assert failed == set()
    _, channels = await hag.plugin["xep_0405"].get_mix_roster(timeout=TIMEOUT)
    assert [str(c["jid"]) for c in channels] == [CHANNEL]
    await hag.plugin["xep_0405"].leave_channel(CHANNEL, timeout=TIMEOUT)
    assert (await hag.plugin["xep_0405"].get_mix_roster(timeout=TIMEOUT))[1] == []


async def test_leave_pushes_the_removal(users: ServerHandle) -> None:
    desk = await pam_client(users, "hag66@localhost/desk", "pw-hag66")
    phone = await pam_client(users, "hag66@localhost/phone", "pw-hag66")
    await create(desk, "coven")
    await client_join(desk, CHANNEL, "third witch")
    await phone.plugin["xep_0405"].get_mix_roster(timeout=TIMEOUT)
    removed = next_event(
        phone, "roster_update", lambda p: p["type"] == "set" and CHANNEL in p["roster"]["items"]
    )
    await client_leave(desk, CHANNEL)
    push = await wait(removed)
    assert push["roster"]["items"][CHANNEL]["subscription"] == "remove"
    assert await item(users, "hag66@localhost", CHANNEL) is None
    state = await channel_state(users, CHANNEL)
    assert state is not None and "hag66@localhost" not in state.participants


async def test_leaving_a_vanished_channel_cleans_the_roster(users: ServerHandle) -> None:
    hag = await pam_client(users, "hag66@localhost/r", "pw-hag66")
    await create(hag, "coven")
    await client_join(hag, CHANNEL, "third witch")
    await iq(hag, SERVICE, f"<destroy xmlns='{MIX}' channel='coven'/>")
    with pytest.raises(IqError) as err:
        await client_leave(hag, CHANNEL)
    assert err.value.condition == "item-not-found"
    assert await item(users, "hag66@localhost", CHANNEL) is None


@pytest.mark.parametrize("how", ["destroyed", "banned"])
async def test_a_channel_gone_without_a_leave_leaves_no_item(users: ServerHandle, how: str) -> None:
    """Destroyed, or banned from it: the channel's item is removed (and
    pushed) at once, not at the user's next client-leave."""
    owner = await pam_client(users, "hecate@localhost/r", "pw-hecate")
    hag = await pam_client(users, "hag66@localhost/r", "pw-hag66")
    await create(owner, "coven")
    await client_join(hag, CHANNEL, "third witch")
    await hag.plugin["xep_0405"].get_mix_roster(timeout=TIMEOUT)  # an interested resource
    removed = next_event(
        hag, "roster_update", lambda p: p["type"] == "set" and CHANNEL in p["roster"]["items"]
    )
    if how == "destroyed":
        await iq(owner, SERVICE, f"<destroy xmlns='{MIX}' channel='coven'/>")
    else:
        await iq(owner, CHANNEL, config_publish(("Nodes Present", ("banned",))))
        await iq(owner, CHANNEL, entry_publish(BANNED, "hag66@localhost"))
    push = await wait(removed)
    assert push["roster"]["items"][CHANNEL]["subscription"] == "remove"
    assert await item(users, "hag66@localhost", CHANNEL) is None


async def test_channel_items_are_not_presence_contacts(users: ServerHandle) -> None:
    """No probe or subscription stanza reaches a joined channel (a MIX
    client's presence does: MIX-PRESENCE), subscription stanzas leave its
    item alone, and it is removed by leaving, not by a roster set."""
    assert users.app.server is not None
    router = users.app.server.router
    seen: list[Stanza] = []
    service = router.services[SERVICE]

    async def spy(stanza: Stanza) -> None:
        if stanza.kind is Kind.PRESENCE:
            seen.append(stanza)
        await service(stanza)

    router.services[SERVICE] = spy
    hag = await pam_client(users, "hag66@localhost/r", "pw-hag66")
    await create(hag, "coven")
    await client_join(hag, CHANNEL, "third witch")
    hag.send_presence(pstatus="brewing")  # broadcast
    await pam_client(users, "hag66@localhost/second", "pw-hag66")  # initial presence, probes
    for kind in ("unsubscribe", "unsubscribed", "subscribe"):
        hag.send_presence(pto=CHANNEL, ptype=kind)
    await sync(hag)
    assert [s.type for s in seen if s.type not in ("available", "unavailable")] == []
    assert all(s.sender.resource is not None or s.type == "available" for s in seen)
    stored = await item(users, "hag66@localhost", CHANNEL)
    assert stored is not None and stored.subscription is Subscription.BOTH
    assert stored.mix_participant_id is not None and not stored.ask
    with pytest.raises(IqError) as err:
        await roster_set(hag, f"<item jid='{CHANNEL}' subscription='remove'/>")
    assert err.value.condition == "not-allowed"


async def test_account_deletion_leaves_every_channel(users: ServerHandle) -> None:
    hag = await pam_client(users, "hag66@localhost/r", "pw-hag66")
    hecate = await pam_client(users, "hecate@localhost/r", "pw-hecate")
    for name in ("coven", "sabbath"):
        await create(hecate, name)
    for channel in (CHANNEL, OTHER):
        await client_join(hag, channel, "third witch")
    await client_join(hecate, CHANNEL, "top witch")
    retracted = Inbox(hecate, "pubsub")
    removal = hag.make_iq_set(ito="hag66@localhost")
    removal.append(ET.fromstring("<query xmlns='jabber:iq:register'><remove/></query>"))
    await removal.send(timeout=TIMEOUT)
    for channel in (CHANNEL, OTHER):
        state = await channel_state(users, channel)
        assert state is not None and "hag66@localhost" not in state.participants
    # Other participants saw hag go.
    [event] = await retracted.wait(1)
    assert event.xml.find(".//{http://jabber.org/protocol/pubsub#event}retract") is not None
