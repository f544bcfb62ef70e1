"""The channel archive (XEP-0369 section 8): MAM queries addressed to the
channel, for whoever may read its messages node (participants by default,
and owners and administrators)."""

from __future__ import annotations

from mixd import ns as NS
from mixd.codec.xep0059_rsm import RsmResult
from mixd.codec.xep0313_mam import MamFin, MamQuery, result_message
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.services.mam.rules import QUERY_FORM, plan_query
from mixd.services.mam.storage import guarded
from mixd.services.mix import anon
from mixd.services.mix.service import MixService, Request
from mixd.xml.element import Element
from mixd.xml.fragment import parse_element


class ChannelArchive:
    def __init__(self, service: MixService) -> None:
        self.service = service
        service.on_iq("channel", NS.MAM, "query", "set", self.query)
        service.on_iq("channel", NS.MAM, "query", "get", self.form)

    def _check(self, request: Request) -> None:
        # Reading the archive is reading the messages node (MIX-ADMIN rights).
        state = request.state()
        if not self.service.may(state, request.sender, NS.MIX_NODE_MESSAGES, "read"):
            raise StanzaError(StanzaErrorCondition.FORBIDDEN, "participants only")

    async def form(self, request: Request) -> Element | None:
        self._check(request)
        return MamQuery(form=QUERY_FORM).encode()

    async def query(self, request: Request) -> Element | None:
        self._check(request)
        state = request.state()
        plan = plan_query(state.jid, MamQuery.decode(request.payload))
        page = await guarded(self.service.archive.query(plan.query))
        items = reversed(page.items) if plan.flip_page else iter(page.items)
        router = self.service.server.router
        viewer = str(request.sender.bare)
        for item in items:
            message = anon.redact_message(self.service, state, viewer, parse_element(item.xml))
            router.deliver(
                request.sender,
                result_message(
                    request.sender, state.jid, plan.queryid, item.id, item.timestamp, message
                ),
            )
        rsm = RsmResult(page.first, page.last, page.first_index, page.count)
        return MamFin(rsm, page.complete).encode()
