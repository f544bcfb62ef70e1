"""RFC 6121 section 4: a session's own availability and priority.

This slice records initial, updated and unavailable broadcast presence on the
session, which message delivery to bare JIDs depends on (section 8.5.2).
Subscriptions and broadcast to contacts build on it.
"""

from __future__ import annotations

from collections.abc import Sequence

from mixd import ns as NS
from mixd.core.events import PresenceBroadcast, SessionAvailable
from mixd.core.module import Listener, Module

MIN_PRIORITY, MAX_PRIORITY = -128, 127


def parse_priority(text: str | None) -> int:
    """RFC 6121 section 4.7.2.3: an integer in -128..127; absent means 0."""
    if text is None:
        return 0
    try:
        value = int(text.strip())
    except ValueError:
        return 0
    return max(MIN_PRIORITY, min(MAX_PRIORITY, value))


class PresenceModule(Module):
    name = "presence"

    def listeners(self) -> Sequence[Listener]:
        return (Listener(PresenceBroadcast, self.on_broadcast),)

    async def on_broadcast(self, event: PresenceBroadcast) -> None:
        stanza, session = event.stanza, event.session
        if stanza.type == "available":
            was_available = session.available
            session.available = True
            session.priority = parse_priority(stanza.element.find_text(NS.CLIENT, "priority"))
            if not was_available:
                await self.server.hooks.emit(SessionAvailable(session))
        elif stanza.type == "unavailable":
            session.available = False
