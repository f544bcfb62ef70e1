"""MIX-ANON (XEP-0404) visibility rules and the user preference form."""

from __future__ import annotations

import pytest

from mixd import ns as NS
from mixd.codec.xep0004_forms import DataForm, Field
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.services.mix import anon_rules as r
from mixd.services.mix import rules
from mixd.services.mix.anon_rules import Mode

V, M, H = Mode.VISIBLE, Mode.MAYBE, Mode.HIDDEN
# (preference, shown in visible, in maybe visible, in hidden): the module's table.
TABLE = [
    (r.DEFAULT, True, False, False),
    (r.PREFER_NOT, True, False, False),
    (r.PREFER, True, True, False),
    (r.ALWAYS, True, True, False),
    (r.NEVER, False, False, False),
]


@pytest.mark.parametrize(("preference", "visible", "maybe", "hidden"), TABLE)
def test_shown_to_every_participant(
    preference: str, visible: bool, maybe: bool, hidden: bool
) -> None:
    assert r.shown(V, preference) is visible
    assert r.shown(M, preference) is maybe
    assert r.shown(H, preference) is hidden


def test_conflicts_are_never_visible_in_visible_and_always_in_hidden() -> None:
    conflicting = {(mode, p) for mode in Mode for p, *_ in TABLE if r.conflicts(mode, p)}
    assert conflicting == {(V, r.NEVER), (H, r.ALWAYS)}


def test_administrators_and_oneself_always_see() -> None:
    for mode in Mode:
        for preference, *_ in TABLE:
            assert r.may_see(mode, preference, privileged=True, own=False)
            assert r.may_see(mode, preference, privileged=False, own=True)
    assert not r.may_see(H, r.DEFAULT, privileged=False, own=False)
    assert not r.may_see(M, r.PREFER_NOT, privileged=False, own=False)
    assert r.may_see(M, r.PREFER, privileged=False, own=False)


def test_mode_values() -> None:
    assert r.mode_of("jid-visible") is V
    assert r.mode_of("jid-mandatory-visible") is V
    assert r.mode_of("jid-maybe-visible") is M
    assert r.mode_of("jid-hidden") is H
    assert r.mode_of("nonsense") is H  # unknown: the safe side


def submit(*fields: tuple[str, str], kind: str = "submit") -> DataForm:
    return DataForm.with_type(kind, NS.MIX_ANON, tuple(Field(v, (x,)) for v, x in fields))


def test_defaults_and_a_submission_keeps_what_it_does_not_carry() -> None:
    assert r.effective(()) == {
        "JID Visibility": "default",
        "Private Messages": "allow",
        "vCard": "block",
        "Presence": "share",
    }
    first = r.submitted((), submit(("JID Visibility", "Never")), presence_required=False)
    assert first == (("JID Visibility", "never"),)  # case-insensitive, stored lower case
    second = r.submitted(first, submit(("Private Messages", "block")), presence_required=False)
    assert r.effective(second)["JID Visibility"] == "never"
    assert r.effective(second)["Private Messages"] == "block"
    # Back to a default: no longer stored.
    third = r.submitted(second, submit(("JID Visibility", "default")), presence_required=False)
    assert third == (("Private Messages", "block"),)


@pytest.mark.parametrize(
    ("form", "condition", "text"),
    [
        (
            submit(("JID Visibility", "sometimes")),
            StanzaErrorCondition.BAD_REQUEST,
            "JID Visibility",
        ),
        (submit(("Colour", "red")), StanzaErrorCondition.BAD_REQUEST, "Colour"),
        (submit(("vCard", "allow"), kind="form"), StanzaErrorCondition.BAD_REQUEST, "FORM_TYPE"),
        (
            DataForm.with_type("submit", NS.MIX_ADMIN, ()),
            StanzaErrorCondition.BAD_REQUEST,
            "FORM_TYPE",
        ),
    ],
)
def test_bad_submissions_name_the_field(
    form: DataForm, condition: StanzaErrorCondition, text: str
) -> None:
    with pytest.raises(StanzaError) as caught:
        r.submitted((), form, presence_required=False)
    assert caught.value.condition is condition and text in (caught.value.text or "")


def test_presence_must_be_shared_where_the_channel_requires_it() -> None:
    with pytest.raises(StanzaError) as caught:
        r.submitted((), submit(("Presence", "not share")), presence_required=True)
    assert caught.value.condition is StanzaErrorCondition.NOT_ALLOWED
    assert r.submitted((), submit(("Presence", "not share")), presence_required=False)


def test_form_offers_options_and_the_result_only_values() -> None:
    offered = r.form((("JID Visibility", "never"),), "form")
    field = offered.field("JID Visibility")
    assert field is not None and field.values == ("never",)
    assert set(field.options) == {"default", "never", "prefer not", "prefer", "always"}
    result = r.form((), "result")
    assert result.form_type == NS.MIX_ANON
    assert all(not f.options for f in result.fields if f.var != "FORM_TYPE")


def test_participant_ids_are_keyed_not_derived_from_the_jid() -> None:
    user = JID.parse("hecate@localhost")
    one, two = rules.new_secret(), rules.new_secret()
    assert rules.participant_id(one, user) == rules.participant_id(one, user)  # stable
    assert rules.participant_id(one, user) != rules.participant_id(two, user)  # per channel
    ids = {rules.participant_id(one, JID.parse(f"user{n}@localhost")) for n in range(100)}
    assert len(ids) == 100
    assert all(
        "hecate" not in pid and set(pid) <= set("abcdefghijklmnopqrstuvwxyz234567") for pid in ids
    )
