"""RFC 6121 section 2: roster get, set, remove and pushes, with roster
versioning (section 2.6, formerly XEP-0237).

A resource that asked for the roster is "interested" (section 2.2) and gets
every roster push from then on, whatever module changed the roster: changes
arrive here as `RosterChanged` events.

MIX channels (XEP-0405 5.1.9-5.1.10) are items MIX-PAM adds and removes: a
roster get with `<annotate/>` makes that resource see `<channel
participant-id=.../>` on them, in the result and every later push, until a
get without it. The user may rename or regroup a channel item, but removes
it by leaving the channel (client-leave), not with a roster set.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from mixd import ns as NS
from mixd.codec import rfc6121_roster as wire
from mixd.codec.base import Payload
from mixd.core.events import SessionClosed
from mixd.core.module import IqRequest, IqRoute, Listener, Module, Scope, Xep
from mixd.core.sessions import Session
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.services.roster.common import (
    RosterChanged,
    owner_key,
    presence,
    storage_errors,
    to_wire,
    unannotated,
    visible,
)
from mixd.storage.contracts.roster import RosterItem, RosterStore, Subscription
from mixd.xml.element import Element

if TYPE_CHECKING:
    from mixd.core.server import Server

MAX_ITEMS = 2000  # items in one roster (RFC 6121 2.3.3 leaves the limit to us)


NOTICE = "roster"  # the kind of AccountNotices a change sends to other nodes


class RosterModule(Module):
    name = "roster"
    xeps = (Xep(237, "1.3", "roster versioning, as merged into RFC 6121 section 2.6"),)
    stream_features = ((NS.ROSTER_VER, "ver"),)  # RFC 6121 2.6.1

    def __init__(self, server: Server) -> None:
        super().__init__(server)
        self.store: RosterStore = server.stores.roster
        self.interested: weakref.WeakSet[Session] = weakref.WeakSet()
        self.annotated: weakref.WeakSet[Session] = weakref.WeakSet()  # XEP-0405 5.1.10
        self._push_ids = itertools.count(1)
        server.notices.handle(NOTICE, self.pushed_elsewhere)

    def routes(self) -> Sequence[IqRoute]:
        return (IqRoute(Scope.ACCOUNT, wire.RosterQuery, get=self.get, set=self.set),)

    def listeners(self) -> Sequence[Listener]:
        return (
            Listener(RosterChanged, self.on_changed),
            Listener(SessionClosed, self.on_closed),
        )

    # -- roster get (2.2, 2.6) ------------------------------------------------

    async def get(self, iq: IqRequest[wire.RosterQuery]) -> Payload | None:
        owner = _own_account(iq)
        session = self.server.sessions.get(iq.sender)
        if session is not None:
            # Interested before the read: a push racing the read is then
            # either in the result or delivered after it.
            self.interested.add(session)
            if iq.payload.annotate:  # each get sets or resets the MIX annotation
                self.annotated.add(session)
            else:
                self.annotated.discard(session)
        with storage_errors():
            roster = await self.store.roster(*owner_key(owner))
        ver = str(roster.version)
        if iq.payload.ver == ver:
            return None  # 2.6.3: the client's copy is current
        items = tuple(to_wire(item) for item in roster.items if item.listed)
        if not iq.payload.annotate:
            items = tuple(unannotated(item) for item in items)
        return wire.RosterQuery(items, ver)

    # -- roster set (2.3, 2.5) ------------------------------------------------

    async def set(self, iq: IqRequest[wire.RosterQuery]) -> Payload | None:
        owner = _own_account(iq)
        if len(iq.payload.items) != 1:
            raise StanzaError(
                StanzaErrorCondition.BAD_REQUEST, "a roster set carries exactly one item"
            )
        item = iq.payload.items[0]
        if item.jid.resource is not None:
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "roster items are bare JIDs")
        if item.jid == owner:
            raise StanzaError(StanzaErrorCondition.NOT_ALLOWED, "you cannot add yourself")
        if item.remove:
            await self._remove(owner, item.jid)
        else:
            await self._add_or_update(owner, item)
        return None

    async def _add_or_update(self, owner: JID, item: wire.RosterItem) -> None:
        host, user = owner_key(owner)
        jid = str(item.jid)
        with storage_errors():
            current = await self.store.get(host, user, jid)
            if current is None or not current.listed:
                roster = await self.store.roster(host, user)
                if sum(1 for i in roster.items if i.listed) >= MAX_ITEMS:
                    raise StanzaError(StanzaErrorCondition.NOT_ALLOWED, "the roster is full")

            def change(old: RosterItem | None) -> RosterItem:
                # 2.3.2: only name and groups come from the client; the
                # subscription state is the server's.
                if old is None:
                    return RosterItem(jid, item.name, item.groups)
                return replace(old, name=item.name, groups=item.groups, listed=True)

            result = await self.store.update(host, user, jid, change)
        if result.changed:
            await self.server.hooks.emit(RosterChanged(owner, result))

    async def _remove(self, owner: JID, contact: JID) -> None:
        def change(old: RosterItem | None) -> RosterItem | None:
            if old is None or old.is_mix_channel:
                return old
            return None if old.listed else old

        with storage_errors():
            result = await self.store.update(*owner_key(owner), str(contact), change)
        old = result.old
        if old is None or not old.listed:
            raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "not in your roster")
        if old.is_mix_channel:
            raise StanzaError(
                StanzaErrorCondition.NOT_ALLOWED, "a MIX channel: leave it with client-leave"
            )
        await self.server.hooks.emit(RosterChanged(owner, result))
        await self._end_subscriptions(owner, contact, old)

    async def _end_subscriptions(self, owner: JID, contact: JID, old: RosterItem) -> None:
        """RFC 6121 2.5.2: removing an item cancels the subscriptions both
        ways (and refuses a pending request), stamped from the bare JID."""
        router = self.server.router
        if old.subscription in (Subscription.TO, Subscription.BOTH) or old.ask:
            await router.route(presence(owner, contact, "unsubscribe"))
        if old.subscription in (Subscription.FROM, Subscription.BOTH):
            # 3.2.2: the contact sees the user go offline first.
            for session in self.server.sessions.resources(owner):
                if session.available:
                    await router.route(presence(session.jid, contact, "unavailable"))
            await router.route(presence(owner, contact, "unsubscribed"))
        elif old.pending_in:
            await router.route(presence(owner, contact, "unsubscribed"))

    # -- pushes (2.1.6) -------------------------------------------------------

    async def on_changed(self, event: RosterChanged) -> None:
        change = event.change
        before, after = visible(change.old), visible(change.new)
        if before == after:
            return  # nothing the user's roster shows has changed
        if after is None:
            assert before is not None
            after = replace(before, subscription=wire.REMOVE, ask=False, approved=False)
        self.push(event.owner, after, str(change.version))
        query = wire.RosterQuery((after,), str(change.version)).encode()
        self.server.notices.publish(NOTICE, str(event.owner), query)

    def pushed_elsewhere(self, owner: str, payload: Element) -> None:
        """Another cluster node changed `owner`'s roster: push to the
        resources here that asked for it."""
        ver = payload.get("ver") or ""
        for element in payload.find_all(NS.ROSTER, "item"):
            item = wire.RosterItem.decode(element)
            channel = element.find(NS.MIX_ROSTER, "channel")  # never taken from clients
            if channel is not None:
                item = replace(item, mix_participant_id=channel.get("participant-id"))
            self.push(JID.parse(owner), item, ver)

    def push(self, owner: JID, item: wire.RosterItem, ver: str) -> None:
        annotated = wire.RosterQuery((item,), ver).encode()
        plain = annotated
        if item.mix_participant_id is not None:
            plain = wire.RosterQuery((unannotated(item),), ver).encode()
        for session in self.server.sessions.resources(owner):
            if session in self.interested:
                attrs = {"type": "set", "id": f"push{next(self._push_ids)}"}
                attrs["to"] = str(session.jid)
                query = annotated if session in self.annotated else plain
                session.deliver(Element(NS.CLIENT, "iq", attrs, [query]))

    async def on_closed(self, event: SessionClosed) -> None:
        self.interested.discard(event.session)
        self.annotated.discard(event.session)


def _own_account(iq: IqRequest[wire.RosterQuery]) -> JID:
    """Only the account itself reads or writes its roster (2.3.3)."""
    owner = iq.sender.bare
    if iq.to is not None and iq.to.bare != owner:
        raise StanzaError(StanzaErrorCondition.FORBIDDEN, "not your roster")
    return owner
