"""MIX-ANON (XEP-0404) end to end with slixmpp clients: user preferences,
the channel's JID visibility and what each participant sees, the JID Map
node, and participants removed when the mode stops honouring them."""

from __future__ import annotations

from typing import Any

import pytest
from slixmpp.exceptions import IqError

from tests.anon_client import (
    ALL_NODES,
    ANON,
    CHANNEL,
    EVENT,
    JIDMAP,
    PRESENCE,
    PUBSUB,
    XDATA,
    configure,
    form,
    form_values,
    make_witches,
    mix_jid,
    muc_client,
    participant_jids,
    set_preferences,
)
from tests.helpers import TIMEOUT, ServerHandle
from tests.integration.test_muc import codes, item
from tests.mam_client import mam_query
from tests.mix_client import MIX, NODES, SERVICE, FromService, Inbox, iq, join


@pytest.fixture
async def witches(server: ServerHandle) -> tuple[Any, ...]:
    """hag66 owns the coven; hecate and greymalkin are users of the server."""
    return await make_witches(server)


async def test_preference_form_get_and_set(witches: tuple[Any, ...]) -> None:
    hag, hecate, _ = witches
    template = await iq(hecate, CHANNEL, f"<user-preference xmlns='{ANON}'/>", "get")
    x = template.xml.find(f"{{{ANON}}}user-preference/{{{XDATA}}}x")
    assert x is not None and x.get("type") == "form"
    fields = {f.get("var"): f for f in x.findall(f"{{{XDATA}}}field")}
    options = {
        o.findtext(f"{{{XDATA}}}value") for o in fields["JID Visibility"].iter(f"{{{XDATA}}}option")
    }
    assert options == {"default", "never", "prefer not", "prefer", "always"}
    assert form_values(x) == {
        "JID Visibility": "default",
        "Private Messages": "allow",
        "vCard": "block",
        "Presence": "share",
    }
    # Setting needs participation.
    with pytest.raises(IqError) as err:
        await set_preferences(hecate, ("Private Messages", "block"))
    assert err.value.condition == "item-not-found"
    await join(hecate, CHANNEL, "hecate")
    values = await set_preferences(
        hecate, ("Private Messages", "block"), ("JID Visibility", "Prefer Not")
    )
    assert values["Private Messages"] == "block" and values["JID Visibility"] == "prefer not"
    assert values["vCard"] == "block" and values["Presence"] == "share"  # every value comes back
    # The channel shows every JID (the default mode): 'never' cannot be honoured.
    with pytest.raises(IqError) as err:
        await set_preferences(hecate, ("JID Visibility", "never"))
    assert err.value.condition == "not-allowed" and "JID Visibility" in err.value.text
    # Bad values name their field.
    with pytest.raises(IqError) as err:
        await set_preferences(hecate, ("JID Visibility", "sometimes"))
    assert err.value.condition == "bad-request" and "JID Visibility" in err.value.text
    # A join can carry the form; its result then lists every value.
    await configure(hag, ("JID Visibility", "jid-hidden"))
    result = await iq(
        hag,
        CHANNEL,
        f"<join xmlns='{MIX}'><subscribe node='{NODES[0]}'/><nick>hag</nick>"
        f"{form(ANON, ('JID Visibility', 'never'))}</join>",
    )
    joined = result.xml.find(f"{{{MIX}}}join/{{{XDATA}}}x")
    assert form_values(joined)["JID Visibility"] == "never"
    current = await iq(hag, CHANNEL, f"<user-preference xmlns='{ANON}'/>", "get")
    assert (
        form_values(current.xml.find(f"{{{ANON}}}user-preference/{{{XDATA}}}x"))["JID Visibility"]
        == "never"
    )


async def test_hidden_channel_shows_jids_to_administrators_only(witches: tuple[Any, ...]) -> None:
    hag, hecate, grey = witches
    await configure(hag, ("JID Visibility", "jid-hidden"))
    await join(hag, CHANNEL, "hag", ALL_NODES)
    hecate_id = await join(hecate, CHANNEL, "hecate", ALL_NODES)
    await join(grey, CHANNEL, "grey", ALL_NODES)
    # The participants node: JIDs for the owner, none for another participant.
    assert await participant_jids(hag) == {
        "hag": "hag66@localhost",
        "hecate": "hecate@localhost",
        "grey": "greymalkin@localhost",
    }
    assert await participant_jids(grey) == {
        "hag": None,
        "hecate": None,
        "grey": "greymalkin@localhost",
    }
    # A message: the owner's copy names the sender, the other participant's does not.
    hag_inbox, grey_inbox = Inbox(hag, kind="groupchat"), Inbox(grey, kind="groupchat")
    hecate.send_message(mto=CHANNEL, mbody="hidden", mtype="groupchat")
    [to_hag] = await hag_inbox.wait(1)
    [to_grey] = await grey_inbox.wait(1)
    assert mix_jid(to_hag) == "hecate@localhost"
    assert mix_jid(to_grey) is None
    assert to_grey.xml.findtext(f"{{{MIX}}}mix/{{{MIX}}}nick") == "hecate"
    assert to_grey["from"].resource == hecate_id
    # The archive holds the variant without the JID.
    page = await mam_query(grey, to=CHANNEL)
    assert [mix_jid(m) for m in page.forwarded] == [None]
    # The JID Map: administrators only.
    jidmap = await iq(
        hag, CHANNEL, f"<pubsub xmlns='{PUBSUB}'><items node='{JIDMAP}'/></pubsub>", "get"
    )
    mapped = {
        i.get("id"): i.findtext(f"{{{ANON}}}participant/{{{ANON}}}jid")
        for i in jidmap.xml.iter(f"{{{PUBSUB}}}item")
    }
    assert mapped[hecate_id] == "hecate@localhost" and len(mapped) == 3
    with pytest.raises(IqError) as err:
        await iq(
            grey, CHANNEL, f"<pubsub xmlns='{PUBSUB}'><items node='{JIDMAP}'/></pubsub>", "get"
        )
    assert err.value.condition == "forbidden"
    # Subscribing to it at join is granted to the owner only.
    result = await iq(
        hag, CHANNEL, f"<join xmlns='{MIX}'><subscribe node='{JIDMAP}'/><nick>hag</nick></join>"
    )
    assert [s.get("node") for s in result.xml.iter(f"{{{MIX}}}subscribe")] == [JIDMAP]
    result = await iq(
        grey, CHANNEL, f"<join xmlns='{MIX}'><subscribe node='{JIDMAP}'/><nick>grey</nick></join>"
    )
    assert [s.get("node") for s in result.xml.iter(f"{{{MIX}}}subscribe")] == []


async def test_maybe_visible_follows_each_preference(witches: tuple[Any, ...]) -> None:
    hag, hecate, grey = witches
    await configure(hag, ("JID Visibility", "jid-maybe-visible"))
    await join(hecate, CHANNEL, "hecate", ALL_NODES)
    await join(grey, CHANNEL, "grey", ALL_NODES)
    assert (await participant_jids(grey))["hecate"] is None  # 'default' hides here
    events = Inbox(grey, "pubsub")
    await set_preferences(hecate, ("JID Visibility", "prefer"))
    # Participants-node subscribers learn the JID is shown now.
    [event] = await events.wait(1)
    assert (
        event.xml.findtext(f".//{{{EVENT}}}item/{{{MIX}}}participant/{{{MIX}}}jid")
        == "hecate@localhost"
    )
    assert (await participant_jids(grey))["hecate"] == "hecate@localhost"
    inbox = Inbox(grey, kind="groupchat")
    hecate.send_message(mto=CHANNEL, mbody="seen", mtype="groupchat")
    [message] = await inbox.wait(1)
    assert mix_jid(message) == "hecate@localhost"
    # Presence carries the client JID for whoever may see it.
    seen = FromService(grey, "presence")
    hecate.send_presence(pto=CHANNEL, pshow="away")
    away = await seen.until(lambda p: p["show"] == "away")
    assert away.xml.findtext(f"{{{PRESENCE}}}mix/{{{PRESENCE}}}jid") == "hecate@localhost/r"
    await set_preferences(hecate, ("JID Visibility", "prefer not"))
    # The change alone sends her presence again, without the JID now.
    again = await seen.until(
        lambda p: p["show"] == "away" and p.xml.find(f"{{{PRESENCE}}}mix/{{{PRESENCE}}}jid") is None
    )
    assert again["from"] == away["from"]
    hecate.send_presence(pto=CHANNEL, pshow="dnd")
    dnd = await seen.until(lambda p: p["show"] == "dnd")
    assert dnd.xml.find(f"{{{PRESENCE}}}mix/{{{PRESENCE}}}jid") is None
    assert (await participant_jids(grey))["hecate"] is None


async def test_mode_change_removes_who_it_cannot_honour(witches: tuple[Any, ...]) -> None:
    hag, hecate, grey = witches
    await configure(hag, ("JID Visibility", "jid-maybe-visible"))
    await join(hag, CHANNEL, "hag", ALL_NODES)
    await join(hecate, CHANNEL, "hecate", ALL_NODES)
    await join(grey, CHANNEL, "grey", ALL_NODES)
    await set_preferences(hecate, ("JID Visibility", "never"))
    await set_preferences(grey, ("JID Visibility", "always"))
    told = Inbox(hecate, "pubsub")
    await configure(hag, ("JID Visibility", "jid-visible"))
    [retract] = await told.wait(1)
    assert retract.xml.find(f".//{{{EVENT}}}retract") is not None
    assert set(await participant_jids(hag)) == {"hag", "grey"}
    # Joining again with the conflicting preference is refused.
    with pytest.raises(IqError) as err:
        await iq(
            hecate,
            CHANNEL,
            f"<join xmlns='{MIX}'><nick>hecate</nick>"
            f"{form(ANON, ('JID Visibility', 'never'))}</join>",
        )
    assert err.value.condition == "not-allowed"
    await configure(hag, ("JID Visibility", "jid-hidden"))
    assert set(await participant_jids(hag)) == {"hag"}


async def test_archive_hides_jids_stored_before_the_channel_hid_them(
    witches: tuple[Any, ...],
) -> None:
    hag, hecate, grey = witches
    await join(hecate, CHANNEL, "hecate", ALL_NODES)
    await join(grey, CHANNEL, "grey", ALL_NODES)
    inbox = Inbox(grey, kind="groupchat")
    hecate.send_message(mto=CHANNEL, mbody="while visible", mtype="groupchat")
    [message] = await inbox.wait(1)
    assert mix_jid(message) == "hecate@localhost"
    await configure(hag, ("JID Visibility", "jid-hidden"))
    page = await mam_query(grey, to=CHANNEL)
    assert page.bodies == ["while visible"] and mix_jid(page.forwarded[0]) is None
    # The sender itself and the owner still see it.
    assert mix_jid((await mam_query(hecate, to=CHANNEL)).forwarded[0]) == "hecate@localhost"
    await join(hag, CHANNEL, "hag", ALL_NODES)
    assert mix_jid((await mam_query(hag, to=CHANNEL)).forwarded[0]) == "hecate@localhost"


async def test_muc_face_hides_jids_from_occupants_who_do_not_moderate(
    server: ServerHandle, witches: tuple[Any, ...]
) -> None:
    hag = witches[0]
    await configure(hag, ("JID Visibility", "jid-hidden"))
    hecate, hecate_seen, _ = await muc_client(server, "hecate", "pw-hecate")
    own, _, _, _ = await hecate.plugin["xep_0045"].join_muc_wait(
        CHANNEL, "hecate", maxstanzas=0, timeout=TIMEOUT
    )
    assert 100 not in codes(own) and item(own)["jid"] == "hecate@localhost/muc"  # its own
    info = await hecate.plugin["xep_0030"].get_info(jid=CHANNEL, timeout=TIMEOUT)
    features = info["disco_info"]["features"]
    assert "muc_semianonymous" in features and "muc_nonanonymous" not in features
    # The owner enters through MUC too: it sees hecate's JID, hecate not its.
    owner, owner_seen, _ = await muc_client(server, "hag66", "pw-hag66")
    _, _, occupants, _ = await owner.plugin["xep_0045"].join_muc_wait(
        CHANNEL, "hag", maxstanzas=0, timeout=TIMEOUT
    )
    [seen_by_owner] = [p for p in occupants if p["from"].resource == "hecate"]
    assert item(seen_by_owner)["jid"] == "hecate@localhost/muc"
    entered = await hecate_seen.until(lambda p: str(p["from"]) == f"{CHANNEL}/hag")
    assert "jid" not in item(entered) and item(entered)["role"] == "moderator"
    # A presence change reaches each side in its own form.
    hecate.send_presence(pto=f"{CHANNEL}/hecate", pshow="away")
    away = await owner_seen.until(
        lambda p: str(p["from"]) == f"{CHANNEL}/hecate" and p["show"] == "away"
    )
    assert item(away)["jid"] == "hecate@localhost/muc"


async def test_jidmap_is_not_writable_through_pubsub(witches: tuple[Any, ...]) -> None:
    hag, hecate, _ = witches
    hecate_id = await join(hecate, CHANNEL, "hecate")
    for verb in ("publish", "retract"):
        with pytest.raises(IqError) as err:
            await iq(
                hag,
                CHANNEL,
                f"<pubsub xmlns='{PUBSUB}'><{verb} node='{JIDMAP}'><item id='{hecate_id}'>"
                f"<participant xmlns='{ANON}'><jid>hag66@localhost</jid></participant>"
                f"</item></{verb}></pubsub>",
            )
        assert err.value.condition == "forbidden"


async def test_jidmap_subscribers_hear_of_joins_and_leaves(witches: tuple[Any, ...]) -> None:
    hag, hecate, _ = witches
    await join(hag, CHANNEL, "hag", (JIDMAP,))
    events = Inbox(hag, "pubsub")
    hecate_id = await join(hecate, CHANNEL, "hecate")
    [joined] = await events.wait(1)
    item = joined.xml.find(f".//{{{EVENT}}}items[@node='{JIDMAP}']/{{{EVENT}}}item")
    assert item is not None and item.get("id") == hecate_id
    assert item.findtext(f"{{{ANON}}}participant/{{{ANON}}}jid") == "hecate@localhost"
    await iq(hecate, CHANNEL, f"<leave xmlns='{MIX}'/>")
    [_, left] = await events.wait(2)
    retract = left.xml.find(f".//{{{EVENT}}}items[@node='{JIDMAP}']/{{{EVENT}}}retract")
    assert retract is not None and retract.get("id") == hecate_id


async def test_vcards_through_the_channel_need_consent_where_jids_are_hidden(
    server: ServerHandle, witches: tuple[Any, ...]
) -> None:
    hag, hecate, grey = witches
    await configure(hag, ("JID Visibility", "jid-hidden"))
    await join(hag, CHANNEL, "hag")
    hecate_id = await join(hecate, CHANNEL, "hecate")
    await join(grey, CHANNEL, "grey")
    proxy = f"{hecate_id}#coven@{SERVICE}"
    vcard = "<vCard xmlns='vcard-temp'/>"
    with pytest.raises(IqError) as err:
        await iq(grey, proxy, vcard, "get")
    assert err.value.condition == "forbidden"
    # The owner sees hecate's JID anyway: the channel relays it.
    answer = await iq(hag, proxy, vcard, "get")
    assert answer["from"] == proxy
    # The same through the MUC face.
    room, _, _ = await muc_client(server, "greymalkin", "pw-greymalkin")
    hecate_room, _, _ = await muc_client(server, "hecate", "pw-hecate")
    await room.plugin["xep_0045"].join_muc_wait(CHANNEL, "grey", maxstanzas=0, timeout=TIMEOUT)
    await hecate_room.plugin["xep_0045"].join_muc_wait(
        CHANNEL, "hecate", maxstanzas=0, timeout=TIMEOUT
    )
    with pytest.raises(IqError) as err:
        await iq(room, f"{CHANNEL}/hecate", vcard, "get")
    assert err.value.condition == "forbidden"
    # With hecate's consent both ways work.
    await set_preferences(hecate, ("vCard", "allow"))
    assert (await iq(grey, proxy, vcard, "get"))["from"] == proxy
    assert (await iq(room, f"{CHANNEL}/hecate", vcard, "get"))["from"] == f"{CHANNEL}/hecate"
