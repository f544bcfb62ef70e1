"""RFC 6121 section 3: presence subscription stanzas, both ways.

Each stanza is one atomic store update computed by `rules`; what the rules
say to route, deliver or answer happens after the commit, and every change
the user's roster shows becomes a roster push (via `RosterChanged`).

A MIX channel's item (XEP-0405) is MIX-PAM's: subscription stanzas to or
from a joined channel change nothing and are dropped.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from mixd.codec.stanza import Kind, Stanza
from mixd.core.sessions import Session
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.services.roster import rules
from mixd.services.roster.common import RosterChanged, owner_key, presence, storage_errors
from mixd.services.roster.rules import State, SubscriptionType
from mixd.storage.contracts.roster import RosterChange, RosterItem, Subscription
from mixd.storage.errors import AccountNotFound
from mixd.xml.serializer import serialize

if TYPE_CHECKING:
    from mixd.services.roster.presence import PresenceModule

SUBSCRIPTION_TYPES = frozenset(t.value for t in SubscriptionType)


def apply(old: RosterItem | None, jid: str, state: State, request: str | None) -> RosterItem | None:
    """The entry for `jid` once in `state` (None: nothing left to keep).

    An entry becomes listed (shown in the roster) as soon as there is a
    subscription, a request from the user or a pre-approval; a bare request
    from a stranger stays unlisted (RFC 6121 A.1) and disappears with it.
    """
    base = old if old is not None else RosterItem(jid, listed=False)
    keep_request = request if request is not None else base.request
    item = replace(
        base,
        subscription=state.subscription,
        ask=state.pending_out,
        pending_in=state.pending_in,
        approved=state.approved,
        request=keep_request if state.pending_in else None,
        listed=base.listed
        or state.subscription is not Subscription.NONE
        or state.pending_out
        or state.approved,
    )
    if not item.listed and not item.pending_in:
        return None
    return item


class Subscriptions:
    def __init__(self, module: PresenceModule) -> None:
        self.module = module
        self.server = module.server
        self.store = module.store

    async def _update(
        self, owner: JID, contact: JID, kind: SubscriptionType, inbound: bool, request: str | None
    ) -> tuple[rules.Outcome, RosterChange] | None:
        """None: `contact` is a joined MIX channel, left alone."""
        decide = rules.inbound if inbound else rules.outbound

        def change(old: RosterItem | None) -> RosterItem | None:
            if old is not None and old.is_mix_channel:
                return old
            return apply(old, str(contact), decide(State.of(old), kind).state, request)

        result = await self.store.update(*owner_key(owner), str(contact), change)
        if result.old is not None and result.old.is_mix_channel:
            return None
        # The rules are pure: asking again gives what `change` saw.
        outcome = decide(State.of(result.old), kind)
        if result.changed:
            await self.server.hooks.emit(RosterChanged(owner, result))
        return outcome, result

    # -- sent by a local user (3.1.2, 3.1.5, 3.2.2, 3.3.2) --------------------

    async def outbound(self, stanza: Stanza, session: Session) -> None:
        if stanza.to is None:
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "subscriptions need a 'to'")
        owner, contact = session.jid.bare, stanza.to.bare
        if contact == owner:
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "you always see your own presence")
        kind = SubscriptionType(stanza.type)
        with storage_errors():
            updated = await self._update(owner, contact, kind, False, None)
        if updated is None:
            return
        outcome, result = updated
        if not outcome.forward:
            return
        # Section 3: stamped with the bare JID, addressed to the bare JID.
        element = stanza.element
        element.attrs["from"], element.attrs["to"] = str(owner), str(contact)
        routed = Stanza(Kind.PRESENCE, stanza.type, stanza.id, owner, contact, element)
        router = self.server.router
        if kind is SubscriptionType.UNSUBSCRIBED and State.of(result.old).from_:
            # 3.2.2: the contact sees the user go offline before losing the subscription.
            await self.module.send_unavailable(owner, contact)
        await router.route(routed)
        if kind is SubscriptionType.SUBSCRIBED:
            await self.module.send_current(owner, contact)  # 3.1.5

    # -- addressed to a local user (3.1.3, 3.1.6, 3.2.3, 3.3.3) ----------------

    async def inbound(self, stanza: Stanza) -> None:
        assert stanza.to is not None
        owner, contact = stanza.to.bare, stanza.sender.bare
        if contact == owner or owner.local is None:
            return
        kind = SubscriptionType(stanza.type)
        element = stanza.element
        element.attrs["from"], element.attrs["to"] = str(contact), str(owner)
        request = serialize(element) if kind is SubscriptionType.SUBSCRIBE else None
        with storage_errors():
            try:
                updated = await self._update(owner, contact, kind, True, request)
            except AccountNotFound:
                if kind is SubscriptionType.SUBSCRIBE:
                    # 3.1.3: no such user; the requester is told no.
                    await self.server.router.route(presence(owner, contact, "unsubscribed"))
                return
        if updated is not None:
            await self._after_inbound(owner, contact, kind, *updated, stanza)

    async def _after_inbound(
        self,
        owner: JID,
        contact: JID,
        kind: SubscriptionType,
        outcome: rules.Outcome,
        result: RosterChange,
        stanza: Stanza,
    ) -> None:
        if outcome.forward:
            for session in self.server.sessions.resources(owner):
                if session.available:
                    session.deliver(stanza.element)
        if outcome.reply is SubscriptionType.SUBSCRIBED:
            await self.server.router.route(presence(owner, contact, "subscribed"))
            if result.changed:  # a pre-approval was used: now subscribed from
                await self.module.send_current(owner, contact)
        if kind is SubscriptionType.UNSUBSCRIBE and State.of(result.old).from_:
            # 3.3.3: the contact no longer gets the user's presence.
            await self.module.send_unavailable(owner, contact)
