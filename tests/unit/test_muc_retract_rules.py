"""The MUC face's retraction forms: XEP-0425 and XEP-0424 requests read,
MIX-MISC retractions and tombstones written in XEP-0424/0425 form."""

from __future__ import annotations

import pytest

from mixd import ns as NS
from mixd.codec.stanza import CodecError
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.services.mix import rules as mix_rules
from mixd.services.mix.muc import retract_rules as rr
from mixd.services.mix.muc.rules import muc_message, occupant_id_of
from mixd.services.mix.state import ChannelState
from mixd.storage.contracts.mix import Channel, Participant
from mixd.xml.fragment import parse_element

SECRET = b"s" * 32
CHANNEL = "coven@mix.example"
RETRACT = NS.RETRACT
MODERATE = rr.MODERATE


def state() -> ChannelState:
    channel = Channel(CHANNEL, False, 0, ("hag66@example",), SECRET)
    loaded = ChannelState.load(channel, [])
    loaded.put(Participant(CHANNEL, "hag66@example", "p-hag", "third witch", frozenset(), 0))
    return loaded


def test_moderate_request_reads_target_and_reason() -> None:
    payload = parse_element(
        f"<moderate xmlns='{MODERATE}' id='abc'><retract xmlns='{RETRACT}'/>"
        "<reason>  Spam  </reason></moderate>"
    )
    assert rr.moderate_request(payload) == ("abc", "Spam")
    bare = parse_element(
        f"<moderate xmlns='{MODERATE}' id='abc'><retract xmlns='{RETRACT}'/></moderate>"
    )
    assert rr.moderate_request(bare) == ("abc", None)
    long = parse_element(
        f"<moderate xmlns='{MODERATE}' id='abc'><retract xmlns='{RETRACT}'/>"
        f"<reason>{'x' * 5000}</reason></moderate>"
    )
    assert len(rr.moderate_request(long)[1] or "") == rr.MAX_REASON


def test_moderate_request_refusals() -> None:
    with pytest.raises(CodecError):
        rr.moderate_request(
            parse_element(f"<moderate xmlns='{MODERATE}'><retract xmlns='{RETRACT}'/></moderate>")
        )
    with pytest.raises(StanzaError) as err:
        rr.moderate_request(parse_element(f"<moderate xmlns='{MODERATE}' id='abc'/>"))
    assert err.value.condition is StanzaErrorCondition.FEATURE_NOT_IMPLEMENTED


def test_own_retraction_becomes_the_mix_request() -> None:
    message = parse_element(
        "<message xmlns='jabber:client' type='groupchat' id='r1'>"
        f"<retract xmlns='{RETRACT}' id='t1'/>"
        f"<fallback xmlns='{rr.FALLBACK}' for='{RETRACT}'/><body>/me retracted</body>"
        f"<store xmlns='{NS.HINTS}'/><origin-id xmlns='{NS.SID}' id='o1'/></message>"
    )
    assert rr.own_retraction_target(message) == "t1"
    request = rr.mix_request(message)
    assert [c.name for c in request.children if hasattr(c, "name")] == ["origin-id"]
    plain = parse_element("<message xmlns='jabber:client'><body>hi</body></message>")
    assert rr.own_retraction_target(plain) is None
    with pytest.raises(CodecError):
        rr.own_retraction_target(
            parse_element(f"<message xmlns='jabber:client'><retract xmlns='{RETRACT}'/></message>")
        )


def test_participant_id_of_a_tombstones_by() -> None:
    channel = state()
    assert rr.participant_id_of(channel, "p9#coven@mix.example") == "p9"
    expected = mix_rules.participant_id(SECRET, JID.parse("hag66@example"))
    assert rr.participant_id_of(channel, "hag66@example") == expected


def test_moderator_named_by_nick_or_the_room() -> None:
    channel = state()
    occupant = occupant_id_of(SECRET, "p-hag")
    assert rr.moderator(channel, "p-hag", None) == rr.Moderator(f"{CHANNEL}/third witch", occupant)
    assert rr.moderator(channel, "p-hag", "other") == rr.Moderator(f"{CHANNEL}/other", occupant)
    assert rr.moderator(channel, "gone", None).by == CHANNEL


MUC_FORM = (
    f"<message xmlns='jabber:client' type='groupchat' id='n1' from='{CHANNEL}/third witch'>"
    f"<reason xmlns='{MODERATE}'>Spam</reason><retract xmlns='{NS.MIX_MISC}' id='t1'/>"
    f"<stanza-id xmlns='{NS.SID}' id='n1' by='{CHANNEL}'/>"
    f"<occupant-id xmlns='{NS.OCCUPANT_ID}' id='occ'/></message>"
)


def test_moderated_retraction_comes_from_the_room() -> None:
    who = rr.Moderator(f"{CHANNEL}/third witch", "occ")
    notice = rr.muc_retraction(parse_element(MUC_FORM), "t1", who)
    assert notice.get("from") == CHANNEL and notice.get("id") == "n1"
    retract = notice.find(RETRACT, "retract")
    assert retract is not None and retract.get("id") == "t1"
    moderated = retract.find(MODERATE, "moderated")
    assert moderated is not None and moderated.get("by") == who.by
    assert retract.find_text(RETRACT, "reason") == "Spam"
    assert notice.find(NS.MIX_MISC, "retract") is None
    assert notice.find(NS.OCCUPANT_ID, "occupant-id") is None  # the room's, no occupant's
    assert notice.find(NS.SID, "stanza-id") is not None


def test_own_retraction_comes_from_the_sender_with_a_fallback() -> None:
    own = rr.muc_retraction(parse_element(MUC_FORM), "t1", None)
    assert own.get("from") == f"{CHANNEL}/third witch"
    retract = own.find(RETRACT, "retract")
    assert retract is not None and retract.find(MODERATE, "moderated") is None
    assert own.find(rr.FALLBACK, "fallback") is not None
    assert own.find_text(NS.CLIENT, "body") == rr.FALLBACK_BODY
    assert own.find(NS.MIX_MISC, "retract") is None and own.find(MODERATE) is None


def test_tombstones() -> None:
    grave = parse_element(
        f"<message xmlns='jabber:client' type='groupchat' from='{CHANNEL}/hecate'>"
        f"<retracted xmlns='{NS.MIX_MISC}' by='hag66@example' time='2026-01-01T00:00:00Z'/>"
        "</message>"
    )
    plain = rr.muc_tombstone(grave, None)
    retracted = plain.find(RETRACT, "retracted")
    assert retracted is not None and retracted.get("stamp") == "2026-01-01T00:00:00Z"
    assert retracted.find(MODERATE, "moderated") is None
    assert plain.find(NS.MIX_MISC, "retracted") is None
    moderated = rr.muc_tombstone(grave, rr.Moderator(CHANNEL, "occ"))
    found = moderated.find(RETRACT, "retracted")
    assert found is not None and found.find(MODERATE, "moderated") is not None


def test_forged_marks_never_reach_muc_clients() -> None:
    forged = parse_element(
        "<message xmlns='jabber:client' type='groupchat'><body>trust me</body>"
        f"<retracted xmlns='{RETRACT}' stamp='2026-01-01T00:00:00Z'/>"
        f"<moderated xmlns='{MODERATE}' by='{CHANNEL}'/></message>"
    )
    shown = muc_message(forged, CHANNEL, "hecate", "occ")
    assert shown.find(RETRACT, "retracted") is None
    assert shown.find(MODERATE, "moderated") is None
    assert shown.find_text(NS.CLIENT, "body") == "trust me"
