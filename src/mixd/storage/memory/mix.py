"""MixStore in dicts, for fast service tests; same contract as SQL backends.

Records are normalised the way the SQL backend stores them (owner and contact
JIDs sorted and de-duplicated, config copied), so both return equal values.
"""

from __future__ import annotations

from dataclasses import replace

from mixd.storage.contracts.mix import (
    AccessList,
    Channel,
    ChannelExists,
    ChannelInfo,
    ChannelNotFound,
    NickTaken,
    Participant,
    jid_matches,
)
from mixd.storage.mix_columns import service_of


class MemoryMixStore:
    def __init__(self) -> None:
        self._channels: dict[str, Channel] = {}
        # channel -> participant JID -> participant
        self._participants: dict[str, dict[str, Participant]] = {}
        self._access: dict[tuple[str, AccessList], set[str]] = {}

    async def create_channel(self, channel: Channel) -> None:
        service_of(channel.jid)
        if channel.jid in self._channels:
            raise ChannelExists(f"channel {channel.jid} already exists")
        self._channels[channel.jid] = replace(
            channel,
            owners=_sorted(channel.owners),
            secret=bytes(channel.secret),
            info=_info(channel.info),
            config=_config(channel.config),
        )
        self._participants[channel.jid] = {}

    async def get_channel(self, jid: str) -> Channel | None:
        channel = self._channels.get(jid)
        return None if channel is None else _copy(channel)

    async def list_channels(
        self, service: str, after: str | None, limit: int, *, adhoc: bool = False
    ) -> list[Channel]:
        if limit <= 0:
            return []
        jids = sorted(
            jid
            for jid, channel in self._channels.items()
            if (adhoc or not channel.adhoc)
            and service_of(jid) == service
            and (after is None or jid > after)
        )
        return [_copy(self._channels[jid]) for jid in jids[:limit]]

    async def delete_channel(self, jid: str) -> None:
        self._channels.pop(jid, None)
        self._participants.pop(jid, None)
        self._access.pop((jid, "allowed"), None)
        self._access.pop((jid, "banned"), None)

    async def set_info(self, jid: str, info: ChannelInfo) -> None:
        channel = self._channels.get(jid)
        if channel is None:
            raise ChannelNotFound(f"no channel {jid}")
        self._channels[jid] = replace(channel, info=_info(info))

    async def set_config(
        self,
        jid: str,
        owners: tuple[str, ...],
        config: dict[str, tuple[str, ...]],
        updated: int,
        end_of_life: int | None,
    ) -> None:
        channel = self._channels.get(jid)
        if channel is None:
            raise ChannelNotFound(f"no channel {jid}")
        self._channels[jid] = replace(
            channel,
            owners=_sorted(owners),
            config=_config(config),
            config_updated=updated,
            end_of_life=end_of_life,
        )

    async def expired_channels(self, service: str, now: int, limit: int) -> list[str]:
        due = sorted(
            (c.end_of_life, jid)
            for jid, c in self._channels.items()
            if c.end_of_life is not None and c.end_of_life <= now and service_of(jid) == service
        )
        return [jid for _, jid in due[:limit]]

    async def access_list(self, channel: str, which: AccessList) -> list[str]:
        return sorted(self._access.get((channel, which), ()))

    async def add_access(self, channel: str, which: AccessList, entry: str) -> list[Participant]:
        members = self._participants.get(channel)
        if members is None:
            raise ChannelNotFound(f"no channel {channel}")
        self._access.setdefault((channel, which), set()).add(entry)
        if which != "banned":
            return []
        removed = [p for p in await self.participants(channel) if jid_matches(entry, p.jid)]
        for p in removed:
            del members[p.jid]
        return removed

    async def remove_access(self, channel: str, which: AccessList, entry: str) -> bool:
        entries = self._access.get((channel, which), set())
        found = entry in entries
        entries.discard(entry)
        return found

    async def clear_access(self, channel: str, which: AccessList) -> None:
        self._access.pop((channel, which), None)

    async def participants(self, channel: str) -> list[Participant]:
        members = self._participants.get(channel, {})
        return sorted(members.values(), key=lambda p: (p.joined, p.jid))

    async def join(self, participant: Participant) -> None:
        p = participant
        members = self._participants.get(p.channel)
        if members is None:
            raise ChannelNotFound(f"no channel {p.channel}")
        _check_nick(members, p.channel, p.jid, p.nick)
        old = members.get(p.jid)
        if old is not None:
            # Already there: keeps its id and join time.
            members[p.jid] = replace(
                old,
                nick=p.nick,
                nodes=frozenset(p.nodes),
                preferences=tuple(sorted(dict(p.preferences).items())),
            )
            return
        for other in members.values():
            if other.id == p.id:
                raise ValueError(f"participant id {p.id} of {p.channel} is {other.jid}'s")
        members[p.jid] = replace(
            p, nodes=frozenset(p.nodes), preferences=tuple(sorted(dict(p.preferences).items()))
        )

    async def leave(self, channel: str, jid: str) -> Participant | None:
        return self._participants.get(channel, {}).pop(jid, None)

    async def set_nick(self, channel: str, jid: str, nick: str) -> None:
        members = self._participants.get(channel, {})
        old = members.get(jid)
        if old is None:
            return
        _check_nick(members, channel, jid, nick)
        members[jid] = replace(old, nick=nick)

    async def set_nodes(self, channel: str, jid: str, nodes: frozenset[str]) -> None:
        members = self._participants.get(channel, {})
        old = members.get(jid)
        if old is not None:
            members[jid] = replace(old, nodes=frozenset(nodes))

    async def set_preferences(
        self, channel: str, jid: str, preferences: tuple[tuple[str, str], ...]
    ) -> bool:
        members = self._participants.get(channel, {})
        old = members.get(jid)
        if old is None:
            return False
        members[jid] = replace(old, preferences=tuple(sorted(dict(preferences).items())))
        return True


def _check_nick(members: dict[str, Participant], channel: str, jid: str, nick: str) -> None:
    for other in members.values():
        if other.nick == nick and other.jid != jid:
            raise NickTaken(f"nick {nick!r} is taken in {channel}")


def _sorted(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


def _info(info: ChannelInfo) -> ChannelInfo:
    return replace(info, contact=_sorted(info.contact))


def _config(config: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    return {k: tuple(v) for k, v in config.items()}


def _copy(channel: Channel) -> Channel:
    # The config dict is the one mutable part: callers get their own.
    return replace(channel, config=_config(channel.config))
