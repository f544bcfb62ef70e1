"""The MUC side of one channel, in memory (presence is volatile): which
MUC clients are joined, and which occupants they have been shown."""

from __future__ import annotations

from dataclasses import dataclass, field

from mixd.jid import JID


@dataclass(slots=True)
class Shown:
    """An occupant as MUC clients last saw it: its nick and the presence-node
    item (proxy JID) whose presence stands for it."""

    nick: str
    proxy: JID


@dataclass(slots=True)
class Room:
    occupants: dict[JID, str] = field(default_factory=dict)  # MUC client full JID -> user
    shown: dict[str, Shown] = field(default_factory=dict)  # by user bare JID

    def resources_of(self, user: str) -> list[JID]:
        return [client for client, owner in self.occupants.items() if owner == user]
