"""Loads modules: registers their declared routes and listeners, and removes
exactly those again on unload."""

from __future__ import annotations

from dataclasses import dataclass

from mixd.codec.base import Payload
from mixd.codec.xep0030_disco import Identity
from mixd.core.hooks import Hooks
from mixd.core.module import IqHandler, IqRoute, Module, Scope, Xep

RouteKey = tuple[Scope, str, str, str]  # scope, payload namespace, name, iq type


@dataclass(frozen=True, slots=True)
class RouteTarget:
    payload: type[Payload]
    handler: IqHandler
    module: str


class ModuleRegistry:
    def __init__(self, hooks: Hooks) -> None:
        self.hooks = hooks
        self.modules: dict[str, Module] = {}
        self.iq: dict[RouteKey, RouteTarget] = {}

    def load(self, module: Module) -> None:
        if module.name in self.modules:
            raise ValueError(f"module {module.name!r} is already loaded")
        keys: list[tuple[RouteKey, RouteTarget]] = []
        for route in module.routes():
            keys.extend(self._route_keys(route, module.name))
        for key, _ in keys:
            if key in self.iq:
                raise ValueError(f"{module.name}: {key} already handled by {self.iq[key].module}")
        self.iq.update(keys)
        for listener in module.listeners():
            self.hooks.on(listener.event, listener.handler)
        self.modules[module.name] = module

    def unload(self, name: str) -> Module:
        module = self.modules.pop(name)
        for key in [k for k, t in self.iq.items() if t.module == name]:
            del self.iq[key]
        for listener in module.listeners():
            self.hooks.off(listener.event, listener.handler)
        return module

    @staticmethod
    def _route_keys(route: IqRoute, module: str) -> list[tuple[RouteKey, RouteTarget]]:
        out = []
        for iq_type, handler in (("get", route.get), ("set", route.set)):
            if handler is not None:
                key = (route.scope, route.payload.XMLNS, route.payload.NAME, iq_type)
                out.append((key, RouteTarget(route.payload, handler, module)))
        return out

    def features(self, scope: Scope) -> set[str]:
        feats: set[str] = set()
        for module in self.modules.values():
            feats.update(module.host_features if scope is Scope.HOST else module.account_features)
        return feats

    def account_identities(self) -> set[Identity]:
        return {i for m in self.modules.values() for i in m.account_identities}

    def stream_features(self) -> tuple[tuple[str, str], ...]:
        features = (f for m in self.modules.values() for f in m.stream_features)
        return tuple(dict.fromkeys(features))

    def xeps(self) -> list[tuple[str, Xep]]:
        return [(m.name, x) for m in self.modules.values() for x in m.xeps]
