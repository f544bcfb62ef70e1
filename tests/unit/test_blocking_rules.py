"""XEP-0191 JID matching and the MIX forms of a participant (pure rules)."""

from __future__ import annotations

import pytest

from mixd import ns as NS
from mixd.codec.xep0369_mix import mix_element
from mixd.jid import JID
from mixd.services.blocking import rules
from mixd.xml.element import Element

PID = "abcdefghijklmnop"


@pytest.mark.parametrize(
    ("entry", "jid", "blocked"),
    [
        ("romeo@montague.net/orchard", "romeo@montague.net/orchard", True),
        ("romeo@montague.net/orchard", "romeo@montague.net/garden", False),
        ("romeo@montague.net/orchard", "romeo@montague.net", False),
        ("romeo@montague.net", "romeo@montague.net/garden", True),
        ("romeo@montague.net", "romeo@montague.net", True),
        ("romeo@montague.net", "benvolio@montague.net", False),
        ("montague.net/bot", "montague.net/bot", True),
        ("montague.net/bot", "romeo@montague.net/bot", False),
        ("montague.net", "montague.net", True),
        ("montague.net", "romeo@montague.net/orchard", True),
        ("montague.net", "montague.net/bot", True),
        ("montague.net", "capulet.net", False),
    ],
)
def test_xep0191_jid_matching(entry: str, jid: str, blocked: bool) -> None:
    assert rules.matches(entry, JID.parse(jid)) is blocked


def test_channel_message_matches_channel_participant_and_proxy() -> None:
    sender = JID.parse(f"coven@mix.example/{PID}")
    message = Element(NS.CLIENT, "message")
    message.append(mix_element("hag", "hag66@shakespeare.example"))
    found = rules.sender_keys(sender, message, on_mix=True)
    for entry in (
        "coven@mix.example",
        f"coven@mix.example/{PID}",
        f"{PID}#coven@mix.example",
        "hag66@shakespeare.example",
        "shakespeare.example",
        "mix.example",
    ):
        assert entry in found
    assert f"{PID}#other@mix.example" not in found


def test_proxy_jid_matches_its_channel_and_participant() -> None:
    proxy = JID.parse(f"{PID}#coven@mix.example/xyz")
    found = set(rules.channel_keys(proxy))
    assert {"coven@mix.example", f"coven@mix.example/{PID}", f"{PID}#coven@mix.example"} <= found
    assert "coven@mix.example/xyz" not in found


def test_mix_forms_only_for_local_mix_services() -> None:
    """`<mix><jid>` from anywhere else is not trusted, and a channel name
    with '#' is not taken for a proxy JID unless the prefix is an id."""
    sender = JID.parse(f"coven@elsewhere.example/{PID}")
    message = Element(NS.CLIENT, "message")
    message.append(mix_element("hag", "victim@example.org"))
    assert "victim@example.org" not in rules.sender_keys(sender, message, on_mix=False)
    assert rules.proxy_parts(JID.parse("a#b@mix.example")) is None
