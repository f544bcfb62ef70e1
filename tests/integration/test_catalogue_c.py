"""RELIABILITY group C cases beyond test_bad_input.py, test_mam.py and
test_carbons.py: server-only elements a client forges in a message (C4),
roster pushes and MAM results sent by a third party (C5), and user JIDs on
the MIX domain (C6)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.catalogue import session, still_serving, until_pong
from tests.helpers import STREAM_HEADER, ServerHandle
from tests.wire import CLIENT, Wire, stanza_error

DELAY = "urn:xmpp:delay"
MAM = "urn:xmpp:mam:2"
ROSTER = "jabber:iq:roster"


def bodies(elements: list[ET.Element]) -> list[ET.Element]:
    return [el for el in elements if el.tag == f"{{{CLIENT}}}message"]


@pytest.mark.parametrize("copies", [2, 3])
async def test_forged_server_delay_is_neither_delivered_nor_archived(
    server: ServerHandle, copies: int
) -> None:
    """A <delay/> claiming to be added by this server (from = a hosted
    domain or a service domain) is removed, every copy, before archiving and
    delivery, from messages and presence alike; the client's own delay (from
    its own JID) is kept."""
    bob, _ = await session(server, "bob", "desk")
    alice, alice_jid = await session(server, "alice", "phone")
    forged = "".join(
        f"<delay xmlns='{DELAY}' from='{domain}' stamp='2002-09-10T23:08:25Z'/>"
        for _ in range(copies)
        for domain in ("localhost", "example.org", "LocalHost", "mix.localhost")
    )
    own = f"<delay xmlns='{DELAY}' from='{alice_jid}' stamp='2002-09-10T23:08:25Z'/>"
    await alice.send(
        f"<message to='bob@localhost/desk' type='chat' id='d1'><body>late</body>{forged}{own}"
        f"</message><presence to='bob@localhost/desk'>{forged}{own}</presence>"
    )
    await until_pong(alice)
    received = await until_pong(bob)
    delivered = [
        el for el in received if el.tag in (f"{{{CLIENT}}}message", f"{{{CLIENT}}}presence")
    ]
    assert [el.tag.split("}")[1] for el in delivered] == ["message", "presence"]
    for stanza in delivered:
        assert [d.get("from") for d in stanza.findall(f"{{{DELAY}}}delay")] == [alice_jid]
    # The sender's archive holds the message as delivered.
    await alice.send(f"<iq type='set' id='q'><query xmlns='{MAM}' queryid='q'/></iq>")
    archived = [el for el in await until_pong(alice) if el.find(f"{{{MAM}}}result") is not None]
    forwarded = f"{{{MAM}}}result/{{urn:xmpp:forward:0}}forwarded/{{{CLIENT}}}message"
    [inner] = [el.find(forwarded) for el in archived]
    assert inner is not None
    assert [d.get("from") for d in inner.findall(f"{{{DELAY}}}delay")] == [alice_jid]


async def test_roster_push_from_a_third_party_carries_its_sender(server: ServerHandle) -> None:
    """RFC 6121 2.1.6: a client accepts a roster push only without 'from' or
    from its own bare JID. A push another user sends reaches the target
    stamped with that user's full JID, never the target's own JID."""
    bob, _ = await session(server, "bob", "desk")
    mallory, mallory_jid = await session(server, "mallory", "m")
    await mallory.send(
        f"<iq type='set' id='push1' to='bob@localhost/desk'><query xmlns='{ROSTER}'>"
        "<item jid='mallory@localhost' subscription='both'/></query></iq>"
    )
    [push] = [el for el in await until_pong(bob) if el.get("id") == "push1"]
    assert push.get("from") == mallory_jid
    # The server did not touch bob's roster.
    await bob.send(f"<iq type='get' id='r'><query xmlns='{ROSTER}'/></iq>")
    roster = await bob.expect(lambda el: el.get("id") == "r")
    assert roster.findall(f".//{{{ROSTER}}}item") == []
    await still_serving(server, bob, mallory)


async def test_mam_result_from_a_third_party_carries_its_sender(server: ServerHandle) -> None:
    """A forged MAM result (XEP-0313 4.2: results come from the archive's
    JID) reaches the target from the forger's full JID, never from the
    target's own bare JID."""
    bob, _ = await session(server, "bob", "desk")
    mallory, mallory_jid = await session(server, "mallory", "m")
    await mallory.send(
        "<message to='bob@localhost/desk' id='fake'>"
        f"<result xmlns='{MAM}' queryid='q1' id='x'><forwarded xmlns='urn:xmpp:forward:0'>"
        "<message xmlns='jabber:client' from='alice@localhost/a' to='bob@localhost'>"
        "<body>I owe you</body></message></forwarded></result></message>"
    )
    received = bodies(await until_pong(bob))
    assert [m.get("from") for m in received] == [mallory_jid]
    assert all(m.get("from") not in ("bob@localhost", "localhost") for m in received)


@pytest.mark.parametrize(
    ("kind", "payload", "condition"),
    [
        ("message", "<body>hi</body>", "item-not-found"),
        ("iq", "<ping xmlns='urn:xmpp:ping'/>", "item-not-found"),
    ],
)
async def test_user_jid_on_the_mix_domain_is_not_a_user(
    server: ServerHandle, kind: str, payload: str, condition: str
) -> None:
    """C6: nothing on the MIX domain is an account; a stanza to
    `someone@mix.localhost` that is not a channel is an error, never
    delivered to the account `someone@localhost`."""
    bob, _ = await session(server, "bob", "desk")
    alice, _ = await session(server, "alice")
    kind_type = "chat" if kind == "message" else "get"
    await alice.send(
        f"<{kind} to='bob@mix.localhost' type='{kind_type}' id='u1'>{payload}</{kind}>"
    )
    reply = await alice.expect(lambda el: el.get("id") == "u1")
    assert stanza_error(reply)[1] == condition
    assert bodies(await until_pong(bob)) == []
    await still_serving(server, alice, bob)


async def test_logging_in_on_the_mix_domain_is_refused(server: ServerHandle) -> None:
    wire = await Wire.open(server.port)
    await wire.send(STREAM_HEADER.format(host="mix.localhost"))
    assert await wire.closed_with() == "host-unknown"
