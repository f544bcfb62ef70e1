"""XEP-0163 PEP with slixmpp clients doing what mainstream clients do on
connect: nicknames (XEP-0172), avatars (XEP-0084), bookmarks (XEP-0402),
OMEMO device lists; notifications filtered by caps `+notify` and by the
node's access model."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

import pytest
from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError

from tests.helpers import TIMEOUT, ServerHandle
from tests.roster_client import add_users, befriend, collect, next_event, sync, wait

PUBSUB = "http://jabber.org/protocol/pubsub"
OWNER = PUBSUB + "#owner"
ERRORS = PUBSUB + "#errors"
NICK = "http://jabber.org/protocol/nick"
METADATA = "urn:xmpp:avatar:metadata"
BOOKMARKS = "urn:xmpp:bookmarks:1"
DEVICELIST = "eu.siacs.conversations.axolotl.devicelist"
OMEMO2_DEVICES = "urn:xmpp:omemo:2:devices"
OMEMO2_BUNDLES = "urn:xmpp:omemo:2:bundles"
PEP_PLUGINS = ("xep_0030", "xep_0060", "xep_0115", "xep_0163", "xep_0172", "xep_0084", "xep_0199")
PLAIN_PLUGINS = ("xep_0030", "xep_0060", "xep_0115", "xep_0199")


@pytest.fixture
async def users(server: ServerHandle) -> ServerHandle:
    """alice and bob share presence; carol is a stranger to both."""
    await add_users(server)
    await befriend(server, "alice@localhost", "bob@localhost")
    return server


async def connect(
    server: ServerHandle,
    jid: str,
    *,
    plugins: tuple[str, ...] = PEP_PLUGINS,
    notify: tuple[str, ...] = (),
) -> ClientXMPP:
    """An available client whose caps advertise `<node>+notify` for every
    node in `notify` (and, with the default plugins, nick and avatar
    metadata), presence sent and handled."""
    user = jid.partition("@")[0]
    xmpp = await server.client(jid, f"pw-{user}", plugins=plugins, presence=False)
    xmpp.auto_authorize = None
    xmpp.auto_subscribe = False
    for node in notify:
        xmpp.plugin["xep_0030"].add_feature(f"{node}+notify")
    await xmpp.plugin["xep_0115"].update_caps(broadcast=False)
    await xmpp.get_roster(timeout=TIMEOUT)
    xmpp.send_presence()
    await sync(xmpp)
    return xmpp


async def iq(xmpp: ClientXMPP, kind: str, xml: str, to: str | None = None) -> ET.Element:
    """Send a raw IQ; its answer's payload element (or the IQ when empty)."""
    stanza = xmpp.make_iq_get(ito=to) if kind == "get" else xmpp.make_iq_set(ito=to)
    stanza.append(ET.fromstring(xml))
    answer = await stanza.send(timeout=TIMEOUT)
    children = list(answer.xml)
    return children[0] if children else answer.xml


async def iq_error(xmpp: ClientXMPP, kind: str, xml: str, to: str | None = None) -> tuple[str, str]:
    """(condition, pubsub#errors condition or '') of the error answer."""
    with pytest.raises(IqError) as info:
        await iq(xmpp, kind, xml, to)
    error = info.value.iq.xml.find("{jabber:client}error")
    assert error is not None
    app = [c.tag.split("}")[1] for c in error if c.tag.startswith("{" + ERRORS)]
    return info.value.condition, app[0] if app else ""


def publish_xml(node: str, payload: str, item_id: str | None = None, **options: str) -> str:
    item = f"<item id='{item_id}'>" if item_id else "<item>"
    form = ""
    if options:
        fields = "".join(
            f"<field var='pubsub#{k}'><value>{v}</value></field>" for k, v in options.items()
        )
        form = (
            "<publish-options><x xmlns='jabber:x:data' type='submit'>"
            "<field var='FORM_TYPE' type='hidden'>"
            f"<value>{PUBSUB}#publish-options</value></field>{fields}</x></publish-options>"
        )
    publish = f"<publish node='{node}'>{item}{payload}</item></publish>"
    return f"<pubsub xmlns='{PUBSUB}'>{publish}{form}</pubsub>"


def items_xml(node: str, *ids: str, max_items: int | None = None) -> str:
    attr = f" max_items='{max_items}'" if max_items else ""
    wanted = "".join(f"<item id='{i}'/>" for i in ids)
    return f"<pubsub xmlns='{PUBSUB}'><items node='{node}'{attr}>{wanted}</items></pubsub>"


def item_ids(result: ET.Element) -> list[str | None]:
    return [i.get("id") for i in result.iter(f"{{{PUBSUB}}}item")]


def on_node(node: str) -> Any:
    return lambda msg: msg["pubsub_event"]["items"]["node"] == node


def bookmark(name: str) -> str:
    return f"<conference xmlns='{BOOKMARKS}' name='{name}' autojoin='true'/>"


# -- discovery ---------------------------------------------------------------------


async def test_account_advertises_pep(users: ServerHandle) -> None:
    alice = await connect(users, "alice@localhost/phone")
    info = await alice.plugin["xep_0030"].get_info("alice@localhost", timeout=TIMEOUT)
    identities = {(i[0], i[1]) for i in info["disco_info"]["identities"]}
    assert {("account", "registered"), ("pubsub", "pep")} <= identities
    features = set(info["disco_info"]["features"])
    for feature in ("publish", "publish-options", "auto-create", "retrieve-items"):
        assert f"{PUBSUB}#{feature}" in features
    for feature in ("access-presence", "access-open", "access-whitelist", "last-published"):
        assert f"{PUBSUB}#{feature}" in features
    assert f"{PUBSUB}#filtered-notifications" in features
    await alice.plugin["xep_0172"].publish_nick("Alice", timeout=TIMEOUT)
    items = await alice.plugin["xep_0030"].get_items("alice@localhost", timeout=TIMEOUT)
    assert [(i[0], i[1]) for i in items["disco_items"]["items"]] == [("alice@localhost", NICK)]


# -- notifications -------------------------------------------------------------------


async def test_nick_reaches_contacts_that_asked_for_it(users: ServerHandle) -> None:
    alice = await connect(users, "alice@localhost/phone")
    bob = await connect(users, "bob@localhost/desk")
    bob_plain = await connect(users, "bob@localhost/plain", plugins=PLAIN_PLUGINS)
    carol = await connect(users, "carol@localhost/x")
    own = next_event(alice, "user_nick_publish")
    got = next_event(bob, "user_nick_publish")
    plain_events, carol_events = collect(bob_plain, "message"), collect(carol, "message")

    result = await alice.plugin["xep_0172"].publish_nick("Alice", timeout=TIMEOUT)
    assert result["pubsub"]["publish"]["item"]["id"] == "current"
    msg = await wait(got)
    assert str(msg["from"]) == "alice@localhost"  # the owner's bare JID (4.3.1)
    assert str(msg["to"]) == "bob@localhost/desk"
    assert msg["type"] == "headline"
    assert msg.xml.find(f".//{{{NICK}}}nick").text == "Alice"
    await wait(own)  # the owner's resources get it too
    await sync(bob_plain, carol)
    assert plain_events == []  # no nick+notify in its caps
    assert carol_events == []  # not subscribed to alice's presence


async def test_avatar_metadata_notification(users: ServerHandle) -> None:
    alice = await connect(users, "alice@localhost/phone")
    bob = await connect(users, "bob@localhost/desk")
    got = next_event(bob, "avatar_metadata_publish")
    info = {"id": "a" * 40, "type": "image/png", "bytes": "1234", "height": "64", "width": "64"}
    await alice.plugin["xep_0084"].publish_avatar_metadata(info, timeout=TIMEOUT)
    msg = await wait(got)
    meta = msg["pubsub_event"]["items"]["item"]
    assert meta["id"] == "a" * 40
    assert msg.xml.find(f".//{{{METADATA}}}info").get("bytes") == "1234"


async def test_contact_coming_online_gets_the_last_item(users: ServerHandle) -> None:
    alice = await connect(users, "alice@localhost/phone")
    await alice.plugin["xep_0172"].publish_nick("Old", timeout=TIMEOUT)
    await alice.plugin["xep_0172"].publish_nick("Alice", timeout=TIMEOUT)
    # Connected but not yet available: nothing until initial presence.
    bob = await users.client("bob@localhost/desk", "pw-bob", plugins=PEP_PLUGINS, presence=False)
    await bob.plugin["xep_0115"].update_caps(broadcast=False)
    got = next_event(bob, "user_nick_publish")
    bob.send_presence()
    msg = await wait(got)
    assert str(msg["from"]) == "alice@localhost"
    assert msg.xml.find(f".//{{{NICK}}}nick").text == "Alice"
    assert msg.xml.find("{urn:xmpp:delay}delay") is not None  # a late delivery
    # Later presence from the same resource does not send it again (4.3.2).
    again = collect(bob, "user_nick_publish")
    bob.send_presence(pstatus="still here")
    await sync(bob)
    mark = next_event(bob, "user_nick_publish")
    await alice.plugin["xep_0172"].publish_nick("Alice2", timeout=TIMEOUT)
    await wait(mark)
    assert len(again) == 1  # only the new publication


async def test_stranger_coming_online_gets_nothing(users: ServerHandle) -> None:
    alice = await connect(users, "alice@localhost/phone")
    await alice.plugin["xep_0172"].publish_nick("Alice", timeout=TIMEOUT)
    carol = await users.client("carol@localhost/x", "pw-carol", plugins=PEP_PLUGINS, presence=False)
    await carol.plugin["xep_0115"].update_caps(broadcast=False)
    events = collect(carol, "user_nick_publish")
    # Her own nick proves the server has handled her presence and caps.
    own = next_event(carol, "user_nick_publish")
    await carol.plugin["xep_0172"].publish_nick("Carol", timeout=TIMEOUT)
    carol.send_presence()
    await wait(own)
    await sync(carol)
    assert [str(m["from"]) for m in events] == ["carol@localhost"]


async def test_new_subscriber_gets_the_last_item(users: ServerHandle) -> None:
    carol = await connect(users, "carol@localhost/x")
    await carol.plugin["xep_0172"].publish_nick("Carol", timeout=TIMEOUT)
    bob = await connect(users, "bob@localhost/desk")
    request = next_event(carol, "presence_subscribe")
    bob.send_presence_subscription(pto="carol@localhost")
    await wait(request)
    got = next_event(bob, "user_nick_publish", lambda m: str(m["from"]) == "carol@localhost")
    carol.send_presence_subscription(pto="bob@localhost", ptype="subscribed")
    msg = await wait(got)
    assert msg.xml.find(f".//{{{NICK}}}nick").text == "Carol"


async def test_retract_notifies(users: ServerHandle) -> None:
    alice = await connect(users, "alice@localhost/phone")
    bob = await connect(users, "bob@localhost/desk", notify=(OMEMO2_BUNDLES,))
    bundle = "<bundle xmlns='urn:xmpp:omemo:2'><spk id='1'>AAAA</spk></bundle>"
    published = next_event(bob, "pubsub_publish", on_node(OMEMO2_BUNDLES))
    await iq(alice, "set", publish_xml(OMEMO2_BUNDLES, bundle, "1234", max_items="max"))
    await wait(published)
    retracted = next_event(bob, "pubsub_retract", on_node(OMEMO2_BUNDLES))
    retract = (
        f"<pubsub xmlns='{PUBSUB}'><retract node='{OMEMO2_BUNDLES}' notify='true'>"
        "<item id='1234'/></retract></pubsub>"
    )
    await iq(alice, "set", retract)
    msg = await wait(retracted)
    assert msg["pubsub_event"]["items"]["retract"]["id"] == "1234"
    assert item_ids(await iq(alice, "get", items_xml(OMEMO2_BUNDLES))) == []
    assert await iq_error(alice, "set", retract) == ("item-not-found", "")


# -- bookmarks: whitelist, max_items max ---------------------------------------------


async def test_bookmarks_stay_with_the_owner(users: ServerHandle) -> None:
    phone = await connect(users, "alice@localhost/phone", notify=(BOOKMARKS,))
    laptop = await connect(users, "alice@localhost/laptop", notify=(BOOKMARKS,))
    bob = await connect(users, "bob@localhost/desk", notify=(BOOKMARKS,))
    bob_events = collect(bob, "message")
    options = {
        "persist_items": "true",
        "max_items": "max",
        "send_last_published_item": "never",
        "access_model": "whitelist",
    }
    got = next_event(laptop, "pubsub_publish", on_node(BOOKMARKS))
    room = "room@mix.localhost"
    await iq(phone, "set", publish_xml(BOOKMARKS, bookmark("Room"), room, **options))
    msg = await wait(got)
    assert msg["pubsub_event"]["items"]["item"]["id"] == room
    await iq(
        phone, "set", publish_xml(BOOKMARKS, bookmark("Other"), "other@mix.localhost", **options)
    )
    await sync(bob)
    assert bob_events == []
    result = await iq(laptop, "get", items_xml(BOOKMARKS))
    assert item_ids(result) == [room, "other@mix.localhost"]  # max_items max keeps both
    denied = await iq_error(bob, "get", items_xml(BOOKMARKS), to="alice@localhost")
    assert denied == ("not-allowed", "closed-node")
    # send_last_published_item never: a new resource does not get them.
    tablet = await connect(users, "alice@localhost/tablet", notify=(BOOKMARKS,))
    nick = next_event(tablet, "user_nick_publish")
    tablet_bookmarks = collect(tablet, "pubsub_publish")
    await phone.plugin["xep_0172"].publish_nick("Alice", timeout=TIMEOUT)
    await wait(nick)
    assert [m["pubsub_event"]["items"]["node"] for m in tablet_bookmarks] == [NICK]


async def test_publish_options_mismatch(users: ServerHandle) -> None:
    alice = await connect(users, "alice@localhost/phone")
    await iq(alice, "set", publish_xml(BOOKMARKS, bookmark("A"), "a", access_model="whitelist"))
    clash = publish_xml(BOOKMARKS, bookmark("B"), "b", access_model="open")
    assert await iq_error(alice, "set", clash) == ("conflict", "precondition-not-met")
    unknown = publish_xml(BOOKMARKS, bookmark("B"), "b", made_up_option="1")
    assert await iq_error(alice, "set", unknown) == ("conflict", "precondition-not-met")
    assert item_ids(await iq(alice, "get", items_xml(BOOKMARKS))) == ["a"]
    # The way clients recover: reconfigure the node, publish again.
    form = await iq(
        alice, "get", f"<pubsub xmlns='{OWNER}'><configure node='{BOOKMARKS}'/></pubsub>"
    )
    fields = {
        f.get("var"): f.findtext("{jabber:x:data}value") for f in form.iter("{jabber:x:data}field")
    }
    assert fields["pubsub#access_model"] == "whitelist"
    assert fields["pubsub#max_items"] == "1"
    configure = (
        f"<pubsub xmlns='{OWNER}'><configure node='{BOOKMARKS}'>"
        "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
        f"<value>{PUBSUB}#node_config</value></field>"
        "<field var='pubsub#max_items'><value>max</value></field></x></configure></pubsub>"
    )
    await iq(alice, "set", configure)
    ok = publish_xml(BOOKMARKS, bookmark("B"), "b", access_model="whitelist", max_items="max")
    await iq(alice, "set", ok)
    assert item_ids(await iq(alice, "get", items_xml(BOOKMARKS))) == ["a", "b"]


# -- access models for retrieval -----------------------------------------------------


async def test_device_list_is_open_to_strangers(users: ServerHandle) -> None:
    alice = await connect(users, "alice@localhost/phone")
    carol = await connect(users, "carol@localhost/x")
    legacy = "<list xmlns='eu.siacs.conversations.axolotl'><device id='1234'/></list>"
    await iq(alice, "set", publish_xml(DEVICELIST, legacy, "current", access_model="open"))
    devices = "<devices xmlns='urn:xmpp:omemo:2'><device id='1234'/></devices>"
    await iq(alice, "set", publish_xml(OMEMO2_DEVICES, devices, "current", access_model="open"))
    for node, ns in (
        (DEVICELIST, "eu.siacs.conversations.axolotl"),
        (OMEMO2_DEVICES, "urn:xmpp:omemo:2"),
    ):
        result = await iq(carol, "get", items_xml(node), to="alice@localhost")
        assert item_ids(result) == ["current"]
        assert result.find(f".//{{{ns}}}device").get("id") == "1234"
    # The nick node has the default access model: presence.
    await alice.plugin["xep_0172"].publish_nick("Alice", timeout=TIMEOUT)
    denied = await iq_error(carol, "get", items_xml(NICK), to="alice@localhost")
    assert denied == ("not-authorized", "presence-subscription-required")
    bob = await connect(users, "bob@localhost/desk")
    result = await iq(bob, "get", items_xml(NICK), to="alice@localhost")
    assert result.find(f".//{{{NICK}}}nick").text == "Alice"
    missing = await iq_error(carol, "get", items_xml("urn:none"), to="alice@localhost")
    assert missing == ("item-not-found", "")


async def test_items_by_id_and_most_recent(users: ServerHandle) -> None:
    alice = await connect(users, "alice@localhost/phone")
    for n in range(3):
        payload = f"<bundle xmlns='urn:xmpp:omemo:2'><spk id='{n}'/></bundle>"
        await iq(alice, "set", publish_xml(OMEMO2_BUNDLES, payload, f"d{n}", max_items="max"))
    assert item_ids(await iq(alice, "get", items_xml(OMEMO2_BUNDLES, max_items=2))) == ["d1", "d2"]
    assert item_ids(await iq(alice, "get", items_xml(OMEMO2_BUNDLES, "d0"))) == ["d0"]
    no_item = await iq_error(alice, "get", items_xml(OMEMO2_BUNDLES, "nope"))
    assert no_item == ("item-not-found", "")


async def test_only_the_owner_publishes_and_manages(users: ServerHandle) -> None:
    alice = await connect(users, "alice@localhost/phone")
    bob = await connect(users, "bob@localhost/desk")
    await alice.plugin["xep_0172"].publish_nick("Alice", timeout=TIMEOUT)
    forged = publish_xml(NICK, f"<nick xmlns='{NICK}'>Mallory</nick>")
    assert await iq_error(bob, "set", forged, to="alice@localhost") == ("forbidden", "")
    delete = f"<pubsub xmlns='{OWNER}'><delete node='{NICK}'/></pubsub>"
    assert await iq_error(bob, "set", delete, to="alice@localhost") == ("forbidden", "")
    subscribe = f"<pubsub xmlns='{PUBSUB}'><subscribe node='{NICK}' jid='bob@localhost'/></pubsub>"
    condition = await iq_error(bob, "set", subscribe, to="alice@localhost")
    assert condition == ("feature-not-implemented", "unsupported")
    # The owner deletes the node; contacts that asked for it hear of it.
    deleted = next_event(bob, "pubsub_delete")
    await iq(alice, "set", delete)
    assert (await wait(deleted))["pubsub_event"]["delete"]["node"] == NICK
    assert await iq_error(alice, "get", items_xml(NICK)) == ("item-not-found", "")
    assert await iq_error(alice, "set", delete) == ("item-not-found", "")


async def test_create_configure_and_default(users: ServerHandle) -> None:
    alice = await connect(users, "alice@localhost/phone")
    carol = await connect(users, "carol@localhost/x")
    default = await iq(alice, "get", f"<pubsub xmlns='{OWNER}'><default/></pubsub>")
    values = {
        f.get("var"): f.findtext("{jabber:x:data}value")
        for f in default.iter("{jabber:x:data}field")
    }
    assert values["pubsub#access_model"] == "presence"
    assert values["pubsub#send_last_published_item"] == "on_sub_and_presence"
    create = (
        f"<pubsub xmlns='{PUBSUB}'><create node='urn:example:open'/><configure>"
        "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
        f"<value>{PUBSUB}#node_config</value></field>"
        "<field var='pubsub#access_model'><value>open</value></field></x></configure></pubsub>"
    )
    await iq(alice, "set", create)
    assert await iq_error(alice, "set", create) == ("conflict", "")
    empty = await iq(carol, "get", items_xml("urn:example:open"), to="alice@localhost")
    assert item_ids(empty) == []
    bad = create.replace("urn:example:open", "urn:example:bad").replace(">open<", ">authorize<")
    assert await iq_error(alice, "set", bad) == ("not-acceptable", "")
