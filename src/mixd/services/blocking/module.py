"""XEP-0191 Blocking Command 1.3: the blocklist, its pushes, and the
presence a block or unblock sends. Enforcement is `screen.BlockingScreen`,
a router filter; the MIX fan-out asks `screen_channel_message`.

- `<blocklist/>` get: the list; the asking resource is "interested" and gets
  every later push (section 3.2).
- `<block/>`: at least one item (`bad-request`), each a valid JID
  (`jid-malformed`), not the user's own (`not-acceptable`); the list holds at
  most `max_items` entries (`not-allowed`, nothing stored). Only entries
  not yet listed are pushed.
- `<unblock/>`: the items, or everything when empty; only entries that were
  listed are pushed.

Both then send the presence XEP-0191 asks for (`presence.py`).
"""

from __future__ import annotations

import asyncio
import itertools
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from mixd import ns as NS
from mixd.codec.base import Payload
from mixd.codec.xep0191_blocking import Block, Blocklist, Unblock
from mixd.core.events import AccountRemoving, SessionBound, SessionClosed
from mixd.core.module import IqRequest, IqRoute, Listener, Module, Scope, Xep
from mixd.core.sessions import Session
from mixd.errors import ErrorType, StanzaError, StanzaErrorCondition
from mixd.jid import JID, JIDError
from mixd.services.blocking import rules
from mixd.services.blocking.cache import Blocklists, owner_key
from mixd.services.blocking.presence import BlockPresence
from mixd.services.blocking.screen import BlockingScreen
from mixd.services.mix.module import MixModule, MixServiceStarted
from mixd.storage.errors import StorageUnavailable
from mixd.xml.element import Element

if TYPE_CHECKING:
    from mixd.core.server import Server

T = TypeVar("T")

DEFAULT_MAX_ITEMS = 1000


NOTICE = "blocklist"  # the kind of AccountNotices a change sends to other nodes


class BlockingModule(Module):
    name = "blocking"
    xeps = (Xep(191, "1.3"),)
    host_features = (NS.BLOCKING,)
    account_features = (NS.BLOCKING,)

    def __init__(self, server: Server, max_items: int = DEFAULT_MAX_ITEMS) -> None:
        super().__init__(server)
        self.max_items = max_items
        self.lists = Blocklists(server.stores.blocklist)
        self.mix_domains: set[str] = set()
        self.screen = BlockingScreen(server.router, self.lists, self.mix_domains)
        self.presence = BlockPresence(server)
        self.interested: weakref.WeakSet[Session] = weakref.WeakSet()
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._push_ids = itertools.count(1)
        server.notices.handle(NOTICE, self.changed_elsewhere)

    def routes(self) -> Sequence[IqRoute]:
        return (
            IqRoute(Scope.ACCOUNT, Blocklist, get=self.get),
            IqRoute(Scope.ACCOUNT, Block, set=self.block),
            IqRoute(Scope.ACCOUNT, Unblock, set=self.unblock),
        )

    def listeners(self) -> Sequence[Listener]:
        return (
            Listener(SessionBound, self.on_bound),
            Listener(SessionClosed, self.on_closed),
            Listener(AccountRemoving, self.on_account_removing),
            Listener(MixServiceStarted, self.on_mix_started),
        )

    async def start(self) -> None:
        mix = self.server.registry.modules.get("mix")
        if isinstance(mix, MixModule):
            self.mix_domains.update(mix.services)
        await self.lists.load()
        self.server.router.filters.append(self.screen)

    async def stop(self) -> None:
        self.server.router.filters.remove(self.screen)

    # -- the list (XEP-0191 sections 3.2-3.5) ----------------------------------

    async def get(self, iq: IqRequest[Blocklist]) -> Payload | None:
        owner = _own_account(iq)
        session = self.server.sessions.get(iq.sender)
        if session is not None:
            self.interested.add(session)  # before the read: a racing push is not lost
        return Blocklist(tuple(sorted(await self.lists.get(str(owner)))))

    async def block(self, iq: IqRequest[Block]) -> Payload | None:
        owner = _own_account(iq)
        if not iq.payload.jids:
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "block at least one JID")
        jids = _parse(iq.payload.jids)
        if any(jid.bare == owner for jid in jids):
            raise StanzaError(StanzaErrorCondition.NOT_ACCEPTABLE, "you cannot block yourself")
        async with self._lock(owner):
            change = await _stored(
                self.server.stores.blocklist.block(
                    *owner_key(str(owner)), [str(j) for j in jids], self.max_items
                )
            )
            if change is None:
                raise StanzaError(
                    StanzaErrorCondition.NOT_ALLOWED,
                    f"the blocklist is full ({self.max_items} entries)",
                )
            self.lists.set(str(owner), change.items)
        if change.changed:
            self._changed(owner, Block(change.changed).encode())
            await self.presence.blocked(owner, change)
        return None

    async def unblock(self, iq: IqRequest[Unblock]) -> Payload | None:
        owner = _own_account(iq)
        store = self.server.stores.blocklist
        host, user = owner_key(str(owner))
        everything = not iq.payload.jids
        jids = [] if everything else [str(j) for j in _parse(iq.payload.jids)]
        async with self._lock(owner):
            call = store.unblock_all(host, user) if everything else store.unblock(host, user, jids)
            change = await _stored(call)
            self.lists.set(str(owner), change.items)
        if change.changed:
            self._changed(owner, Unblock(() if everything else change.changed).encode())
            await self.presence.unblocked(owner, change)
        return None

    def _lock(self, owner: JID) -> asyncio.Lock:
        """Changes of one list in commit order, so the cache ends with the last."""
        lock = self._locks.get(str(owner))
        if lock is None:
            lock = self._locks[str(owner)] = asyncio.Lock()
        return lock

    def _changed(self, owner: JID, payload: Element) -> None:
        self._push(owner, payload)
        self.server.notices.publish(NOTICE, str(owner), payload)

    def changed_elsewhere(self, owner: str, payload: Element) -> None:
        """Another cluster node changed `owner`'s list (after its commit):
        forget the cached copy and push to the resources here that asked."""
        self.lists.invalidate(owner)
        self._push(JID.parse(owner), payload)

    def _push(self, owner: JID, payload: Element) -> None:
        """An IQ set to every resource that asked for the list (3.3, 3.4, 3.5)."""
        for session in self.server.sessions.resources(owner):
            if session in self.interested:
                attrs = {"type": "set", "id": f"block-push{next(self._push_ids)}"}
                attrs["to"] = str(session.jid)
                session.deliver(Element(NS.CLIENT, "iq", attrs, [payload.copy()]))

    # -- the MIX fan-out (services/mix_pam/local.py) ---------------------------

    def screen_channel_message(self, message: Element) -> Callable[[str], bool | None] | None:
        """For one reflected channel message (from `channel/<participant id>`):
        a check per recipient bare JID, True when its list blocks the channel
        or the sender, None when the list is not in memory yet (the caller
        then waits for `blocked_async`). None instead of a check when nobody
        blocks anything (the fan-out then skips the per-recipient call)."""
        if not self.lists.anyone:
            return None
        try:
            sender = JID.parse(message.attrs["from"])
        except (KeyError, JIDError):
            return None
        candidates = rules.sender_keys(sender, message, sender.domain in self.mix_domains)
        now = self.lists.now

        def blocked(user: str) -> bool | None:
            entries = now(user)
            if entries is None:
                return None
            return bool(entries) and not entries.isdisjoint(candidates)

        return blocked

    async def blocked_async(self, user: str, message: Element) -> bool:
        await self.lists.get(user)
        check = self.screen_channel_message(message)
        return bool(check is not None and check(user))

    # -- listeners ---------------------------------------------------------------

    async def on_bound(self, event: SessionBound) -> None:
        await self.lists.pin(str(event.session.jid.bare))

    async def on_closed(self, event: SessionClosed) -> None:
        self.interested.discard(event.session)
        owner = str(event.session.jid.bare)
        if not self.server.sessions.of(owner):
            self.lists.unpin(owner)

    async def on_account_removing(self, event: AccountRemoving) -> None:
        """The rows go with the account (foreign key); the cache goes now."""
        self.lists.forget(str(event.account))

    async def on_mix_started(self, event: MixServiceStarted) -> None:
        self.mix_domains.add(event.service.domain)


def _own_account(iq: IqRequest[Any]) -> JID:
    """Only the account itself reads or changes its blocklist."""
    owner = iq.sender.bare
    if iq.to is not None and iq.to.bare != owner:
        raise StanzaError(StanzaErrorCondition.FORBIDDEN, "not your blocklist")
    if owner.local is None:
        raise StanzaError(StanzaErrorCondition.NOT_ALLOWED)
    return owner


def _parse(texts: Sequence[str]) -> list[JID]:
    try:
        return rules.parse_items(texts)
    except JIDError as exc:
        raise StanzaError(StanzaErrorCondition.JID_MALFORMED, f"not a JID: {exc}") from None


async def _stored(call: Awaitable[T]) -> T:
    """Await a storage call; its errors become the stanza errors we answer with."""
    try:
        return await call
    except StorageUnavailable:
        raise StanzaError(
            StanzaErrorCondition.INTERNAL_SERVER_ERROR,
            "the blocklist is unavailable, try again",
            ErrorType.WAIT,
        ) from None
