"""The running server's shared state: hosts, sessions, router, modules,
storage. Modules receive it; nothing here touches sockets or SQL."""

from __future__ import annotations

from dataclasses import dataclass

from mixd.core.hooks import Hooks
from mixd.core.module import Module
from mixd.core.registry import ModuleRegistry
from mixd.core.router import Router
from mixd.core.sessions import SessionManager
from mixd.storage.contracts.accounts import AccountStore
from mixd.storage.contracts.offline import OfflineStore


@dataclass(frozen=True, slots=True)
class Stores:
    accounts: AccountStore
    offline: OfflineStore


class Server:
    def __init__(self, hosts: frozenset[str], sessions: SessionManager, stores: Stores) -> None:
        self.hosts = hosts
        self.sessions = sessions
        self.stores = stores
        self.hooks = Hooks()
        self.registry = ModuleRegistry(self.hooks)
        self.router = Router(hosts, sessions, self.registry, self.hooks)

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
