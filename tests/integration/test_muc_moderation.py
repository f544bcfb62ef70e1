"""Moderation through the MUC face (XEP-0045 sections 8-10 on MIX-ADMIN):
kicks and bans by MUC moderators seen by MIX participants, affiliation
lists and changes mapped to the MIX configuration, allowed and banned
nodes, and the errors XEP-0045 prescribes."""

from __future__ import annotations

from typing import Any

import pytest
from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError, PresenceError

from tests.helpers import TIMEOUT, ServerHandle
from tests.integration.test_muc import CHANNEL, MUC_PLUGINS, MUC_USER, codes, hag, item, muc_client
from tests.mix_client import FromService, iq, join, mix_client
from tests.pam_client import channel_state

__all__ = ["hag"]  # the fixture, shared with test_muc.py

PUBSUB = "http://jabber.org/protocol/pubsub"
EVENT = "http://jabber.org/protocol/pubsub#event"
BANNED = "urn:xmpp:mix:nodes:banned"
ALLOWED = "urn:xmpp:mix:nodes:allowed"
CONFIG = "urn:xmpp:mix:nodes:config"
ROOMCONFIG = "http://jabber.org/protocol/muc#roomconfig"


async def entries(xmpp: ClientXMPP, node: str) -> list[str]:
    result = await iq(
        xmpp, CHANNEL, f"<pubsub xmlns='{PUBSUB}'><items node='{node}'/></pubsub>", "get"
    )
    return [i.get("id") for i in result.xml.iter(f"{{{PUBSUB}}}item")]


async def hag_in_muc(server: ServerHandle) -> tuple[Any, FromService]:
    """The owner's MUC client, in the room under the owner's nick."""
    xmpp = await server.client("hag66@localhost/muc", "pw-hag66", plugins=MUC_PLUGINS)
    presences = FromService(xmpp, "presence")
    await xmpp.plugin["xep_0045"].join_muc_wait(
        CHANNEL, "third witch", maxstanzas=0, timeout=TIMEOUT
    )
    return xmpp, presences


async def retracted(events: FromService, item_id: str) -> None:
    """Wait for the participant item's retraction to reach a MIX client."""
    await events.until(lambda e: e.xml.find(f".//{{{EVENT}}}retract[@id='{item_id}']") is not None)


def actor_and_reason(presence: Any) -> tuple[str | None, str | None]:
    found = presence.xml.find(f"{{{MUC_USER}}}x/{{{MUC_USER}}}item")
    actor = found.find(f"{{{MUC_USER}}}actor")
    return (
        actor.get("nick") if actor is not None else None,
        found.findtext(f"{{{MUC_USER}}}reason"),
    )


async def test_kick_ends_the_participation_everyone_sees_it(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    hag_mix, _ = hag
    events = FromService(hag_mix, "message")
    owner, owner_seen = await hag_in_muc(server)
    hecate, hecate_seen, _ = await muc_client(server, "hecate")
    await hecate.plugin["xep_0045"].join_muc_wait(CHANNEL, "hecate", maxstanzas=0, timeout=TIMEOUT)
    state = await channel_state(server, CHANNEL)
    assert state is not None
    hecate_id = state.participants["hecate@localhost"].id
    # Not a moderator: forbidden.
    with pytest.raises(IqError) as err:
        await hecate.plugin["xep_0045"].set_role(CHANNEL, "third witch", "none", timeout=TIMEOUT)
    assert err.value.condition == "forbidden"
    muc = owner.plugin["xep_0045"]
    with pytest.raises(IqError) as err:
        await muc.set_role(CHANNEL, "third witch", "none", timeout=TIMEOUT)
    assert err.value.condition == "conflict"  # oneself
    with pytest.raises(IqError) as err:
        await muc.set_role(CHANNEL, "nobody", "none", timeout=TIMEOUT)
    assert err.value.condition == "item-not-found"
    await muc.set_role(CHANNEL, "hecate", "none", reason="Avaunt", timeout=TIMEOUT)
    own = await hecate_seen.until(lambda p: p["type"] == "unavailable")
    assert {110, 307} <= codes(own)
    assert actor_and_reason(own) == ("third witch", "Avaunt")
    assert item(own)["role"] == "none"
    seen = await owner_seen.until(
        lambda p: str(p["from"]) == f"{CHANNEL}/hecate" and p["type"] == "unavailable"
    )
    assert 307 in codes(seen) and 110 not in codes(seen)
    assert "hecate@localhost" not in state.participants
    await retracted(events, hecate_id)  # the MIX side sees the participant go
    # A kick is not a ban: hecate may come back.
    await hecate.plugin["xep_0045"].join_muc_wait(CHANNEL, "hecate", maxstanzas=0, timeout=TIMEOUT)
    assert "hecate@localhost" in state.participants


async def test_kicking_a_mix_participant(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    owner, _ = await hag_in_muc(server)
    await server.add_user("greymalkin@localhost", "pw-greymalkin")
    grey = await mix_client(server, "greymalkin@localhost/r", "pw-greymalkin")
    await join(grey, CHANNEL, "grey")
    events = FromService(grey, "message")
    state = await channel_state(server, CHANNEL)
    assert state is not None
    grey_id = state.participants["greymalkin@localhost"].id
    await owner.plugin["xep_0045"].set_role(CHANNEL, "grey", "none", timeout=TIMEOUT)
    assert "greymalkin@localhost" not in state.participants
    await retracted(events, grey_id)  # grey's server learns it is out


async def test_ban_by_a_muc_moderator(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    hag_mix, _ = hag
    events = FromService(hag_mix, "message")
    owner, owner_seen = await hag_in_muc(server)
    hecate, hecate_seen, _ = await muc_client(server, "hecate")
    await hecate.plugin["xep_0045"].join_muc_wait(CHANNEL, "hecate", maxstanzas=0, timeout=TIMEOUT)
    state = await channel_state(server, CHANNEL)
    assert state is not None
    hecate_participant = state.participants["hecate@localhost"]
    muc = owner.plugin["xep_0045"]
    with pytest.raises(IqError) as err:
        await muc.set_affiliation(CHANNEL, "outcast", jid="hag66@localhost", timeout=TIMEOUT)
    assert err.value.condition == "conflict"  # oneself
    await muc.set_affiliation(
        CHANNEL, "outcast", jid="hecate@localhost/muc", reason="Treason", timeout=TIMEOUT
    )
    own = await hecate_seen.until(lambda p: p["type"] == "unavailable")
    assert {110, 301} <= codes(own)
    assert item(own)["affiliation"] == "outcast"
    assert actor_and_reason(own) == ("third witch", "Treason")
    seen = await owner_seen.until(
        lambda p: str(p["from"]) == f"{CHANNEL}/hecate" and p["type"] == "unavailable"
    )
    assert 301 in codes(seen) and item(seen)["affiliation"] == "outcast"
    # The MIX side: an entry of the banned node, the participant retracted.
    assert await entries(hag_mix, BANNED) == ["hecate@localhost"]
    await retracted(events, hecate_participant.id)
    assert await muc.get_affiliation_list(CHANNEL, "outcast", timeout=TIMEOUT) == [
        "hecate@localhost"
    ]
    # Banned both ways.
    with pytest.raises(PresenceError) as refused:
        await hecate.plugin["xep_0045"].join_muc_wait(CHANNEL, "hecate", timeout=TIMEOUT)
    assert refused.value.condition == "forbidden"
    with pytest.raises(IqError) as mix_refused:
        await join(hecate, CHANNEL, "hecate")
    assert mix_refused.value.condition == "forbidden"
    # Lifting the ban (affiliation none) lets hecate in again.
    await muc.set_affiliation(CHANNEL, "none", jid="hecate@localhost", timeout=TIMEOUT)
    assert await entries(hag_mix, BANNED) == []
    await hecate.plugin["xep_0045"].join_muc_wait(CHANNEL, "hecate", maxstanzas=0, timeout=TIMEOUT)


async def test_administrators_and_owners(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    owner, owner_seen = await hag_in_muc(server)
    grey, _, _ = await muc_client(server, "greymalkin")
    await grey.plugin["xep_0045"].join_muc_wait(CHANNEL, "grey", maxstanzas=0, timeout=TIMEOUT)
    hecate, _, _ = await muc_client(server, "hecate")
    await hecate.plugin["xep_0045"].join_muc_wait(CHANNEL, "hecate", maxstanzas=0, timeout=TIMEOUT)
    muc = owner.plugin["xep_0045"]
    # A member grants nothing.
    with pytest.raises(IqError) as err:
        await grey.plugin["xep_0045"].set_affiliation(
            CHANNEL, "outcast", jid="hecate@localhost", timeout=TIMEOUT
        )
    assert err.value.condition == "forbidden"
    await muc.set_affiliation(CHANNEL, "admin", jid="greymalkin@localhost", timeout=TIMEOUT)
    promoted = await owner_seen.until(
        lambda p: str(p["from"]) == f"{CHANNEL}/grey" and item(p)["affiliation"] == "admin"
    )
    assert item(promoted)["role"] == "moderator"
    state = await channel_state(server, CHANNEL)
    assert state is not None
    assert state.config.administrators == ("greymalkin@localhost",)
    assert await muc.get_affiliation_list(CHANNEL, "admin", timeout=TIMEOUT) == [
        "greymalkin@localhost"
    ]
    assert await muc.get_affiliation_list(CHANNEL, "owner", timeout=TIMEOUT) == ["hag66@localhost"]
    assert set(await muc.get_roles_list(CHANNEL, "moderator", timeout=TIMEOUT)) == {
        "third witch",
        "grey",
    }
    assert await muc.get_roles_list(CHANNEL, "participant", timeout=TIMEOUT) == ["hecate"]
    admin = grey.plugin["xep_0045"]
    # An administrator bans members but not owners, and grants no admin.
    with pytest.raises(IqError) as err:
        await admin.set_affiliation(CHANNEL, "outcast", jid="hag66@localhost", timeout=TIMEOUT)
    assert err.value.condition == "not-allowed"
    with pytest.raises(IqError) as err:
        await admin.set_role(CHANNEL, "third witch", "none", timeout=TIMEOUT)
    assert err.value.condition == "not-allowed"
    with pytest.raises(IqError) as err:
        await admin.set_affiliation(CHANNEL, "admin", jid="hecate@localhost", timeout=TIMEOUT)
    assert err.value.condition == "forbidden"
    with pytest.raises(IqError) as err:
        await admin.set_role(CHANNEL, "hecate", "visitor", timeout=TIMEOUT)
    assert err.value.condition == "not-allowed"  # no voice in a channel
    assert await admin.get_affiliation_list(CHANNEL, "outcast", timeout=TIMEOUT) == []
    with pytest.raises(IqError) as err:  # a member may not read the ban list
        await hecate.plugin["xep_0045"].get_affiliation_list(CHANNEL, "outcast", timeout=TIMEOUT)
    assert err.value.condition == "forbidden"
    await admin.set_affiliation(CHANNEL, "outcast", jid="hecate@localhost", timeout=TIMEOUT)
    # The owner: a second owner, then the first owner steps down; the last
    # owner cannot.
    await muc.set_affiliation(CHANNEL, "owner", jid="greymalkin@localhost", timeout=TIMEOUT)
    assert state.config.owners == ("greymalkin@localhost", "hag66@localhost")
    assert state.config.administrators == ()
    await muc.set_affiliation(CHANNEL, "member", jid="hag66@localhost", timeout=TIMEOUT)
    assert state.config.owners == ("greymalkin@localhost",)
    with pytest.raises(IqError) as err:
        await admin.set_affiliation(CHANNEL, "none", jid="greymalkin@localhost", timeout=TIMEOUT)
    assert err.value.condition == "conflict"


async def test_members_only_channel(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    """Members are the allowed node's entries while it is present; revoking
    membership puts a participant out (321)."""
    hag_mix, _ = hag
    owner, _ = await hag_in_muc(server)
    hecate, hecate_seen, _ = await muc_client(server, "hecate")
    await hecate.plugin["xep_0045"].join_muc_wait(CHANNEL, "hecate", maxstanzas=0, timeout=TIMEOUT)
    form = (
        f"<pubsub xmlns='{PUBSUB}'><publish node='{CONFIG}'><item>"
        "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
        "<value>urn:xmpp:mix:admin:0</value></field><field var='Nodes Present'>"
        "<value>allowed</value><value>banned</value><value>participants</value>"
        "<value>presence</value><value>information</value></field></x></item></publish></pubsub>"
    )
    await iq(hag_mix, CHANNEL, form)
    muc = owner.plugin["xep_0045"]
    await muc.set_affiliation(CHANNEL, "member", jid="lear@localhost", timeout=TIMEOUT)
    assert await entries(hag_mix, ALLOWED) == ["lear@localhost"]
    members = await muc.get_affiliation_list(CHANNEL, "member", timeout=TIMEOUT)
    assert set(members) == {"hecate@localhost", "lear@localhost"}
    await muc.set_affiliation(CHANNEL, "none", jid="hecate@localhost", timeout=TIMEOUT)
    out = await hecate_seen.until(lambda p: p["type"] == "unavailable")
    assert {110, 321} <= codes(out)
    with pytest.raises(PresenceError) as refused:
        await hecate.plugin["xep_0045"].join_muc_wait(CHANNEL, "hecate", timeout=TIMEOUT)
    assert refused.value.condition == "registration-required"


def form_values(form: Any) -> dict[str, Any]:
    return {var: field.get_value() for var, field in form.get_fields().items()}


async def read_mix_config(xmpp: ClientXMPP) -> dict[str, list[str]]:
    result = await iq(
        xmpp, CHANNEL, f"<pubsub xmlns='{PUBSUB}'><items node='{CONFIG}'/></pubsub>", "get"
    )
    form = result.xml.find(f".//{{{PUBSUB}}}item/{{jabber:x:data}}x")
    assert form is not None
    return {
        f.get("var"): [v.text or "" for v in f.findall("{jabber:x:data}value")]
        for f in form.findall("{jabber:x:data}field")
    }


async def test_room_configuration_is_the_mix_configuration(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    hag_mix, _ = hag
    owner, _ = await hag_in_muc(server)
    hecate, _, hecate_messages = await muc_client(server, "hecate")
    await hecate.plugin["xep_0045"].join_muc_wait(CHANNEL, "hecate", maxstanzas=0, timeout=TIMEOUT)
    with pytest.raises(IqError) as err:
        await hecate.plugin["xep_0045"].get_room_config(CHANNEL, timeout=TIMEOUT)
    assert err.value.condition == "forbidden"
    muc = owner.plugin["xep_0045"]
    form = await muc.get_room_config(CHANNEL, timeout=TIMEOUT)
    values = form_values(form)
    assert values["FORM_TYPE"] in (ROOMCONFIG, [ROOMCONFIG])
    assert values["muc#roomconfig_roomowners"] == ["hag66@localhost"]
    assert values["muc#roomconfig_membersonly"] is False
    assert values["muc#roomconfig_persistentroom"] is True
    assert values["muc#roomconfig_allowpm"] == "anyone"
    form.set_values(
        {
            "muc#roomconfig_roomname": "A Dark Cave",
            "muc#roomconfig_roomdesc": "The place for all good witches",
            "muc#roomconfig_allowinvites": True,
            "muc#roomconfig_allowpm": "none",
            "muc#roomconfig_roomadmins": ["greymalkin@localhost"],
        }
    )
    await muc.set_room_config(CHANNEL, form, timeout=TIMEOUT)
    notice = await hecate_messages.until(lambda m: 104 in codes(m))
    assert str(notice["from"]) == CHANNEL
    mix_config = await read_mix_config(hag_mix)
    assert mix_config["Administrator"] == ["greymalkin@localhost"]
    assert mix_config["Participation Addition by Invitation from Participant"] == ["true"]
    assert mix_config["Private Messages"] == ["false"]
    assert mix_config["Last Change Made By"] == ["hag66@localhost"]
    state = await channel_state(server, CHANNEL)
    assert state is not None
    assert state.channel.info.name == "A Dark Cave"
    assert state.channel.info.description == "The place for all good witches"
    info = await hecate.plugin["xep_0030"].get_info(jid=CHANNEL, timeout=TIMEOUT)
    assert {i[3] for i in info["disco_info"]["identities"]} == {"A Dark Cave"}
    again = form_values(await muc.get_room_config(CHANNEL, timeout=TIMEOUT))
    assert again["muc#roomconfig_roomname"] == "A Dark Cave"
    assert again["muc#roomconfig_roomadmins"] == ["greymalkin@localhost"]
    # Members-only: the allowed node, with everyone already in on it.
    form.set_values({"muc#roomconfig_membersonly": True})
    await muc.set_room_config(CHANNEL, form, timeout=TIMEOUT)
    assert await entries(hag_mix, ALLOWED) == ["hag66@localhost", "hecate@localhost"]
    info = await hecate.plugin["xep_0030"].get_info(jid=CHANNEL, timeout=TIMEOUT)
    assert "muc_membersonly" in info["disco_info"]["features"]
    lear, _, _ = await muc_client(server, "lear")
    with pytest.raises(PresenceError) as refused:
        await lear.plugin["xep_0045"].join_muc_wait(CHANNEL, "lear", timeout=TIMEOUT)
    assert refused.value.condition == "registration-required"
    # What a channel cannot change; a cancelled form changes nothing.
    form.set_values({"muc#roomconfig_persistentroom": False})
    with pytest.raises(IqError) as err:
        await muc.set_room_config(CHANNEL, form, timeout=TIMEOUT)
    assert err.value.condition == "not-acceptable"
    assert "persistentroom" in err.value.text
    await muc.cancel_config(CHANNEL, timeout=TIMEOUT)
    assert state.channel.info.name == "A Dark Cave"


async def test_destroying_the_room_destroys_the_channel(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    hag_mix, _ = hag
    events = FromService(hag_mix, "message")
    owner, _ = await hag_in_muc(server)
    hecate, hecate_seen, _ = await muc_client(server, "hecate")
    await hecate.plugin["xep_0045"].join_muc_wait(CHANNEL, "hecate", maxstanzas=0, timeout=TIMEOUT)
    with pytest.raises(IqError) as err:
        await hecate.plugin["xep_0045"].destroy(CHANNEL, timeout=TIMEOUT)
    assert err.value.condition == "forbidden"
    state = await channel_state(server, CHANNEL)
    assert state is not None
    hag_id = state.participants["hag66@localhost"].id
    await owner.plugin["xep_0045"].destroy(
        CHANNEL, "Macbeth doth come", f"heath@{CHANNEL.split('@')[1]}", timeout=TIMEOUT
    )
    gone = await hecate_seen.until(lambda p: p["type"] == "unavailable")
    destroy = gone.xml.find(f"{{{MUC_USER}}}x/{{{MUC_USER}}}destroy")
    assert destroy is not None and destroy.get("jid") == "heath@mix.localhost"
    assert destroy.findtext(f"{{{MUC_USER}}}reason") == "Macbeth doth come"
    assert await channel_state(server, CHANNEL) is None
    await retracted(events, hag_id)  # the MIX participant learns it is gone


async def test_mix_configuration_changes_reach_muc_occupants(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    """An administrator made through MIX (the configuration node) is shown
    to MUC clients as admin/moderator at once, with status 104."""
    hag_mix, _ = hag
    hecate, hecate_seen, hecate_messages = await muc_client(server, "hecate")
    await hecate.plugin["xep_0045"].join_muc_wait(CHANNEL, "hecate", maxstanzas=0, timeout=TIMEOUT)
    form = (
        f"<pubsub xmlns='{PUBSUB}'><publish node='{CONFIG}'><item>"
        "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
        "<value>urn:xmpp:mix:admin:0</value></field><field var='Administrator'>"
        "<value>hecate@localhost</value></field></x></item></publish></pubsub>"
    )
    await iq(hag_mix, CHANNEL, form)
    await hecate_messages.until(lambda m: 104 in codes(m))
    own = await hecate_seen.until(
        lambda p: str(p["from"]) == f"{CHANNEL}/hecate" and item(p)["affiliation"] == "admin"
    )
    assert item(own)["role"] == "moderator" and 110 in codes(own)
