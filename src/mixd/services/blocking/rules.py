"""XEP-0191 decisions as plain functions (no I/O): which blocklist entries
match a JID, and the MIX forms of a channel participant (XEP-0405 8.3).

"JID Matching" (XEP-0191 section 6, as XEP-0016): an entry `user@domain/res`
matches only that JID, `user@domain` any of its resources, `domain/res`
only that JID, `domain` the domain and everything on it. So the entries
that match a JID are exactly its full text, its bare text and its domain,
and a check is a few set lookups.

MIX (XEP-0405 "Blocking Considerations"): a channel speaks from
`channel@service/<participant id>` (messages) and from proxy JIDs
`<participant id>#channel@service/<mapped resource>` (presence, relayed
IQs). Blocking the channel's JID covers both; blocking a participant,
either as `channel@service/<id>` or as `<id>#channel@service`, covers both
forms of that participant; and where the channel shows the participant's
real JID (`<mix><jid>`), an entry matching it covers that participant in
every channel of this server.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mixd import ns as NS
from mixd.codec.xep0369_mix import NAMESPACES as MIX_CORE_NAMESPACES
from mixd.jid import JID, JIDError
from mixd.xml.element import Element

# Stable participant ids are base32 without padding, lowercase (services/mix/rules.py).
_PARTICIPANT_ID = re.compile(r"[a-z2-7]{8,}")


def keys(jid: JID) -> tuple[str, ...]:
    """The entries that would match a stanza from (or to) `jid`."""
    full = str(jid)
    if jid.resource is None:
        return (full,) if jid.local is None else (full, jid.domain)
    bare = str(jid.bare)
    return (full, bare, jid.domain)


def proxy_parts(jid: JID) -> tuple[str, JID] | None:
    """(participant id, channel bare JID) of a proxy JID `<id>#channel@service`."""
    if jid.local is None:
        return None
    pid, sep, channel = jid.local.partition("#")
    if not sep or not channel or not _PARTICIPANT_ID.fullmatch(pid):
        return None
    return pid, JID(channel, jid.domain)


def channel_keys(jid: JID) -> tuple[str, ...]:
    """The entries matching `jid`, which is on a MIX service of this server,
    with the other form of the same participant added."""
    direct = keys(jid)
    proxy = proxy_parts(jid)
    if proxy is not None:
        pid, channel = proxy
        in_channel = channel.with_resource(pid)
        return (*direct, str(jid.bare), str(channel), str(in_channel))
    if jid.local is not None and jid.resource is not None:
        return (*direct, f"{jid.resource}#{jid.local}@{jid.domain}")
    return direct


def real_jid(element: Element) -> JID | None:
    """The participant's real JID a channel attached (`<mix><jid>` of
    MIX-CORE messages or MIX-PRESENCE presence), if any and valid."""
    for ns in (*MIX_CORE_NAMESPACES, NS.MIX_PRESENCE):
        mix = element.find(ns, "mix")
        if mix is not None:
            text = mix.find_text(ns, "jid")
            if not text:
                return None
            try:
                return JID.parse(text)
            except JIDError:
                return None
    return None


def sender_keys(sender: JID, element: Element, on_mix: bool) -> frozenset[str]:
    """Every entry that blocks a stanza from `sender`; `on_mix` when the
    sender is on a MIX service of this server (whose `<mix/>` is trusted)."""
    if not on_mix:
        return frozenset(keys(sender))
    found = set(channel_keys(sender))
    real = real_jid(element)
    if real is not None:
        found.update(keys(real))
    return frozenset(found)


def blocks(entries: frozenset[str], candidates: Iterable[str]) -> bool:
    return not entries.isdisjoint(candidates)


def parse_items(texts: Iterable[str]) -> list[JID]:
    """The items of a block or unblock, normalised; JIDError for a bad one."""
    return [JID.parse(text) for text in texts]


def matches(entry: str, jid: JID) -> bool:
    """Whether blocklist `entry` matches `jid` (both ways of the table above)."""
    return entry in keys(jid)
