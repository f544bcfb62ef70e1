"""A channel as the service holds it in memory: the stored record plus its
participants, indexed for the hot paths (who is subscribed to a node, is this
nick free). The store stays the source of truth: every change is written
(and committed) first, then applied here."""

from __future__ import annotations

from dataclasses import dataclass, field

from mixd.jid import JID
from mixd.services.mix import rules
from mixd.services.mix.admin.config import ChannelConfig
from mixd.services.mix.presence_state import PRESENCE_NODES, PresencePolicy, PresenceTable
from mixd.storage.contracts.mix import Channel, Participant


@dataclass
class ChannelState:
    channel: Channel
    jid: JID
    participants: dict[str, Participant] = field(default_factory=dict)  # by user bare JID
    nicks: dict[str, str] = field(default_factory=dict)  # nick key -> user bare JID
    nodes: frozenset[str] = rules.CORE_NODES | PRESENCE_NODES  # MIX-ADMIN "Nodes Present"
    presence: PresenceTable = field(default_factory=PresenceTable)  # MIX-PRESENCE, in memory
    presence_policy: PresencePolicy = field(default_factory=PresencePolicy)  # MixService.adopt
    config: ChannelConfig = field(default_factory=lambda: ChannelConfig({}))  # MixService.adopt
    allowed: set[str] = field(default_factory=set)  # entries: bare JIDs or domains
    banned: set[str] = field(default_factory=set)
    # Users whose removal is committed but not yet applied here: they get no
    # more messages meanwhile (a ban of several users is applied one by one).
    leaving: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, channel: Channel, participants: list[Participant]) -> ChannelState:
        state = cls(channel, JID.parse(channel.jid))
        for participant in participants:
            state.put(participant)
        return state

    def put(self, participant: Participant) -> None:
        old = self.participants.get(participant.jid)
        if old is not None:
            self.nicks.pop(rules.nick_key(old.nick), None)
        self.participants[participant.jid] = participant
        self.nicks[rules.nick_key(participant.nick)] = participant.jid

    def remove(self, user: str) -> Participant | None:
        old = self.participants.pop(user, None)
        if old is not None:
            self.nicks.pop(rules.nick_key(old.nick), None)
        return old

    def nick_holder(self, nick: str) -> str | None:
        return self.nicks.get(rules.nick_key(nick))

    def subscribers(self, node: str) -> list[Participant]:
        """Subscribers of a node that is present (a removed node has none)."""
        if node not in self.nodes:
            return []
        return [p for p in self.participants.values() if node in p.nodes]

    def is_banned(self, user: str) -> bool:
        banned = self.banned
        return bool(banned) and (user in banned or user.rpartition("@")[2] in banned)

    def is_listed_allowed(self, user: str) -> bool:
        allowed = self.allowed
        return user in allowed or user.rpartition("@")[2] in allowed

    def is_owner(self, user: JID) -> bool:
        return str(user.bare) in self.channel.owners

    def with_info(self, channel: Channel) -> None:
        self.channel = channel
