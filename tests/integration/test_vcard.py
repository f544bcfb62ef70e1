"""XEP-0054 vcard-temp: the server keeps each account's vCard and answers
for it."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest
from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError

from tests.helpers import TIMEOUT, ServerHandle
from tests.roster_client import add_users

VCARD = "vcard-temp"
PLUGINS = ("xep_0030", "xep_0054", "xep_0199")


@pytest.fixture
async def users(server: ServerHandle) -> ServerHandle:
    await add_users(server, "alice", "bob")
    return server


async def login(server: ServerHandle, jid: str) -> ClientXMPP:
    user = jid.partition("@")[0]
    return await server.client(jid, f"pw-{user}", plugins=PLUGINS)


async def vcard_iq(xmpp: ClientXMPP, kind: str, vcard: str, to: str | None = None) -> ET.Element:
    """A raw vCard IQ; the answer (the IQ element)."""
    iq = xmpp.make_iq_get(ito=to) if kind == "get" else xmpp.make_iq_set(ito=to)
    iq.append(ET.fromstring(vcard))
    answer = await iq.send(timeout=TIMEOUT)
    return answer.xml


def card(name: str, extra: str = "") -> str:
    return (
        f"<vCard xmlns='{VCARD}'><FN>{name}</FN><NICKNAME>{name.lower()}</NICKNAME>{extra}</vCard>"
    )


async def test_set_and_get_own_vcard(users: ServerHandle) -> None:
    alice = await login(users, "alice@localhost/phone")
    await vcard_iq(alice, "set", card("Alice"))
    for to in (None, "alice@localhost"):
        answer = await vcard_iq(alice, "get", f"<vCard xmlns='{VCARD}'/>", to)
        assert answer.findtext(f"{{{VCARD}}}vCard/{{{VCARD}}}FN") == "Alice"
        assert answer.findtext(f"{{{VCARD}}}vCard/{{{VCARD}}}NICKNAME") == "alice"
    # A new set replaces the whole vCard (no partial updates).
    await vcard_iq(alice, "set", f"<vCard xmlns='{VCARD}'><FN>Alice B.</FN></vCard>")
    answer = await vcard_iq(alice, "get", f"<vCard xmlns='{VCARD}'/>")
    stored = answer.find(f"{{{VCARD}}}vCard")
    assert stored is not None and [c.tag for c in stored] == [f"{{{VCARD}}}FN"]


async def test_other_users_read_it_through_slixmpp(users: ServerHandle) -> None:
    alice = await login(users, "alice@localhost/phone")
    vcard = alice.plugin["xep_0054"].make_vcard()
    vcard["FN"] = "Alice Example"
    vcard["NICKNAME"] = "alice"
    await alice.plugin["xep_0054"].publish_vcard(vcard, timeout=TIMEOUT)
    bob = await login(users, "bob@localhost/desk")
    got = await bob.plugin["xep_0054"].get_vcard("alice@localhost", local=False, timeout=TIMEOUT)
    assert str(got["from"]) == "alice@localhost"  # answered on the account's behalf
    assert got["vcard_temp"]["FN"] == "Alice Example"
    assert got.xml.findtext(f".//{{{VCARD}}}NICKNAME") == "alice"


async def test_no_vcard_is_an_empty_vcard(users: ServerHandle) -> None:
    bob = await login(users, "bob@localhost/desk")
    for to in (None, "alice@localhost", "nobody@localhost"):
        answer = await vcard_iq(bob, "get", f"<vCard xmlns='{VCARD}'/>", to)
        assert answer.get("type") == "result"
        empty = answer.find(f"{{{VCARD}}}vCard")
        assert empty is not None and len(empty) == 0 and not (empty.text or "").strip()


async def test_only_the_owner_sets_it(users: ServerHandle) -> None:
    bob = await login(users, "bob@localhost/desk")
    with pytest.raises(IqError) as info:
        await vcard_iq(bob, "set", card("Mallory"), to="alice@localhost")
    assert info.value.condition == "forbidden"
    alice = await login(users, "alice@localhost/phone")
    answer = await vcard_iq(alice, "get", f"<vCard xmlns='{VCARD}'/>")
    empty = answer.find(f"{{{VCARD}}}vCard")
    assert empty is not None and len(empty) == 0


async def test_size_is_bounded(users: ServerHandle) -> None:
    alice = await login(users, "alice@localhost/phone")
    photo = "<PHOTO><TYPE>image/png</TYPE><BINVAL>" + "A" * (64 * 1024) + "</BINVAL></PHOTO>"
    with pytest.raises(IqError) as info:
        await vcard_iq(alice, "set", card("Alice", photo))
    assert info.value.condition == "not-acceptable"
    small = "<PHOTO><TYPE>image/png</TYPE><BINVAL>" + "A" * 30_000 + "</BINVAL></PHOTO>"
    await vcard_iq(alice, "set", card("Alice", small))
    answer = await vcard_iq(alice, "get", f"<vCard xmlns='{VCARD}'/>")
    assert len(answer.findtext(f".//{{{VCARD}}}BINVAL") or "") == 30_000


async def test_account_advertises_vcard_temp(users: ServerHandle) -> None:
    alice = await login(users, "alice@localhost/phone")
    info = await alice.plugin["xep_0030"].get_info("alice@localhost", timeout=TIMEOUT)
    assert VCARD in info["disco_info"]["features"]
