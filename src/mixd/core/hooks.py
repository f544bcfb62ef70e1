"""Typed hooks: modules subscribe to event classes, not to strings, so a typo
is a type error rather than a handler that never runs."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

E = TypeVar("E")
Listener = Callable[[E], Awaitable[None]]

log = logging.getLogger(__name__)


class Hooks:
    def __init__(self) -> None:
        self._listeners: dict[type[Any], list[Listener[Any]]] = {}

    def on(self, event_type: type[E], listener: Listener[E]) -> None:
        self._listeners.setdefault(event_type, []).append(listener)

    def off(self, event_type: type[E], listener: Listener[E]) -> None:
        listeners = self._listeners.get(event_type, [])
        if listener in listeners:
            listeners.remove(listener)

    async def emit(self, event: object) -> None:
        """Call every listener in registration order. One listener failing is
        logged and does not stop the others."""
        for listener in tuple(self._listeners.get(type(event), ())):
            try:
                await listener(event)
            except Exception:
                log.exception("hook listener failed for %s", type(event).__name__)
