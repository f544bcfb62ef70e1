"""PubSub event notifications from a channel's nodes (XEP-0060 section 7.1.2,
as XEP-0369 uses them): built once per change, addressed to each subscriber's
bare JID."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING

from mixd import ns as NS
from mixd.codec.xep0369_mix import participant_element
from mixd.services.mix import anon
from mixd.storage.contracts.mix import Participant
from mixd.xml.element import Element

if TYPE_CHECKING:
    from mixd.services.mix.service import MixService
    from mixd.services.mix.state import ChannelState


def event_message(channel: str, to: str, items: Element) -> Element:
    message = Element(NS.CLIENT, "message", {"from": channel, "to": to, "id": secrets.token_hex(8)})
    message.add(NS.PUBSUB_EVENT, "event").append(items)
    return message


async def send_event(
    service: MixService, state: ChannelState, node: str, items: Element, to: Iterable[str]
) -> None:
    channel = str(state.jid)
    for user in to:
        await service.send(event_message(channel, user, items.copy()))


def participant_item(participant: Participant, show_jid: bool) -> Element:
    item = Element(NS.PUBSUB_EVENT, "item", {"id": participant.id})
    item.append(participant_element(participant.nick, participant.jid if show_jid else None))
    return item


async def notify_participant(service: MixService, state: ChannelState, who: Participant) -> None:
    """The participant's item to the node's subscribers, its real JID only
    to those who may see it (MIX-ANON)."""
    subscribers = [p.jid for p in state.subscribers(NS.MIX_NODE_PARTICIPANTS)]
    seeing, blind = anon.split(service, state, subscribers, who.jid)
    for to, show_jid in ((seeing, True), (blind, False)):
        if to:
            items = Element(NS.PUBSUB_EVENT, "items", {"node": NS.MIX_NODE_PARTICIPANTS})
            items.append(participant_item(who, show_jid))
            await send_event(service, state, NS.MIX_NODE_PARTICIPANTS, items, to)


async def notify_retract(
    service: MixService, state: ChannelState, node: str, item_id: str, to: Iterable[str]
) -> None:
    items = Element(NS.PUBSUB_EVENT, "items", {"node": node})
    items.add(NS.PUBSUB_EVENT, "retract", {"id": item_id})
    await send_event(service, state, node, items, to)


async def notify_retract_all(service: MixService, state: ChannelState) -> None:
    """The channel is gone: each participant sees its own item retracted."""
    for participant in list(state.participants.values()):
        await notify_retract(
            service, state, NS.MIX_NODE_PARTICIPANTS, participant.id, [participant.jid]
        )
