"""The routing stage of XEP-0191 (`Router.filters`): one check, before
anything else looks at a stanza, in both directions.

- Outbound: a stanza from a local account to a JID its list blocks is not
  routed. One its client sent is answered with `not-acceptable` +
  `<blocked xmlns='urn:xmpp:blocking:errors'/>` (presence included, which
  the router otherwise answers only for subscription requests); errors and
  IQ results are dropped. What the server sends on the user's behalf
  (broadcast presence, probes, PEP notifications) is dropped silently; its
  IQs (MIX-PAM's join and leave relays) go, because the user asked for them.
- Inbound: a stanza to a local account from a JID its list blocks is never
  delivered, stored offline or archived (this runs before every message
  stage): presence is dropped without an answer, IQ get/set and chat or
  normal messages are answered with `service-unavailable` (XEP-0191 section
  3.3 "SHOULD"), other messages and IQ results or errors for a client are
  dropped. IQ answers to the account's bare JID are the server's own
  (answers to `Router.request`) and pass.

Presence a client sends is checked against the recipient's list only when
the presence module routes it on, after the sender's own roster handled it
(a blocked user's subscription request still shows as pending on its own
side, as it would if the recipient were merely offline).

Never blocked: stanzas between one account's own resources (XEP-0191 note
to section 5), stanzas from this server's domains, errors the server
generated for a blocked stanza. A stanza from a MIX service of this server
is matched in every form of its participant (see `rules`).

Cost: one dict lookup per side when the account's list is cached and empty.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from mixd import ns as NS
from mixd.codec.stanza import Kind, Stanza, stanza_error_reply
from mixd.core.pipeline import AlreadyHandled
from mixd.core.router import Router
from mixd.core.sessions import Session
from mixd.errors import AppCondition, StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.services.blocking import rules
from mixd.services.blocking.cache import Blocklists

BLOCKED = AppCondition(NS.BLOCKING_ERRORS, "blocked")

# The account whose own list is not asked while the blocking module sends
# for it (unavailable presence to a JID just blocked must reach it; the
# recipient's list still applies).
_exempt: ContextVar[JID | None] = ContextVar("blocking_exempt", default=None)


@contextmanager
def exempt(owner: JID) -> Iterator[None]:
    token = _exempt.set(owner)
    try:
        yield
    finally:
        _exempt.reset(token)


def blocked_error(text: str = "you have blocked this JID") -> StanzaError:
    return StanzaError(StanzaErrorCondition.NOT_ACCEPTABLE, text, app=BLOCKED)


class BlockingScreen:
    def __init__(self, router: Router, lists: Blocklists, mix_domains: set[str]) -> None:
        self.router = router
        self.hosts = router.hosts
        self.lists = lists
        self.mix_domains = mix_domains  # kept current by the module

    def _local_account(self, jid: JID) -> bool:
        return jid.local is not None and jid.domain in self.hosts

    def candidates(self, jid: JID, stanza: Stanza | None) -> frozenset[str]:
        """Entries that block `jid`; with the stanza, its MIX attribution too."""
        on_mix = jid.domain in self.mix_domains
        if stanza is None:
            return frozenset(rules.channel_keys(jid) if on_mix else rules.keys(jid))
        return rules.sender_keys(jid, stanza.element, on_mix)

    async def admit(self, stanza: Stanza, session: Session | None) -> None:
        to = stanza.to
        if to is None:
            return
        sender = stanza.sender
        if sender.bare == to.bare:
            return  # one account's own resources
        if (
            self._local_account(sender)
            and not (to.local is None and to.domain in self.hosts)
            and _exempt.get() != sender.bare
        ):
            entries = await self.lists.get(str(sender.bare))
            if entries and rules.blocks(entries, self.candidates(to, None)):
                self._outbound(stanza, session)
        if stanza.kind is Kind.PRESENCE and session is not None:
            return  # the presence module routes it on, and the recipient's list is asked then
        if self._local_account(to) and not (sender.local is None and sender.domain in self.hosts):
            entries = await self.lists.get(str(to.bare))
            if entries and rules.blocks(entries, self.candidates(sender, stanza)):
                self._inbound(stanza, to)

    def _outbound(self, stanza: Stanza, session: Session | None) -> None:
        if session is None:
            if stanza.is_error or stanza.kind is Kind.IQ:
                return  # the server's own errors; IQs the user asked it to send
            raise AlreadyHandled
        if stanza.is_error or (stanza.kind is Kind.IQ and not stanza.is_request):
            raise AlreadyHandled
        if stanza.kind is Kind.PRESENCE:
            # Router.reply_error answers presence only for subscribe.
            self.router.deliver(stanza.sender, stanza_error_reply(stanza, blocked_error()))
            raise AlreadyHandled
        raise blocked_error()

    def _inbound(self, stanza: Stanza, to: JID) -> None:
        if stanza.kind is Kind.IQ:
            if stanza.is_request:
                raise StanzaError(StanzaErrorCondition.SERVICE_UNAVAILABLE)
            if to.resource is None:
                return  # an answer to the server's own request
            raise AlreadyHandled
        if stanza.kind is Kind.MESSAGE and stanza.type in ("chat", "normal"):
            raise StanzaError(StanzaErrorCondition.SERVICE_UNAVAILABLE)
        raise AlreadyHandled
