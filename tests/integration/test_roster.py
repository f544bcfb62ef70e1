"""Roster get, set, remove and pushes (RFC 6121 section 2) and roster
versioning (2.6) as slixmpp clients see them."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest
from slixmpp.exceptions import IqError

from mixd.storage.contracts.roster import Subscription
from tests.helpers import TIMEOUT, ServerHandle
from tests.roster_client import (
    ROSTER,
    add_users,
    collect,
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


# -- roster get / set / push (RFC 6121 2.1-2.5) ---------------------------------


async def test_stream_features_offer_roster_versioning_and_pre_approval(
    users: ServerHandle,
) -> None:
    alice = await login(users, "alice@localhost/home")
    assert "rosterver" in alice.features
    assert "preapproval" in alice.features


async def test_add_update_pushes_to_every_interested_resource(users: ServerHandle) -> None:
    home = await login(users, "alice@localhost/home")
    phone = await login(users, "alice@localhost/phone")
    quiet = await login(users, "alice@localhost/quiet", roster=False)
    quiet_pushes = collect(quiet, "roster_update")
    phone_push = next_event(phone, "roster_update", push_for("bob@localhost"))
    home_push = next_event(home, "roster_update", push_for("bob@localhost"))
    await home.update_roster("bob@localhost", name="Bob", groups=["Friends", "Work"])
    for push in (await wait(phone_push), await wait(home_push)):
        pushed = push["roster"]["items"]["bob@localhost"]
        assert pushed["name"] == "Bob"
        assert sorted(pushed["groups"]) == ["Friends", "Work"]
        assert pushed["subscription"] == "none"
        assert push["roster"]["ver"]
    assert phone.client_roster["bob@localhost"]["name"] == "Bob"

    renamed = next_event(phone, "roster_update", push_for("bob@localhost"))
    await home.update_roster("bob@localhost", name="Robert", groups=["Friends"])
    assert (await wait(renamed))["roster"]["items"]["bob@localhost"]["name"] == "Robert"
    await sync(quiet)
    assert quiet_pushes == []  # never asked for the roster: not interested
    result = await roster_get(quiet)
    listed = result["roster"]["items"]
    assert list(listed) == ["bob@localhost"]
    assert listed["bob@localhost"]["groups"] == ["Friends"]


async def test_roster_versioning(users: ServerHandle) -> None:
    alice = await login(users, "alice@localhost/home")
    first = await roster_get(alice, ver="")
    ver = first["roster"]["ver"]
    assert ver
    # The client's copy is current: an empty result, no items sent.
    same = await roster_get(alice, ver=ver)
    assert same.xml.find(f"{{{ROSTER}}}query") is None
    push = next_event(alice, "roster_update", push_for("bob@localhost"))
    await alice.update_roster("bob@localhost", name="Bob")
    new_ver = (await wait(push))["roster"]["ver"]
    assert new_ver and new_ver != ver
    stale = await roster_get(alice, ver=ver)
    assert stale["roster"]["ver"] == new_ver
    assert list(stale["roster"]["items"]) == ["bob@localhost"]
    assert (await roster_get(alice, ver=new_ver)).xml.find(f"{{{ROSTER}}}query") is None


@pytest.mark.parametrize(
    ("items", "condition"),
    [
        (["<item jid='bob@localhost'/>", "<item jid='carol@localhost'/>"], "bad-request"),
        (["<item jid='bob@localhost'><group>A</group><group>A</group></item>"], "bad-request"),
        (["<item jid='bob@localhost'><group/></item>"], "not-acceptable"),
        (["<item jid='bob@localhost' name='" + "n" * 2000 + "'/>"], "not-acceptable"),
        (["<item jid='alice@localhost'/>"], "not-allowed"),
        (["<item jid='b@d@localhost'/>"], "jid-malformed"),
        (["<item jid='bob@localhost/res'/>"], "bad-request"),
        (["<item jid='nobody@localhost' subscription='remove'/>"], "item-not-found"),
    ],
    ids=[
        "two-items",
        "duplicate-group",
        "empty-group",
        "long-name",
        "own-jid",
        "malformed-jid",
        "full-jid",
        "remove-unknown",
    ],
)
async def test_roster_set_errors(users: ServerHandle, items: list[str], condition: str) -> None:
    alice = await login(users, "alice@localhost/home")
    with pytest.raises(IqError) as err:
        await roster_set(alice, *items)
    assert err.value.condition == condition
    assert (await store(users).roster("localhost", "alice")).items == ()


async def test_someone_elses_roster_is_forbidden(users: ServerHandle) -> None:
    alice = await login(users, "alice@localhost/home")
    await login(users, "bob@localhost/desk")
    iq = alice.make_iq_get(ito="bob@localhost")
    iq.append(ET.Element(f"{{{ROSTER}}}query"))
    with pytest.raises(IqError) as err:
        await iq.send(timeout=TIMEOUT)
    assert err.value.condition == "forbidden"
    with pytest.raises(IqError) as err:
        await roster_set(alice, "<item jid='carol@localhost'/>", to="bob@localhost")
    assert err.value.condition == "forbidden"
    assert (await store(users).roster("localhost", "bob")).items == ()


async def test_roster_set_addressed_to_own_bare_jid(users: ServerHandle) -> None:
    alice = await login(users, "alice@localhost/home")
    await roster_set(alice, "<item jid='bob@localhost' name='B'/>", to="alice@localhost")
    stored = await item(users, "alice@localhost", "bob@localhost")
    assert stored is not None and stored.name == "B"


async def test_client_cannot_set_subscription_state(users: ServerHandle) -> None:
    alice = await login(users, "alice@localhost/home")
    await roster_set(alice, "<item jid='bob@localhost' subscription='both' ask='subscribe'/>")
    stored = await item(users, "alice@localhost", "bob@localhost")
    assert stored is not None
    assert stored.subscription is Subscription.NONE and not stored.ask
