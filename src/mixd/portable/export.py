"""`mixd export`: every store's content, written as one XEP-0227 document
record by record (archives page by page), so memory stays flat however
large the installation."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from mixd import ns as NS
from mixd.codec.xep0082_datetime import format_datetime
from mixd.core.server import Stores
from mixd.portable.format import FORMAT_VERSION, PLACEHOLDER, with_client_namespace
from mixd.storage.contracts.accounts import Account
from mixd.storage.contracts.archive import Prefs
from mixd.storage.contracts.dump import DumpedEntry, DumpStore
from mixd.storage.contracts.mix import Channel
from mixd.storage.contracts.pep import NodeItems
from mixd.storage.contracts.roster import Roster
from mixd.xml.element import Element
from mixd.xml.serializer import escape_attr, serialize

PAGE = 500  # archive entries (and channels) read per storage call


@dataclass
class ExportSummary:
    accounts: int = 0
    channels: int = 0
    entries: int = 0


def _fill(serialized: str, stored: Sequence[str]) -> str:
    """Put the stored stanzas where `serialized` has placeholders, in order."""
    parts = serialized.split(PLACEHOLDER)
    assert len(parts) == len(stored) + 1
    out = [parts[0]]
    for stanza, after in zip(stored, parts[1:], strict=True):
        out.append(with_client_namespace(stanza))
        out.append(after)
    return "".join(out)


class Exporter:
    def __init__(self, stores: Stores, dump: DumpStore, out: TextIO) -> None:
        self._stores = stores
        self._dump = dump
        self._out = out
        self.summary = ExportSummary()

    async def run(self) -> ExportSummary:
        write = self._out.write
        write(f"<?xml version='1.0' encoding='UTF-8'?>\n<server-data xmlns='{NS.PIE}'>\n")
        self._record(Element(NS.MIXD_DUMP, "export", {"version": FORMAT_VERSION}), NS.PIE)
        account_hosts = await self._dump.account_hosts()
        services = await self._dump.channel_services()
        for host in sorted(set(account_hosts) | set(services)):
            write(f'<host jid="{escape_attr(host)}">\n')
            for username in await self._stores.accounts.list_usernames(host):
                await self._user(host, username)
            if host in services:
                await self._channels(host)
                for nick in await self._dump.registered_nicks(host):
                    attrs = {"jid": nick.user, "nick": nick.nick, "key": nick.key}
                    self._record(Element(NS.MIXD_DUMP, "registered-nick", attrs), NS.PIE)
            write("</host>\n")
        await self._orphan_archives()
        write("</server-data>\n")
        return self.summary

    def _record(self, element: Element, container_ns: str, stored: Sequence[str] = ()) -> None:
        self._out.write(_fill(serialize(element, container_ns), stored))
        self._out.write("\n")

    async def _user(self, host: str, username: str) -> None:
        account = await self._stores.accounts.get(host, username)
        if account is None:  # deleted while we were listing
            return
        self.summary.accounts += 1
        self._out.write(f'<user name="{escape_attr(username)}">\n')
        self._credentials(account)
        s = self._stores
        roster = await s.roster.roster(host, username)
        if roster.items or roster.version:
            self._roster(roster)
        last = await s.roster.last_presence(host, username)
        if last is not None:
            element = Element(NS.MIXD_DUMP, "last-presence", {"stamp": last.stamp.isoformat()})
            element.children.append(PLACEHOLDER)
            self._record(element, NS.PIE, [last.stanza])
        await self._offline(f"{username}@{host}")
        for node in await s.pep.nodes(host, username):
            found = await s.pep.items(host, username, node.name)
            if found is not None:
                self._pep_node(found)
        blocked = await s.blocklist.blocklist(host, username)
        if blocked:
            element = Element(NS.BLOCKING, "blocklist")
            for jid in blocked:
                element.add(NS.BLOCKING, "item", {"jid": jid})
            self._record(element, NS.PIE)
        vcard = await s.pep.vcard(host, username)
        if vcard is not None:
            self._out.write(with_client_namespace(vcard) + "\n")
        await self._archive(f"{username}@{host}", f"<archive xmlns='{NS.PIE_MAM}'>", NS.PIE_MAM)
        self._out.write("</user>\n")

    def _credentials(self, account: Account) -> None:
        for c in account.credentials:
            element = Element(NS.PIE_SCRAM, "scram-credentials", {"mechanism": c.mechanism})
            element.add_text_child(NS.PIE_SCRAM, "iter-count", str(c.iterations))
            for name, value in (
                ("salt", c.salt),
                ("server-key", c.server_key),
                ("stored-key", c.stored_key),
            ):
                element.add_text_child(NS.PIE_SCRAM, name, base64.b64encode(value).decode())
            self._record(element, NS.PIE)

    def _roster(self, roster: Roster) -> None:
        query = Element(NS.ROSTER, "query", {f"{{{NS.MIXD_DUMP}}}version": str(roster.version)})
        for item in roster.items:
            attrs = {"jid": item.jid, "subscription": str(item.subscription)}
            if item.name is not None:
                attrs["name"] = item.name
            if item.ask:
                attrs["ask"] = "subscribe"
            element = query.add(NS.ROSTER, "item", attrs)
            for group in item.groups:
                element.add_text_child(NS.ROSTER, "group", group)
            state: dict[str, str] = {}
            if item.pending_in:
                state["pending-in"] = "true"
            if item.approved:
                state["approved"] = "true"
            if not item.listed:
                state["unlisted"] = "true"
            if item.mix_participant_id is not None:
                state["participant-id"] = item.mix_participant_id
            if state or item.request is not None:
                extra = element.add(NS.MIXD_DUMP, "state", state)
                if item.request is not None:
                    extra.add_text_child(NS.MIXD_DUMP, "request", item.request)
        self._record(query, NS.PIE)

    async def _offline(self, owner: str) -> None:
        offline = self._stores.offline
        waiting = await offline.fetch(owner, await offline.count(owner))
        if not waiting:
            return
        element = Element(NS.PIE, "offline-messages", children=[PLACEHOLDER] * len(waiting))
        stanzas = [_stamped(m.stanza, m.stamp.isoformat()) for m in waiting]
        self._record(element, NS.PIE, stanzas)

    def _pep_node(self, found: NodeItems) -> None:
        config = found.node.config
        pubsub = Element(NS.PUBSUB, "pubsub")
        configure = pubsub.add(
            NS.MIXD_DUMP,
            "configure",
            {
                "access-model": str(config.access_model),
                "max-items": "max" if config.max_items is None else str(config.max_items),
                "persist-items": "true" if config.persist_items else "false",
                "send-last": str(config.send_last),
            },
        )
        for group in config.roster_groups:
            configure.add_text_child(NS.MIXD_DUMP, "group", group)
        items = pubsub.add(NS.PUBSUB, "items", {"node": found.node.name})
        payloads = []
        for item in found.items:
            element = items.add(
                NS.PUBSUB,
                "item",
                {
                    "id": item.id,
                    f"{{{NS.MIXD_DUMP}}}published": item.published.isoformat(),
                    f"{{{NS.MIXD_DUMP}}}publisher": item.publisher,
                },
            )
            if item.payload:
                element.children.append(PLACEHOLDER)
                payloads.append(item.payload)
        self._record(pubsub, NS.PIE, payloads)

    async def _channels(self, service: str) -> None:
        after: str | None = None
        while True:
            page = await self._stores.mix.list_channels(service, after, PAGE, adhoc=True)
            for channel in page:
                await self._channel(channel)
            if len(page) < PAGE:
                return
            after = page[-1].jid

    async def _channel(self, channel: Channel) -> None:
        self.summary.channels += 1
        mix = self._stores.mix
        self._out.write(f'<channel xmlns="{NS.MIXD_DUMP}" jid="{escape_attr(channel.jid)}">\n')
        self._record(_settings(channel), NS.MIXD_DUMP)
        for participant in await mix.participants(channel.jid):
            element = Element(
                NS.MIXD_DUMP,
                "participant",
                {
                    "jid": participant.jid,
                    "id": participant.id,
                    "nick": participant.nick,
                    "joined": str(participant.joined),
                },
            )
            for node in sorted(participant.nodes):
                element.add_text_child(NS.MIXD_DUMP, "node", node)
            for var, value in participant.preferences:  # MIX-ANON
                element.add(NS.MIXD_DUMP, "preference", {"var": var, "value": value})
            self._record(element, NS.MIXD_DUMP)
        for which in ("allowed", "banned"):
            for entry in await mix.access_list(channel.jid, which):
                self._record(Element(NS.MIXD_DUMP, which, {"jid": entry}), NS.MIXD_DUMP)
        for node, item in await self._dump.channel_node_items(channel.jid):
            attrs = {"node": node, "id": item.id, "updated": str(item.updated)}
            element = Element(NS.MIXD_DUMP, "node-item", attrs)
            if item.xml:
                element.children.append(PLACEHOLDER)
            self._record(element, NS.MIXD_DUMP, [item.xml] if item.xml else [])
        await self._archive(channel.jid, f"<archive xmlns='{NS.PIE_MAM}'>", NS.PIE_MAM)
        self._out.write("</channel>\n")

    async def _orphan_archives(self) -> None:
        """Archives whose owner is neither an account nor a channel (a
        channel destroyed with its archive kept)."""
        after: str | None = None
        while owners := await self._dump.archive_owners(after, PAGE):
            for owner in owners:
                if not await self._owned(owner):
                    tag = f'<archive xmlns="{NS.MIXD_DUMP}" owner="{escape_attr(owner)}">'
                    await self._archive(owner, tag, NS.MIXD_DUMP)
            after = owners[-1]

    async def _owned(self, owner: str) -> bool:
        username, at, host = owner.rpartition("@")
        if at and await self._stores.accounts.get(host, username) is not None:
            return True
        return await self._stores.mix.get_channel(owner) is not None

    async def _archive(self, owner: str, open_tag: str, archive_ns: str) -> None:
        prefs = await self._stores.archive.get_prefs(owner)
        page = await self._dump.entries(owner, None, PAGE)
        spans = await self._dump.spans(owner)
        if prefs == Prefs() and not page and not spans:
            return
        self._out.write(open_tag + "\n")
        if prefs != Prefs():
            self._record(_prefs(prefs), archive_ns)
        while page:
            for entry in page:
                self._result(entry, archive_ns)
            self.summary.entries += len(page)
            page = await self._dump.entries(owner, page[-1].id, PAGE) if len(page) == PAGE else []
        for span in spans:
            attrs = {"jid": span.follower, "open": "true" if span.open else "false"}
            if span.first is not None and span.last is not None:
                attrs |= {"first": span.first, "last": span.last}
            self._record(Element(NS.MIXD_DUMP, "follower", attrs), archive_ns)
        self._out.write(open_tag[1:].split(" ", 1)[0].join(("</", ">\n")))

    def _result(self, entry: DumpedEntry, archive_ns: str) -> None:
        result = Element(NS.MAM, "result", {"id": entry.id})
        forwarded = result.add(NS.FORWARD, "forwarded")
        forwarded.add(NS.DELAY, "delay", {"stamp": format_datetime(entry.timestamp)})
        forwarded.children.append(PLACEHOLDER)
        m = entry.message
        attrs = {
            "message": entry.message_id,
            "ts": str(entry.timestamp),
            "with": entry.with_jid,
            "direction": str(entry.direction),
            "sender": m.sender,
            "type": m.type,
            "message-ts": str(m.timestamp),
        }
        if entry.with_resource is not None:
            attrs["resource"] = entry.with_resource
        if m.origin_id is not None:
            attrs["origin-id"] = m.origin_id
        result.add(NS.MIXD_DUMP, "entry", attrs)
        self._record(result, archive_ns, [m.xml])


def _stamped(stanza: str, stamp: str) -> str:
    """An offline stanza carrying its queue time in mixd's namespace."""
    standalone = with_client_namespace(stanza)
    name_end = standalone.index(" ")
    extra = f' xmlns:mixd="{NS.MIXD_DUMP}" mixd:stamp="{escape_attr(stamp)}"'
    return standalone[:name_end] + extra + standalone[name_end:]


def _prefs(prefs: Prefs) -> Element:
    element = Element(NS.MAM, "prefs", {"default": str(prefs.default)})
    for name, jids in (("always", prefs.always), ("never", prefs.never)):
        listed = element.add(NS.MAM, name)
        for jid in jids:
            listed.add_text_child(NS.MAM, "jid", jid)
    return element


def _settings(channel: Channel) -> Element:
    attrs = {
        "adhoc": "true" if channel.adhoc else "false",
        "created": str(channel.created),
        "secret": base64.b64encode(channel.secret).decode(),
        "config-updated": str(channel.config_updated),
    }
    if channel.end_of_life is not None:
        attrs["end-of-life"] = str(channel.end_of_life)
    element = Element(NS.MIXD_DUMP, "settings", attrs)
    for owner in channel.owners:
        element.add_text_child(NS.MIXD_DUMP, "owner", owner)
    info = channel.info
    info_attrs = {"updated": str(info.updated)}
    if info.name is not None:
        info_attrs["name"] = info.name
    if info.description is not None:
        info_attrs["description"] = info.description
    info_element = element.add(NS.MIXD_DUMP, "info", info_attrs)
    for contact in info.contact:
        info_element.add_text_child(NS.MIXD_DUMP, "contact", contact)
    for name, values in sorted(channel.config.items()):
        field = element.add(NS.MIXD_DUMP, "field", {"var": name})
        for value in values:
            field.add_text_child(NS.MIXD_DUMP, "value", value)
    return element
