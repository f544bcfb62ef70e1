"""The MUC face's pure decisions: history limits, occupant ids, the
MUC form of channel messages, and the join element's codec."""

from __future__ import annotations

import pytest

from mixd import ns as NS
from mixd.codec.stanza import CodecError
from mixd.codec.xep0045_muc import History, MucJoin
from mixd.codec.xep0369_mix import mix_element
from mixd.jid import JID
from mixd.services.mix import rules as mix_rules
from mixd.services.mix.muc import rules
from mixd.xml.element import Element
from mixd.xml.fragment import parse_element

NOW = 1_700_000_000_000_000
SECRET = b"s" * 32


def test_no_history_request_gets_the_default() -> None:
    assert rules.plan_history(None, NOW) == rules.HistoryPlan(rules.DEFAULT_HISTORY, None, None)


def test_every_history_limit_applies() -> None:
    plan = rules.plan_history(History(maxstanzas=5, maxchars=900, seconds=60), NOW)
    assert plan == rules.HistoryPlan(5, NOW - 60_000_000, 900)
    # since and seconds together: the later start wins
    later = rules.plan_history(History(seconds=60, since=NOW - 10_000_000), NOW)
    assert later.start == NOW - 10_000_000 and later.limit == rules.DEFAULT_HISTORY
    assert rules.plan_history(History(maxstanzas=0), NOW).limit == 0
    assert rules.plan_history(History(maxstanzas=10_000), NOW).limit == rules.MAX_HISTORY


def test_fit_chars_keeps_the_newest_that_fit() -> None:
    assert rules.fit_chars([100, 200, 300], None) == 3
    assert rules.fit_chars([100, 200, 300], 0) == 0
    assert rules.fit_chars([100, 200, 300], 299) == 0
    assert rules.fit_chars([100, 200, 300], 500) == 2
    assert rules.fit_chars([100, 200, 300], 600) == 3


def test_occupant_ids_are_stable_and_unlinkable() -> None:
    pid = mix_rules.participant_id(SECRET, JID.parse("hecate@example"))
    first = rules.occupant_id_of(SECRET, pid)
    assert first == rules.occupant_id_of(SECRET, pid)
    assert first != pid and "hecate" not in first
    assert first != rules.occupant_id_of(b"t" * 32, pid)  # another channel


def test_muc_form_replaces_every_server_owned_element() -> None:
    message = parse_element(
        "<message xmlns='jabber:client' from='coven@mix.example/pid' type='groupchat'>"
        "<body>hi</body><occupant-id xmlns='urn:xmpp:occupant-id:0' id='fake'/>"
        "<occupant-id xmlns='urn:xmpp:occupant-id:0' id='fake2'/>"
        "<x xmlns='http://jabber.org/protocol/muc#user'/></message>"
    )
    message.append(mix_element("hecate", "hecate@example"))
    assert rules.mix_nick(message) == "hecate"
    muc = rules.muc_message(message, "coven@mix.example", "hecate", "occ")
    assert muc.attrs["from"] == "coven@mix.example/hecate"
    assert [e.get("id") for e in muc.find_all(NS.OCCUPANT_ID, "occupant-id")] == ["occ"]
    assert muc.find(NS.MIX_CORE, "mix") is None and muc.find(NS.MUC_USER, "x") is None
    assert muc.find_text(NS.CLIENT, "body") == "hi"
    assert message.find(NS.MIX_CORE, "mix") is not None  # the original is untouched


def test_join_codec() -> None:
    x = Element(NS.MUC, "x")
    x.add(NS.MUC, "history", {"maxstanzas": "3", "since": "1970-01-01T00:00:01Z"})
    x.add_text_child(NS.MUC, "password", "secret")
    join = MucJoin.decode(x)
    assert join.history == History(maxstanzas=3, since=1_000_000)
    assert join.password == "secret"
    assert MucJoin.decode(Element(NS.MUC, "x")) == MucJoin()
    for attrs in ({"maxchars": "-1"}, {"seconds": "many"}, {"since": "yesterday"}):
        bad = Element(NS.MUC, "x")
        bad.add(NS.MUC, "history", attrs)
        with pytest.raises(CodecError):
            MucJoin.decode(bad)
