"""Extension points the router calls for messages and presence.

Modules plug in here rather than subclassing the router: a `MessageStage`
sees every message a local client sends and every message about to reach a
local account, in registration order; a single `PresenceHandler` owns
presence (roster subscriptions, broadcast, probes), after any
`PresenceStage` that claims a presence for a local account.

Stages are awaited before the router goes on. That is how "acknowledged means
stored" holds: a stage that archives a message returns only after the commit,
and the sender's stream acknowledges the stanza only after routing returned.
"""

from __future__ import annotations

from typing import Protocol

from mixd.codec.stanza import Stanza
from mixd.core.sessions import Session
from mixd.jid import JID


class AlreadyHandled(Exception):
    """A stage found the stanza needs nothing more (e.g. a client resent a
    message that was stored and delivered before it lost the acknowledgement):
    routing stops, no error goes back, and the stanza counts as handled."""


class MessageStage:
    """Base class: override what you need; each default does nothing."""

    async def outbound(self, stanza: Stanza, session: Session) -> None:
        """A local client sent `stanza` (from stamped, to validated), before routing."""

    async def claim(self, stanza: Stanza, to: JID) -> list[Session] | None:
        """Take over a message to local account `to` (bare): return the
        sessions it goes to ([] = handled, deliver to none), or None to leave
        it to the RFC 6121 rules. MIX-PAM claims what channels send."""
        return None

    async def inbound(self, stanza: Stanza, to: JID) -> None:
        """`stanza` is about to be delivered to the local account `to` (bare).
        May modify stanza.element (e.g. add a stanza-id)."""

    async def delivered(self, stanza: Stanza, to: JID, sessions: list[Session]) -> None:
        """`stanza` went to these sessions of local account `to`."""

    async def undeliverable(self, stanza: Stanza, to: JID) -> bool:
        """No session of `to` takes `stanza`; return True if it is handled
        (e.g. stored for later). Only asked for chat and normal messages."""
        return False


class StanzaFilter(Protocol):
    async def admit(self, stanza: Stanza, session: Session | None) -> None:
        """Called first for every stanza routed (`session` is the sending
        client's, None for what the server routes): raise StanzaError to
        refuse it, AlreadyHandled to drop it silently. Blocking (XEP-0191)."""
        ...


class PresenceStage(Protocol):
    async def claim(self, stanza: Stanza, to: JID) -> bool:
        """Take over a presence to local account `to` (bare) before the
        `PresenceHandler`: True when handled. MIX-PAM claims what channels
        send, which is not a contact's presence (XEP-0405)."""
        ...


class PresenceHandler(Protocol):
    async def outbound(self, stanza: Stanza, session: Session) -> None:
        """Any presence a local client sends, with or without 'to'. The
        handler routes it on (router.route(stanza)) as RFC 6121 requires."""
        ...

    async def inbound(self, stanza: Stanza) -> None:
        """A presence addressed to a local account (bare or full JID)."""
        ...
