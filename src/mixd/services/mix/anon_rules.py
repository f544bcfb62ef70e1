"""XEP-0404 MIX-ANON 0.3.1 decisions as plain functions (no I/O): the
channel's JID visibility mode, the participant's preferences, and whether a
participant's real JID may be shown.

Modes (the MIX-ADMIN "JID Visibility" field): `jid-visible` (and
`jid-mandatory-visible`, XEP-0406's example value, read as the same),
`jid-maybe-visible` and `jid-hidden`. Preferences (the "JID Visibility"
user preference, XEP-0404 section 4.1, plus 'prefer', the "Prefer
Visible" of the spec's section 2.2 table, which its value list lacks):

| preference  | visible | maybe visible | hidden  |
|-------------|---------|---------------|---------|
| default     | shown   | hidden        | hidden  |
| prefer not  | shown   | hidden        | hidden  |
| prefer      | shown   | shown         | hidden  |
| always      | shown   | shown         | removed |
| never       | removed | hidden        | hidden  |

"removed": the preference conflicts with the mode; a participant holding it
is removed when the mode changes to it, and a join or preference change
that would create the conflict is refused. A JID is never shown for a
conflicting pair either, so a participant whose removal did not happen (a
crash between the two commits) is not exposed. Administrators and owners
see every JID; everyone sees their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from mixd import ns as NS
from mixd.codec.xep0004_forms import DataForm, Field
from mixd.errors import StanzaError, StanzaErrorCondition

MODE_FIELD = "JID Visibility"  # the MIX-ADMIN configuration field


class Mode(Enum):
    VISIBLE = "visible"
    MAYBE = "maybe"
    HIDDEN = "hidden"


_MODES = {
    "jid-visible": Mode.VISIBLE,
    "jid-mandatory-visible": Mode.VISIBLE,
    "jid-maybe-visible": Mode.MAYBE,
    "jid-hidden": Mode.HIDDEN,
}


def mode_of(value: str) -> Mode:
    """The mode a configuration value names (validated by MIX-ADMIN)."""
    return _MODES.get(value, Mode.HIDDEN)  # an unknown value hides: the safe side


# -- user preferences (section 4.1) ---------------------------------------------

JID_VISIBILITY = "JID Visibility"
PRIVATE_MESSAGES = "Private Messages"
VCARD = "vCard"
PRESENCE = "Presence"

DEFAULT, NEVER, PREFER_NOT, PREFER, ALWAYS = "default", "never", "prefer not", "prefer", "always"


@dataclass(frozen=True, slots=True)
class Preference:
    var: str
    label: str
    options: tuple[tuple[str, str], ...]  # (value, label)
    default: str

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(value for value, _ in self.options)


PREFERENCES: tuple[Preference, ...] = (
    Preference(JID_VISIBILITY, "Preference for JID Visibility", (
        (DEFAULT, "Default behaviour"),
        (NEVER, "JID never shown"),
        (PREFER_NOT, "Try not to show JID"),
        (PREFER, "Show JID where the channel lets me choose"),
        (ALWAYS, "JID always shown"),
    ), DEFAULT),
    Preference(PRIVATE_MESSAGES, "Private messages from other participants",
               (("allow", "Allow"), ("block", "Block")), "allow"),
    Preference(VCARD, "vCard requests through the channel",
               (("allow", "Allow"), ("block", "Block")), "block"),
    Preference(PRESENCE, "Presence shared with the channel",
               (("share", "Share"), ("not share", "Do not share")), "share"),
)  # fmt: skip
_BY_VAR: Mapping[str, Preference] = {p.var: p for p in PREFERENCES}

Preferences = tuple[tuple[str, str], ...]  # as stored: (field, value), sorted, non-defaults


def effective(stored: Preferences) -> dict[str, str]:
    """Every preference's value: what was set, else its default."""
    values = {p.var: p.default for p in PREFERENCES}
    values.update((k, v) for k, v in stored if k in _BY_VAR)
    return values


def visibility(stored: Preferences) -> str:
    """The "JID Visibility" preference (asked for every message and presence:
    no dictionary built)."""
    for var, value in stored:
        if var == JID_VISIBILITY:
            return value
    return DEFAULT


def shown(mode: Mode, preference: str) -> bool:
    """Whether a participant's real JID is shown to every participant."""
    if mode is Mode.VISIBLE:
        return preference != NEVER
    if mode is Mode.MAYBE:
        return preference in (PREFER, ALWAYS)
    return False


def conflicts(mode: Mode, preference: str) -> bool:
    """A preference the channel's mode cannot honour (the participant goes)."""
    return (mode is Mode.VISIBLE and preference == NEVER) or (
        mode is Mode.HIDDEN and preference == ALWAYS
    )


def may_see(mode: Mode, preference: str, *, privileged: bool, own: bool) -> bool:
    """May a viewer see a participant's real JID? `privileged`: the viewer
    administers the channel (administrators, owners, server admins); `own`:
    it is the viewer's own JID."""
    return own or privileged or shown(mode, preference)


def _bad(var: str, why: str) -> StanzaError:
    return StanzaError(StanzaErrorCondition.BAD_REQUEST, f"{var}: {why}")


def submitted(current: Preferences, form: DataForm, *, presence_required: bool) -> Preferences:
    """The preferences after a submitted form: the fields it carries replace
    their values (case does not matter: the spec's own example offers
    'Never'), others keep theirs. Raises bad-request naming the field."""
    if form.type not in ("submit", "result"):
        raise _bad("FORM_TYPE", "submit a form of type submit")
    if form.form_type not in (None, NS.MIX_ANON):
        raise _bad("FORM_TYPE", f"must be {NS.MIX_ANON}")
    values = dict(current)
    for field in form.fields:
        var = field.var
        if var is None or var == "FORM_TYPE":
            continue
        preference = _BY_VAR.get(var)
        if preference is None:
            raise _bad(var, "not a preference of this channel")
        if len(field.values) != 1:
            raise _bad(var, "takes one value")
        value = field.values[0].strip().lower()
        if value not in preference.values:
            raise _bad(var, f"{field.values[0]!r} is not one of {', '.join(preference.values)}")
        values[var] = value
    if presence_required and values.get(PRESENCE, "share") != "share":
        raise StanzaError(
            StanzaErrorCondition.NOT_ALLOWED, f"{PRESENCE}: this channel requires sharing presence"
        )
    defaults = {p.var: p.default for p in PREFERENCES}
    return tuple(sorted((k, v) for k, v in values.items() if defaults.get(k) != v))


def form(stored: Preferences, kind: str) -> DataForm:
    """The preference form: with options for `form`, values only for `result`."""
    values = effective(stored)
    fields = tuple(
        Field(
            p.var,
            (values[p.var],),
            "list-single",
            p.label,
            False,
            p.values if kind == "form" else (),
        )
        for p in PREFERENCES
    )
    return DataForm.with_type(kind, NS.MIX_ANON, fields)
