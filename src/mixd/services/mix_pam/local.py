"""MIX-PAM for channels hosted on this server (`MixService.local`).

The channel calls these directly rather than routing one stanza per
participant: a reflected message is serialized once and each copy is the
same text with the user's bare JID spliced in as `to` and as the `by` of the
user's `<stanza-id/>` (the channel's archive id, which the user's archive
shows through following the channel). Each MIX-capable available resource
gets it; writes to one connection are coalesced by the connection.
A user whose blocklist (XEP-0191) blocks the channel or the sender gets
nothing: one set lookup per recipient, against the list kept in memory for
every user with a session here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from mixd import ns as NS
from mixd.core.sessions import Session
from mixd.services.blocking import BlockingModule
from mixd.services.caps import CapsModule
from mixd.services.mix.state import ChannelState
from mixd.xml.element import Element
from mixd.xml.splice import OPEN, Spliced

if TYPE_CHECKING:
    from mixd.services.mix_pam.module import MixPamModule


class LocalMembers:
    def __init__(self, module: MixPamModule) -> None:
        self.module = module
        self.hosts = module.server.hosts
        self.archive = module.server.stores.archive

    def is_local(self, user: str) -> bool:
        return user.rpartition("@")[2] in self.hosts

    async def follow(self, state: ChannelState, user: str) -> None:
        await self.archive.follow(user, str(state.jid))

    async def unfollow(self, state: ChannelState, user: str) -> None:
        await self.archive.unfollow(user, str(state.jid))

    async def reconcile(self, state: ChannelState, users: frozenset[str]) -> None:
        channel = str(state.jid)
        following = await self.archive.followers(channel)
        for user in users - following:
            await self.archive.follow(user, channel)
        for user in following - users:
            await self.archive.unfollow(user, channel)

    def deliver(self, state: ChannelState, message: Element, users: Iterable[str]) -> None:
        self.deliver_message(message, users, lambda user: user in state.participants)

    def deliver_message(
        self,
        message: Element,
        users: Iterable[str],
        still: Callable[[str], bool] | None = None,
    ) -> None:
        """A channel message (no `to`, `id` its archive id) to the sessions
        these users have on this node. `still(user)`, where the channel is
        known, says whether a user still participates when a delivery has to
        wait (a user banned meanwhile gets nothing)."""
        template = message.copy()
        template.attrs["to"] = OPEN
        template.add(NS.SID, "stanza-id", {"id": message.attrs["id"], "by": OPEN})
        spliced = Spliced(template, holes=2)
        caps = self.module.server.registry.modules.get("caps")
        if not isinstance(caps, CapsModule):
            return
        sessions_of = self.module.server.sessions.of
        blocking = self.module.server.registry.modules.get("blocking")
        screen = (
            blocking.screen_channel_message(message)
            if isinstance(blocking, BlockingModule)
            else None
        )
        for user in users:
            sessions = sessions_of(user)
            if not sessions:
                continue
            data = spliced.render_jid(user)
            if screen is not None:
                blocked = screen(user)
                if blocked is None:  # the list is being loaded (session just bound)
                    assert isinstance(blocking, BlockingModule)
                    later = self._after_blocklist(blocking, message, data, user, still)
                    self.module.server.spawn(later)
                    continue
                if blocked:
                    continue
            for session in sessions:
                if session.available:
                    supported = caps.supports_now(session, NS.MIX_CORE)
                    if supported:
                        session.deliver_xml(data)
                    elif supported is None:  # its client is being asked right now
                        waiting = self._when_known(caps, session, data, user, still)
                        self.module.server.spawn(waiting)

    async def _after_blocklist(
        self,
        blocking: BlockingModule,
        message: Element,
        data: str,
        user: str,
        still: Callable[[str], bool] | None,
    ) -> None:
        if await blocking.blocked_async(user, message) or (still is not None and not still(user)):
            return
        caps = self.module.server.registry.modules.get("caps")
        if not isinstance(caps, CapsModule):
            return
        for session in list(self.module.server.sessions.of(user)):
            if session.available and await caps.supports(session, NS.MIX_CORE):
                session.deliver_xml(data)

    @staticmethod
    async def _when_known(
        caps: CapsModule,
        session: Session,
        data: str,
        user: str,
        still: Callable[[str], bool] | None,
    ) -> None:
        if await caps.supports(session, NS.MIX_CORE) and (still is None or still(user)):
            session.deliver_xml(data)
