"""The channel archive in MUC form: history on entering (XEP-0045 7.2.14)
and MAM queries from MUC occupants (XEP-0313 section 6), both with each
message from the sender's occupant JID (`channel/nick`, the nick it was sent
under) and its occupant id."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mixd import ns as NS
from mixd.codec.xep0045_muc import History
from mixd.codec.xep0059_rsm import RsmResult
from mixd.codec.xep0082_datetime import format_datetime, now_micros
from mixd.codec.xep0313_mam import MamFin, MamQuery, result_message
from mixd.codec.xep0359_sid import add_stanza_id
from mixd.jid import JID
from mixd.services.mam import storage as mam_storage
from mixd.services.mam.rules import plan_query
from mixd.services.mix.muc import rules
from mixd.services.mix.service import MixService, Request, guarded
from mixd.services.mix.state import ChannelState
from mixd.storage.contracts.archive import ArchiveItem, ArchiveQuery
from mixd.xml.element import Element
from mixd.xml.fragment import parse_element
from mixd.xml.serializer import serialize

if TYPE_CHECKING:
    from mixd.services.mix.muc.face import MucFace


def muc_item(state: ChannelState, item: ArchiveItem) -> Element:
    """An archived channel message (no `to`) as a MUC occupant sees it."""
    stored = parse_element(item.xml)
    pid = item.with_resource or ""
    nick = rules.mix_nick(stored) or pid
    secret = state.channel.secret
    message = rules.muc_message(stored, str(state.jid), nick, rules.occupant_id_of(secret, pid))
    message.remove_all(NS.SID, "stanza-id")
    add_stanza_id(message, item.id, state.jid)
    return message


class MucArchive:
    def __init__(self, service: MixService, face: MucFace) -> None:
        self.service = service
        self.face = face
        # MIX clients keep the MIX form.
        self.mix_query = service.handlers[("channel", NS.MAM, "query", "set")]
        service.on_iq("channel", NS.MAM, "query", "set", self.query)

    async def _muc_item(self, state: ChannelState, item: ArchiveItem) -> Element:
        """`muc_item`, with retractions and tombstones in XEP-0424/0425 form."""
        message = muc_item(state, item)
        retractions = self.face.retractions
        if retractions is None:
            return message
        return await retractions.archived(state, item, message)

    async def send_history(self, state: ChannelState, client: JID, history: History | None) -> None:
        plan = rules.plan_history(history, now_micros())
        if plan.limit == 0:
            return
        query = ArchiveQuery(str(state.jid), plan.limit, start=plan.start, from_end=True)
        page = await guarded(self.service.archive.query(query))
        channel = str(state.jid)
        texts = []
        for item in page.items:
            message = await self._muc_item(state, item)
            message.attrs["id"] = item.id
            message.attrs["to"] = str(client)
            delay = {"from": channel, "stamp": format_datetime(item.timestamp)}
            message.add(NS.DELAY, "delay", delay)
            self.face.reach.out(message)
            texts.append(serialize(message))
        keep = rules.fit_chars([len(text) for text in texts], plan.maxchars)
        session = self.service.server.sessions.get(client)
        if session is None:
            return  # gone meanwhile (history for clients elsewhere needs federation)
        for text in texts[len(texts) - keep :]:
            session.deliver_xml(text)

    async def query(self, request: Request) -> Element | None:
        """A MUC occupant's query gets MUC-form results; anyone else's the
        channel's MIX answer."""
        state = request.state()
        if not self.face.reach.muc_here() or not self.face.is_occupant(state, request.sender):
            return await self.mix_query(request)
        plan = plan_query(state.jid, MamQuery.decode(request.payload))
        page = await mam_storage.guarded(self.service.archive.query(plan.query))
        items = reversed(page.items) if plan.flip_page else iter(page.items)
        for item in items:
            message = await self._muc_item(state, item)
            forwarded = result_message(
                request.sender, state.jid, plan.queryid, item.id, item.timestamp, message
            )
            await self.face.delivery.one(request.sender, forwarded)
        rsm = RsmResult(page.first, page.last, page.first_index, page.count)
        return MamFin(rsm, page.complete).encode()
