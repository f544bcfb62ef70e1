"""Routes stanzas by destination scope.

| destination                  | handled by                                        |
|------------------------------|---------------------------------------------------|
| a hosted domain              | HOST-scope IQ routes; else service-unavailable    |
| a local bare JID / no `to`   | ACCOUNT-scope IQ routes; messages and presence to |
|                              | the account's resources (RFC 6121 section 8.5)    |
| a local full JID             | that session; else the RFC 6121 fallbacks         |
| a service domain (mix.*)     | the service registered for that domain            |
| anything else                | remote-server-not-found (no federation yet)       |
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from mixd.codec.stanza import (
    CodecError,
    Kind,
    Stanza,
    iq_payload,
    iq_result,
    stanza_error_reply,
)
from mixd.codec.xep0203_delay import strip_delays
from mixd.core.events import PresenceBroadcast
from mixd.core.hooks import Hooks
from mixd.core.module import IqRequest, Scope
from mixd.core.pipeline import (
    AlreadyHandled,
    MessageStage,
    PresenceHandler,
    PresenceStage,
    StanzaFilter,
)
from mixd.core.registry import ModuleRegistry
from mixd.core.sessions import Session, SessionManager
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.xml.element import Element

log = logging.getLogger(__name__)

ServiceHandler = Callable[[Stanza], Awaitable[None]]


class AnswerForwarder(Protocol):
    """Cluster mode: answers to requests another node made come back here
    (the client or channel that answers is on this node)."""

    def forward_answer(self, stanza: Stanza) -> bool:
        """Carry an IQ answer no local request waits for to the node whose
        request it answers; False when it is not another node's."""
        ...


_UNAVAILABLE = StanzaErrorCondition.SERVICE_UNAVAILABLE


class Router:
    def __init__(
        self,
        hosts: frozenset[str],
        sessions: SessionManager,
        registry: ModuleRegistry,
        hooks: Hooks,
    ) -> None:
        self.hosts = hosts
        self.sessions = sessions
        self.registry = registry
        self.hooks = hooks
        self.services: dict[str, ServiceHandler] = {}
        self.message_stages: list[MessageStage] = []
        self.presence: PresenceHandler | None = None
        self.presence_stages: list[PresenceStage] = []
        self.filters: list[StanzaFilter] = []
        self._iq_ids = itertools.count(1)
        # Cluster mode: request ids end with "-<node>" so answers find their way back.
        self.iq_id_suffix = ""
        self.answers: AnswerForwarder | None = None
        self._pending_iq: dict[str, tuple[JID, asyncio.Future[Element]]] = {}

    async def request(self, iq: Element, to: JID, timeout: float = 10.0) -> Element:
        """Send an IQ get/set from the server to `to` and wait for the answer
        (result or error element). Raises TimeoutError."""
        iq_id = f"mixd-{next(self._iq_ids)}{self.iq_id_suffix}"
        iq.attrs["id"] = iq_id
        iq.attrs["to"] = str(to)
        future: asyncio.Future[Element] = asyncio.get_running_loop().create_future()
        self._pending_iq[iq_id] = (to, future)
        try:
            if to.resource is not None and to.domain in self.hosts:
                if not self.deliver(to, iq):
                    raise StanzaError(StanzaErrorCondition.RECIPIENT_UNAVAILABLE)
            else:
                await self.send(iq)  # a channel, a service, an account
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending_iq.pop(iq_id, None)

    def answer_now(self, stanza: Stanza) -> bool:
        """Resolve the pending `request` this IQ answers, ahead of whatever
        its sender sent before (True if it did). The connection calls this
        as the answer arrives: the task waiting for it may be the one that
        handles the sender's earlier stanzas (a caps lookup of a client whose
        own channel message waits for it), which would stall until timeout."""
        if stanza.kind is not Kind.IQ or stanza.is_request:
            return False
        to = stanza.to
        for_server = (
            to is None or to == stanza.sender.bare or (to.local is None and to.domain in self.hosts)
        )
        return for_server and self._iq_response(stanza)

    def _iq_response(self, stanza: Stanza) -> bool:
        pending = self._pending_iq.get(stanza.id or "")
        # Only the entity we asked may answer (ids are guessable).
        if pending is None or pending[0] != stanza.sender or pending[1].done():
            return False
        pending[1].set_result(stanza.element)
        return True

    def add_service(self, domain: str, handler: ServiceHandler) -> None:
        if domain in self.hosts or domain in self.services:
            raise ValueError(f"domain {domain} is already served")
        self.services[domain] = handler

    def remove_service(self, domain: str) -> None:
        self.services.pop(domain, None)

    async def route(self, stanza: Stanza, session: Session | None = None) -> None:
        """Handle one stanza; a StanzaError becomes the error reply."""
        try:
            await self._route(stanza, session)
        except AlreadyHandled:
            return
        except StanzaError as exc:
            error = exc
        except CodecError as exc:
            error = StanzaError(StanzaErrorCondition.BAD_REQUEST, str(exc))
        except Exception:
            log.exception("failed to route %s from %s", stanza.kind, stanza.sender)
            error = StanzaError(StanzaErrorCondition.INTERNAL_SERVER_ERROR)
        else:
            return
        if self._routed_back(stanza.sender) and not stanza.is_error:
            # Sent on behalf of an account or a service (e.g. MIX-PAM's join
            # from the user's bare JID, an IQ a channel relays from a proxy
            # JID): the error goes back the same way.
            reply = stanza_error_reply(stanza, error)
            with contextlib.suppress(AlreadyHandled):  # e.g. the recipient blocks its sender
                await self._route(self._stanza(reply), None)
        else:
            self.reply_error(stanza, error)

    async def admitted(self, stanza: Stanza) -> bool:
        """Whether the filters let through, now, a stanza the server held
        back and delivers itself (an offline message, a stored subscription
        request, channel presence held for a client coming online)."""
        try:
            for screen in self.filters:
                await screen.admit(stanza, None)
        except (StanzaError, AlreadyHandled):
            return False
        return True

    def _routed_back(self, sender: JID) -> bool:
        """Whether answers to `sender` are routed rather than delivered to a
        local session: a bare JID, or anything on a service domain."""
        return sender.resource is None or sender.domain in self.services

    def reply_error(self, stanza: Stanza, error: StanzaError) -> None:
        if stanza.is_error:
            return  # never answer an error with an error (RFC 6120 8.3.1)
        if stanza.kind is Kind.PRESENCE and stanza.type != "subscribe":
            return
        self.deliver(stanza.sender, stanza_error_reply(stanza, error))

    @staticmethod
    def stanza(element: Element) -> Stanza:
        """The routing header of a stanza built (or already routed) by a
        server: from and to set, validated before."""
        return Router._stanza(element)

    @staticmethod
    def _stanza(element: Element) -> Stanza:
        """The routing header of a server-built stanza (from and to set)."""
        kind = Kind(element.name)
        default = {"message": "normal", "presence": "available"}.get(element.name, "")
        return Stanza(
            kind,
            element.get("type") or default,
            element.get("id"),
            JID.parse(element.attrs["from"]),
            JID.parse(element.attrs["to"]),
            element,
        )

    async def send(self, element: Element) -> None:
        """Route a stanza the server or a service emits (`from` and `to` set)."""
        await self.route(self._stanza(element))

    def deliver(self, to: JID, element: Element) -> bool:
        """Deliver a server-built stanza to a local full JID, if online."""
        session = self.sessions.get(to)
        if session is None:
            return False
        session.deliver(element)
        return True

    def _server_claims(self, jid: JID | None) -> bool:
        """A `from` only this server may write: one of its domains or
        services, or something that is not a JID at all."""
        return jid is None or (
            jid.local is None and (jid.domain in self.hosts or jid.domain in self.services)
        )

    async def _route(self, stanza: Stanza, session: Session | None) -> None:
        for screen in self.filters:
            await screen.admit(stanza, session)
        if session is not None:
            if stanza.kind is not Kind.IQ:
                strip_delays(stanza.element, self._server_claims)  # RELIABILITY C4
            if stanza.kind is Kind.PRESENCE and self.presence is not None:
                await self.presence.outbound(stanza, session)
                return
            if stanza.kind is Kind.MESSAGE:
                for stage in self.message_stages:
                    await stage.outbound(stanza, session)
        to = stanza.to
        if to is None:
            await self._no_to(stanza, session)
        elif to.domain in self.hosts:
            if to.local is None and to.resource is None:
                await self._to_host(stanza)
            elif to.local is None:
                raise StanzaError(_UNAVAILABLE)  # domain/resource: nothing lives there
            elif to.resource is None:
                await self._to_bare(stanza, to)
            else:
                await self._to_full(stanza, to)
        elif (service := self.services.get(to.domain)) is not None:
            await service(stanza)
        else:
            raise StanzaError(StanzaErrorCondition.REMOTE_SERVER_NOT_FOUND)

    async def _no_to(self, stanza: Stanza, session: Session | None) -> None:
        # RFC 6120 section 10.3: no 'to' means the sender's own account.
        if stanza.kind is Kind.PRESENCE:
            if session is not None:
                await self.hooks.emit(PresenceBroadcast(session, stanza))
        elif stanza.kind is Kind.IQ:
            await self._iq(stanza, Scope.ACCOUNT)
        else:
            await self._to_bare(stanza, stanza.sender.bare)

    async def _to_host(self, stanza: Stanza) -> None:
        if stanza.kind is Kind.IQ:
            await self._iq(stanza, Scope.HOST)
        elif stanza.kind is Kind.MESSAGE:
            raise StanzaError(_UNAVAILABLE)
        # presence to the server itself is dropped

    async def _iq(self, stanza: Stanza, scope: Scope) -> None:
        if not stanza.is_request:
            if not self._iq_response(stanza) and self.answers is not None:
                self.answers.forward_answer(stanza)
            return
        payload = iq_payload(stanza)
        assert payload is not None  # header validation guarantees one child
        target = self.registry.iq.get((scope, payload.ns, payload.name, stanza.type))
        if target is None:
            raise StanzaError(_UNAVAILABLE)
        result = await target.handler(IqRequest(stanza, target.payload.decode(payload)))
        reply = iq_result(stanza, result.encode() if result else None)
        if stanza.sender.domain in self.services:
            await self.send(reply)  # e.g. a request a channel relays (XEP-0403)
        else:
            self.deliver(stanza.sender, reply)

    async def _to_bare(self, stanza: Stanza, to: JID) -> None:
        if stanza.kind is Kind.IQ:
            await self._iq(stanza, Scope.ACCOUNT)
        elif stanza.kind is Kind.MESSAGE:
            await self._message_to_bare(stanza, to)
        elif await self._presence_claimed(stanza, to):
            return
        elif self.presence is not None:
            await self.presence.inbound(stanza)
        else:
            for session in self.sessions.resources(to):
                if session.available:
                    session.deliver(stanza.element)

    async def _presence_claimed(self, stanza: Stanza, to: JID) -> bool:
        for stage in self.presence_stages:
            if await stage.claim(stanza, to):
                return True
        return False

    async def _message_to_bare(self, stanza: Stanza, to: JID) -> None:
        for stage in self.message_stages:
            claimed = await stage.claim(stanza, to)
            if claimed is not None:
                for session in claimed:
                    session.deliver(stanza.element)
                return
        # RFC 6121 section 8.5.2: every available resource with non-negative
        # priority gets chat, normal and headline messages.
        if stanza.type == "groupchat":
            raise StanzaError(_UNAVAILABLE)
        await self._deliver_message(stanza, to, self.sessions.available(to))

    async def _deliver_message(self, stanza: Stanza, to: JID, targets: list[Session]) -> None:
        """Hand a message to sessions of local account `to`, through the stages."""
        if not targets:
            if stanza.type not in ("normal", "chat"):
                return  # headline and error messages are dropped (RFC 6121 8.5.2)
            for stage in self.message_stages:
                if await stage.undeliverable(stanza, to):
                    return
            raise StanzaError(_UNAVAILABLE)
        for stage in self.message_stages:
            await stage.inbound(stanza, to)
        for session in targets:
            session.deliver(stanza.element)
        for stage in self.message_stages:
            await stage.delivered(stanza, to, targets)

    async def _to_full(self, stanza: Stanza, to: JID) -> None:
        if stanza.kind is Kind.PRESENCE and self.presence is not None:
            await self.presence.inbound(stanza)
            return
        session = self.sessions.get(to)
        if session is not None:
            if stanza.kind is Kind.MESSAGE:
                await self._deliver_message(stanza, to.bare, [session])
            else:
                session.deliver(stanza.element)
            return
        # RFC 6121 section 8.5.3.2: no such resource.
        if stanza.kind is Kind.MESSAGE and stanza.type in ("normal", "chat"):
            await self._message_to_bare(stanza, to.bare)
        elif stanza.kind is Kind.IQ or (stanza.kind is Kind.MESSAGE and stanza.type == "groupchat"):
            raise StanzaError(_UNAVAILABLE)
