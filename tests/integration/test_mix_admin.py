"""MIX-ADMIN (XEP-0406) end to end with slixmpp clients: the configuration
node, allowed and banned nodes, bans that take effect at once, and restart."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from slixmpp.exceptions import IqError

from tests.helpers import TIMEOUT, ServerHandle
from tests.mix_client import MIX, SERVICE, Inbox, create, iq, join, mix_client

PUBSUB = "http://jabber.org/protocol/pubsub"
EVENT = "http://jabber.org/protocol/pubsub#event"
XDATA = "jabber:x:data"
ADMIN = "urn:xmpp:mix:admin:0"
CONFIG = "urn:xmpp:mix:nodes:config"
ALLOWED = "urn:xmpp:mix:nodes:allowed"
BANNED = "urn:xmpp:mix:nodes:banned"
PARTICIPANTS = "urn:xmpp:mix:nodes:participants"
MESSAGES = "urn:xmpp:mix:nodes:messages"
CHANNEL = f"coven@{SERVICE}"


def items_get(node: str) -> str:
    return f"<pubsub xmlns='{PUBSUB}'><items node='{node}'/></pubsub>"


def config_publish(*fields: tuple[str, tuple[str, ...]], form_type: str = ADMIN) -> str:
    body = "".join(
        f"<field var='{var}'>" + "".join(f"<value>{v}</value>" for v in values) + "</field>"
        for var, values in fields
    )
    return (
        f"<pubsub xmlns='{PUBSUB}'><publish node='{CONFIG}'><item>"
        f"<x xmlns='{XDATA}' type='submit'><field var='FORM_TYPE' type='hidden'>"
        f"<value>{form_type}</value></field>{body}</x></item></publish></pubsub>"
    )


def entry_publish(node: str, jid: str) -> str:
    return f"<pubsub xmlns='{PUBSUB}'><publish node='{node}'><item id='{jid}'/></publish></pubsub>"


def entry_retract(node: str, jid: str) -> str:
    return f"<pubsub xmlns='{PUBSUB}'><retract node='{node}'><item id='{jid}'/></retract></pubsub>"


async def read_config(xmpp: Any) -> dict[str, list[str]]:
    result = await iq(xmpp, CHANNEL, items_get(CONFIG), "get")
    form = result.xml.find(f".//{{{PUBSUB}}}item/{{{XDATA}}}x")
    assert form is not None, str(result)
    return {
        f.get("var"): [v.text or "" for v in f.findall(f"{{{XDATA}}}value")]
        for f in form.findall(f"{{{XDATA}}}field")
    }


async def entries(xmpp: Any, node: str) -> list[str]:
    result = await iq(xmpp, CHANNEL, items_get(node), "get")
    return [i.get("id") for i in result.xml.iter(f"{{{PUBSUB}}}item")]


@pytest.fixture
async def witches(server: ServerHandle) -> tuple[Any, ...]:
    """hag66 owns the coven; hecate and greymalkin are users of the server."""
    for name in ("hag66", "hecate", "greymalkin"):
        await server.add_user(f"{name}@localhost", f"pw-{name}")
    clients = [
        await mix_client(server, f"{n}@localhost/r", f"pw-{n}")
        for n in ("hag66", "hecate", "greymalkin")
    ]
    await create(clients[0], "coven")
    clients[0].mixd_server = server  # for tests that drive the server directly
    return tuple(clients)


async def test_configuration_node_defaults_and_every_field(witches: tuple[Any, ...]) -> None:
    hag = witches[0]
    config = await read_config(hag)
    assert config["FORM_TYPE"] == [ADMIN]
    assert config["Owner"] == ["hag66@localhost"]
    assert config["Administrator"] == [] and config["End of Life"] == []
    assert config["Nodes Present"] == [
        "avatar",
        "banned",
        "information",
        "participants",
        "presence",
    ]
    assert config["Messages Node Subscription"] == ["participants"]
    assert config["Allowed Node Subscription"] == ["admins"]
    assert config["Configuration Node Access"] == ["owners"]
    assert config["Information Node Update Rights"] == ["admins"]
    assert config["Private Messages"] == ["true"] and config["Mandatory Nicks"] == ["true"]
    for var in (
        "Last Change Made By",
        "Presence Node Subscription",
        "Participants Node Subscription",
        "Information Node Subscription",
        "Banned Node Subscription",
        "Avatar Nodes Update Rights",
        "Open Presence",
        "Participants Must Provide Presence",
        "User Message Retraction",
        "Administrator Message Retraction Rights",
        "Participation Addition by Invitation from Participant",
        "JID Visibility",
    ):
        assert var in config


async def test_owner_changes_configuration_subscribers_are_told(
    witches: tuple[Any, ...],
) -> None:
    hag, hecate, _ = witches
    await join(hag, CHANNEL, "third witch", (MESSAGES, CONFIG))
    events = Inbox(hag, "pubsub")
    # XEP-0406's example "Modifying Channel Configuration" (its closing tags
    # corrected), with hecate as a second owner.
    result = await iq(
        hag,
        CHANNEL,
        config_publish(
            ("Owner", ("hag66@localhost", "hecate@localhost")),
            ("Messages Node Subscription", ("allowed",)),
            ("JID Visibility", ("jid-mandatory-visible",)),
            ("No Private Messages", ("true",)),
        ),
    )
    item_id = result.xml.find(f".//{{{PUBSUB}}}publish/{{{PUBSUB}}}item").get("id")
    assert item_id and item_id.endswith("Z")
    [note] = await events.wait(1)
    item = note.xml.find(f".//{{{EVENT}}}items[@node='{CONFIG}']/{{{EVENT}}}item")
    assert item is not None and item.get("id") == item_id
    config = await read_config(hecate)  # now an owner, so may read it
    assert config["Owner"] == ["hag66@localhost", "hecate@localhost"]
    assert config["Last Change Made By"] == ["hag66@localhost"]
    assert config["Messages Node Subscription"] == ["allowed"]
    assert config["Private Messages"] == ["false"]
    assert config["Administrator"] == []  # not in the form: unchanged


@pytest.mark.parametrize(
    ("field", "values", "named"),
    [
        ("Owner", (), "Owner"),
        ("Owner", ("not a jid@@",), "Owner"),
        ("Administrator", ("hecate@localhost/res",), "Administrator"),
        ("End of Life", ("next tuesday",), "End of Life"),
        ("Nodes Present", ("participants", "gallery"), "Nodes Present"),
        ("Messages Node Subscription", ("owners",), "Messages Node Subscription"),
        ("Open Presence", ("maybe",), "Open Presence"),
        ("Colour", ("red",), "Colour"),
    ],
)
async def test_bad_configuration_values(
    witches: tuple[Any, ...], field: str, values: tuple[str, ...], named: str
) -> None:
    hag = witches[0]
    with pytest.raises(IqError) as err:
        await iq(hag, CHANNEL, config_publish((field, values)))
    assert err.value.condition == "bad-request"
    assert named in err.value.text
    assert (await read_config(hag))["Owner"] == ["hag66@localhost"]


async def test_wrong_form_type_is_refused(witches: tuple[Any, ...]) -> None:
    with pytest.raises(IqError) as err:
        await iq(witches[0], CHANNEL, config_publish(form_type=MIX))
    assert err.value.condition == "bad-request" and "FORM_TYPE" in err.value.text


async def test_nodes_present_adds_and_removes_nodes(witches: tuple[Any, ...]) -> None:
    hag, hecate, _ = witches

    async def listed() -> set[str]:
        info = await hag.plugin["xep_0030"].get_items(jid=CHANNEL, node="mix", timeout=TIMEOUT)
        return {item[1] for item in info["disco_items"]["items"]}

    assert {ALLOWED} & await listed() == set()
    assert {CONFIG, BANNED, PARTICIPANTS} <= await listed()
    await iq(hag, CHANNEL, config_publish(("Nodes Present", ("allowed", "banned"))))
    assert {ALLOWED, BANNED} <= await listed()
    assert PARTICIPANTS not in await listed()
    with pytest.raises(IqError) as err:
        await iq(hag, CHANNEL, items_get(PARTICIPANTS), "get")
    assert err.value.condition == "item-not-found"
    # The allowed node is present and empty: only who it lists may join.
    with pytest.raises(IqError) as refused:
        await join(hecate, CHANNEL, "top witch")
    assert refused.value.condition == "forbidden"
    await iq(hag, CHANNEL, entry_publish(ALLOWED, "localhost"))
    await join(hecate, CHANNEL, "top witch")
    # Removing the allowed node removes its entries with it.
    await iq(hag, CHANNEL, config_publish(("Nodes Present", ("allowed", "participants"))))
    assert await entries(hag, ALLOWED) == ["localhost"]
    await iq(hag, CHANNEL, config_publish(("Nodes Present", ("participants",))))
    await iq(hag, CHANNEL, config_publish(("Nodes Present", ("allowed", "participants"))))
    assert await entries(hag, ALLOWED) == []


async def test_allowed_and_banned_lists(witches: tuple[Any, ...]) -> None:
    hag, hecate, grey = witches
    await iq(hag, CHANNEL, config_publish(("Nodes Present", ("allowed", "banned"))))
    # XEP-0406 "Client Adds a JID to the Allowed Node": a domain and a JID.
    await iq(hag, CHANNEL, entry_publish(ALLOWED, "shakespeare.example"))
    await iq(hag, CHANNEL, entry_publish(ALLOWED, "greymalkin@localhost"))
    assert await entries(hag, ALLOWED) == ["greymalkin@localhost", "shakespeare.example"]
    await join(grey, CHANNEL, "cat")
    with pytest.raises(IqError) as err:
        await join(hecate, CHANNEL, "top witch")
    assert err.value.condition == "forbidden"
    # Banned wins over allowed.
    await iq(hag, CHANNEL, entry_publish(BANNED, "localhost"))
    assert await entries(hag, BANNED) == ["localhost"]
    with pytest.raises(IqError) as banned:
        await join(grey, CHANNEL, "cat")
    assert banned.value.condition == "forbidden"
    # XEP-0406 "Client Removes a JID from the Banned Node".
    await iq(hag, CHANNEL, entry_retract(BANNED, "localhost"))
    await join(grey, CHANNEL, "cat")
    # Only administrators and owners read or change them.
    for request, kind in ((items_get(BANNED), "get"), (entry_publish(BANNED, "x.example"), "set")):
        with pytest.raises(IqError) as denied:
            await iq(grey, CHANNEL, request, kind)
        assert denied.value.condition == "forbidden"
    with pytest.raises(IqError) as bad:
        await iq(hag, CHANNEL, entry_publish(BANNED, "someone@localhost/res"))
    assert bad.value.condition == "bad-request"


async def test_an_owner_cannot_be_banned(witches: tuple[Any, ...]) -> None:
    hag = witches[0]
    with pytest.raises(IqError) as err:
        await iq(hag, CHANNEL, entry_publish(BANNED, "hag66@localhost"))
    assert err.value.condition == "not-allowed"


async def test_ban_removes_a_participant_at_once(witches: tuple[Any, ...]) -> None:
    hag, hecate, grey = witches
    await join(hag, CHANNEL, "third witch")
    hecate_id = await join(hecate, CHANNEL, "top witch")
    await join(grey, CHANNEL, "cat")
    hag_events, hecate_events = Inbox(hag, "pubsub"), Inbox(hecate, "pubsub")
    await iq(hag, CHANNEL, entry_publish(BANNED, "hecate@localhost"))
    # The participant item is retracted, for the others and for hecate.
    for inbox in (hag_events, hecate_events):
        [note] = await inbox.wait(1)
        retract = note.xml.find(f".//{{{EVENT}}}retract")
        assert retract is not None and retract.get("id") == hecate_id
    ids = [i for i in await entries(hag, PARTICIPANTS)]
    assert hecate_id not in ids and len(ids) == 2
    # No more messages; and she cannot send any.
    hecate_msgs, grey_msgs = Inbox(hecate, kind="groupchat"), Inbox(grey, kind="groupchat")
    hag.send_message(mto=CHANNEL, mbody="begone", mtype="groupchat")
    await grey_msgs.wait(1)
    errors = Inbox(hecate, "message_error")
    hecate.send_message(mto=CHANNEL, mbody="let me back", mtype="groupchat")
    [error] = await errors.wait(1)
    assert error["error"]["condition"] == "forbidden"
    assert hecate_msgs.items == []


async def test_ban_during_a_burst_stops_delivery(witches: tuple[Any, ...]) -> None:
    """greymalkin sends a burst while hag bans hecate: hecate gets an
    in-order prefix of the burst, then nothing, while the others get all."""
    hag, hecate, grey = witches
    await join(hag, CHANNEL, "third witch")
    await join(hecate, CHANNEL, "top witch")
    await join(grey, CHANNEL, "cat")
    hecate_msgs, hag_msgs = Inbox(hecate, kind="groupchat"), Inbox(hag, kind="groupchat")
    count = 100
    for n in range(count):
        grey.send_message(mto=CHANNEL, mbody=f"m{n}", mtype="groupchat")
    await iq(hag, CHANNEL, entry_publish(BANNED, "hecate@localhost"))
    await hag_msgs.wait(count)
    await hecate.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)
    got = [m["body"] for m in hecate_msgs.items]
    assert got == [f"m{n}" for n in range(len(got))]
    # After the ban, a further message does not reach her either.
    grey.send_message(mto=CHANNEL, mbody="after", mtype="groupchat")
    await hag_msgs.wait(count + 1)
    await hecate.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)
    assert len(hecate_msgs.items) == len(got)


async def test_ban_reaches_a_fan_out_already_under_way(
    server: ServerHandle, witches: tuple[Any, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message accepted before the ban, whose store returns after it, is
    not delivered to the banned user (recipients were fixed before the store)."""
    hag, hecate, grey = witches
    await join(hag, CHANNEL, "third witch")
    await join(hecate, CHANNEL, "top witch")
    await join(grey, CHANNEL, "cat")
    service = server.app.server.registry.modules["mix"].services[SERVICE]
    entered, release = asyncio.Event(), asyncio.Event()
    store = service.archive.store

    async def held_store(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        await release.wait()
        return await store(*args, **kwargs)

    monkeypatch.setattr(service.archive, "store", held_store)
    hecate_msgs, grey_msgs = Inbox(hecate, kind="groupchat"), Inbox(grey, kind="groupchat")
    # The owner bans from another session: one session's stanzas are handled in order.
    hag_admin = await mix_client(server, "hag66@localhost/admin", "pw-hag66")
    hag.send_message(mto=CHANNEL, mbody="in flight", mtype="groupchat")
    await asyncio.wait_for(entered.wait(), TIMEOUT)
    await iq(hag_admin, CHANNEL, entry_publish(BANNED, "hecate@localhost"))
    release.set()
    [message] = await grey_msgs.wait(1)
    assert message["body"] == "in flight"
    await hecate.plugin["xep_0199"].ping("localhost", timeout=TIMEOUT)
    assert hecate_msgs.items == []


async def test_configuration_and_lists_survive_a_restart(server_factory: Any) -> None:
    server: ServerHandle = await server_factory()
    await server.add_user("hag66@localhost", "pw")
    hag = await mix_client(server, "hag66@localhost/r", "pw")
    await create(hag, "coven")
    await iq(
        hag,
        CHANNEL,
        config_publish(
            ("Administrator", ("hecate@localhost",)),
            ("Nodes Present", ("allowed", "banned", "participants")),
            ("End of Life", ("2100-01-01T00:00:00Z",)),
        ),
    )
    await iq(hag, CHANNEL, entry_publish(ALLOWED, "localhost"))
    await iq(hag, CHANNEL, entry_publish(BANNED, "lear@shakespeare.example"))
    before = await read_config(hag)
    await server.close()
    await server.app.start()
    server.closed, server.clients = False, []
    again = await mix_client(server, "hag66@localhost/r2", "pw")
    assert await read_config(again) == before
    assert before["Administrator"] == ["hecate@localhost"]
    assert before["End of Life"] == ["2100-01-01T00:00:00Z"]
    assert await entries(again, ALLOWED) == ["localhost"]
    assert await entries(again, BANNED) == ["lear@shakespeare.example"]


async def test_server_admin_has_owner_rights(server_factory: Any) -> None:
    server: ServerHandle = await server_factory(server={"admins": ["boss@localhost"]})
    await server.add_user("hag66@localhost", "pw")
    await server.add_user("boss@localhost", "pw-boss")
    hag = await mix_client(server, "hag66@localhost/r", "pw")
    boss = await mix_client(server, "boss@localhost/r", "pw-boss")
    await create(hag, "coven")
    await iq(boss, CHANNEL, config_publish(("Administrator", ("x@localhost",))))
    assert (await read_config(boss))["Last Change Made By"] == ["boss@localhost"]
    await asyncio.wait_for(iq(boss, SERVICE, f"<destroy xmlns='{MIX}' channel='coven'/>"), TIMEOUT)


# --- the rights matrix (XEP-0406 defaults) -------------------------------------

INFO = "urn:xmpp:mix:nodes:info"
MATRIX_NODES = (MESSAGES, PARTICIPANTS, INFO, CONFIG, ALLOWED, BANNED)
ROLE_USERS = {
    "owner": "hag66",
    "admin": "hecate",
    "participant": "greymalkin",
    "allowed": "alice",
    "anyone": "bob",
    "banned": "lear",
}
RANK = {"anyone": 0, "banned": 0, "allowed": 1, "participant": 2, "admin": 3, "owner": 4}
NEED = {"participants": 2, "admins": 3, "owners": 4, "nobody": 99}
# Who may subscribe to / read each node, and who may change it, by default
# (XEP-0406 section 2.4 table; the participants node changes only by joining).
SPEC = {
    MESSAGES: ("participants", "participants"),
    PARTICIPANTS: ("participants", "nobody"),
    INFO: ("participants", "admins"),
    CONFIG: ("owners", "owners"),
    ALLOWED: ("admins", "admins"),
    BANNED: ("admins", "admins"),
}


def expected(role: str) -> dict[tuple[str, str], bool]:
    rank = RANK[role]
    may_join = role in ("allowed", "participant", "admin", "owner")
    result = {("channel", "join"): may_join, ("channel", "destroy"): role == "owner"}
    for node, (read, update) in SPEC.items():
        result[(node, "read")] = rank >= NEED[read]
        # Sending a message needs a nick, that is, actually participating.
        result[(node, "update")] = (
            role == "participant" if node == MESSAGES else rank >= NEED[update]
        )
        # Whoever joins is at least a participant.
        result[(node, "subscribe")] = may_join and max(rank, 2) >= NEED[read]
    return result


async def allowed_or_forbidden(request: Any) -> bool:
    try:
        await request
    except IqError as err:
        assert err.condition == "forbidden", str(err.iq)
        return False
    return True


def update_request(node: str) -> str:
    if node == CONFIG:
        return config_publish(("Open Presence", ("false",)))
    if node == INFO:
        form = (
            f"<x xmlns='{XDATA}' type='submit'><field var='FORM_TYPE' type='hidden'>"
            f"<value>{MIX}</value></field><field var='Name'><value>Coven</value></field></x>"
        )
        publish = f"<publish node='{INFO}'><item>{form}</item></publish>"
        return f"<pubsub xmlns='{PUBSUB}'>{publish}</pubsub>"
    if node == PARTICIPANTS:
        return (
            f"<pubsub xmlns='{PUBSUB}'><publish node='{PARTICIPANTS}'><item id='x'>"
            f"<participant xmlns='{MIX}'><nick>ghost</nick></participant></item></publish></pubsub>"
        )
    return entry_publish(node, "elsewhere.example")


async def send_and_see(xmpp: Any, watcher: Any) -> bool:
    """Send a groupchat message: True if the channel reflects it, False if refused."""
    errors, seen = Inbox(xmpp, "message_error"), Inbox(watcher, kind="groupchat")
    xmpp.send_message(mto=CHANNEL, mbody="hello", mtype="groupchat")
    done, _ = await asyncio.wait(
        [asyncio.ensure_future(errors.wait(1)), asyncio.ensure_future(seen.wait(1))],
        timeout=TIMEOUT,
        return_when=asyncio.FIRST_COMPLETED,
    )
    assert done
    if errors.items:
        assert errors.items[0]["error"]["condition"] == "forbidden"
        return False
    return True


@pytest.mark.parametrize("role", list(ROLE_USERS))
async def test_rights_matrix(server: ServerHandle, role: str) -> None:
    clients = {}
    for r, name in ROLE_USERS.items():
        await server.add_user(f"{name}@localhost", f"pw-{name}")
        clients[r] = await mix_client(server, f"{name}@localhost/r", f"pw-{name}")
    owner, me = clients["owner"], clients[role]
    await create(owner, "coven")
    await iq(
        owner,
        CHANNEL,
        config_publish(
            ("Administrator", ("hecate@localhost",)),
            ("Nodes Present", ("allowed", "banned", "information", "participants")),
        ),
    )
    for name in ("alice", "greymalkin"):
        await iq(owner, CHANNEL, entry_publish(ALLOWED, f"{name}@localhost"))
    await iq(owner, CHANNEL, entry_publish(BANNED, "lear@localhost"))
    await join(clients["participant"], CHANNEL, "cat")
    watcher = clients["participant"]

    actual: dict[tuple[str, str], bool] = {}
    for node in MATRIX_NODES:
        if node == MESSAGES:  # the messages node is read through MAM
            request = iq(me, CHANNEL, "<query xmlns='urn:xmpp:mam:2'/>")
        else:
            request = iq(me, CHANNEL, items_get(node), "get")
        actual[(node, "read")] = await allowed_or_forbidden(request)
    for node in MATRIX_NODES:
        if node == MESSAGES:
            actual[(node, "update")] = await send_and_see(me, watcher)
        else:
            actual[(node, "update")] = await allowed_or_forbidden(
                iq(me, CHANNEL, update_request(node))
            )
    nick = "cat" if role == "participant" else role
    actual[("channel", "join")] = await allowed_or_forbidden(join(me, CHANNEL, nick, (MESSAGES,)))
    for node in MATRIX_NODES:
        try:
            result = await iq(
                me,
                CHANNEL,
                f"<join xmlns='{MIX}'><subscribe node='{node}'/><nick>{nick}</nick></join>",
            )
        except IqError as err:
            assert err.condition == "forbidden"
            actual[(node, "subscribe")] = False
            continue
        granted = [s.get("node") for s in result.xml.iter(f"{{{MIX}}}subscribe")]
        actual[(node, "subscribe")] = granted == [node]
    actual[("channel", "destroy")] = await allowed_or_forbidden(
        iq(me, SERVICE, f"<destroy xmlns='{MIX}' channel='coven'/>")
    )
    assert actual == expected(role)


async def test_channel_past_its_end_of_life_is_destroyed(witches: tuple[Any, ...]) -> None:
    """The owner sets an end of life already past; the next sweep (driven
    here rather than waited for) destroys the channel."""
    hag, hecate, _ = witches
    hecate_id = await join(hecate, CHANNEL, "top witch")
    await iq(hag, CHANNEL, config_publish(("End of Life", ("2001-01-01T00:00:00Z",))))
    events = Inbox(hecate, "pubsub")
    server = hag.mixd_server  # set by the fixture below
    module = server.app.server.registry.modules["mix"]
    assert await module.expiry[SERVICE].sweep() == [CHANNEL]
    [note] = await events.wait(1)
    assert note.xml.find(f".//{{{EVENT}}}retract").get("id") == hecate_id
    with pytest.raises(IqError) as err:
        await join(hecate, CHANNEL, "top witch")
    assert err.value.condition == "item-not-found"
    assert await module.expiry[SERVICE].sweep() == []


async def test_configured_rights_take_effect(witches: tuple[Any, ...]) -> None:
    hag, hecate, grey = witches
    await join(hecate, CHANNEL, "top witch")
    info_publish = update_request(INFO)
    with pytest.raises(IqError) as before:
        await iq(hecate, CHANNEL, info_publish)
    assert before.value.condition == "forbidden"
    with pytest.raises(IqError) as hidden:
        await iq(grey, CHANNEL, items_get(PARTICIPANTS), "get")
    assert hidden.value.condition == "forbidden"
    await iq(
        hag,
        CHANNEL,
        config_publish(
            ("Information Node Update Rights", ("participants",)),
            ("Participants Node Subscription", ("anyone",)),
            ("Configuration Node Access", ("participants",)),
        ),
    )
    await iq(hecate, CHANNEL, info_publish)  # a participant may now change the info
    assert len(await entries(grey, PARTICIPANTS)) == 1  # anyone may now read participants
    assert (await read_config(hecate))["Owner"] == ["hag66@localhost"]
    with pytest.raises(IqError) as owners_only:
        await iq(hecate, CHANNEL, config_publish(("Open Presence", ("true",))))
    assert owners_only.value.condition == "forbidden"
    with pytest.raises(IqError) as not_participant:
        await read_config(grey)
    assert not_participant.value.condition == "forbidden"
