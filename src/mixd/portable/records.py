"""Records of a dump read back into the storage contracts' values; every
check that can be made without the database happens here, so a dump that
passes the first import pass is one the second can write."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from mixd import ns as NS
from mixd.jid import JID, JIDError
from mixd.portable.format import (
    DumpError,
    parse_bool,
    parse_int,
    parse_time,
    required,
)
from mixd.storage.contracts.accounts import ScramCredential
from mixd.storage.contracts.archive import (
    MAX_ID_LENGTH,
    DefaultMode,
    Direction,
    MessageRecord,
    Prefs,
)
from mixd.storage.contracts.dump import DumpedEntry, FollowSpan
from mixd.storage.contracts.mix import Channel, ChannelInfo, Participant
from mixd.storage.contracts.mix_misc import NodeItem, RegisteredNick
from mixd.storage.contracts.pep import AccessModel, NodeConfig, PepItem, SendLast
from mixd.storage.contracts.roster import LastPresence, RosterItem, Subscription
from mixd.xml.element import Element
from mixd.xml.serializer import serialize

_STAMP = f"{{{NS.MIXD_DUMP}}}stamp"


def bare_jid(text: str | None, what: str) -> str:
    """A normalised bare JID (or domain), as the stores expect it."""
    value = required(text, what)
    try:
        jid = JID.parse(value)
    except JIDError as exc:
        raise DumpError(f"{what}: bad JID {value!r}: {exc}") from None
    if jid.resource is not None or str(jid) != value:
        raise DumpError(f"{what}: {value!r} is not a normalised bare JID")
    return value


def _ident(text: str | None, what: str) -> str:
    value = required(text, what)
    if len(value) > MAX_ID_LENGTH:
        raise DumpError(f"{what}: id longer than {MAX_ID_LENGTH} characters")
    return value


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise DumpError(f"{what}: not base64") from None


def _only(element: Element, allowed: set[tuple[str, str]], what: str) -> None:
    for child in element.elements:
        if (child.ns, child.name) not in allowed:
            raise DumpError(f"{what}: unexpected <{child.name} xmlns='{child.ns}'>")


def _stanza(parent: Element, what: str) -> str:
    children = list(parent.elements)
    if len(children) != 1:
        raise DumpError(f"{what}: expected one stanza")
    return serialize(children[0])


def credential(element: Element) -> ScramCredential:
    what = "scram-credentials"
    mechanism = required(element.get("mechanism"), f"{what} mechanism")
    names = {"iter-count", "salt", "server-key", "stored-key"}
    _only(element, {(NS.PIE_SCRAM, n) for n in names}, what)
    values = {n: element.find_text(NS.PIE_SCRAM, n) for n in names}
    missing = sorted(n for n, v in values.items() if v is None)
    if missing:
        raise DumpError(f"{what} {mechanism}: missing {', '.join(missing)}")
    return ScramCredential(
        mechanism,
        _b64(values["salt"] or "", f"{what} salt"),
        _b64(values["stored-key"] or "", f"{what} stored-key"),
        _b64(values["server-key"] or "", f"{what} server-key"),
        parse_int(values["iter-count"], f"{what} iter-count", minimum=1),
    )


def roster(element: Element) -> tuple[int, list[RosterItem]]:
    version = parse_int(element.get(f"{{{NS.MIXD_DUMP}}}version", "0"), "roster version")
    _only(element, {(NS.ROSTER, "item")}, "roster")
    items = [_roster_item(item) for item in element.elements]
    if len({item.jid for item in items}) != len(items):
        raise DumpError("roster: a contact appears twice")
    return version, items


def _roster_item(element: Element) -> RosterItem:
    jid = bare_jid(element.get("jid"), "roster item jid")
    try:
        subscription = Subscription(element.attrs.get("subscription", "none"))
    except ValueError:
        raise DumpError(f"roster item {jid}: bad subscription") from None
    ask = element.get("ask")
    if ask not in (None, "subscribe"):
        raise DumpError(f"roster item {jid}: bad ask {ask!r}")
    _only(element, {(NS.ROSTER, "group"), (NS.MIXD_DUMP, "state")}, f"roster item {jid}")
    state = element.find(NS.MIXD_DUMP, "state") or Element(NS.MIXD_DUMP, "state")
    request = state.find(NS.MIXD_DUMP, "request")
    return RosterItem(
        jid,
        name=element.get("name"),
        groups=tuple(g.text for g in element.find_all(NS.ROSTER, "group")),
        subscription=subscription,
        ask=ask is not None,
        pending_in=parse_bool(state.get("pending-in"), f"roster item {jid} pending-in"),
        approved=parse_bool(state.get("approved"), f"roster item {jid} approved"),
        request=None if request is None else request.text,
        listed=not parse_bool(state.get("unlisted"), f"roster item {jid} unlisted"),
        mix_participant_id=state.get("participant-id"),
    )


def last_presence(element: Element) -> LastPresence:
    stamp = parse_time(element.get("stamp"), "last-presence stamp")
    return LastPresence(_stanza(element, "last-presence"), stamp)


def offline(element: Element) -> list[tuple[str, datetime]]:
    result: list[tuple[str, datetime]] = []
    _only(element, {(NS.CLIENT, "message")}, "offline-messages")
    for message in element.elements:
        stamp = parse_time(message.attrs.pop(_STAMP, None), "offline message stamp")
        result.append((serialize(message), stamp))
    return result


@dataclass(frozen=True, slots=True)
class PepNodeDump:
    name: str
    config: NodeConfig
    items: list[PepItem]


def pep_node(element: Element) -> PepNodeDump:
    configure = element.find(NS.MIXD_DUMP, "configure")
    items = element.find(NS.PUBSUB, "items")
    _only(element, {(NS.MIXD_DUMP, "configure"), (NS.PUBSUB, "items")}, "pubsub")
    if configure is None or items is None:
        raise DumpError("pubsub: needs <configure/> and <items/>")
    name = required(items.get("node"), "pubsub node name")
    what = f"PEP node {name}"
    try:
        max_items = configure.get("max-items", "1")
        config = NodeConfig(
            access_model=AccessModel(configure.attrs.get("access-model", "presence")),
            max_items=None if max_items == "max" else parse_int(max_items, f"{what} max-items"),
            persist_items=parse_bool(configure.get("persist-items", "true"), what),
            send_last=SendLast(configure.attrs.get("send-last", "on_sub_and_presence")),
            roster_groups=tuple(g.text for g in configure.find_all(NS.MIXD_DUMP, "group")),
        )
    except ValueError as exc:
        raise DumpError(f"{what}: {exc}") from None
    _only(items, {(NS.PUBSUB, "item")}, what)
    published = []
    for item in items.elements:
        payloads = list(item.elements)
        if len(payloads) > 1:
            raise DumpError(f"{what}: an item has more than one payload")
        published.append(
            PepItem(
                required(item.get("id"), f"{what} item id"),
                serialize(payloads[0]) if payloads else "",
                parse_time(item.get(f"{{{NS.MIXD_DUMP}}}published"), f"{what} published"),
                required(item.get(f"{{{NS.MIXD_DUMP}}}publisher"), f"{what} publisher"),
            )
        )
    return PepNodeDump(name, config, published)


def channel_settings(jid: str, element: Element) -> Channel:
    what = f"channel {jid}"
    allowed = {"owner", "info", "field"}
    _only(element, {(NS.MIXD_DUMP, n) for n in allowed}, what)
    info = element.find(NS.MIXD_DUMP, "info") or Element(NS.MIXD_DUMP, "info")
    end = element.get("end-of-life")
    return Channel(
        jid=jid,
        adhoc=parse_bool(element.get("adhoc"), f"{what} adhoc"),
        created=parse_int(element.get("created"), f"{what} created"),
        owners=tuple(
            bare_jid(o.text, f"{what} owner") for o in element.find_all(NS.MIXD_DUMP, "owner")
        ),
        secret=_b64(required(element.get("secret"), f"{what} secret"), f"{what} secret"),
        info=ChannelInfo(
            name=info.get("name"),
            description=info.get("description"),
            contact=tuple(c.text for c in info.find_all(NS.MIXD_DUMP, "contact")),
            updated=parse_int(info.get("updated", "0"), f"{what} info updated"),
        ),
        config={
            required(f.get("var"), f"{what} field name"): tuple(
                v.text for v in f.find_all(NS.MIXD_DUMP, "value")
            )
            for f in element.find_all(NS.MIXD_DUMP, "field")
        },
        config_updated=parse_int(element.get("config-updated", "0"), f"{what} config-updated"),
        end_of_life=None if end is None else parse_int(end, f"{what} end-of-life"),
    )


def participant(channel: str, element: Element) -> Participant:
    what = f"channel {channel} participant"
    _only(element, {(NS.MIXD_DUMP, "node"), (NS.MIXD_DUMP, "preference")}, what)
    preferences = {
        required(p.get("var"), f"{what} preference"): required(
            p.get("value"), f"{what} preference value"
        )
        for p in element.find_all(NS.MIXD_DUMP, "preference")
    }
    return Participant(
        channel=channel,
        jid=bare_jid(element.get("jid"), f"{what} jid"),
        id=_ident(element.get("id"), f"{what} id"),
        nick=required(element.get("nick"), f"{what} nick"),
        nodes=frozenset(n.text for n in element.find_all(NS.MIXD_DUMP, "node")),
        joined=parse_int(element.get("joined"), f"{what} joined"),
        preferences=tuple(sorted(preferences.items())),
    )


def prefs(element: Element) -> Prefs:
    try:
        default = DefaultMode(element.attrs.get("default", "always"))
    except ValueError:
        raise DumpError("archive prefs: bad default") from None
    _only(element, {(NS.MAM, "always"), (NS.MAM, "never")}, "archive prefs")

    def jids(name: str) -> tuple[str, ...]:
        listed = element.find(NS.MAM, name)
        return () if listed is None else tuple(j.text for j in listed.find_all(NS.MAM, "jid"))

    return Prefs(default, jids("always"), jids("never"))


def result(owner: str, element: Element) -> DumpedEntry:
    entry_id = _ident(element.get("id"), "archive result id")
    what = f"archive result {entry_id}"
    meta = element.find(NS.MIXD_DUMP, "entry")
    forwarded = element.find(NS.FORWARD, "forwarded")
    _only(element, {(NS.MIXD_DUMP, "entry"), (NS.FORWARD, "forwarded")}, what)
    if meta is None or forwarded is None:
        raise DumpError(f"{what}: needs <forwarded/> and mixd's <entry/>")
    stanzas = [c for c in forwarded.elements if c.ns != NS.DELAY]
    if len(stanzas) != 1:
        raise DumpError(f"{what}: expected one forwarded stanza")
    try:
        direction = Direction(meta.attrs.get("direction", ""))
    except ValueError:
        raise DumpError(f"{what}: bad direction") from None
    message = MessageRecord(
        serialize(stanzas[0]),
        parse_int(meta.get("message-ts"), f"{what} message-ts"),
        bare_jid(meta.get("sender"), f"{what} sender"),
        required(meta.get("type"), f"{what} type"),
        meta.get("origin-id"),
    )
    return DumpedEntry(
        entry_id,
        _ident(meta.get("message"), f"{what} message id"),
        owner,
        bare_jid(meta.get("with"), f"{what} with"),
        meta.get("resource"),
        direction,
        parse_int(meta.get("ts"), f"{what} ts"),
        message,
    )


def follower(feed: str, element: Element) -> FollowSpan:
    what = f"follower of {feed}"
    first, last = element.get("first"), element.get("last")
    if (first is None) != (last is None):
        raise DumpError(f"{what}: first and last go together")
    span = FollowSpan(
        bare_jid(element.get("jid"), f"{what} jid"),
        feed,
        None if first is None else _ident(first, f"{what} first"),
        None if last is None else _ident(last, f"{what} last"),
        parse_bool(element.get("open"), f"{what} open"),
    )
    if span.first is None and not span.open:
        raise DumpError(f"{what}: a closed span must name its entries")
    return span


def node_item(channel: str, element: Element) -> tuple[str, NodeItem]:
    what = f"channel {channel} node item"
    payloads = list(element.elements)
    if len(payloads) > 1:
        raise DumpError(f"{what}: more than one payload")
    item = NodeItem(
        required(element.get("id"), f"{what} id"),
        serialize(payloads[0]) if payloads else "",
        parse_int(element.get("updated"), f"{what} updated"),
    )
    return required(element.get("node"), f"{what} node"), item


def registered_nick(service: str, element: Element) -> RegisteredNick:
    what = f"nick registered with {service}"
    return RegisteredNick(
        service,
        bare_jid(element.get("jid"), f"{what} jid"),
        required(element.get("nick"), f"{what} nick"),
        required(element.get("key"), f"{what} key"),
    )


def blocklist(element: Element) -> list[str]:
    _only(element, {(NS.BLOCKING, "item")}, "blocklist")
    jids = [required(item.get("jid"), "blocklist item jid") for item in element.elements]
    for jid in jids:
        try:
            parsed = JID.parse(jid)
        except JIDError as exc:
            raise DumpError(f"blocklist: bad JID {jid!r}: {exc}") from None
        if str(parsed) != jid:
            raise DumpError(f"blocklist: {jid!r} is not a normalised JID")
    return jids
