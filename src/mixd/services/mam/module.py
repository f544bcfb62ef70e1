"""XEP-0313 Message Archive Management 1.1.3 for user archives.

With XEP-0059 Result Set Management (paging), XEP-0359 stanza ids (the id
of a message in the recipient's archive travels with it), XEP-0441
preferences and the archive metadata query. Advertised on account bare JIDs:
`urn:xmpp:mam:2`, `urn:xmpp:mam:2#extended` (before-id/after-id/ids, flipped
pages, metadata) and `urn:xmpp:sid:0`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mixd import ns as NS
from mixd.codec.xep0313_mam import MamMetadata, MamPrefs, MamQuery
from mixd.core.events import AccountRemoving
from mixd.core.module import IqRoute, Listener, Module, Scope, Xep
from mixd.jid import JID
from mixd.services.mam.archive import ArchiveStage
from mixd.services.mam.limits import MamLimits, QueryLimiter
from mixd.services.mam.query import MamQueries
from mixd.services.mam.quota import QuotaKeeper
from mixd.services.mam.storage import PrefsCache, guarded

if TYPE_CHECKING:
    from mixd.core.server import Server


class MamModule(Module):
    name = "mam"
    xeps = (
        Xep(313, "1.1.3", "user archives; groupchat is not kept in user archives"),
        Xep(59, "1.0", "for MAM queries"),
        Xep(359, "0.7.0", "stanza-id by the recipient's bare JID"),
        Xep(441, "0.2.0", "roster default: contacts listed in the user's roster"),
    )
    account_features = (NS.MAM, NS.MAM_EXTENDED, NS.SID)

    def __init__(self, server: Server, limits: MamLimits | None = None, *, quota: int = 0) -> None:
        super().__init__(server)
        self.store = store = server.stores.archive
        self.prefs = PrefsCache(store)
        keeper = QuotaKeeper(store, quota) if quota else None  # 0: no quota
        self.stage = ArchiveStage(
            server.hosts, store, server.stores.accounts, self.prefs, self.in_roster, keeper
        )
        self.queries = MamQueries(
            server.router, store, self.prefs, QueryLimiter(limits or MamLimits())
        )

    def listeners(self) -> Sequence[Listener]:
        return (Listener(AccountRemoving, self.on_account_removing),)

    async def on_account_removing(self, event: AccountRemoving) -> None:
        # The account's archive goes with it (messages no other archive
        # references are deleted too).
        await guarded(self.store.delete_owner(str(event.account)))
        self.prefs.forget(str(event.account))

    def routes(self) -> Sequence[IqRoute]:
        q = self.queries
        return (
            IqRoute(Scope.ACCOUNT, MamQuery, get=q.form, set=q.query),
            IqRoute(Scope.ACCOUNT, MamPrefs, get=q.get_prefs, set=q.set_prefs),
            IqRoute(Scope.ACCOUNT, MamMetadata, get=q.metadata),
        )

    async def in_roster(self, owner: JID, contact: JID) -> bool:
        """For the `roster` default: is `contact` listed in `owner`'s roster?"""
        if owner.local is None:
            return False
        roster = self.server.stores.roster
        item = await guarded(roster.get(owner.domain, owner.local, str(contact.bare)))
        return item is not None and item.listed

    async def start(self) -> None:
        self.server.router.message_stages.append(self.stage)

    async def stop(self) -> None:
        self.server.router.message_stages.remove(self.stage)
