"""MIX-PAM's pure rules, the participants' archives on a memory store, and
the roster codec's MIX annotation."""

from __future__ import annotations

from dataclasses import replace

from mixd import ns as NS
from mixd.codec import rfc6121_roster as wire
from mixd.codec.stanza import Stanza, header_from_element
from mixd.codec.xep0359_sid import stanza_ids
from mixd.jid import JID
from mixd.services.mix_pam import rules
from mixd.services.mix_pam.archive import ParticipantArchives
from mixd.storage.contracts.archive import ArchiveQuery, Bounds, Direction
from mixd.storage.contracts.roster import RosterItem, Subscription
from mixd.storage.memory.archive import MemoryArchiveStore
from mixd.xml.element import Element
from mixd.xml.fragment import parse_element

CHANNEL = JID.parse("coven@mix.localhost")


def join_result(**attrs: str) -> Element:
    return Element(NS.MIX_CORE, "join", attrs)


def test_participant_id_from_either_form() -> None:
    assert rules.participant_id(join_result(id="abc"), CHANNEL) == "abc"
    assert rules.participant_id(join_result(jid=f"abc#{CHANNEL}"), CHANNEL) == "abc"
    assert rules.participant_id(join_result(jid="abc#other@mix.localhost"), CHANNEL) is None
    assert rules.participant_id(join_result(), CHANNEL) is None


def test_joined_item_is_a_mix_item_with_both() -> None:
    new = rules.joined(None, CHANNEL, "Coven", "p1")
    assert new == RosterItem(
        str(CHANNEL), "Coven", subscription=Subscription.BOTH, mix_participant_id="p1"
    )
    # A contact item the user had for that JID keeps the user's name and groups.
    old = RosterItem(str(CHANNEL), "Mine", ("Witches",), ask=True, pending_in=True, request="<x/>")
    rejoined = rules.joined(old, CHANNEL, "Coven", "p1")
    assert (rejoined.name, rejoined.groups, rejoined.subscription) == (
        "Mine",
        ("Witches",),
        Subscription.BOTH,
    )
    assert not (rejoined.ask or rejoined.pending_in or rejoined.request)
    assert rejoined.is_mix_channel


def test_left_removes_only_a_channel_item() -> None:
    channel = rules.joined(None, CHANNEL, None, "p1")
    contact = RosterItem(str(CHANNEL))
    assert rules.left(channel) is None
    assert rules.left(contact) is contact
    assert rules.left(None) is None
    assert rules.joined_channels([contact, channel, replace(channel, jid="b@mix.localhost")]) == [
        CHANNEL,
        JID.parse("b@mix.localhost"),
    ]


def reflected(archive_id: str, to: str = "a@localhost", body: str | None = "hi") -> Stanza:
    content = f"<body>{body}</body>" if body is not None else ""
    element = parse_element(
        f"<message xmlns='jabber:client' from='{CHANNEL}/p' to='{to}' id='{archive_id}'"
        f" type='groupchat'>{content}"
        f"<stanza-id xmlns='urn:xmpp:sid:0' id='{archive_id}' by='{CHANNEL}'/>"
        f"<stanza-id xmlns='urn:xmpp:sid:0' id='forged' by='{to}'/></message>"
    )
    return header_from_element(element, JID.parse(f"{CHANNEL}/p"), JID.parse(to))


async def test_archive_stamps_the_channels_id_for_a_followed_channel() -> None:
    store = MemoryArchiveStore()
    stanza = reflected("arch")
    await ParticipantArchives(store).archive(stanza, JID.parse("a@localhost"), followed=True)
    assert stanza_ids(stanza.element) == [("arch", str(CHANNEL)), ("arch", "a@localhost")]
    assert await store.bounds("a@localhost") == Bounds(None, None)  # nothing copied


async def test_archive_without_a_local_entry_stores_a_copy() -> None:
    """A channel elsewhere (federation): the user's archive gets a copy."""
    store = MemoryArchiveStore()
    archives = ParticipantArchives(store)
    stanza = reflected("remote-id")
    await archives.archive(stanza, JID.parse("a@localhost"), followed=False)
    page = await store.query(ArchiveQuery("a@localhost", 10, str(CHANNEL)))
    [item] = page.items
    assert item.with_resource == "p" and item.direction is Direction.IN
    assert ("forged", "a@localhost") not in stanza_ids(stanza.element)
    assert (item.id, "a@localhost") in stanza_ids(stanza.element)
    empty = reflected("other", body=None)
    await archives.archive(empty, JID.parse("a@localhost"), followed=False)
    assert (await store.query(ArchiveQuery("a@localhost", 10))).count == 1


def test_roster_codec_annotation() -> None:
    query = wire.RosterQuery.decode(
        parse_element(
            "<query xmlns='jabber:iq:roster'><annotate xmlns='urn:xmpp:mix:roster:0'/></query>"
        )
    )
    assert query.annotate
    assert not wire.RosterQuery.decode(Element(NS.ROSTER, "query")).annotate
    item = wire.RosterItem(CHANNEL, subscription="both", mix_participant_id="p1")
    encoded = item.encode().find(NS.MIX_ROSTER, "channel")
    assert encoded is not None and encoded.get("participant-id") == "p1"
    # A client cannot claim an item is a channel.
    assert wire.RosterItem.decode(item.encode()).mix_participant_id is None
