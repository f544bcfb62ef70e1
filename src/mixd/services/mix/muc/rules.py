"""Decisions of the MUC face as plain functions (no I/O): occupant ids,
the history an entering occupant gets, and a channel message rewritten in
MUC form. Affiliations and roles are in `affiliations.py`."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from mixd import ns as NS
from mixd.codec.xep0045_muc import History, occupant_id
from mixd.codec.xep0369_mix import NAMESPACES
from mixd.xml.element import Element

MODERATED_NS = "urn:xmpp:message-moderate:1"  # XEP-0425

DEFAULT_HISTORY = 20  # messages sent on entering when the client asks for no limit
MAX_HISTORY = 100  # the most a client can ask for

# Status codes (XEP-0045 section 15.6.2).
NON_ANONYMOUS = 100
SELF = 110
LOGGING = 170
CONFIG_CHANGED = 104
NICK_MODIFIED = 210
BANNED = 301
NICK_CHANGED = 303
KICKED = 307
REMOVED = 321  # by an affiliation change (or leaving through MIX)


def occupant_id_of(secret: bytes, participant_id: str) -> str:
    """XEP-0421 occupant id: stable for a participant in a channel, keyed
    with the channel's secret from the stable participant id (never from the
    real JID), so it cannot be linked to the participant id either."""
    digest = hmac.new(secret, b"occupant-id\0" + participant_id.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:15]).decode().lower()


@dataclass(frozen=True, slots=True)
class HistoryPlan:
    """What to ask the archive for: the last `limit` messages since `start`."""

    limit: int
    start: int | None
    maxchars: int | None


def plan_history(history: History | None, now: int) -> HistoryPlan:
    """The archive query for a join's history request (XEP-0045 7.2.14):
    every limit the client gives applies; no limit at all means the
    service's default number of messages."""
    if history is None:
        return HistoryPlan(DEFAULT_HISTORY, None, None)
    limit = DEFAULT_HISTORY if history.maxstanzas is None else history.maxstanzas
    starts = []
    if history.seconds is not None:
        starts.append(now - history.seconds * 1_000_000)
    if history.since is not None:
        starts.append(history.since)
    return HistoryPlan(min(limit, MAX_HISTORY), max(starts) if starts else None, history.maxchars)


def fit_chars(sizes: Sequence[int], maxchars: int | None) -> int:
    """How many of the newest stanzas (sizes in characters, oldest first)
    fit in `maxchars` characters in total."""
    if maxchars is None:
        return len(sizes)
    total = count = 0
    for size in reversed(sizes):
        total += size
        if total > maxchars:
            break
        count += 1
    return count


def strip_server_owned(element: Element) -> None:
    """Remove every copy of what only the room may write in a stanza from a
    client: MIX attribution, MUC user data, occupant ids, and tombstone and
    moderation marks (XEP-0424/0425: only the room's count)."""
    for ns in NAMESPACES:
        element.remove_all(ns, "mix")
    element.remove_all(NS.MUC_USER, "x")
    element.remove_all(NS.MUC, "x")
    element.remove_all(NS.OCCUPANT_ID, "occupant-id")
    element.remove_all(NS.RETRACT, "retracted")
    element.remove_all(MODERATED_NS, "moderated")


def muc_message(message: Element, channel: str, nick: str, occupant: str) -> Element:
    """A channel message (as reflected or archived, with `<mix/>`) as MUC
    occupants see it: from the sender's occupant JID, with its occupant id."""
    copy = message.copy()
    strip_server_owned(copy)
    copy.attrs["from"] = f"{channel}/{nick}"
    copy.append(occupant_id(occupant))
    return copy


def mix_nick(message: Element) -> str | None:
    """The sender's nick in a channel message's `<mix/>`."""
    for ns in NAMESPACES:
        mix = message.find(ns, "mix")
        if mix is not None:
            return mix.find_text(ns, "nick")
    return None
