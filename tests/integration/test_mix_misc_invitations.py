"""Invitations (XEP-0407) end to end with slixmpp clients: asking the
channel for one, passing it on, joining with it (past the allowed node),
the acknowledgement, and every refusal (rights, bans, forged, expired or
someone else's invitations, withdrawn rights)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from slixmpp.exceptions import IqError

from mixd.services.mix.misc.invitations import invitation_key, make_token
from tests.helpers import ServerHandle
from tests.misc_client import send_raw
from tests.mix_client import MIX, NODES, SERVICE, create, iq, join
from tests.pam_client import PAM, client_join_xml, pam_client
from tests.roster_client import next_event, wait

MISC = "urn:xmpp:mix:misc:0"
PUBSUB = "http://jabber.org/protocol/pubsub"
CONFIG = "urn:xmpp:mix:nodes:config"
ALLOWED = "urn:xmpp:mix:nodes:allowed"
BANNED = "urn:xmpp:mix:nodes:banned"
CHANNEL = f"coven@{SERVICE}"


def configure(var: str, *values: str) -> str:
    vals = "".join(f"<value>{v}</value>" for v in values)
    return (
        f"<pubsub xmlns='{PUBSUB}'><publish node='{CONFIG}'><item>"
        "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
        f"<value>urn:xmpp:mix:admin:0</value></field><field var='{var}'>{vals}</field>"
        "</x></item></publish></pubsub>"
    )


def ban(jid: str) -> str:
    return (
        f"<pubsub xmlns='{PUBSUB}'><publish node='{BANNED}'><item id='{jid}'/></publish></pubsub>"
    )


async def invitation_for(inviter: Any, invitee: str) -> dict[str, str]:
    result = await iq(
        inviter, CHANNEL, f"<invite xmlns='{MISC}'><invitee>{invitee}</invitee></invite>", "get"
    )
    found = result.xml.find(f"{{{MISC}}}invite/{{{MISC}}}invitation")
    assert found is not None, str(result)
    return {child.tag.split("}")[1]: child.text or "" for child in found}


def invitation_xml(inv: dict[str, str], ns: str = MISC) -> str:
    fields = "".join(f"<{k}>{inv[k]}</{k}>" for k in ("inviter", "invitee", "channel", "token"))
    return f"<invitation xmlns='{ns}'>{fields}</invitation>"


def join_with(inv: dict[str, str], nick: str) -> str:
    subs = "".join(f"<subscribe node='{n}'/>" for n in NODES)
    return f"<join xmlns='{MIX}'>{subs}<nick>{nick}</nick>{invitation_xml(inv)}</join>"


async def refused(xmpp: Any, to: str, payload: str, kind: str = "set") -> str:
    with pytest.raises(IqError) as caught:
        await iq(xmpp, to, payload, kind)
    return str(caught.value.condition)


async def refused_because(xmpp: Any, payload: str, why: str) -> None:
    """A join refused with `forbidden` for the reason `why` (the error text)."""
    with pytest.raises(IqError) as caught:
        await iq(xmpp, CHANNEL, payload)
    assert caught.value.condition == "forbidden"
    assert why in str(caught.value.text), caught.value.text


@pytest.fixture
async def coven(server: ServerHandle) -> tuple[Any, Any, Any]:
    """hag66 owns the coven; hecate is a participant; then the allowed
    node (listing nobody) closes it to anyone else, macbeth included."""
    clients = []
    for name in ("hag66", "hecate", "macbeth"):
        await server.add_user(f"{name}@localhost", f"pw-{name}")
        clients.append(await pam_client(server, f"{name}@localhost/r", f"pw-{name}"))
    hag, hecate, macbeth = clients
    await create(hag, "coven")
    await join(hag, CHANNEL, "third witch")
    await join(hecate, CHANNEL, "top witch")
    await iq(
        hag, CHANNEL, configure("Nodes Present", "participants", "information", "allowed", "banned")
    )
    hag.mixd_server = server
    return hag, hecate, macbeth


async def test_invite_pass_on_join_and_acknowledge(coven: tuple[Any, ...]) -> None:
    hag, _, macbeth = coven
    assert await refused(macbeth, CHANNEL, _plain_join("thane")) == "forbidden"
    inv = await invitation_for(hag, "macbeth@localhost")
    assert inv["inviter"] == "hag66@localhost" and inv["invitee"] == "macbeth@localhost"
    assert inv["channel"] == CHANNEL and inv["token"]
    # The inviter passes it on in a message; the server delivers it as sent.
    arrived = next_event(macbeth, "message", lambda m: m["body"] == "Join the coven?")
    send_raw(hag, "macbeth@localhost", invitation_xml(inv), body="Join the coven?", kind="chat")
    message = await wait(arrived)
    got = message.xml.find(f"{{{MISC}}}invitation")
    assert got is not None and got.findtext(f"{{{MISC}}}token") == inv["token"]
    # The invitee joins with it through its own server (client-join).
    payload = client_join_xml(CHANNEL, "thane").replace("</join>", f"{invitation_xml(inv)}</join>")
    result = await iq(macbeth, "macbeth@localhost", payload)
    joined = result.xml.find(f"{{{PAM}}}client-join/{{{MIX}}}join")
    assert joined is not None and joined.findtext(f"{{{MIX}}}nick") == "thane"
    # ... and is on the allowed node from then on.
    allowed = await iq(
        hag, CHANNEL, f"<pubsub xmlns='{PUBSUB}'><items node='{ALLOWED}'/></pubsub>", "get"
    )
    assert "macbeth@localhost" in {i.get("id") for i in allowed.xml.iter(f"{{{PUBSUB}}}item")}
    # The acknowledgement reaches the inviter.
    ack = (
        f"<invitation-ack xmlns='{MISC}'><value>Joined</value>{invitation_xml(inv)}"
        "</invitation-ack>"
    )
    acked = next_event(hag, "message", lambda m: m["body"] == "Thanks")
    send_raw(macbeth, "hag66@localhost", ack, body="Thanks", kind="chat")
    got_ack = await wait(acked)
    assert got_ack.xml.findtext(f"{{{MISC}}}invitation-ack/{{{MISC}}}value") == "Joined"


def _plain_join(nick: str) -> str:
    subs = "".join(f"<subscribe node='{n}'/>" for n in NODES)
    return f"<join xmlns='{MIX}'>{subs}<nick>{nick}</nick></join>"


async def test_who_may_invite(coven: tuple[Any, ...]) -> None:
    hag, hecate, macbeth = coven
    ask = f"<invite xmlns='{MISC}'><invitee>macbeth@localhost</invitee></invite>"
    assert await refused(hecate, CHANNEL, ask, "get") == "forbidden"  # participants: off
    assert await refused(macbeth, CHANNEL, ask, "get") == "forbidden"  # not a participant
    await iq(
        hag, CHANNEL, configure("Participation Addition by Invitation from Participant", "true")
    )
    inv = await invitation_for(hecate, "macbeth@localhost")
    assert inv["inviter"] == "hecate@localhost"
    # Taking the right away again withdraws what was handed out.
    await iq(
        hag, CHANNEL, configure("Participation Addition by Invitation from Participant", "false")
    )
    await refused_because(macbeth, join_with(inv, "thane"), "may no longer invite")
    assert await refused(hag, CHANNEL, f"<invite xmlns='{MISC}'/>", "get") == "bad-request"
    bad = f"<invite xmlns='{MISC}'><invitee>@@</invitee></invite>"
    assert await refused(hag, CHANNEL, bad, "get") == "jid-malformed"


async def test_forged_misused_and_expired_invitations(coven: tuple[Any, ...]) -> None:
    hag, _, macbeth = coven
    server: ServerHandle = hag.mixd_server
    inv = await invitation_for(hag, "macbeth@localhost")
    await server.add_user("banquo@localhost", "pw-banquo")
    banquo = await pam_client(server, "banquo@localhost/r", "pw-banquo")
    # Someone else presenting it.
    await refused_because(banquo, join_with(inv, "banquo"), "for someone else")
    # A changed token, or an invitation rewritten for another user.
    forged = dict(inv, token=inv["token"][:-2] + ("AA" if inv["token"][-2:] != "AA" else "BB"))
    await refused_because(macbeth, join_with(forged, "thane"), "invalid or expired")
    rewritten = dict(inv, invitee="banquo@localhost")
    await refused_because(banquo, join_with(rewritten, "banquo"), "invalid or expired")
    # Expired: a correctly signed token whose time is over.
    assert server.app.server is not None
    stored = await server.app.server.stores.mix.get_channel(CHANNEL)
    assert stored is not None
    key = invitation_key(stored.secret)
    old = int(time.time()) - 1
    expired = dict(inv, token=make_token(key, CHANNEL, inv["inviter"], inv["invitee"], old))
    await refused_because(macbeth, join_with(expired, "thane"), "invalid or expired")
    # A malformed invitation.
    broken = join_with(inv, "thane").replace(f"<token>{inv['token']}</token>", "")
    assert await refused(macbeth, CHANNEL, broken) == "bad-request"
    # The genuine one still works, also in XEP-0407's own join namespace.
    result = await iq(
        macbeth, CHANNEL, join_with(inv, "thane").replace(f"xmlns='{MIX}'", f"xmlns='{MISC}'")
    )
    assert result.xml.find(f"{{{MISC}}}join") is not None


async def test_banned_users_never_join(coven: tuple[Any, ...]) -> None:
    hag, _, macbeth = coven
    inv = await invitation_for(hag, "macbeth@localhost")
    await iq(hag, CHANNEL, ban("macbeth@localhost"))
    await refused_because(macbeth, join_with(inv, "thane"), "banned")
    ask = f"<invite xmlns='{MISC}'><invitee>macbeth@localhost</invitee></invite>"
    assert await refused(hag, CHANNEL, ask, "get") == "forbidden"
    # A domain ban too.
    await iq(hag, CHANNEL, ban("localhost"))
    other = f"<invite xmlns='{MISC}'><invitee>banquo@localhost</invitee></invite>"
    assert await refused(hag, CHANNEL, other, "get") == "forbidden"


async def test_telling_another_user_about_a_channel(coven: tuple[Any, ...]) -> None:
    hag, _, macbeth = coven
    reference = (
        "<reference xmlns='urn:xmpp:reference:0' type='mention' begin='0' end='5'"
        f" uri='xmpp:{CHANNEL}?join'/>"
    )
    arrived = next_event(macbeth, "message", lambda m: m["body"] == "coven is where we meet")
    send_raw(hag, "macbeth@localhost", reference, body="coven is where we meet", kind="chat")
    message = await wait(arrived)
    got = message.xml.find("{urn:xmpp:reference:0}reference")
    assert got is not None and got.get("uri") == f"xmpp:{CHANNEL}?join"
