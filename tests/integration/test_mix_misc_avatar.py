"""The channel's avatar (XEP-0407 over XEP-0084) and vCard (XEP-0054) end
to end with slixmpp clients: publishing with the configured rights,
notifications, reads, the vCard made from avatar and info, and refusals."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from slixmpp.exceptions import IqError

from tests.helpers import ServerHandle
from tests.mix_client import MIX, SERVICE, Inbox, create, iq, join, mix_client

CHANNEL = f"coven@{SERVICE}"
PUBSUB = "http://jabber.org/protocol/pubsub"
EVENT = "http://jabber.org/protocol/pubsub#event"
DATA = "urn:xmpp:avatar:data"
META = "urn:xmpp:avatar:metadata"
INFO = "urn:xmpp:mix:nodes:info"
CONFIG = "urn:xmpp:mix:nodes:config"
MESSAGES = "urn:xmpp:mix:nodes:messages"
VCARD = "vcard-temp"
IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
IMAGE_ID = hashlib.sha1(IMAGE).hexdigest()


def publish_data(image: bytes = IMAGE, item_id: str | None = IMAGE_ID) -> str:
    id_attr = f" id='{item_id}'" if item_id else ""
    encoded = base64.b64encode(image).decode()
    return (
        f"<pubsub xmlns='{PUBSUB}'><publish node='{DATA}'><item{id_attr}>"
        f"<data xmlns='{DATA}'>{encoded}</data></item></publish></pubsub>"
    )


def publish_meta(item_id: str = IMAGE_ID, size: int = len(IMAGE)) -> str:
    return (
        f"<pubsub xmlns='{PUBSUB}'><publish node='{META}'><item id='{item_id}'>"
        f"<metadata xmlns='{META}'><info bytes='{size}' id='{item_id}' type='image/png'"
        " height='64' width='64'/></metadata></item></publish></pubsub>"
    )


def items(node: str) -> str:
    return f"<pubsub xmlns='{PUBSUB}'><items node='{node}'/></pubsub>"


def configure(var: str, *values: str) -> str:
    vals = "".join(f"<value>{v}</value>" for v in values)
    return (
        f"<pubsub xmlns='{PUBSUB}'><publish node='{CONFIG}'><item>"
        "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
        f"<value>urn:xmpp:mix:admin:0</value></field><field var='{var}'>{vals}</field>"
        "</x></item></publish></pubsub>"
    )


async def error(xmpp: Any, payload: str, kind: str = "set") -> str:
    with pytest.raises(IqError) as caught:
        await iq(xmpp, CHANNEL, payload, kind)
    return str(caught.value.iq["error"]["condition"])


@pytest.fixture
async def witches(server: ServerHandle) -> tuple[Any, Any, Any]:
    """hag66 owns the coven and names it; hecate is a participant following
    the avatar metadata; macbeth is not a participant."""
    clients = []
    for name in ("hag66", "hecate", "macbeth"):
        await server.add_user(f"{name}@localhost", f"pw-{name}")
        clients.append(await mix_client(server, f"{name}@localhost/r", f"pw-{name}"))
    hag, hecate, macbeth = clients
    await create(hag, "coven")
    info = (
        f"<pubsub xmlns='{PUBSUB}'><publish node='{INFO}'><item>"
        "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
        f"<value>{MIX}</value></field><field var='Name'><value>The Coven</value></field>"
        "<field var='Description'><value>Witches only</value></field></x></item>"
        "</publish></pubsub>"
    )
    await iq(hag, CHANNEL, info)
    await join(hecate, CHANNEL, "top witch", (MESSAGES, META))
    return hag, hecate, macbeth


async def test_owner_publishes_avatar_participants_see_it(witches: tuple[Any, ...]) -> None:
    hag, hecate, _ = witches
    events = Inbox(hecate, "pubsub")
    result = await iq(hag, CHANNEL, publish_data())
    published = result.xml.find(f".//{{{PUBSUB}}}publish/{{{PUBSUB}}}item")
    assert published is not None and published.get("id") == IMAGE_ID
    await iq(hag, CHANNEL, publish_meta())
    [note] = await events.wait(1)  # subscribed to metadata only
    item = note.xml.find(f".//{{{EVENT}}}items[@node='{META}']/{{{EVENT}}}item")
    assert item is not None and item.get("id") == IMAGE_ID
    assert item.find(f"{{{META}}}metadata/{{{META}}}info").get("type") == "image/png"
    # The participant fetches the image the metadata names.
    data = await iq(hecate, CHANNEL, items(DATA), "get")
    [got] = data.xml.findall(f".//{{{PUBSUB}}}item")
    assert got.get("id") == IMAGE_ID
    assert base64.b64decode(got.find(f"{{{DATA}}}data").text or "") == IMAGE
    # Disco lists both nodes.
    disco = await hecate.plugin["xep_0030"].get_items(jid=CHANNEL, node="mix")
    nodes = {node for _, node, _ in disco["disco_items"]["items"]}
    assert {DATA, META} <= nodes


async def test_vcard_from_avatar_and_info(witches: tuple[Any, ...]) -> None:
    hag, hecate, _ = witches
    card = (await iq(hecate, CHANNEL, f"<vCard xmlns='{VCARD}'/>", "get")).xml.find(
        f"{{{VCARD}}}vCard"
    )
    assert card is not None
    assert card.findtext(f"{{{VCARD}}}FN") == "The Coven"
    assert card.findtext(f"{{{VCARD}}}DESC") == "Witches only"
    assert card.find(f"{{{VCARD}}}PHOTO") is None
    await iq(hag, CHANNEL, publish_data())
    await iq(hag, CHANNEL, publish_meta())
    card = (await iq(hecate, CHANNEL, f"<vCard xmlns='{VCARD}'/>", "get")).xml.find(
        f"{{{VCARD}}}vCard"
    )
    assert card is not None
    assert card.findtext(f"{{{VCARD}}}PHOTO/{{{VCARD}}}TYPE") == "image/png"
    binval = card.findtext(f"{{{VCARD}}}PHOTO/{{{VCARD}}}BINVAL") or ""
    assert base64.b64decode(binval) == IMAGE
    # Retracting the metadata takes the photo out of the vCard.
    events = Inbox(hecate, "pubsub")
    retract = (
        f"<pubsub xmlns='{PUBSUB}'><retract node='{META}'>"
        f"<item id='{IMAGE_ID}'/></retract></pubsub>"
    )
    await iq(hag, CHANNEL, retract)
    [note] = await events.wait(1)
    assert note.xml.find(f".//{{{EVENT}}}retract").get("id") == IMAGE_ID
    card = (await iq(hecate, CHANNEL, f"<vCard xmlns='{VCARD}'/>", "get")).xml.find(
        f"{{{VCARD}}}vCard"
    )
    assert card is not None and card.find(f"{{{VCARD}}}PHOTO") is None


async def test_avatar_update_rights_follow_the_configuration(witches: tuple[Any, ...]) -> None:
    hag, hecate, macbeth = witches
    assert await error(hecate, publish_data()) == "forbidden"  # default: admins
    assert await error(macbeth, publish_data()) == "forbidden"
    await iq(hag, CHANNEL, configure("Avatar Nodes Update Rights", "participants"))
    await iq(hecate, CHANNEL, publish_data())
    assert await error(macbeth, publish_data()) == "forbidden"
    await iq(hag, CHANNEL, configure("Avatar Nodes Update Rights", "owners"))
    assert await error(hecate, publish_meta()) == "forbidden"


async def test_bad_avatars_are_refused(witches: tuple[Any, ...]) -> None:
    hag = witches[0]
    assert await error(hag, publish_data(item_id="0" * 40)) == "bad-request"
    not_base64 = publish_data().replace(base64.b64encode(IMAGE).decode()[:8], "!!!!!!!!")
    assert await error(hag, not_base64) == "bad-request"
    wrong = publish_data().replace(f"<data xmlns='{DATA}'>", f"<other xmlns='{DATA}'>")
    assert await error(hag, wrong.replace("</data>", "</other>")) == "bad-request"
    too_big = bytes(150 * 1024)  # over the limit, under the stanza size limit
    assert await error(hag, publish_data(too_big, None)) == "not-acceptable"
    bad_meta = publish_meta().replace(" type='image/png'", "")
    assert await error(hag, bad_meta) == "bad-request"
    # Without an id the server names the item by its hash.
    result = await iq(hag, CHANNEL, publish_data(item_id=None))
    assert result.xml.find(f".//{{{PUBSUB}}}item").get("id") == IMAGE_ID


async def test_outsiders_and_absent_nodes(witches: tuple[Any, ...]) -> None:
    hag, hecate, macbeth = witches
    await iq(hag, CHANNEL, publish_data())
    # "Information Node Subscription" is participants by default.
    assert await error(macbeth, items(DATA), "get") == "forbidden"
    assert await error(macbeth, f"<vCard xmlns='{VCARD}'/>", "get") == "forbidden"
    await iq(
        hag,
        CHANNEL,
        configure("Nodes Present", "participants", "presence", "information", "banned"),
    )
    assert await error(hecate, items(META), "get") == "item-not-found"
    assert await error(hag, publish_meta()) == "item-not-found"


async def test_destroyed_channel_takes_its_avatar(witches: tuple[Any, ...]) -> None:
    hag = witches[0]
    await iq(hag, CHANNEL, publish_data())
    await iq(hag, SERVICE, f"<destroy xmlns='{MIX}' channel='coven'/>")
    await create(hag, "coven")
    result = await iq(hag, CHANNEL, items(DATA), "get")
    assert result.xml.findall(f".//{{{PUBSUB}}}item") == []
