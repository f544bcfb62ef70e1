"""DumpStore over the memory stores, for tests; same contract as SQL backends."""

from __future__ import annotations

from collections.abc import Sequence

from mixd.storage.contracts.archive import ArchiveItemNotFound, NewEntry
from mixd.storage.contracts.dump import DumpedEntry, FollowSpan
from mixd.storage.contracts.mix_misc import NodeItem, RegisteredNick
from mixd.storage.errors import AccountNotFound
from mixd.storage.memory.accounts import MemoryAccountStore
from mixd.storage.memory.archive import MemoryArchiveStore, _Entry, _Span
from mixd.storage.memory.mix import MemoryMixStore
from mixd.storage.memory.mix_misc import MemoryMixMiscStore
from mixd.storage.memory.roster import MemoryRosterStore


class MemoryDumpStore:
    """Reads and writes the other memory stores' state directly, as the SQL
    backends read their tables."""

    def __init__(
        self,
        accounts: MemoryAccountStore,
        archive: MemoryArchiveStore,
        mix: MemoryMixStore,
        misc: MemoryMixMiscStore,
        roster: MemoryRosterStore,
    ) -> None:
        self._misc = misc
        self._accounts = accounts
        self._archive = archive
        self._mix = mix
        self._roster = roster

    async def account_hosts(self) -> list[str]:
        return sorted({host for host, _ in self._accounts._accounts})

    async def channel_services(self) -> list[str]:
        services = {jid.rpartition("@")[2] for jid in self._mix._channels}
        return sorted(services | {service for service, _ in self._misc._nicks})

    async def registered_nicks(self, service: str) -> list[RegisteredNick]:
        nicks = self._misc._nicks
        return [nicks[key] for key in sorted(nicks) if key[0] == service]

    async def channel_node_items(self, channel: str) -> list[tuple[str, NodeItem]]:
        nodes = sorted(node for c, node in self._misc._items if c == channel)
        return [
            (node, item) for node in nodes for item in await self._misc.node_items(channel, node)
        ]

    async def archive_owners(self, after: str | None, limit: int) -> list[str]:
        a = self._archive
        owners = set(a._archives) | set(a._prefs) | {o for o, spans in a._spans.items() if spans}
        return sorted(o for o in owners if after is None or o > after)[:limit]

    async def entries(self, owner: str, after: str | None, limit: int) -> list[DumpedEntry]:
        ordered = sorted(self._archive._archives.get(owner, []), key=lambda e: e.key[1])
        if after is not None:
            positions = [i for i, e in enumerate(ordered) if e.id == after]
            if not positions:
                raise ArchiveItemNotFound(f"{after} is not in the archive of {owner}")
            ordered = ordered[positions[0] + 1 :]
        return [self._dumped(e) for e in ordered[:limit]]

    def _dumped(self, entry: _Entry) -> DumpedEntry:
        spec = entry.spec
        return DumpedEntry(
            entry.id, entry.message_id, spec.owner, spec.with_jid, spec.with_resource,
            spec.direction, spec.timestamp, self._archive._messages[entry.message_id],
        )  # fmt: skip

    async def spans(self, feed: str) -> list[FollowSpan]:
        feed_entries = sorted(self._archive._archives.get(feed, []), key=lambda e: e.key[1])
        result = []
        for follower in sorted(self._archive._spans):
            for span in sorted(self._archive._spans[follower], key=lambda s: s.start):
                if span.feed != feed:
                    continue
                shown = [
                    e
                    for e in feed_entries
                    if span.start <= e.key[1] and (span.end is None or e.key[1] < span.end)
                ]
                if shown or span.end is None:
                    first, last = (shown[0].id, shown[-1].id) if shown else (None, None)
                    result.append(FollowSpan(follower, feed, first, last, span.end is None))
        return result

    async def restore_entries(self, entries: Sequence[DumpedEntry]) -> int:
        a = self._archive
        existing = {e.id for archive in a._archives.values() for e in archive}
        written = 0
        for entry in entries:
            if entry.id in existing:
                continue
            if entry.message_id not in a._messages:
                a._messages[entry.message_id] = entry.message
                a._refs[entry.message_id] = 0
            a._add(entry.message_id, [_new_entry(entry)], [entry.id])
            existing.add(entry.id)
            written += 1
        return written

    async def restore_span(self, span: FollowSpan) -> None:
        if span.first is None or span.last is None:
            if span.open:
                await self._archive.follow(span.follower, span.feed)
            return
        seqs = {e.id: e.key[1] for e in self._archive._archives.get(span.feed, [])}
        for entry_id in (span.first, span.last):
            if entry_id not in seqs:
                raise ArchiveItemNotFound(f"{entry_id} is not in the archive of {span.feed}")
        spans = self._archive._spans.setdefault(span.follower, [])
        if span.open and any(s.feed == span.feed and s.end is None for s in spans):
            return
        restored = _Span(span.feed, seqs[span.first], None if span.open else seqs[span.last] + 1)
        if not any(s.feed == span.feed and s.start == restored.start for s in spans):
            spans.append(restored)

    async def raise_roster_version(self, host: str, username: str, version: int) -> None:
        if await self._accounts.get(host, username) is None:
            raise AccountNotFound(f"no account {username}@{host}")
        versions = self._roster._versions
        versions[host, username] = max(versions.get((host, username), 0), version)


def _new_entry(entry: DumpedEntry) -> NewEntry:
    return NewEntry(
        entry.owner, entry.with_jid, entry.direction, entry.timestamp, entry.with_resource
    )
