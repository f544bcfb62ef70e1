"""MIX-PRESENCE state of one channel, and the decisions about it, with no I/O
(XEP-0403): the presence of each client that shares it, under the client's
proxy JID, and the channel's presence policy.

Proxy JIDs (XEP-0403 section 3.2) are `<participant id>#<channel>@<service>`,
with a resource for one client. The resource is not the client's own but a
mapped value (the form MIX-ANON requires): a keyed hash of the client's full
JID with the channel's secret, so it is the same for that client every time
and reveals nothing about it. The map back (resource -> client) is kept here,
in memory: presence is volatile and is rebuilt as clients come online again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass, field

from mixd import ns as NS
from mixd.jid import JID
from mixd.xml.element import Element

PRESENCE_NODES = frozenset({NS.MIX_NODE_PRESENCE})


@dataclass(frozen=True, slots=True)
class PresencePolicy:
    """The MIX-ADMIN (XEP-0406) configuration fields about presence, with
    the defaults of that spec; the configuration node sets them.

    `open`: 'Open Presence': any client may register presence; otherwise
    only clients of participants. `required`: 'Participants Must Provide
    Presence': a participant with no client sharing presence may not send
    messages to the channel (the one thing the channel can hold its
    participants to; it cannot make their servers share presence)."""

    open: bool = False
    required: bool = False


@dataclass(slots=True)
class ClientPresence:
    """One online client's presence in a channel (an item of the presence node)."""

    client: JID  # the client's full JID
    participant_id: str
    proxy: JID  # participant id # channel @ service / mapped resource
    presence: Element  # as the client sent it, without from/to/id and <mix/>

    @property
    def user(self) -> str:
        return str(self.client.bare)


def proxy_resource(secret: bytes, client: JID) -> str:
    """The mapped resource of a client in a channel: stable, unguessable."""
    digest = hmac.new(secret, b"presence\0" + str(client).encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:10]).decode().lower()


def proxy_bare(channel: JID, participant_id: str) -> JID:
    return JID(f"{participant_id}#{channel.local}", channel.domain, None)


def proxy_jid(channel: JID, participant_id: str, secret: bytes, client: JID) -> JID:
    """The proxy JID standing for `client` (bare when `client` is bare)."""
    bare = proxy_bare(channel, participant_id)
    if client.resource is None:
        return bare
    return JID(bare.local, bare.domain, proxy_resource(secret, client))


def split_proxy(jid: JID) -> tuple[str, JID] | None:
    """(participant id, channel bare JID) of a JID of the proxy form, else
    None. Participant ids never contain '#'; channel names may."""
    if jid.local is None:
        return None
    pid, sep, name = jid.local.partition("#")
    if not sep or not pid or not name:
        return None
    return pid, JID(name, jid.domain, None)


@dataclass(slots=True)
class PresenceTable:
    """The presence node of one channel, by proxy resource."""

    by_resource: dict[str, ClientPresence] = field(default_factory=dict)

    def __iter__(self) -> Iterator[ClientPresence]:
        return iter(list(self.by_resource.values()))

    def __len__(self) -> int:
        return len(self.by_resource)

    def get(self, proxy: JID) -> ClientPresence | None:
        entry = self.by_resource.get(proxy.resource or "")
        return entry if entry is not None and entry.proxy == proxy else None

    def put(self, entry: ClientPresence) -> None:
        self.by_resource[entry.proxy.resource or ""] = entry

    def remove(self, proxy: JID) -> ClientPresence | None:
        entry = self.get(proxy)
        if entry is not None:
            del self.by_resource[proxy.resource or ""]
        return entry

    def of_user(self, user: str) -> list[ClientPresence]:
        return [e for e in self.by_resource.values() if e.user == user]

    def remove_user(self, user: str) -> list[ClientPresence]:
        gone = self.of_user(user)
        for entry in gone:
            del self.by_resource[entry.proxy.resource or ""]
        return gone


def may_share(policy: PresencePolicy, is_participant: bool) -> bool:
    """Whether a client may register presence in the channel (XEP-0406 'Open Presence')."""
    return is_participant or policy.open


def may_send(policy: PresencePolicy, shares_presence: bool) -> bool:
    """Whether a participant may send a message ('Participants Must Provide Presence')."""
    return shares_presence or not policy.required
