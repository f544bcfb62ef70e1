"""Message retraction through the MUC face end to end: XEP-0425 moderation
and XEP-0424 retraction from slixmpp MUC clients (xep_0045) done as MIX-MISC
retraction, so MIX participants of the same channel see it; MIX-side
retractions reaching MUC clients in XEP-0424/0425 form; MAM results from
the MUC side showing tombstones."""

from __future__ import annotations

from typing import Any

import pytest
from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError

from tests.helpers import TIMEOUT, ServerHandle
from tests.integration.test_muc import (
    CHANNEL,
    MUC_PLUGINS,
    SID,
    body,
    hag,
    muc_client,
    occupant_id,
)
from tests.integration.test_muc_mirror import (
    MIX_CHANNEL,
    MUC_SERVICE,
    ROOM,
    mirrored,
    muc_user,
    owner_with_mix,
)
from tests.integration.test_muc_moderation import hag_in_muc
from tests.mam_client import mam_query
from tests.misc_client import MISC, error_for, retract, retract_id, send_raw
from tests.mix_client import FromService, iq, join, mix_client

__all__ = ["hag", "mirrored"]  # fixtures, shared with test_muc.py and test_muc_mirror.py

RETRACT = "urn:xmpp:message-retract:1"
MODERATE = "urn:xmpp:message-moderate:1"
FALLBACK = "urn:xmpp:fallback:0"
OCCUPANT_ID = "urn:xmpp:occupant-id:0"
PUBSUB = "http://jabber.org/protocol/pubsub"
ADMIN = "urn:xmpp:mix:admin:0"


def moderate(target: str, reason: str | None = None, action: bool = True) -> str:
    why = f"<reason>{reason}</reason>" if reason else ""
    what = f"<retract xmlns='{RETRACT}'/>" if action else ""
    return f"<moderate xmlns='{MODERATE}' id='{target}'>{what}{why}</moderate>"


def allow_own_retraction() -> str:
    return (
        f"<pubsub xmlns='{PUBSUB}'><publish node='urn:xmpp:mix:nodes:config'><item>"
        "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
        f"<value>{ADMIN}</value></field><field var='User Message Retraction'>"
        "<value>true</value></field></x></item></publish></pubsub>"
    )


def stanza_id(message: Any) -> str:
    [sid] = message.xml.findall(f"{{{SID}}}stanza-id")
    assert sid.get("by") == CHANNEL
    return str(sid.get("id"))


def muc_retract(message: Any) -> Any:
    return message.xml.find(f"{{{RETRACT}}}retract")


def muc_retract_of(target: str) -> Any:
    def match(message: Any) -> bool:
        found = muc_retract(message)
        return message["type"] == "groupchat" and found is not None and found.get("id") == target

    return match


def mix_retract_of(target: str) -> Any:
    return lambda m: m["type"] == "groupchat" and retract_id(m) == target


async def said(sender: ClientXMPP, text: str, seen: FromService) -> str:
    """A groupchat from `sender`; its stanza id, as a MUC client saw it."""
    sender.make_message(mto=CHANNEL, mbody=text, mtype="groupchat").send()
    return stanza_id(await seen.until(body(text)))


async def room(
    server: ServerHandle,
) -> tuple[ClientXMPP, FromService, ClientXMPP, FromService, ClientXMPP, FromService]:
    """The owner's MUC client, hecate's MUC client, greymalkin's MIX client."""
    owner, _ = await hag_in_muc(server)
    owner_seen = FromService(owner, "message")
    hecate, _, hecate_seen = await muc_client(server, "hecate")
    await hecate.plugin["xep_0045"].join_muc_wait(CHANNEL, "hecate", maxstanzas=0, timeout=TIMEOUT)
    await server.add_user("greymalkin@localhost", "pw-greymalkin")
    grey = await mix_client(server, "greymalkin@localhost/r", "pw-greymalkin")
    grey_seen = FromService(grey, "message")
    await join(grey, CHANNEL, "grey")
    return owner, owner_seen, hecate, hecate_seen, grey, grey_seen


async def test_moderator_retracts_everyone_sees_it_mam_shows_tombstone(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    owner, owner_seen, hecate, hecate_seen, _, grey_seen = await room(server)
    info = await hecate.plugin["xep_0030"].get_info(jid=CHANNEL, timeout=TIMEOUT)
    assert {MODERATE, RETRACT, f"{RETRACT}#tombstone"} <= set(info["disco_info"]["features"])
    target = await said(hecate, "DM me for free magic potions!", owner_seen)
    kept = await said(hecate, "this one stays", owner_seen)
    await grey_seen.until(body("this one stays"))

    await iq(owner, CHANNEL, moderate(target, "Spam"))

    # MUC occupants: XEP-0425's notice, from the room.
    for seen in (hecate_seen, owner_seen):
        notice = await seen.until(muc_retract_of(target))
        assert str(notice["from"]) == CHANNEL
        moderated = muc_retract(notice).find(f"{{{MODERATE}}}moderated")
        assert moderated.get("by") == f"{CHANNEL}/third witch"
        assert moderated.find(f"{{{OCCUPANT_ID}}}occupant-id").get("id")
        assert muc_retract(notice).findtext(f"{{{RETRACT}}}reason") == "Spam"
        assert not notice["body"]
    # The MIX participant: MIX-MISC's retraction, with the reason.
    mix_notice = await grey_seen.until(mix_retract_of(target))
    assert mix_notice.xml.findtext(f"{{{MODERATE}}}reason") == "Spam"
    # MAM from the MUC side: the tombstone, still from the sender.
    page = await mam_query(hecate, to=CHANNEL)
    by_id = dict(zip(page.ids, page.forwarded, strict=True))
    grave = by_id[target]
    assert not grave["body"] and str(grave["from"]) == f"{CHANNEL}/hecate"
    assert occupant_id(grave) == occupant_id(by_id[kept])
    retracted = grave.xml.find(f"{{{RETRACT}}}retracted")
    assert retracted is not None and retracted.get("stamp")
    moderated = retracted.find(f"{{{MODERATE}}}moderated")
    assert moderated is not None and moderated.get("by") == f"{CHANNEL}/third witch"
    assert grave.xml.find(f"{{{MISC}}}retracted") is None
    assert by_id[kept]["body"] == "this one stays"
    [request] = [m for m in page.forwarded if muc_retract(m) is not None]
    assert str(request["from"]) == CHANNEL
    assert muc_retract(request).findtext(f"{{{RETRACT}}}reason") == "Spam"
    # The same message cannot be moderated twice.
    with pytest.raises(IqError) as err:
        await iq(owner, CHANNEL, moderate(target))
    assert err.value.condition == "conflict"


async def test_moderation_refusals(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    owner, owner_seen, hecate, _, _, _ = await room(server)
    target = await said(owner, "mine", owner_seen)
    with pytest.raises(IqError) as err:
        await iq(hecate, CHANNEL, moderate(target))
    assert err.value.condition == "forbidden"  # not a moderator
    with pytest.raises(IqError) as err:
        await iq(owner, CHANNEL, moderate("no-such-message"))
    assert err.value.condition == "item-not-found"
    with pytest.raises(IqError) as err:
        await iq(owner, CHANNEL, moderate(target, action=False))
    assert err.value.condition == "feature-not-implemented"
    with pytest.raises(IqError) as err:
        await iq(
            owner, CHANNEL, f"<moderate xmlns='{MODERATE}'><retract xmlns='{RETRACT}'/></moderate>"
        )
    assert err.value.condition == "bad-request"
    page = await mam_query(owner, to=CHANNEL)
    assert page.bodies == ["mine"]


async def test_own_message_retracted_by_xep_0424(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    hag_mix, _ = hag
    owner, owner_seen, hecate, hecate_seen, _, grey_seen = await room(server)
    target = await said(hecate, "I did not mean that", owner_seen)
    others = await said(owner, "not hecate's", owner_seen)
    fallback = f"<fallback xmlns='{FALLBACK}' for='{RETRACT}'/>"
    # Own retraction is off by default: the sender gets the error.
    refused = send_raw(
        hecate, CHANNEL, f"<retract xmlns='{RETRACT}' id='{target}'/>{fallback}", "x"
    )
    assert await error_for(hecate_seen, refused) == "forbidden"
    await iq(hag_mix, CHANNEL, allow_own_retraction())
    # Someone else's message stays out of reach.
    refused = send_raw(
        hecate, CHANNEL, f"<retract xmlns='{RETRACT}' id='{others}'/>{fallback}", "x"
    )
    assert await error_for(hecate_seen, refused) == "forbidden"

    sent = send_raw(
        hecate, CHANNEL, f"<retract xmlns='{RETRACT}' id='{target}'/>{fallback}", "/me retracted"
    )

    for seen in (hecate_seen, owner_seen):
        notice = await seen.until(muc_retract_of(target))
        assert str(notice["from"]) == f"{CHANNEL}/hecate"
        assert muc_retract(notice).find(f"{{{MODERATE}}}moderated") is None
        assert notice.xml.find(f"{{{FALLBACK}}}fallback") is not None
        assert notice["body"]  # the fallback, for clients without XEP-0424
    assert (await hecate_seen.until(muc_retract_of(target)))["id"] == sent
    mix_notice = await grey_seen.until(mix_retract_of(target))
    assert not mix_notice["body"]  # MIX clients get MIX-MISC's form, no fallback
    assert mix_notice.xml.find(f"{{{RETRACT}}}retract") is None
    page = await mam_query(hecate, to=CHANNEL)
    grave = dict(zip(page.ids, page.forwarded, strict=True))[target]
    retracted = grave.xml.find(f"{{{RETRACT}}}retracted")
    assert retracted is not None and retracted.find(f"{{{MODERATE}}}moderated") is None
    assert not grave["body"]


async def test_mix_side_retractions_reach_muc_clients(
    server: ServerHandle, hag: tuple[ClientXMPP, FromService]
) -> None:
    hag_mix, _ = hag
    _, owner_seen, hecate, hecate_seen, grey, _ = await room(server)
    await iq(hag_mix, CHANNEL, allow_own_retraction())
    hecates = await said(hecate, "by hecate", owner_seen)
    greys = await said(grey, "by grey", hecate_seen)
    # The owner, through MIX, retracts hecate's message: moderated.
    retract(hag_mix, CHANNEL, hecates)
    notice = await hecate_seen.until(muc_retract_of(hecates))
    assert str(notice["from"]) == CHANNEL
    moderated = muc_retract(notice).find(f"{{{MODERATE}}}moderated")
    assert moderated is not None and moderated.get("by") == f"{CHANNEL}/third witch"
    assert notice.xml.find(f"{{{MISC}}}retract") is None
    # Greymalkin, through MIX, retracts its own: XEP-0424 from its occupant JID.
    retract(grey, CHANNEL, greys)
    own = await hecate_seen.until(muc_retract_of(greys))
    assert str(own["from"]) == f"{CHANNEL}/grey"
    assert muc_retract(own).find(f"{{{MODERATE}}}moderated") is None
    assert own.xml.find(f"{{{MISC}}}retract") is None
    # History on entering shows both retractions and both tombstones that way.
    late, _, late_seen = await muc_client(server, "late")
    await late.plugin["xep_0045"].join_muc_wait(CHANNEL, "late", maxstanzas=10, timeout=TIMEOUT)
    graves = {
        m["id"]: m.xml.find(f"{{{RETRACT}}}retracted")
        for m in late_seen.items
        if m.xml.find(f"{{{RETRACT}}}retracted") is not None
    }
    assert set(graves) == {hecates, greys}
    assert graves[hecates].find(f"{{{MODERATE}}}moderated") is not None
    assert graves[greys].find(f"{{{MODERATE}}}moderated") is None


async def test_moderation_on_a_mirror_muc_domain(mirrored: ServerHandle) -> None:
    """Partially integrated mode: the room's JIDs are the MUC domain's."""
    await owner_with_mix(mirrored)
    owner = await mirrored.client("hag66@localhost/muc", "pw-hag66", plugins=MUC_PLUGINS)
    owner_seen = FromService(owner, "message", MUC_SERVICE)
    await owner.plugin["xep_0045"].join_muc_wait(ROOM, "third witch", maxstanzas=0, timeout=TIMEOUT)
    hecate, _, hecate_seen = await muc_user(mirrored, "hecate")
    await hecate.plugin["xep_0045"].join_muc_wait(ROOM, "hecate", maxstanzas=0, timeout=TIMEOUT)
    hecate.make_message(mto=ROOM, mbody="spam", mtype="groupchat").send()
    seen = await owner_seen.until(body("spam"))
    [sid] = seen.xml.findall(f"{{{SID}}}stanza-id")
    assert sid.get("by") == ROOM
    target = str(sid.get("id"))
    with pytest.raises(IqError):
        await iq(owner, MIX_CHANNEL, moderate(target))  # the MIX domain is MIX only
    info = await hecate.plugin["xep_0030"].get_info(jid=ROOM, timeout=TIMEOUT)
    assert MODERATE in info["disco_info"]["features"]

    await iq(owner, ROOM, moderate(target, "Spam"))

    notice = await hecate_seen.until(muc_retract_of(target))
    assert str(notice["from"]) == ROOM
    moderated = muc_retract(notice).find(f"{{{MODERATE}}}moderated")
    assert moderated.get("by") == f"{ROOM}/third witch"
    page = await mam_query(hecate, to=ROOM)
    grave = dict(zip(page.ids, page.forwarded, strict=True))[target]
    assert grave.xml.find(f"{{{RETRACT}}}retracted/{{{MODERATE}}}moderated").get("by") == (
        f"{ROOM}/third witch"
    )
