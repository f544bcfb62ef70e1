"""What a channel asks of the participants' own server when that server is
this one (MIX-PAM): the channel service calls it directly instead of routing
one stanza per participant."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from mixd.services.mix.state import ChannelState
from mixd.xml.element import Element


class LocalParticipants(Protocol):
    """What the participants' own server does when it is this server
    (MIX-PAM), called directly instead of through one routed stanza per
    participant. Users are bare JIDs as strings."""

    def is_local(self, user: str) -> bool: ...

    async def follow(self, state: ChannelState, user: str) -> None:
        """`user`'s archive shows the channel's messages from now on. Called
        before the user becomes a subscriber of the messages node, so every
        message reflected to the user is in the user's archive."""
        ...

    async def unfollow(self, state: ChannelState, user: str) -> None:
        """Called after the user stopped being a subscriber of messages."""
        ...

    async def reconcile(self, state: ChannelState, users: frozenset[str]) -> None:
        """A channel loaded from storage: exactly these local users follow it
        (repairs what a crash between the two commits left)."""
        ...

    def deliver(self, state: ChannelState, message: Element, users: Iterable[str]) -> None:
        """Hand a channel message (no `to`, `id` the archive id) to the
        clients of these local users, without waiting."""
        ...
