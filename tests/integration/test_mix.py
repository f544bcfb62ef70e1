"""MIX-CORE end to end with slixmpp clients: discovery, create, join, nicks,
messages with attribution, the channel archive, leave and destroy."""

from __future__ import annotations

import pytest
from slixmpp.exceptions import IqError

from mixd.services.mix import lifecycle
from tests.helpers import TIMEOUT, ServerHandle
from tests.mix_client import MIX, MIX0, NODES, SERVICE, Inbox, child, create, iq, join, mix_client

PARTICIPANTS = "urn:xmpp:mix:nodes:participants"
PUBSUB = "http://jabber.org/protocol/pubsub"
STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
CHANNEL = f"coven@{SERVICE}"


@pytest.fixture
async def witches(server: ServerHandle) -> tuple[object, object, object]:
    for name in ("hag66", "hecate", "greymalkin"):
        await server.add_user(f"{name}@localhost", f"pw-{name}")
    return tuple(  # type: ignore[return-value]
        [
            await mix_client(server, f"{n}@localhost/r", f"pw-{n}")
            for n in ("hag66", "hecate", "greymalkin")
        ]
    )


async def test_service_discovery(witches: tuple) -> None:  # type: ignore[type-arg]
    hag = witches[0]
    info = await hag.plugin["xep_0030"].get_info(jid=SERVICE, timeout=TIMEOUT)
    features = set(info["disco_info"]["features"])
    assert {MIX, f"{MIX}#searchable", f"{MIX}#create-channel"} <= features
    # Also a MUC service (XEP-0408 fully integrated mode).
    identities = sorted(i[:2] for i in info["disco_info"]["identities"])
    assert identities == [("conference", "mix"), ("conference", "text")]
    # The server lists its MIX service.
    items = await hag.plugin["xep_0030"].get_items(jid="localhost", timeout=TIMEOUT)
    assert SERVICE in [item[0] for item in items["disco_items"]["items"]]


async def test_create_named_and_adhoc(witches: tuple) -> None:  # type: ignore[type-arg]
    hag = witches[0]
    await create(hag, "coven")
    with pytest.raises(IqError) as err:
        await create(hag, "coven")
    assert err.value.condition == "conflict"
    adhoc = await iq(hag, SERVICE, f"<create xmlns='{MIX}'/>")
    adhoc_name = child(adhoc, f"{{{MIX}}}create").get("channel")
    assert adhoc_name and "@" not in adhoc_name
    items = await hag.plugin["xep_0030"].get_items(jid=SERVICE, timeout=TIMEOUT)
    listed = [item[0] for item in items["disco_items"]["items"]]
    assert listed == [CHANNEL]  # the ad hoc channel is not discoverable


async def test_join_participants_and_notification(witches: tuple) -> None:  # type: ignore[type-arg]
    hag, hecate, _ = witches
    await create(hag, "coven")
    hag_id = await join(hag, CHANNEL, "third witch")
    assert hag_id and not set(hag_id) & set("#/@")
    events = Inbox(hag, "pubsub")
    hecate_id = await join(hecate, CHANNEL, "top witch")
    [note] = await events.wait(1)
    item = note.xml.find(
        "{http://jabber.org/protocol/pubsub#event}event/"
        "{http://jabber.org/protocol/pubsub#event}items/"
        "{http://jabber.org/protocol/pubsub#event}item"
    )
    assert item is not None and item.get("id") == hecate_id
    assert item.findtext(f"{{{MIX}}}participant/{{{MIX}}}nick") == "top witch"
    # The participants node lists both, and a rejoin keeps the same id.
    result = await iq(
        hecate,
        CHANNEL,
        f"<pubsub xmlns='{PUBSUB}'><items node='{PARTICIPANTS}'/></pubsub>",
        "get",
    )
    ids = {i.get("id") for i in result.xml.iter("{http://jabber.org/protocol/pubsub}item")}
    assert ids == {hag_id, hecate_id}
    assert await join(hag, CHANNEL, "third witch") == hag_id


@pytest.mark.parametrize(
    ("payload", "condition"),
    [
        (f"<join xmlns='{MIX}'><subscribe node='{NODES[0]}'/></join>", "not-acceptable"),
        (f"<join xmlns='{MIX}'><nick>third witch</nick></join>", "conflict"),
        (f"<join xmlns='{MIX}'><nick>Third Witch</nick></join>", "conflict"),
    ],
    ids=["no-nick", "duplicate-nick", "nick-differs-only-in-case"],
)
async def test_join_errors(witches: tuple, payload: str, condition: str) -> None:  # type: ignore[type-arg]
    hag, hecate, _ = witches
    await create(hag, "coven")
    await join(hag, CHANNEL, "third witch")
    with pytest.raises(IqError) as err:
        await iq(hecate, CHANNEL, payload)
    assert err.value.condition == condition


async def test_join_unknown_channel(witches: tuple) -> None:  # type: ignore[type-arg]
    with pytest.raises(IqError) as err:
        await join(witches[0], f"nowhere@{SERVICE}", "x")
    assert err.value.condition == "item-not-found"


async def test_messages_reach_every_participant_with_attribution(witches: tuple) -> None:  # type: ignore[type-arg]
    hag, hecate, grey = witches
    await create(hag, "coven")
    ids = [
        await join(x, CHANNEL, nick)
        for x, nick in ((hag, "third witch"), (hecate, "top witch"), (grey, "cat"))
    ]
    inboxes = [Inbox(x, kind="groupchat") for x in (hag, hecate, grey)]
    forged = (
        f"<mix xmlns='{MIX}'><nick>evil</nick><jid>evil@localhost</jid></mix>" * 2
        + f"<stanza-id xmlns='urn:xmpp:sid:0' id='fake' by='{CHANNEL}'/>"
    )
    hag.send_raw(
        f"<message to='{CHANNEL}' type='groupchat' id='92vax143g'>"
        f"<body>Harpier cries</body><origin-id xmlns='urn:xmpp:sid:0' id='o-1'/>{forged}</message>"
    )
    for inbox in inboxes:
        [message] = await inbox.wait(1)
        assert message["body"] == "Harpier cries"
        assert str(message["from"]) == f"{CHANNEL}/{ids[0]}"
        mixes = message.xml.findall(f"{{{MIX}}}mix")
        assert len(mixes) == 1
        assert mixes[0].findtext(f"{{{MIX}}}nick") == "third witch"
        assert mixes[0].findtext(f"{{{MIX}}}jid") == "hag66@localhost"
        sids = [
            (s.get("by"), s.get("id")) for s in message.xml.findall("{urn:xmpp:sid:0}stanza-id")
        ]
        # The channel's stanza-id, and (MIX-PAM) the one in the user's own archive.
        assert (CHANNEL, message["id"]) in sids and message["id"] != "fake"
        assert sorted(by for by, _ in sids) == sorted([CHANNEL, str(message["to"].bare)])
        assert message.xml.find("{urn:xmpp:sid:0}origin-id").get("id") == "o-1"
    # The channel archive has it, under the same id.
    page = await iq(hecate, CHANNEL, "<query xmlns='urn:xmpp:mam:2' queryid='q'/>")
    fin = child(page, "{urn:xmpp:mam:2}fin")
    assert fin.get("complete") == "true"
    assert (
        fin.findtext("{http://jabber.org/protocol/rsm}set/{http://jabber.org/protocol/rsm}first")
        == inboxes[1].items[0]["id"]
    )


async def test_non_participant_message_is_refused(witches: tuple) -> None:  # type: ignore[type-arg]
    hag, hecate, _ = witches
    await create(hag, "coven")
    await join(hag, CHANNEL, "third witch")
    errors = Inbox(hecate, "message_error")
    hecate.send_message(mto=CHANNEL, mbody="let me in", mtype="groupchat")
    [error] = await errors.wait(1)
    assert error["error"]["condition"] == "forbidden"
    page = await iq(hag, CHANNEL, "<query xmlns='urn:xmpp:mam:2'/>")
    assert (
        child(page, "{urn:xmpp:mam:2}fin").findtext(
            "{http://jabber.org/protocol/rsm}set/{http://jabber.org/protocol/rsm}count"
        )
        == "0"
    )


async def test_setnick_and_leave(witches: tuple) -> None:  # type: ignore[type-arg]
    hag, hecate, _ = witches
    await create(hag, "coven")
    await join(hag, CHANNEL, "third witch")
    hecate_id = await join(hecate, CHANNEL, "top witch")
    with pytest.raises(IqError) as err:
        await iq(hecate, CHANNEL, f"<setnick xmlns='{MIX}'><nick>third witch</nick></setnick>")
    assert err.value.condition == "conflict"
    renamed = await iq(hecate, CHANNEL, f"<setnick xmlns='{MIX}'><nick>queen</nick></setnick>")
    assert child(renamed, f"{{{MIX}}}setnick").findtext(f"{{{MIX}}}nick") == "queen"
    events = Inbox(hag, "pubsub")
    await iq(hecate, CHANNEL, f"<leave xmlns='{MIX}'/>")
    # The retraction is sent before the leave result, so it is already here.
    [note] = await events.wait(1)
    retract = note.xml.find(".//{http://jabber.org/protocol/pubsub#event}retract")
    assert retract is not None and retract.get("id") == hecate_id
    # Gone: hecate gets no more channel messages, hag still does.
    hecate_msgs, hag_msgs = Inbox(hecate, kind="groupchat"), Inbox(hag, kind="groupchat")
    hag.send_message(mto=CHANNEL, mbody="still here", mtype="groupchat")
    await hag_msgs.wait(1)
    await hecate.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)
    assert hecate_msgs.items == []


async def test_destroy_by_owner_only(witches: tuple) -> None:  # type: ignore[type-arg]
    hag, hecate, _ = witches
    await create(hag, "coven")
    with pytest.raises(IqError) as err:
        await iq(hecate, SERVICE, f"<destroy xmlns='{MIX}' channel='coven'/>")
    assert err.value.condition == "forbidden"
    await iq(hag, SERVICE, f"<destroy xmlns='{MIX}' channel='coven'/>")
    with pytest.raises(IqError) as gone:
        await join(hecate, CHANNEL, "top witch")
    assert gone.value.condition == "item-not-found"


async def test_info_node_owner_publishes_others_read(witches: tuple) -> None:  # type: ignore[type-arg]
    hag, hecate, _ = witches
    await create(hag, "coven")
    form = (
        "<x xmlns='jabber:x:data' type='submit'>"
        f"<field var='FORM_TYPE' type='hidden'><value>{MIX}</value></field>"
        "<field var='Name'><value>Witches Coven</value></field></x>"
    )
    publish = (
        "<pubsub xmlns='http://jabber.org/protocol/pubsub'>"
        f"<publish node='urn:xmpp:mix:nodes:info'><item>{form}</item></publish></pubsub>"
    )
    with pytest.raises(IqError) as err:
        await iq(hecate, CHANNEL, publish)
    assert err.value.condition == "forbidden"
    await iq(hag, CHANNEL, publish)
    info = await hecate.plugin["xep_0030"].get_info(jid=CHANNEL, timeout=TIMEOUT)
    assert {i[3] for i in info["disco_info"]["identities"]} == {"Witches Coven"}
    assert {MIX, "urn:xmpp:mam:2"} <= set(info["disco_info"]["features"])


async def test_core0_requests_are_answered_in_kind(witches: tuple) -> None:  # type: ignore[type-arg]
    hag = witches[0]
    created = await iq(hag, SERVICE, f"<create xmlns='{MIX0}' channel='coven'/>")
    assert child(created, f"{{{MIX0}}}create").get("channel") == "coven"
    joined = await iq(hag, CHANNEL, f"<join xmlns='{MIX0}'><nick>third witch</nick></join>")
    assert child(joined, f"{{{MIX0}}}join").get("id")


async def test_participant_id_is_stable_across_leave_and_rejoin(witches: tuple) -> None:  # type: ignore[type-arg]
    hag, hecate, _ = witches
    await create(hag, "coven")
    first = await join(hecate, CHANNEL, "top witch")
    await iq(hecate, CHANNEL, f"<leave xmlns='{MIX}'/>")
    assert await join(hecate, CHANNEL, "another nick") == first
    # Another user never gets that id; the id is not derived from the JID alone.
    other = await join(hag, CHANNEL, "third witch")
    assert other != first and "hecate" not in first


async def test_creation_policy_admins_only(server_factory: object) -> None:
    server: ServerHandle = await server_factory(  # type: ignore[operator]
        mix={"create_channel": "admins"}, server={"admins": ["boss@localhost"]}
    )
    await server.add_user("hag66@localhost", "pw")
    await server.add_user("boss@localhost", "pw-boss")
    hag = await mix_client(server, "hag66@localhost/r", "pw")
    boss = await mix_client(server, "boss@localhost/r", "pw-boss")
    info = await hag.plugin["xep_0030"].get_info(jid=SERVICE, timeout=TIMEOUT)
    assert f"{MIX}#create-channel" not in info["disco_info"]["features"]
    with pytest.raises(IqError) as err:
        await create(hag, "coven")
    assert err.value.condition == "forbidden"
    boss_info = await boss.plugin["xep_0030"].get_info(jid=SERVICE, timeout=TIMEOUT)
    assert f"{MIX}#create-channel" in boss_info["disco_info"]["features"]
    await create(boss, "coven")


async def test_channels_survive_a_restart(server_factory: object) -> None:
    server: ServerHandle = await server_factory()  # type: ignore[operator]
    await server.add_user("hag66@localhost", "pw")
    hag = await mix_client(server, "hag66@localhost/r", "pw")
    await create(hag, "coven")
    hag_id = await join(hag, CHANNEL, "third witch")
    hag.send_message(mto=CHANNEL, mbody="remember me", mtype="groupchat")
    count = "{http://jabber.org/protocol/rsm}set/{http://jabber.org/protocol/rsm}count"
    before = await iq(hag, CHANNEL, "<query xmlns='urn:xmpp:mam:2'/>")  # after the message
    assert child(before, "{urn:xmpp:mam:2}fin").findtext(count) == "1"
    await server.close()
    # A new server on the same data directory.
    await server.app.start()
    server.closed, server.clients = False, []
    again = await mix_client(server, "hag66@localhost/r2", "pw")
    result = await iq(
        again, CHANNEL, f"<pubsub xmlns='{PUBSUB}'><items node='{PARTICIPANTS}'/></pubsub>", "get"
    )
    assert [i.get("id") for i in result.xml.iter(f"{{{PUBSUB}}}item")] == [hag_id]
    after = await iq(again, CHANNEL, "<query xmlns='urn:xmpp:mam:2'/>")
    assert child(after, "{urn:xmpp:mam:2}fin").findtext(count) == "1"


async def test_participants_node_is_not_writable_through_pubsub(witches: tuple) -> None:  # type: ignore[type-arg]
    hag = witches[0]
    await create(hag, "coven")
    await join(hag, CHANNEL, "third witch")
    forged = (
        f"<pubsub xmlns='{PUBSUB}'><publish node='{PARTICIPANTS}'><item id='x'>"
        f"<participant xmlns='{MIX}'><nick>ghost</nick><jid>ghost@localhost</jid></participant>"
        "</item></publish></pubsub>"
    )
    with pytest.raises(IqError) as err:
        await iq(hag, CHANNEL, forged)  # even the owner may not
    assert err.value.condition == "forbidden"
    result = await iq(
        hag, CHANNEL, f"<pubsub xmlns='{PUBSUB}'><items node='{PARTICIPANTS}'/></pubsub>", "get"
    )
    nicks = [n.text for n in result.xml.iter(f"{{{MIX}}}nick")]
    assert nicks == ["third witch"]


async def test_channel_creation_flood_is_limited(
    server_factory: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lifecycle, "CREATIONS_PER_HOUR", 3)
    server: ServerHandle = await server_factory()  # type: ignore[operator]
    await server.add_user("hag66@localhost", "pw")
    await server.add_user("hecate@localhost", "pw-e")
    hag = await mix_client(server, "hag66@localhost/r", "pw")
    hecate = await mix_client(server, "hecate@localhost/r", "pw-e")
    for _ in range(3):
        await iq(hag, SERVICE, f"<create xmlns='{MIX}'/>")
    with pytest.raises(IqError) as err:
        await iq(hag, SERVICE, f"<create xmlns='{MIX}'/>")
    assert err.value.condition == "resource-constraint"
    await create(hecate, "coven")  # someone else is not affected


async def test_a_flooding_sender_is_slowed_alone(server_factory: object) -> None:
    """RELIABILITY D13: past its burst a sender's messages are refused with
    too-many-stanzas, neither archived nor reflected; others still speak."""
    server: ServerHandle = await server_factory(  # type: ignore[operator]
        mix={"message_rate": 0.001, "message_burst": 3}
    )
    await server.add_user("hag66@localhost", "pw")
    await server.add_user("hecate@localhost", "pw")
    hag = await mix_client(server, "hag66@localhost/r", "pw")
    hecate = await mix_client(server, "hecate@localhost/r", "pw")
    await create(hag, "coven")
    await join(hag, CHANNEL, "third witch")
    await join(hecate, CHANNEL, "top witch")
    reflected, errors = Inbox(hecate, kind="groupchat"), Inbox(hag, "message_error")
    for n in range(5):
        hag.send_message(mto=CHANNEL, mbody=f"flood {n}", mtype="groupchat")
    refused = await errors.wait(2)
    for error in refused:  # slixmpp does not know policy-violation (RFC 6120): read the XML
        assert error.xml.find(f".//{{{STANZAS}}}policy-violation") is not None
        assert error.xml.find(".//{urn:xmpp:errors}too-many-stanzas") is not None
    hecate.send_message(mto=CHANNEL, mbody="my turn", mtype="groupchat")
    got = await reflected.wait(4)
    assert [m["body"] for m in got] == [f"flood {n}" for n in range(3)] + ["my turn"]
    page = await iq(hag, CHANNEL, "<query xmlns='urn:xmpp:mam:2'/>")
    count = child(page, "{urn:xmpp:mam:2}fin").findtext(
        "{http://jabber.org/protocol/rsm}set/{http://jabber.org/protocol/rsm}count"
    )
    assert count == "4"
