"""MAM IQ handlers on the account's bare JID: query (iq set), the query form
(iq get), XEP-0441 preferences and archive metadata. Decode, decide (rules),
call storage, emit."""

from __future__ import annotations

from mixd.codec.base import Payload
from mixd.codec.xep0059_rsm import RsmResult
from mixd.codec.xep0313_mam import (
    Bound,
    MamFin,
    MamMetadata,
    MamPrefs,
    MamQuery,
    result_message,
)
from mixd.core.module import IqRequest
from mixd.core.router import Router
from mixd.services.mam.limits import QueryLimiter
from mixd.services.mam.rules import (
    QUERY_FORM,
    archive_owner,
    plan_query,
    prefs_from_request,
    prefs_payload,
)
from mixd.services.mam.storage import PrefsCache, guarded
from mixd.storage.contracts.archive import ArchiveItem, ArchiveStore
from mixd.xml.fragment import parse_element


class MamQueries:
    def __init__(
        self, router: Router, store: ArchiveStore, prefs: PrefsCache, limiter: QueryLimiter
    ) -> None:
        self.router = router
        self.store = store
        self.prefs = prefs
        self.limiter = limiter

    async def form(self, iq: IqRequest[MamQuery]) -> Payload | None:
        archive_owner(iq.sender, iq.to)
        return MamQuery(form=QUERY_FORM)

    async def query(self, iq: IqRequest[MamQuery]) -> Payload | None:
        owner = archive_owner(iq.sender, iq.to)
        self.limiter.admit(iq.sender)  # after the access check: a refusal costs nothing
        plan = plan_query(owner, iq.payload)
        page = await guarded(self.store.query(plan.query))
        items = reversed(page.items) if plan.flip_page else iter(page.items)
        for item in items:
            message = parse_element(item.xml)
            result = result_message(
                iq.sender, owner, plan.queryid, item.id, item.timestamp, message
            )
            # Queued on the querying session before the iq result the router
            # sends when we return, so the fin arrives last.
            self.router.deliver(iq.sender, result)
        rsm = RsmResult(page.first, page.last, page.first_index, page.count)
        return MamFin(rsm, page.complete)

    async def get_prefs(self, iq: IqRequest[MamPrefs]) -> Payload | None:
        owner = archive_owner(iq.sender, iq.to)
        return prefs_payload(await self.prefs.get(str(owner)))

    async def set_prefs(self, iq: IqRequest[MamPrefs]) -> Payload | None:
        owner = archive_owner(iq.sender, iq.to)
        prefs = prefs_from_request(iq.payload)
        await self.prefs.set(str(owner), prefs)
        return prefs_payload(prefs)

    async def metadata(self, iq: IqRequest[MamMetadata]) -> Payload | None:
        owner = archive_owner(iq.sender, iq.to)
        bounds = await guarded(self.store.bounds(str(owner)))
        return MamMetadata(_bound(bounds.first), _bound(bounds.last))


def _bound(item: ArchiveItem | None) -> Bound | None:
    return None if item is None else Bound(item.id, item.timestamp)
