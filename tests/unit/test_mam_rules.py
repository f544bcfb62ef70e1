"""Pure MAM rules and the codecs they read: archivability, preferences, page
sizes, query validation, RSM/forms/datetime/stanza-id parsing."""

from __future__ import annotations

import pytest

from mixd import ns as NS
from mixd.codec.stanza import CodecError
from mixd.codec.xep0004_forms import DataForm, Field
from mixd.codec.xep0059_rsm import RsmRequest, RsmResult
from mixd.codec.xep0082_datetime import format_datetime, parse_datetime
from mixd.codec.xep0313_mam import MamFin, MamPrefs, MamQuery
from mixd.codec.xep0359_sid import add_stanza_id, origin_id, stanza_ids, strip_stanza_ids
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.services.mam.rules import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    QUERY_FORM,
    archive_owner,
    is_archivable,
    page_size,
    plan_query,
    prefs_allow,
    prefs_from_request,
)
from mixd.storage.contracts.archive import DefaultMode, Prefs
from mixd.xml.element import Element
from mixd.xml.fragment import parse_element

ALICE = JID.parse("alice@localhost")
BOB = JID.parse("bob@localhost/phone")


def message(*children: tuple[str, str]) -> Element:
    el = Element(NS.CLIENT, "message")
    for ns, name in children:
        el.add(ns, name)
    return el


@pytest.mark.parametrize(
    ("kind", "children", "expected"),
    [
        ("chat", [(NS.CLIENT, "body")], True),
        ("normal", [(NS.CLIENT, "body")], True),
        ("groupchat", [(NS.CLIENT, "body")], False),
        ("headline", [(NS.CLIENT, "body")], False),
        ("error", [(NS.CLIENT, "body")], False),
        ("chat", [("http://jabber.org/protocol/chatstates", "composing")], False),
        ("chat", [], False),
        ("chat", [(NS.OMEMO, "encrypted")], True),
        ("chat", [(NS.OMEMO_LEGACY, "encrypted")], True),
        ("chat", [(NS.CLIENT, "body"), (NS.HINTS, "no-store")], False),
        ("chat", [(NS.CLIENT, "body"), (NS.HINTS, "no-permanent-store")], False),
        ("chat", [(NS.HINTS, "store"), ("urn:example", "x")], True),
        ("groupchat", [(NS.HINTS, "store")], False),
    ],
)
def test_is_archivable(kind: str, children: list[tuple[str, str]], expected: bool) -> None:
    assert is_archivable(kind, message(*children)) is expected


def test_prefs_allow() -> None:
    carol = JID.parse("carol@localhost/x")
    assert prefs_allow(Prefs(), BOB, False)
    assert not prefs_allow(Prefs(DefaultMode.NEVER), BOB, True)
    assert prefs_allow(Prefs(DefaultMode.ROSTER), BOB, True)
    assert not prefs_allow(Prefs(DefaultMode.ROSTER), BOB, False)
    # A bare JID covers every resource; a full one only itself; never wins.
    assert prefs_allow(Prefs(DefaultMode.NEVER, always=("bob@localhost",)), BOB, False)
    assert not prefs_allow(Prefs(always=("bob@localhost",), never=(str(BOB),)), BOB, False)
    assert prefs_allow(Prefs(never=("bob@localhost/laptop",)), BOB, False)
    assert not prefs_allow(Prefs(never=("carol@localhost",)), carol, False)


def test_page_size_default_and_clamp() -> None:
    assert page_size(None) == DEFAULT_PAGE_SIZE == 50
    assert page_size(0) == 0
    assert page_size(7) == 7
    assert page_size(MAX_PAGE_SIZE + 1) == MAX_PAGE_SIZE == 250
    assert page_size(10**18) == MAX_PAGE_SIZE


def test_archive_owner_is_only_oneself() -> None:
    assert archive_owner(JID.parse("alice@localhost/a"), None) == ALICE
    assert archive_owner(JID.parse("alice@localhost/a"), ALICE) == ALICE
    with pytest.raises(StanzaError) as err:
        archive_owner(JID.parse("alice@localhost/a"), BOB.bare)
    assert err.value.condition is StanzaErrorCondition.FORBIDDEN


def form(*fields: Field, kind: str = "submit", form_type: str | None = NS.MAM) -> DataForm:
    head = (Field("FORM_TYPE", (form_type,), "hidden"),) if form_type else ()
    return DataForm(kind, head + fields)


def test_plan_defaults() -> None:
    query = plan_query(ALICE, MamQuery(queryid="q1")).query
    assert (query.owner, query.limit, query.from_end, query.after) == (str(ALICE), 50, False, None)


def test_plan_filters_and_rsm() -> None:
    request = MamQuery(
        queryid="q1",
        form=form(
            Field("with", ("Bob@LocalHost/phone",)),
            Field("start", ("2024-01-01T00:00:00Z",)),
            Field("end", ("2024-01-01T01:00:00.5+01:00",)),
            Field("after-id", ("a1",)),
            Field("before-id", ("b1",)),
            Field("ids", ("x", "y", "x", "")),
        ),
        rsm=RsmRequest(max=1000, before=""),
        flip_page=True,
    )
    result = plan_query(ALICE, request)
    query = result.query
    assert (query.with_jid, query.with_resource) == ("bob@localhost", "phone")
    assert query.start == parse_datetime("2024-01-01T00:00:00Z")
    assert query.end == parse_datetime("2024-01-01T00:00:00.5Z")
    assert (query.after_id, query.before_id, query.ids) == ("a1", "b1", ("x", "y"))
    assert (query.limit, query.from_end, query.before) == (250, True, None)
    assert result.flip_page and result.queryid == "q1"


@pytest.mark.parametrize(
    ("request_", "condition"),
    [
        (MamQuery(form=form(kind="form")), StanzaErrorCondition.BAD_REQUEST),
        (MamQuery(form=form(form_type=None)), StanzaErrorCondition.BAD_REQUEST),
        (MamQuery(form=form(form_type="urn:xmpp:mam:1")), StanzaErrorCondition.BAD_REQUEST),
        (
            MamQuery(form=form(Field("include-groupchat", ("true",)))),
            StanzaErrorCondition.FEATURE_NOT_IMPLEMENTED,
        ),
        (MamQuery(form=form(Field("with", ("a@b", "c@d")))), StanzaErrorCondition.BAD_REQUEST),
        (MamQuery(form=form(Field("with", ("@@",)))), StanzaErrorCondition.BAD_REQUEST),
        (MamQuery(form=form(Field("with", ("a" * 10_000,)))), StanzaErrorCondition.BAD_REQUEST),
        (MamQuery(form=form(Field("start", ("yesterday",)))), StanzaErrorCondition.BAD_REQUEST),
        (
            MamQuery(form=form(Field("end", ("2024-13-01T00:00:00Z",)))),
            StanzaErrorCondition.BAD_REQUEST,
        ),
        (
            MamQuery(form=form(Field("after-id", ("x" * 10_000,)))),
            StanzaErrorCondition.ITEM_NOT_FOUND,
        ),
        (MamQuery(rsm=RsmRequest(after="x" * 100)), StanzaErrorCondition.ITEM_NOT_FOUND),
        (MamQuery(rsm=RsmRequest(after="a", before="b")), StanzaErrorCondition.BAD_REQUEST),
        (MamQuery(rsm=RsmRequest(index=3, before="")), StanzaErrorCondition.BAD_REQUEST),
        (MamQuery(queryid="q" * 1000), StanzaErrorCondition.BAD_REQUEST),
        (MamQuery(node="urn:example"), StanzaErrorCondition.FEATURE_NOT_IMPLEMENTED),
        (
            MamQuery(form=form(Field("ids", tuple(str(i) for i in range(300))))),
            StanzaErrorCondition.POLICY_VIOLATION,
        ),
    ],
)
def test_plan_rejects(request_: MamQuery, condition: StanzaErrorCondition) -> None:
    with pytest.raises(StanzaError) as err:
        plan_query(ALICE, request_)
    assert err.value.condition is condition


@pytest.mark.parametrize("text", ["-1", "abc", "1.5", "", " ", "١٢", "+3"])
def test_rsm_max_must_be_a_non_negative_integer(text: str) -> None:
    el = RsmRequest().encode()
    el.add_text_child(NS.RSM, "max", text)
    with pytest.raises(CodecError):
        RsmRequest.decode(el)


def test_rsm_round_trip_and_huge_max() -> None:
    request = RsmRequest(max=10, after="abc", index=None)
    assert RsmRequest.decode(request.encode()) == request
    last_page = RsmRequest(max=5, before="")
    assert RsmRequest.decode(last_page.encode()) == last_page
    huge = RsmRequest().encode()
    huge.add_text_child(NS.RSM, "max", "9" * 10_000)
    decoded = RsmRequest.decode(huge)
    assert decoded.max is not None and page_size(decoded.max) == MAX_PAGE_SIZE
    result = RsmResult("f", "l", 3, 10)
    assert RsmResult.decode(result.encode()) == result


def test_query_form_template() -> None:
    el = MamQuery(form=QUERY_FORM).encode()
    decoded = MamQuery.decode(el)
    assert decoded.form is not None and decoded.form.form_type == NS.MAM
    ids = decoded.form.field("ids")
    assert ids is not None and ids.open and ids.type == "list-multi"
    assert {f.var for f in decoded.form.fields} == {
        "FORM_TYPE",
        "with",
        "start",
        "end",
        "before-id",
        "after-id",
        "ids",
    }


def test_form_rejects_duplicate_fields_and_bad_types() -> None:
    el = form(Field("with", ("a@b",)), Field("start", ("x",))).encode()
    el.children.append(Field("with", ("c@d",)).encode())
    with pytest.raises(CodecError):
        DataForm.decode(el)
    with pytest.raises(CodecError):
        DataForm.decode(Element(NS.DATA_FORMS, "x", {"type": "bogus"}))


def test_fin_and_prefs_encoding() -> None:
    fin = MamFin(RsmResult("a", "b", 0, 2), complete=True)
    assert fin.encode().get("complete") == "true"
    assert MamFin.decode(fin.encode()) == fin
    assert MamFin(RsmResult()).encode().get("complete") is None
    prefs = MamPrefs("roster", ("a@b",), ())
    assert MamPrefs.decode(prefs.encode()) == prefs
    with pytest.raises(CodecError):
        MamPrefs.decode(Element(NS.MAM, "prefs", {"default": "sometimes"}))


def test_prefs_from_request_normalises() -> None:
    prefs = prefs_from_request(MamPrefs("never", ("Bob@LocalHost", "bob@localhost"), ("c@d/R",)))
    assert prefs == Prefs(DefaultMode.NEVER, ("bob@localhost",), ("c@d/R",))
    with pytest.raises(StanzaError):
        prefs_from_request(MamPrefs(None))
    with pytest.raises(StanzaError):
        prefs_from_request(MamPrefs("always", ("@bad",)))


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("2024-02-29T12:34:56.789Z", 1_709_210_096_789_000),
        ("2024-02-29T14:34:56.789+02:00", 1_709_210_096_789_000),
        ("2024-02-29T10:04:56.789123456-02:30", 1_709_210_096_789_123),
    ],
)
def test_datetime(text: str, micros: int) -> None:
    assert parse_datetime(text) == micros


def test_datetime_format_round_trips() -> None:
    for micros in (0, 1_709_210_096_000_000, 1_709_210_096_789_123):
        assert parse_datetime(format_datetime(micros)) == micros
    assert format_datetime(0) == "1970-01-01T00:00:00Z"
    for bad in ("2024-02-30T00:00:00Z", "2024-01-01 00:00:00Z", "2024-01-01T00:00:00", "x" * 5000):
        with pytest.raises(CodecError):
            parse_datetime(bad)


def test_strip_stanza_ids_removes_every_claiming_copy() -> None:
    el = parse_element(
        "<message to='bob@localhost'><body>hi</body>"
        f"<stanza-id xmlns='{NS.SID}' id='f1' by='bob@localhost'/>"
        f"<stanza-id xmlns='{NS.SID}' id='f2' by='BOB@LOCALHOST'/>"
        f"<stanza-id xmlns='{NS.SID}' id='keep' by='room@mix.example'/>"
        f"<stanza-id xmlns='{NS.SID}' id='f3' by='@@'/>"
        f"<origin-id xmlns='{NS.SID}' id='o1'/>"
        "</message>"
    )
    bob = JID.parse("bob@localhost")
    removed = strip_stanza_ids(el, lambda by: by is None or by.bare == bob)
    assert removed == 3
    assert stanza_ids(el) == [("keep", "room@mix.example")]
    assert origin_id(el) == "o1"
    add_stanza_id(el, "new", bob)
    assert stanza_ids(el)[-1] == ("new", "bob@localhost")
