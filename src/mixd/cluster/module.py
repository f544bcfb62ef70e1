"""The cluster as a module: it learns what local sessions broadcast (for
the directory) and takes over the channel services' routing and fan-out.
Loaded last, when `[cluster] enabled`, after its `ClusterNode` started."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mixd.cluster.mix import ChannelOwnership
from mixd.cluster.node import ClusterNode
from mixd.core.events import PresenceBroadcast
from mixd.core.module import Listener, Module
from mixd.services.mix.module import MixModule
from mixd.services.mix_pam.module import MixPamModule

if TYPE_CHECKING:
    from mixd.core.server import Server


class ClusterModule(Module):
    name = "cluster"

    def __init__(self, server: Server, node: ClusterNode) -> None:
        super().__init__(server)
        self.node = node
        self.channels = ChannelOwnership(node)

    def listeners(self) -> Sequence[Listener]:
        return (Listener(PresenceBroadcast, self.on_presence),)

    async def start(self) -> None:
        modules = self.server.registry.modules
        mix, pam = modules.get("mix"), modules.get("mix_pam")
        local = pam.local if isinstance(pam, MixPamModule) else None
        if isinstance(mix, MixModule):
            for service in mix.services.values():
                self.channels.attach(service, local)
        self.server.notices.send = self.node.account_notice

    async def on_presence(self, event: PresenceBroadcast) -> None:
        self.node.presence_sent(event.session, event.stanza)
