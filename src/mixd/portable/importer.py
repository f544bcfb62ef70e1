"""`mixd import`: a dump read twice. The first pass parses and checks every
record and writes nothing, so a malformed or hostile dump leaves the target
as it was; the second writes through the storage contracts. Import into a
target that holds data is refused unless `merge`: then accounts and
channels that exist are left as they are (their archive entries that are
missing are still added, which also completes an interrupted import)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from mixd import ns as NS
from mixd.core.server import Stores
from mixd.portable import records
from mixd.portable.format import FORMAT_VERSION, DumpError, required
from mixd.portable.reader import Closed, DumpReader, Event, Opened, Record
from mixd.storage.contracts.accounts import ScramCredential, check_credentials
from mixd.storage.contracts.dump import DumpedEntry, DumpStore, FollowSpan
from mixd.storage.contracts.pep import NodeConfig
from mixd.storage.contracts.roster import RosterItem, RosterUpdate
from mixd.xml.element import Element
from mixd.xml.serializer import serialize

CHUNK = 1 << 16
BATCH = 500  # archive entries per transaction
OFFLINE_LIMIT = 1 << 30  # the dump's queue is taken whole, whatever [offline] says
KEEP_ALL = 1 << 30  # a channel node or blocklist keeps every item the dump has


class Source(Protocol):
    def read(self, size: int, /) -> bytes: ...


class TargetNotEmpty(Exception):
    pass


@dataclass
class ImportSummary:
    accounts: int = 0
    channels: int = 0
    entries: int = 0
    skipped_accounts: int = 0
    skipped_channels: int = 0


def events(source: Source) -> Iterator[Event]:
    reader = DumpReader()
    while chunk := source.read(CHUNK):
        yield from reader.feed(chunk)
    yield from reader.feed(b"", final=True)


@dataclass
class _Archive:
    owner: str
    skip_prefs: bool
    batch: list[DumpedEntry] = field(default_factory=list)
    spans: list[FollowSpan] = field(default_factory=list)


class Importer:
    def __init__(
        self,
        stores: Stores,
        dump: DumpStore,
        hosts: frozenset[str],
        services: frozenset[str],
        *,
        merge: bool = False,
    ) -> None:
        self._stores = stores
        self._dump = dump
        self._hosts = hosts
        self._services = services
        self._merge = merge
        self._write = False
        self.summary = ImportSummary()

    async def check_target(self) -> None:
        """Refuse a target holding data, unless merging."""
        if self._merge:
            return
        if (
            await self._dump.account_hosts()
            or await self._dump.channel_services()
            or await self._dump.archive_owners(None, 1)
        ):
            raise TargetNotEmpty(
                "the target database is not empty; import into a fresh one, or pass --merge"
                " to keep what exists and add the rest"
            )

    async def validate(self, source: Source) -> ImportSummary:
        """First pass: check everything, write nothing."""
        self._write = False
        return await self._run(source)

    async def write(self, source: Source) -> ImportSummary:
        self._write = True
        return await self._run(source)

    async def _run(self, source: Source) -> ImportSummary:
        self.summary = ImportSummary()
        self._seen: set[str] = set()  # accounts and channels, to refuse duplicates
        self._path: list[tuple[str, str]] = []
        self._host: str | None = None
        self._owner: tuple[str, str] | None = None  # the user being read
        self._credentials: list[ScramCredential] = []
        self._user_ready = False
        self._skip = False  # the account or channel exists (merge)
        self._channel: str | None = None
        self._archive: _Archive | None = None
        self._header = False
        line = 0
        try:
            for event in events(source):
                if isinstance(event, Opened):
                    line = event.line
                    await self._open(event)
                elif isinstance(event, Record):
                    line = event.line
                    await self._record(event.element)
                else:
                    await self._close(event)
        except DumpError as exc:
            if str(exc).startswith("line "):
                raise
            raise DumpError(f"line {line}: {exc}") from None
        return self.summary

    # --- containers --------------------------------------------------------

    async def _open(self, event: Opened) -> None:
        where = (event.ns, event.name)
        parent = self._path[-1] if self._path else None
        allowed: dict[tuple[str, str], list[tuple[str, str] | None]] = {
            (NS.PIE, "server-data"): [None],
            (NS.PIE, "host"): [(NS.PIE, "server-data")],
            (NS.PIE, "user"): [(NS.PIE, "host")],
            (NS.MIXD_DUMP, "channel"): [(NS.PIE, "host")],
            (NS.PIE_MAM, "archive"): [(NS.PIE, "user"), (NS.MIXD_DUMP, "channel")],
            (NS.MIXD_DUMP, "archive"): [(NS.PIE, "server-data")],
        }
        if parent not in allowed[where]:
            raise DumpError(f"<{event.name}> is out of place")
        if where != (NS.PIE, "server-data") and not self._header:
            raise DumpError("the dump must begin with mixd's <export version='1'/>")
        self._path.append(where)
        if where == (NS.PIE, "host"):
            self._host = records.bare_jid(event.attrs.get("jid"), "host jid")
        elif where == (NS.PIE, "user"):
            await self._open_user(required(event.attrs.get("name"), "user name"))
        elif where == (NS.MIXD_DUMP, "channel"):
            self._open_channel(records.bare_jid(event.attrs.get("jid"), "channel jid"))
        elif where == (NS.PIE_MAM, "archive"):
            if self._owner is not None:
                await self._ensure_account()
                owner = f"{self._owner[1]}@{self._owner[0]}"
            else:
                owner = self._require_channel()
            self._archive = _Archive(owner, skip_prefs=self._skip)
        elif where == (NS.MIXD_DUMP, "archive"):
            self._archive = _Archive(
                records.bare_jid(event.attrs.get("owner"), "archive owner"), False
            )

    async def _close(self, event: Closed) -> None:
        where = self._path.pop()
        if where == (NS.PIE, "user"):
            await self._ensure_account()
            self._owner = None
            self._skip = False
        elif where == (NS.MIXD_DUMP, "channel"):
            self._require_channel()
            self._channel = None
            self._skip = False
        elif where[1] == "archive":
            assert self._archive is not None
            await self._flush()
            if self._write:
                for span in self._archive.spans:
                    await self._dump.restore_span(span)
            self._archive = None

    async def _open_user(self, name: str) -> None:
        assert self._host is not None
        if self._host not in self._hosts:
            raise DumpError(f"host {self._host} is not served by the target configuration")
        jid = records.bare_jid(f"{name}@{self._host}", "user")
        self._claim(jid)
        self._owner = (self._host, name)
        self._credentials = []
        self._user_ready = False
        self._skip = False

    def _claim(self, jid: str) -> None:
        if jid in self._seen:
            raise DumpError(f"{jid} appears twice")
        self._seen.add(jid)

    async def _ensure_account(self) -> None:
        """Create the account once its credentials have been read."""
        if self._user_ready or self._owner is None:
            return
        self._user_ready = True
        credentials = check_credentials(self._credentials)
        if not self._write:
            self.summary.accounts += 1
            return
        host, name = self._owner
        if self._merge and await self._stores.accounts.get(host, name) is not None:
            self._skip = True
            self.summary.skipped_accounts += 1
            return
        await self._stores.accounts.create(host, name, credentials)
        self.summary.accounts += 1

    def _open_channel(self, jid: str) -> None:
        assert self._host is not None
        if jid.rpartition("@")[2] != self._host or "@" not in jid:
            raise DumpError(f"channel {jid} is not on {self._host}")
        if self._host not in self._services:
            raise DumpError(f"MIX service {self._host} is not served by the target configuration")
        self._claim(jid)
        self._channel = jid
        self._channel_ready = False
        self._skip = False

    def _require_channel(self) -> str:
        if self._channel is None or not self._channel_ready:
            raise DumpError("a channel's <settings/> must come first")
        return self._channel

    # --- records -----------------------------------------------------------

    async def _record(self, element: Element) -> None:
        where = self._path[-1] if self._path else None
        key = (element.ns, element.name)
        if where == (NS.PIE, "server-data") and key == (NS.MIXD_DUMP, "export"):
            if element.get("version") != FORMAT_VERSION:
                raise DumpError(f"unsupported dump version {element.get('version')!r}")
            self._header = True
        elif where == (NS.PIE, "host") and key == (NS.MIXD_DUMP, "registered-nick"):
            await self._registered_nick(element)
        elif where == (NS.PIE, "user"):
            await self._user_record(key, element)
        elif where == (NS.MIXD_DUMP, "channel"):
            await self._channel_record(key, element)
        elif where is not None and where[1] == "archive":
            await self._archive_record(key, element)
        else:
            raise DumpError(f"unexpected <{element.name} xmlns='{element.ns}'>")

    async def _user_record(self, key: tuple[str, str], element: Element) -> None:
        assert self._owner is not None
        if key == (NS.PIE_SCRAM, "scram-credentials"):
            if self._user_ready:
                raise DumpError("credentials must come first in a <user/>")
            self._credentials.append(records.credential(element))
            return
        await self._ensure_account()
        host, name = self._owner
        s, write = self._stores, self._write and not self._skip
        if key == (NS.ROSTER, "query"):
            version, items = records.roster(element)
            for item in items if write else ():
                await s.roster.update(host, name, item.jid, _replace_with(item))
            if write:
                await self._dump.raise_roster_version(host, name, version)
        elif key == (NS.MIXD_DUMP, "last-presence"):
            presence = records.last_presence(element)
            if write:
                await s.roster.set_last_presence(host, name, presence)
        elif key == (NS.PIE, "offline-messages"):
            messages = records.offline(element)
            for stanza, stamp in messages if write else ():
                await s.offline.push(f"{name}@{host}", stanza, stamp, OFFLINE_LIMIT)
        elif key == (NS.PUBSUB, "pubsub"):
            node = records.pep_node(element)
            if write:
                await self._write_pep(host, name, node)
        elif key == (NS.BLOCKING, "blocklist"):
            jids = records.blocklist(element)
            if write:
                await s.blocklist.block(host, name, jids, KEEP_ALL)
        elif key == (NS.VCARD, "vCard"):
            if write:
                await s.pep.set_vcard(host, name, serialize(element))
        else:
            raise DumpError(f"unexpected <{element.name} xmlns='{element.ns}'> in a user")

    async def _write_pep(self, host: str, name: str, node: records.PepNodeDump) -> None:
        pep = self._stores.pep
        await pep.create(host, name, node.name, node.config)

        def same(_: NodeConfig | None, config: NodeConfig = node.config) -> NodeConfig:
            return config

        for item in node.items:
            await pep.publish(host, name, node.name, item, same)

    async def _channel_record(self, key: tuple[str, str], element: Element) -> None:
        assert self._channel is not None
        mix = self._stores.mix
        if key == (NS.MIXD_DUMP, "settings"):
            if self._channel_ready:
                raise DumpError("a channel has one <settings/>")
            channel = records.channel_settings(self._channel, element)
            self._channel_ready = True
            if not self._write:
                self.summary.channels += 1
            elif self._merge and await mix.get_channel(channel.jid) is not None:
                self._skip = True
                self.summary.skipped_channels += 1
            else:
                await mix.create_channel(channel)
                self.summary.channels += 1
            return
        jid = self._require_channel()
        write = self._write and not self._skip
        if key == (NS.MIXD_DUMP, "participant"):
            participant = records.participant(jid, element)
            if write:
                await mix.join(participant)
        elif key == (NS.MIXD_DUMP, "node-item"):
            node, item = records.node_item(jid, element)
            if write:
                await self._stores.mix_misc.publish_item(jid, node, item, KEEP_ALL)
        elif key in ((NS.MIXD_DUMP, "allowed"), (NS.MIXD_DUMP, "banned")):
            entry = records.bare_jid(element.get("jid"), f"{element.name} entry")
            if write:
                await mix.add_access(jid, "allowed" if key[1] == "allowed" else "banned", entry)
        else:
            raise DumpError(f"unexpected <{element.name} xmlns='{element.ns}'> in a channel")

    async def _registered_nick(self, element: Element) -> None:
        assert self._host is not None
        if self._host not in self._services:
            raise DumpError(f"MIX service {self._host} is not served by the target configuration")
        nick = records.registered_nick(self._host, element)
        misc = self._stores.mix_misc
        if not self._write:
            return
        if self._merge and await misc.registered_nick(nick.service, nick.user) is not None:
            return
        await misc.register_nick(nick)

    async def _archive_record(self, key: tuple[str, str], element: Element) -> None:
        archive = self._archive
        assert archive is not None
        if key == (NS.MAM, "result"):
            if archive.spans:
                raise DumpError("archive results must come before followers")
            archive.batch.append(records.result(archive.owner, element))
            if len(archive.batch) >= BATCH:
                await self._flush()
        elif key == (NS.MAM, "prefs"):
            prefs = records.prefs(element)
            if self._write and not archive.skip_prefs:
                await self._stores.archive.set_prefs(archive.owner, prefs)
        elif key == (NS.MIXD_DUMP, "follower"):
            archive.spans.append(records.follower(archive.owner, element))
        else:
            raise DumpError(f"unexpected <{element.name} xmlns='{element.ns}'> in an archive")

    async def _flush(self) -> None:
        archive = self._archive
        if archive is None or not archive.batch:
            return
        if self._write:
            self.summary.entries += await self._dump.restore_entries(archive.batch)
        else:
            self.summary.entries += len(archive.batch)
        archive.batch = []


def _replace_with(item: RosterItem) -> RosterUpdate:
    return lambda _: item
