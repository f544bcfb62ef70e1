"""The running server's shared state: hosts, sessions, router, modules,
storage. Modules receive it; nothing here touches sockets or SQL."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from mixd.core.cluster import AccountNotices
from mixd.core.hooks import Hooks
from mixd.core.module import Module
from mixd.core.registry import ModuleRegistry
from mixd.core.router import Router
from mixd.core.sessions import SessionManager
from mixd.storage.contracts.accounts import AccountStore
from mixd.storage.contracts.archive import ArchiveStore
from mixd.storage.contracts.blocklist import BlocklistStore
from mixd.storage.contracts.mix import MixStore
from mixd.storage.contracts.mix_misc import MixMiscStore
from mixd.storage.contracts.offline import OfflineStore
from mixd.storage.contracts.pep import PepStore
from mixd.storage.contracts.roster import RosterStore


@dataclass(frozen=True, slots=True)
class Stores:
    accounts: AccountStore
    archive: ArchiveStore
    mix: MixStore
    mix_misc: MixMiscStore
    offline: OfflineStore
    pep: PepStore
    roster: RosterStore
    blocklist: BlocklistStore


class Server:
    def __init__(self, hosts: frozenset[str], sessions: SessionManager, stores: Stores) -> None:
        self.hosts = hosts
        self.tasks: set[asyncio.Task[None]] = set()  # background work to finish on stop
        self.scram_iterations = 4096  # cost of new password verifiers ([auth])
        self.sessions = sessions
        self.stores = stores
        self.hooks = Hooks()
        self.registry = ModuleRegistry(self.hooks)
        self.router = Router(hosts, sessions, self.registry, self.hooks)
        self.notices = AccountNotices()  # to the other nodes of a cluster, if any

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run `work` in the background; stop() waits for it before storage closes."""
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def finish_tasks(self, timeout: float) -> None:
        while self.tasks:
            done, _ = await asyncio.wait(set(self.tasks), timeout=timeout)
            if not done:
                return

    async def load(self, module: Module) -> None:
        self.registry.load(module)
        try:
            await module.start()
        except BaseException:
            self.registry.unload(module.name)
            raise

    async def unload(self, name: str) -> None:
        module = self.registry.modules[name]
        await module.stop()
        self.registry.unload(name)

    async def unload_all(self) -> None:
        for name in reversed(list(self.registry.modules)):
            await self.unload(name)
