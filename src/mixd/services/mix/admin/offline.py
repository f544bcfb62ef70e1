"""Channel administration from the command line (`mixd channel ...`),
against the database with the server stopped: a running server keeps its
own view of the channels it has loaded, so on a live server use the ad-hoc
commands instead."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from mixd.codec.xep0082_datetime import format_datetime, now_micros
from mixd.jid import JID, JIDError
from mixd.services.mix import rules
from mixd.services.mix.admin import rights as admin_rights
from mixd.services.mix.admin.config import ChannelConfig
from mixd.services.mix.lifecycle import erase_channel
from mixd.storage.contracts.archive import ArchiveStore
from mixd.storage.contracts.mix import Channel, MixStore

PAGE = 200


class ChannelAdminError(Exception):
    """A refused command line request, with the reason for the user."""


@dataclass
class OfflineChannels:
    store: MixStore
    archive: ArchiveStore
    services: tuple[str, ...]  # the MIX domains
    hosts: frozenset[str]
    delete_archive: bool

    def channel_jid(self, text: str) -> str:
        try:
            jid = JID.parse(text)
        except JIDError as exc:
            raise ChannelAdminError(f"bad channel JID {text!r}: {exc}") from None
        if jid.local is None or jid.resource is not None or jid.domain not in self.services:
            known = ", ".join(self.services)
            raise ChannelAdminError(f"{text!r} is not name@service (services: {known})")
        return str(JID(rules.channel_name(jid.local), jid.domain, None))

    async def list(self, service: str | None) -> list[Channel]:
        found: list[Channel] = []
        for domain in [service] if service else self.services:
            after = None
            while batch := await self.store.list_channels(domain, after, PAGE, adhoc=True):
                found.extend(batch)
                after = batch[-1].jid
        return found

    async def create(self, text: str, owner: str) -> str:
        jid = self.channel_jid(text)
        try:
            owner_jid = JID.parse(owner)
        except JIDError as exc:
            raise ChannelAdminError(f"bad owner {owner!r}: {exc}") from None
        if owner_jid.local is None or owner_jid.resource is not None:
            raise ChannelAdminError(f"the owner {owner!r} must be a bare JID")
        channel = Channel(jid, False, now_micros(), (str(owner_jid),), rules.new_secret())
        await self.store.create_channel(channel)  # ChannelExists is reported by the caller
        return jid

    async def _get(self, text: str) -> Channel:
        jid = self.channel_jid(text)
        channel = await self.store.get_channel(jid)
        if channel is None:
            raise ChannelAdminError(f"no channel {jid}")
        return channel

    async def destroy(self, text: str) -> str:
        channel = await self._get(text)
        users = [p.jid for p in await self.store.participants(channel.jid)]
        await erase_channel(
            self.store,
            self.archive,
            channel.jid,
            users,
            lambda user: user.rpartition("@")[2] in self.hosts,
            delete_archive=self.delete_archive,
        )
        return channel.jid

    async def info(self, text: str) -> Iterator[str]:
        channel = await self._get(text)
        rights = admin_rights.default_rights()
        config = ChannelConfig.of(channel, admin_rights.default_present(rights))
        participants = await self.store.participants(channel.jid)
        allowed = await self.store.access_list(channel.jid, "allowed")
        banned = await self.store.access_list(channel.jid, "banned")
        eol = channel.end_of_life
        lines = [
            f"channel: {channel.jid}{' (ad hoc)' if channel.adhoc else ''}",
            f"name: {channel.info.name or ''}",
            f"created: {format_datetime(channel.created)}",
            f"owners: {' '.join(config.owners)}",
            f"administrators: {' '.join(config.administrators)}",
            f"end of life: {format_datetime(eol) if eol is not None else 'never'}",
            f"nodes present: {' '.join(sorted(config.nodes_present))}",
            f"allowed: {' '.join(allowed)}",
            f"banned: {' '.join(banned)}",
            f"last change by: {config.one('Last Change Made By')}",
            f"participants: {len(participants)}",
        ]
        lines.extend(f"  {p.nick} <{p.jid}> id={p.id}" for p in participants)
        return iter(lines)
