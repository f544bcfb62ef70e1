"""XEP-0369 MIX-CORE 0.14.6 and XEP-0403 MIX-PRESENCE 0.3.2: the channel
service module, one MixService per configured MIX domain, each assembled
from its feature slices."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mixd.core.events import AccountRemoving
from mixd.core.module import Listener, Module, Xep
from mixd.services.mix.admin.commands import Commands
from mixd.services.mix.admin.expiry import Expiry
from mixd.services.mix.admin.nodes import AdminNodes
from mixd.services.mix.anonymity import Anonymity
from mixd.services.mix.archive import ChannelArchive
from mixd.services.mix.discovery import Discovery
from mixd.services.mix.iq_relay import IqRelay
from mixd.services.mix.lifecycle import Lifecycle
from mixd.services.mix.membership import Membership
from mixd.services.mix.messages import Messages
from mixd.services.mix.misc.avatar import ChannelAvatar
from mixd.services.mix.misc.invitations import Invitations
from mixd.services.mix.misc.nicks import RegisteredNicks, release_nick
from mixd.services.mix.misc.retraction import Retractions
from mixd.services.mix.muc.face import MucFace
from mixd.services.mix.nodes import Nodes
from mixd.services.mix.presence import ChannelPresence
from mixd.services.mix.private import PrivateMessages
from mixd.services.mix.service import MixService, Settings

if TYPE_CHECKING:
    from mixd.core.server import Server


@dataclass(frozen=True, slots=True)
class MixServiceStarted:
    """A channel service is up (MIX-PAM attaches the participants' archives)."""

    service: MixService


def build_service(
    server: Server, domain: str, settings: Settings, muc_domain: str | None = None
) -> MixService:
    """A channel service with every slice; with `muc_domain`, MUC clients
    use that domain (XEP-0408 partially integrated mode), else the channel's
    own (fully integrated)."""
    service = MixService(server, domain, server.stores.mix, settings)
    lifecycle = Lifecycle(service)
    Discovery(service, lifecycle)
    Membership(service)
    messages = Messages(service)
    Nodes(service)
    admin = AdminNodes(service)
    Commands(service, lifecycle, admin)
    ChannelArchive(service)
    ChannelPresence(service)
    IqRelay(service)
    retractions = Retractions(service, messages)
    ChannelAvatar(service)  # after Nodes: it answers avatar reads first
    PrivateMessages(service)  # after IqRelay: it takes the messages to proxy JIDs
    Anonymity(service)
    # After the slices whose disco and MAM answers it extends:
    MucFace(service, admin, muc_domain, retractions)
    RegisteredNicks(service)  # after the MUC face: it checks nicks of entering clients too
    Invitations(service, admin)  # after RegisteredNicks: its join wraps theirs
    return service


class MixModule(Module):
    name = "mix"
    xeps = (
        Xep(369, "0.14.6"),
        Xep(403, "0.3.2", "presence node kept in memory; no presence probes at start-up"),
        Xep(406, "0.3.1"),
        Xep(407, "0.1.2", "retraction, avatar, nick registration, invitations"),
        Xep(84, "1.1.4", "the channel's avatar nodes"),
        Xep(404, "0.3.1", "JID visibility, preferences, JID Map, private messages"),
        Xep(408, "0.2.0", "fully integrated, or partially with a mirror MUC domain"),
        Xep(45, "1.35.5", "rooms are MIX channels; moderation mapped to MIX-ADMIN"),
        Xep(421, "1.0.1"),
        Xep(410, "1.1.0", "answered by the room"),
        Xep(50, "1.3.0"),
    )

    def __init__(
        self,
        server: Server,
        domains: tuple[str, ...],
        settings: Settings,
        muc_domains: Mapping[str, str] | None = None,
    ) -> None:
        """`muc_domains`: the MUC mirror domain of each MIX domain, in the
        partially integrated mode; None: fully integrated."""
        super().__init__(server)
        mirrors = muc_domains or {}
        self.services = {
            domain: build_service(server, domain, settings, mirrors.get(domain))
            for domain in domains
        }
        self.expiry = {
            domain: Expiry(service, settings.expiry_interval)
            for domain, service in self.services.items()
        }
        self._sweeps: list[asyncio.Task[None]] = []

    def listeners(self) -> Sequence[Listener]:
        return (Listener(AccountRemoving, self.on_account_removing),)

    async def on_account_removing(self, event: AccountRemoving) -> None:
        """A removed account's registered nicks are free again (XEP-0407)."""
        for service in self.services.values():
            await release_nick(service, event.account)

    async def start(self) -> None:
        for domain, service in self.services.items():
            self.server.router.add_service(domain, service.receive)
            if service.muc_mirror is not None:
                self.server.router.add_service(
                    service.muc_mirror.domain, service.muc_mirror.receive
                )
            await self.server.hooks.emit(MixServiceStarted(service))
        loop = asyncio.get_running_loop()
        self._sweeps = [loop.create_task(expiry.run()) for expiry in self.expiry.values()]

    async def stop(self) -> None:
        for task in self._sweeps:
            task.cancel()
        for task in self._sweeps:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._sweeps = []
        for domain, service in self.services.items():
            self.server.router.remove_service(domain)
            if service.muc_mirror is not None:
                self.server.router.remove_service(service.muc_mirror.domain)
