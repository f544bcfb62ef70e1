"""Pure MAM rules: what is archived, whether preferences allow it, and how a
query request becomes a storage query (validation, page size clamping).

Error choices (XEP-0313 / XEP-0059 / RELIABILITY E1-E2, E5):
- `<max/>` absent -> DEFAULT_PAGE_SIZE; above MAX_PAGE_SIZE -> clamped;
  `0` -> only the count; negative or not an integer -> `bad-request` (codec).
- an id (RSM after/before, after-id, before-id, ids) not in the archive ->
  `item-not-found`; ids longer than any we issue are refused without a lookup.
- a form field we do not know -> `feature-not-implemented` (XEP-0313 4.1.5);
  FORM_TYPE missing or not mam:2, a form that is not a submission, a bad
  date or JID, RSM after and before together, index with after/before ->
  `bad-request`.
- `with`: a bare JID matches every resource of that party; a full JID only
  that resource (we store the other party's resource with each entry).
"""

from __future__ import annotations

from dataclasses import dataclass

from mixd import ns as NS
from mixd.codec.stanza import CodecError
from mixd.codec.xep0004_forms import DataForm, Field
from mixd.codec.xep0059_rsm import RsmRequest
from mixd.codec.xep0082_datetime import parse_datetime
from mixd.codec.xep0313_mam import MamPrefs, MamQuery
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID, JIDError
from mixd.storage.contracts.archive import MAX_ID_LENGTH, ArchiveQuery, DefaultMode, Prefs
from mixd.xml.element import Element

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 250
MAX_IDS = MAX_PAGE_SIZE  # values of the `ids` field
MAX_QUERYID_LENGTH = 256  # echoed in every result message
MAX_PREFS_JIDS = 1000  # per list
_MAX_JID_LENGTH = 3071  # RFC 7622: three parts of at most 1023 octets

_BAD = StanzaErrorCondition.BAD_REQUEST

# Children that make a chat/normal message worth keeping (XEP-0313 8.1.1:
# at least the body; encrypted payloads have none).
ARCHIVABLE_PAYLOADS = frozenset(
    {
        (NS.CLIENT, "body"),
        (NS.OMEMO_LEGACY, "encrypted"),
        (NS.OMEMO, "encrypted"),
        (NS.OPENPGP, "openpgp"),
        (NS.REACTIONS, "reactions"),
        (NS.RETRACT, "retract"),
    }
)

QUERY_FORM = DataForm.with_type(
    "form",
    NS.MAM,
    (
        Field("with", type="jid-single"),
        Field("start", type="text-single"),
        Field("end", type="text-single"),
        Field("before-id", type="text-single"),
        Field("after-id", type="text-single"),
        Field("ids", type="list-multi", open=True),
    ),
)
_SINGLE_FIELDS = frozenset({"with", "start", "end", "before-id", "after-id"})


def is_archivable(message_type: str, message: Element) -> bool:
    """A user archive keeps chat and normal messages with content; never
    errors, headlines or groupchat (channel messages are archived by the
    channel and by MIX-PAM), and honours XEP-0334 hints."""
    if message_type not in ("chat", "normal"):
        return False
    return has_archivable_content(message)


def has_archivable_content(message: Element) -> bool:
    """Content worth keeping (XEP-0313 8.1.1) and no XEP-0334 hint against
    it; MIX-PAM asks this about channel messages it archives itself."""
    keep = False
    for child in message.elements:
        if child.ns == NS.HINTS:
            if child.name in ("no-store", "no-permanent-store"):
                return False
            keep = keep or child.name == "store"
        elif (child.ns, child.name) in ARCHIVABLE_PAYLOADS:
            keep = True
    return keep


def prefs_allow(prefs: Prefs, other: JID, in_roster: bool) -> bool:
    """XEP-0441: `never` wins over `always`; a bare JID in a list covers every
    resource, a full JID only itself; otherwise the default decides."""
    candidates = (str(other), str(other.bare))
    if any(c in prefs.never for c in candidates):
        return False
    if any(c in prefs.always for c in candidates):
        return True
    if prefs.default is DefaultMode.ROSTER:
        return in_roster
    return prefs.default is DefaultMode.ALWAYS


def page_size(requested: int | None) -> int:
    if requested is None:
        return DEFAULT_PAGE_SIZE
    return min(requested, MAX_PAGE_SIZE)


def archive_owner(sender: JID, to: JID | None) -> JID:
    """Only the account itself may read or configure its archive."""
    owner = sender.bare if to is None else to.bare
    if owner != sender.bare:
        raise StanzaError(StanzaErrorCondition.FORBIDDEN, "this is not your archive")
    return owner


@dataclass(frozen=True, slots=True)
class QueryPlan:
    query: ArchiveQuery
    queryid: str | None
    flip_page: bool


@dataclass(frozen=True, slots=True)
class Filters:
    """What the data form selects (XEP-0313 4.1)."""

    with_jid: str | None = None
    with_resource: str | None = None
    start: int | None = None
    end: int | None = None
    after_id: str | None = None
    before_id: str | None = None
    ids: tuple[str, ...] = ()


def plan_query(owner: JID, request: MamQuery) -> QueryPlan:
    """Validate a query request; raises StanzaError."""
    if request.node is not None:
        raise StanzaError(StanzaErrorCondition.FEATURE_NOT_IMPLEMENTED, "no node archives here")
    if request.queryid is not None and len(request.queryid) > MAX_QUERYID_LENGTH:
        raise StanzaError(_BAD, "queryid too long")
    f = parse_filters(request.form) if request.form is not None else Filters()
    rsm = request.rsm or RsmRequest()
    if rsm.after is not None and rsm.before is not None:
        raise StanzaError(
            _BAD, "RSM after and before together are undefined; use after-id/before-id"
        )
    if rsm.index is not None and (rsm.after is not None or rsm.before is not None):
        raise StanzaError(_BAD, "RSM index cannot be combined with after or before")
    _check_id_shape(rsm.after)
    _check_id_shape(rsm.before or None)  # an empty <before/> asks for the last page
    query = ArchiveQuery(
        owner=str(owner),
        limit=page_size(rsm.max),
        with_jid=f.with_jid,
        with_resource=f.with_resource,
        start=f.start,
        end=f.end,
        after_id=f.after_id,
        before_id=f.before_id,
        ids=f.ids,
        after=rsm.after,
        before=rsm.before or None,
        from_end=rsm.before is not None,
        index=rsm.index,
    )
    return QueryPlan(query, request.queryid, request.flip_page)


def parse_filters(form: DataForm) -> Filters:
    if form.type != "submit":
        raise StanzaError(_BAD, "the query form must be a submission")
    if form.form_type != NS.MAM:
        raise StanzaError(_BAD, f"FORM_TYPE must be {NS.MAM}")
    values: dict[str, str] = {}
    ids: tuple[str, ...] = ()
    for field in form.fields:
        if field.var == "FORM_TYPE" or field.var is None:
            continue
        if field.var == "ids":
            ids = _ids(field.values)
        elif field.var in _SINGLE_FIELDS:
            if len(field.values) > 1:
                raise StanzaError(_BAD, f"field {field.var!r} takes one value")
            if field.value:
                values[field.var] = field.value.strip()
        else:
            name = field.var[:64]
            raise StanzaError(
                StanzaErrorCondition.FEATURE_NOT_IMPLEMENTED, f"unknown field {name!r}"
            )
    other = _jid(values["with"]) if "with" in values else None
    for key in ("after-id", "before-id"):
        _check_id_shape(values.get(key))
    return Filters(
        with_jid=None if other is None else str(other.bare),
        with_resource=None if other is None else other.resource,
        start=_time(values["start"]) if "start" in values else None,
        end=_time(values["end"]) if "end" in values else None,
        after_id=values.get("after-id"),
        before_id=values.get("before-id"),
        ids=ids,
    )


def _jid(value: str) -> JID:
    if len(value) > _MAX_JID_LENGTH:
        raise StanzaError(_BAD, "'with' is not a JID")
    try:
        return JID.parse(value.strip())
    except JIDError:
        raise StanzaError(_BAD, "'with' is not a JID") from None


def _time(value: str) -> int:
    try:
        return parse_datetime(value)
    except CodecError as exc:
        raise StanzaError(_BAD, str(exc)) from None


def _ids(values: tuple[str, ...]) -> tuple[str, ...]:
    unique = tuple(dict.fromkeys(v.strip() for v in values if v.strip()))
    if len(unique) > MAX_IDS:
        raise StanzaError(StanzaErrorCondition.POLICY_VIOLATION, f"at most {MAX_IDS} ids")
    for item_id in unique:
        _check_id_shape(item_id)
    return unique


def _check_id_shape(item_id: str | None) -> None:
    """An id we cannot have issued is unknown without asking storage."""
    if item_id is not None and (len(item_id) > MAX_ID_LENGTH or not item_id):
        raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "no such item in the archive")


def prefs_from_request(request: MamPrefs) -> Prefs:
    """A prefs set request -> normalised preferences; raises StanzaError."""
    if request.default is None:
        raise StanzaError(_BAD, "prefs need a default")
    lists = []
    for jids in (request.always, request.never):
        if len(jids) > MAX_PREFS_JIDS:
            raise StanzaError(StanzaErrorCondition.NOT_ACCEPTABLE, "too many JIDs in prefs")
        lists.append(tuple(dict.fromkeys(str(_jid(j)) for j in jids)))
    return Prefs(DefaultMode(request.default), lists[0], lists[1])


def prefs_payload(prefs: Prefs) -> MamPrefs:
    return MamPrefs(str(prefs.default), prefs.always, prefs.never)
