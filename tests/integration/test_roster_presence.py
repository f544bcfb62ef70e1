"""Presence subscriptions (RFC 6121 section 3) and presence (section 4) as
slixmpp clients see them: the handshake, pre-approval, requests waiting for
login, removal, probes, broadcast and directed presence."""

from __future__ import annotations

import asyncio

import pytest

from mixd.codec.stanza import Stanza
from mixd.storage.contracts.roster import RosterItem, Subscription
from tests.helpers import ServerHandle
from tests.roster_client import (
    add_users,
    befriend,
    collect,
    from_,
    item,
    login,
    next_event,
    push_for,
    roster_get,
    roster_set,
    store,
    sync,
    wait,
)


@pytest.fixture
async def users(server: ServerHandle) -> ServerHandle:
    """A server with alice, bob and carol (password pw-<name>)."""
    await add_users(server)
    return server


# -- the subscription handshake (RFC 6121 3.1) --------------------------------


async def test_subscription_handshake_step_by_step(users: ServerHandle) -> None:
    alice = await login(users, "alice@localhost/home")
    bob = await login(users, "bob@localhost/desk")
    bob.send_presence(pstatus="at my desk")
    await sync(bob)

    request = next_event(bob, "presence_subscribe")
    asked = next_event(alice, "roster_update", push_for("bob@localhost"))
    alice.send_presence_subscription(pto="bob@localhost")
    got = await wait(request)
    assert str(got["from"]) == "alice@localhost"  # stamped with the bare JID (3.1.2)
    pushed = (await wait(asked))["roster"]["items"]["bob@localhost"]
    assert (pushed["subscription"], pushed["ask"]) == ("none", "subscribe")
    # Not in bob's roster until he approves (A.1: "None + Pending In").
    assert "alice@localhost" not in (await roster_get(bob))["roster"]["items"]

    approved = next_event(alice, "presence_subscribed")
    alice_to = next_event(alice, "roster_update", push_for("bob@localhost"))
    bob_from = next_event(bob, "roster_update", push_for("alice@localhost"))
    bob_seen = next_event(alice, "presence_available", from_("bob@localhost/desk"))
    bob.send_presence_subscription(pto="alice@localhost", ptype="subscribed")
    assert str((await wait(approved))["from"]) == "bob@localhost"
    assert (await wait(alice_to))["roster"]["items"]["bob@localhost"]["subscription"] == "to"
    assert (await wait(bob_from))["roster"]["items"]["alice@localhost"]["subscription"] == "from"
    assert (await wait(bob_seen))["status"] == "at my desk"  # 3.1.5

    back = next_event(alice, "presence_subscribe")
    bob.send_presence_subscription(pto="alice@localhost")
    await wait(back)
    alice_seen = next_event(bob, "presence_available", from_("alice@localhost/home"))
    both = next_event(bob, "roster_update", push_for("alice@localhost"))
    alice.send_presence_subscription(pto="bob@localhost", ptype="subscribed")
    await wait(alice_seen)
    assert (await wait(both))["roster"]["items"]["alice@localhost"]["subscription"] == "both"
    a, b = (
        await item(users, "alice@localhost", "bob@localhost"),
        await item(users, "bob@localhost", "alice@localhost"),
    )
    assert a is not None and b is not None
    assert a.subscription is b.subscription is Subscription.BOTH

    # Updates now reach the other side through the broadcast.
    away = next_event(bob, "changed_status", lambda p: p["show"] == "away")
    alice.send_presence(pshow="away")
    assert str((await wait(away))["from"]) == "alice@localhost/home"


async def test_slixmpp_defaults_subscribe_both_ways(users: ServerHandle) -> None:
    alice = await login(users, "alice@localhost/home")
    bob = await login(users, "bob@localhost/desk")
    for xmpp in (alice, bob):
        xmpp.auto_authorize = True
        xmpp.auto_subscribe = True
    alice_sees_bob = next_event(alice, "presence_available", from_("bob@localhost/desk"))
    bob_sees_alice = next_event(bob, "presence_available", from_("alice@localhost/home"))
    mutual = next_event(
        alice,
        "roster_update",
        lambda iq: (
            iq["type"] == "set"
            and iq["roster"]["items"].get("bob@localhost", {}).get("subscription") == "both"
        ),
    )
    alice.send_presence_subscription(pto="bob@localhost")
    await wait(alice_sees_bob)
    await wait(bob_sees_alice)
    await wait(mutual)


async def test_request_to_offline_user_waits_for_login(users: ServerHandle) -> None:
    alice = await login(users, "alice@localhost/home")
    alice.send_raw(
        "<presence to='bob@localhost' type='subscribe'><status>it's alice</status>"
        "<nick xmlns='http://jabber.org/protocol/nick'>Alice</nick></presence>"
    )
    await sync(alice)
    stored = await item(users, "bob@localhost", "alice@localhost")
    assert stored is not None and stored.pending_in and not stored.listed

    bob = await login(users, "bob@localhost/desk", presence=False)
    request = next_event(bob, "presence_subscribe")
    bob.send_presence()
    got = await wait(request)
    assert str(got["from"]) == "alice@localhost"
    # The stored stanza itself, with its status and XEP-0172 nick.
    assert got["status"] == "it's alice"
    assert got.xml.findtext("{http://jabber.org/protocol/nick}nick") == "Alice"
    # Delivered again at every login until answered (3.1.3).
    again = await login(users, "bob@localhost/laptop", presence=False)
    request = next_event(again, "presence_subscribe")
    again.send_presence()
    await wait(request)

    approved = next_event(alice, "presence_subscribed")
    again.send_presence_subscription(pto="alice@localhost", ptype="subscribed")
    await wait(approved)
    later = await login(users, "bob@localhost/tablet", presence=False)
    requests = collect(later, "presence_subscribe")
    later.send_presence()
    await sync(later)
    assert requests == []


async def test_denied_request_leaves_no_roster_entry(users: ServerHandle) -> None:
    alice = await login(users, "alice@localhost/home")
    bob = await login(users, "bob@localhost/desk")
    request = next_event(bob, "presence_subscribe")
    alice.send_presence_subscription(pto="bob@localhost")
    await wait(request)
    denied = next_event(alice, "presence_unsubscribed")
    cleared = next_event(alice, "roster_update", push_for("bob@localhost"))
    bob.send_presence_subscription(pto="alice@localhost", ptype="unsubscribed")
    await wait(denied)
    pushed = (await wait(cleared))["roster"]["items"]["bob@localhost"]
    assert (pushed["subscription"], pushed["ask"]) == ("none", "")
    assert await item(users, "bob@localhost", "alice@localhost") is None


async def test_subscribe_to_unknown_user_is_refused(users: ServerHandle) -> None:
    alice = await login(users, "alice@localhost/home")
    refused = next_event(alice, "presence_unsubscribed", from_("nobody@localhost"))
    alice.send_presence_subscription(pto="nobody@localhost")
    await wait(refused)  # 3.1.3: no such account
    stored = await item(users, "alice@localhost", "nobody@localhost")
    assert stored is not None and not stored.ask  # the refusal cleared Pending Out


async def test_pre_approval(users: ServerHandle) -> None:
    bob = await login(users, "bob@localhost/desk")
    approved_push = next_event(bob, "roster_update", push_for("alice@localhost"))
    bob.send_presence_subscription(pto="alice@localhost", ptype="subscribed")
    pushed = (await wait(approved_push))["roster"]["items"]["alice@localhost"]
    assert (pushed["subscription"], pushed["approved"]) == ("none", "true")

    alice = await login(users, "alice@localhost/home")
    requests = collect(bob, "presence_subscribe")
    accepted = next_event(alice, "presence_subscribed", from_("bob@localhost"))
    bob_seen = next_event(alice, "presence_available", from_("bob@localhost/desk"))
    bob_from = next_event(bob, "roster_update", push_for("alice@localhost"))
    alice.send_presence_subscription(pto="bob@localhost")
    await wait(accepted)  # answered by bob's server, bob is not asked
    await wait(bob_seen)
    pushed = (await wait(bob_from))["roster"]["items"]["alice@localhost"]
    assert (pushed["subscription"], pushed["approved"]) == ("from", "")
    await sync(bob)
    assert requests == []


async def test_roster_remove_cancels_both_subscriptions(users: ServerHandle) -> None:
    await befriend(users, "alice@localhost", "bob@localhost")
    alice = await login(users, "alice@localhost/home")
    bob = await login(users, "bob@localhost/desk")
    unsubscribe = next_event(bob, "presence_unsubscribe", from_("alice@localhost"))
    unsubscribed = next_event(bob, "presence_unsubscribed", from_("alice@localhost"))
    offline = next_event(bob, "presence_unavailable", from_("alice@localhost/home"))
    removed = next_event(alice, "roster_update", push_for("bob@localhost"))
    bob_push = next_event(bob, "roster_update", push_for("alice@localhost"))
    # A raw remove: slixmpp's del_roster_item unsubscribes by itself first,
    # and this is about what the server does (2.5.2).
    await roster_set(alice, "<item jid='bob@localhost' subscription='remove'/>")
    assert (await wait(removed))["roster"]["items"]["bob@localhost"]["subscription"] == "remove"
    await wait(unsubscribe)
    await wait(unsubscribed)
    await wait(offline)  # 3.2.2: bob sees alice go before losing her presence
    await wait(bob_push)
    assert await item(users, "alice@localhost", "bob@localhost") is None
    remaining = await item(users, "bob@localhost", "alice@localhost")
    assert remaining is not None and remaining.subscription is Subscription.NONE
    assert "bob@localhost" not in (await roster_get(alice))["roster"]["items"]


# -- presence broadcast, probes, directed presence (RFC 6121 4) ----------------


async def test_probe_on_login_shows_online_contact(users: ServerHandle) -> None:
    await befriend(users, "alice@localhost", "bob@localhost")
    bob = await login(users, "bob@localhost/desk", presence=False)
    bob.send_presence(pshow="dnd", pstatus="in a meeting")
    await sync(bob)
    alice = await login(users, "alice@localhost/home", presence=False)
    seen = next_event(alice, "presence_dnd", from_("bob@localhost/desk"))
    alice.send_presence()
    assert (await wait(seen))["status"] == "in a meeting"


async def test_initial_presence_reaches_contacts_and_own_resources(users: ServerHandle) -> None:
    await befriend(users, "alice@localhost", "bob@localhost")
    bob = await login(users, "bob@localhost/desk")
    home = await login(users, "alice@localhost/home")
    phone = await login(users, "alice@localhost/phone", presence=False)
    at_bob = next_event(bob, "presence_available", from_("alice@localhost/phone"))
    at_home = next_event(home, "presence_available", from_("alice@localhost/phone"))
    home_at_phone = next_event(phone, "presence_available", from_("alice@localhost/home"))
    phone.send_presence()
    await wait(at_bob)
    await wait(at_home)
    await wait(home_at_phone)  # 4.2.2: the new resource learns of the others


async def test_strangers_get_no_presence(users: ServerHandle) -> None:
    carol = await login(users, "carol@localhost/x")
    seen = collect(carol, "presence_available")
    await login(users, "alice@localhost/home")
    await sync(carol)
    assert [p for p in seen if str(p["from"]).startswith("alice")] == []


async def test_unavailable_on_logout_seen_by_contact(users: ServerHandle) -> None:
    await befriend(users, "alice@localhost", "bob@localhost")
    alice = await login(users, "alice@localhost/home")
    bob = await login(users, "bob@localhost/desk")
    explicit = next_event(alice, "presence_unavailable", from_("bob@localhost/desk"))
    bob.send_presence(ptype="unavailable", pstatus="lunch")
    assert (await wait(explicit))["status"] == "lunch"

    bob2 = await login(users, "bob@localhost/laptop")
    dropped = next_event(alice, "presence_unavailable", from_("bob@localhost/laptop"))
    bob2.abort()  # gone without a word: the server says it for him
    await wait(dropped)


async def test_probe_of_offline_contact_gets_last_unavailable(users: ServerHandle) -> None:
    await befriend(users, "alice@localhost", "bob@localhost")
    bob = await login(users, "bob@localhost/desk")
    bob.send_presence(ptype="unavailable", pstatus="gone fishing")
    await sync(bob)
    alice = await login(users, "alice@localhost/home", presence=False)
    last = next_event(alice, "presence_unavailable", from_("bob@localhost"))
    alice.send_presence()
    got = await wait(last)
    assert got["status"] == "gone fishing"
    assert got.xml.find("{urn:xmpp:delay}delay") is not None


async def test_directed_presence_gets_unavailable_on_disconnect(users: ServerHandle) -> None:
    alice = await login(users, "alice@localhost/home")
    carol = await login(users, "carol@localhost/x")
    directed = next_event(carol, "presence_available", from_("alice@localhost/home"))
    alice.send_presence(pto="carol@localhost", pstatus="hi carol")
    assert (await wait(directed))["status"] == "hi carol"
    gone = next_event(carol, "presence_unavailable", from_("alice@localhost/home"))
    alice.abort()
    await wait(gone)


async def test_directed_presence_before_initial_presence(users: ServerHandle) -> None:
    alice = await login(users, "alice@localhost/home", presence=False)
    carol = await login(users, "carol@localhost/x")
    directed = next_event(carol, "presence_available", from_("alice@localhost/home"))
    alice.send_presence(pto="carol@localhost/x")
    await wait(directed)
    gone = next_event(carol, "presence_unavailable", from_("alice@localhost/home"))
    alice.send_presence(ptype="unavailable")  # not available: only carol hears it
    await wait(gone)


async def test_presence_to_a_service_domain_is_routed(users: ServerHandle) -> None:
    assert users.app.server is not None
    router = users.app.server.router
    got: asyncio.Future[Stanza] = asyncio.get_running_loop().create_future()

    async def service(stanza: Stanza) -> None:
        if not got.done():
            got.set_result(stanza)

    router.add_service("service.localhost", service)
    try:
        alice = await login(users, "alice@localhost/home")
        alice.send_presence(pto="channel@service.localhost", pstatus="joining")
        stanza = await wait(got)
        assert str(stanza.sender) == "alice@localhost/home"
        assert str(stanza.to) == "channel@service.localhost"
        assert stanza.type == "available"
    finally:
        router.remove_service("service.localhost")


async def test_probe_from_non_subscriber_is_answered_unsubscribed(users: ServerHandle) -> None:
    # carol's roster claims subscriptions bob's server (and nobody's) never
    # granted: her login probes, and the answers set her roster straight.
    for contact in ("bob@localhost", "nobody@localhost"):
        wrong = RosterItem(contact, subscription=Subscription.TO)
        await store(users).update("localhost", "carol", contact, lambda _old, i=wrong: i)
    bob = await login(users, "bob@localhost/desk")
    bob.send_presence(pstatus="secret")
    carol = await login(users, "carol@localhost/x", presence=False)
    refusals = collect(carol, "presence_unsubscribed")
    seen = collect(carol, "presence_available")
    fixed = next_event(
        carol,
        "roster_update",
        lambda iq: (
            iq["type"] == "set"
            and iq["roster"]["items"].get("nobody@localhost", {}).get("subscription") == "none"
        ),
    )
    carol.send_presence()
    await wait(fixed)
    await sync(carol)
    # 4.3.2: no presence, an "unsubscribed" instead (also for a missing account).
    assert sorted(str(p["from"]) for p in refusals) == ["bob@localhost", "nobody@localhost"]
    assert [p for p in seen if str(p["from"]).startswith("bob")] == []
    for contact in ("bob@localhost", "nobody@localhost"):
        entry = await item(users, "carol@localhost", contact)
        assert entry is not None and entry.subscription is Subscription.NONE


async def test_replaced_session_goes_unavailable(users: ServerHandle) -> None:
    await befriend(users, "alice@localhost", "bob@localhost")
    bob = await login(users, "bob@localhost/desk")
    carol = await login(users, "carol@localhost/x")
    old = await login(users, "alice@localhost/home")
    old.send_presence(pto="carol@localhost/x")
    await sync(old)
    gone = next_event(bob, "presence_unavailable", from_("alice@localhost/home"))
    carol_gone = next_event(carol, "presence_unavailable", from_("alice@localhost/home"))
    back = next_event(bob, "presence_available", from_("alice@localhost/home"))
    # A new login takes the resource: whoever saw the old session (contacts,
    # the target of its directed presence) hears it is gone, then the new one.
    await login(users, "alice@localhost/home")
    await wait(gone)
    await wait(carol_gone)
    await wait(back)
