"""MIX-PRESENCE's pure parts: proxy JIDs, the presence table, the policy,
and the `<mix/>` codec on the XEP-0403 examples."""

from __future__ import annotations

from mixd import ns as NS
from mixd.codec.xep0403_presence import MixPresence, strip_mix
from mixd.jid import JID
from mixd.services.mix import rules
from mixd.services.mix.presence_state import (
    ClientPresence,
    PresencePolicy,
    PresenceTable,
    may_send,
    may_share,
    proxy_jid,
    proxy_resource,
    split_proxy,
)
from mixd.xml.element import Element
from mixd.xml.fragment import parse_element

CHANNEL = JID.parse("coven@mix.shakespeare.example")
SECRET = b"s" * 32
CLIENT = JID.parse("hag66@shakespeare.example/UUID-a1j/7533")

# XEP-0403 'Channel Distributes Presence' (its <nick> closing tag fixed).
DISTRIBUTED = (
    "<presence from='123435#coven@mix.shakespeare.example/UUID-a1j/7533'"
    " to='hag99@shakespeare.example' id='77E07BB0-55CF-4BD4-890E-3F7C0E686BBD'>"
    "<mix xmlns='urn:xmpp:mix:presence:0'><jid>hecate@shakespeare.example/UUID-x4r/2491</jid>"
    "<nick>thirdwitch</nick></mix><show>dnd</show><status>Making a Brew</status></presence>"
)


def entry(client: JID = CLIENT) -> ClientPresence:
    pid = rules.participant_id(SECRET, client)
    proxy = proxy_jid(CHANNEL, pid, SECRET, client)
    return ClientPresence(client, pid, proxy, Element(NS.CLIENT, "presence"))


def test_the_mix_element_of_the_spec_example() -> None:
    presence = parse_element(DISTRIBUTED)
    assert MixPresence.find(presence) == MixPresence(
        "hecate@shakespeare.example/UUID-x4r/2491", "thirdwitch"
    )
    assert MixPresence.decode(MixPresence("a@b/c", "n").encode()) == MixPresence("a@b/c", "n")


def test_a_clients_own_mix_element_is_stripped() -> None:
    stripped = strip_mix(parse_element(DISTRIBUTED))
    assert MixPresence.find(stripped) is None
    assert stripped.find_text(NS.CLIENT, "status") == "Making a Brew"
    assert "from" not in stripped.attrs and "to" not in stripped.attrs


def test_proxy_jids() -> None:
    pid = rules.participant_id(SECRET, CLIENT)
    proxy = proxy_jid(CHANNEL, pid, SECRET, CLIENT)
    assert str(proxy.bare) == f"{pid}#coven@mix.shakespeare.example"
    assert proxy.resource == proxy_resource(SECRET, CLIENT)  # the same every time
    assert proxy.resource != CLIENT.resource and "7533" not in (proxy.resource or "")
    other = CLIENT.bare.with_resource("phone")
    assert proxy_jid(CHANNEL, pid, SECRET, other) != proxy
    assert proxy_jid(CHANNEL, pid, b"t" * 32, CLIENT) != proxy  # per channel secret
    assert proxy_jid(CHANNEL, pid, SECRET, CLIENT.bare) == proxy.bare
    assert split_proxy(proxy) == (pid, CHANNEL)
    assert split_proxy(JID.parse("123#a#b@mix.example")) == ("123", JID.parse("a#b@mix.example"))
    assert split_proxy(CHANNEL) is None
    assert split_proxy(JID.parse("#coven@mix.example")) is None


def test_presence_table() -> None:
    table = PresenceTable()
    first, second = entry(), entry(CLIENT.bare.with_resource("phone"))
    other = entry(JID.parse("hecate@shakespeare.example/r"))
    for e in (first, second, other):
        table.put(e)
    assert len(table) == 3 and table.get(first.proxy) is first
    assert table.get(first.proxy.bare.with_resource("unknown")) is None
    assert table.remove(second.proxy) is second and table.remove(second.proxy) is None
    assert table.of_user("hag66@shakespeare.example") == [first]
    assert table.remove_user("hag66@shakespeare.example") == [first]
    assert list(table) == [other]


def test_policy_defaults_and_decisions() -> None:
    default = PresencePolicy()
    assert not default.open and not default.required  # XEP-0406 defaults
    assert may_share(default, True) and not may_share(default, False)
    assert may_share(PresencePolicy(open=True), False)
    assert may_send(default, False)
    assert not may_send(PresencePolicy(required=True), False)
    assert may_send(PresencePolicy(required=True), True)
