"""XEP-0163 Personal Eventing Protocol 1.2.2: a XEP-0060 service on each
account's bare JID.

The owner publishes (auto-creating the node, publish-options checked as
preconditions), retracts, creates, configures and deletes nodes; anyone
may retrieve items as far as the node's access model allows. Notifications
are built in `notify`; access and configuration rules are in `rules`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mixd import ns as NS
from mixd.codec.base import Payload
from mixd.codec.xep0030_disco import Identity
from mixd.codec.xep0030_disco import Item as DiscoItem
from mixd.codec.xep0060_pubsub import (
    Configure,
    Create,
    Default,
    Delete,
    Item,
    Items,
    Publish,
    PubSub,
    PubSubOwner,
    Retract,
    Unsupported,
    delete_event,
    items_event,
    retract_event,
)
from mixd.core.events import PresenceBroadcast
from mixd.core.module import IqRequest, IqRoute, Listener, Module, Scope, Xep
from mixd.errors import ErrorType, StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.services.pep import rules
from mixd.services.pep.notify import Notifier, owner_key
from mixd.services.roster.common import RosterChanged
from mixd.storage.contracts.pep import NodeExists, NodeLimitReached, PepItem, PepStore
from mixd.storage.errors import AccountNotFound, StorageUnavailable
from mixd.xml.fragment import parse_element
from mixd.xml.serializer import serialize

if TYPE_CHECKING:
    from mixd.core.server import Server

PEP_IDENTITY = Identity("pubsub", "pep")
_FEATURES = (
    "access-open",
    "access-presence",
    "access-roster",
    "access-whitelist",
    "auto-create",
    "auto-subscribe",
    "config-node",
    "create-and-configure",
    "create-nodes",
    "delete-items",
    "delete-nodes",
    "filtered-notifications",
    "last-published",
    "multi-items",
    "persistent-items",
    "presence-notifications",
    "publish",
    "publish-options",
    "retract-items",
    "retrieve-default",
    "retrieve-items",
)
_BAD = StanzaErrorCondition.BAD_REQUEST


@asynccontextmanager
async def guarded() -> AsyncIterator[None]:
    """Storage errors as the client should see them."""
    try:
        yield
    except StorageUnavailable:
        raise StanzaError(
            StanzaErrorCondition.INTERNAL_SERVER_ERROR, "storage unavailable", ErrorType.WAIT
        ) from None
    except AccountNotFound:
        raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "no such account") from None
    except NodeExists:
        raise StanzaError(StanzaErrorCondition.CONFLICT, "the node exists") from None
    except NodeLimitReached:
        raise rules.pubsub_error(
            StanzaErrorCondition.NOT_ALLOWED, "max-nodes-exceeded", "too many nodes"
        ) from None


def _not_found(text: str = "no such node") -> StanzaError:
    return StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, text)


class PepModule(Module):
    name = "pep"
    xeps = (
        Xep(163, "1.2.2", "local contacts only; no explicit subscriptions"),
        Xep(60, "1.30.0", "as PEP needs: publish, retract, items, create, configure, delete"),
    )
    account_features = tuple(f"{NS.PUBSUB}#{feature}" for feature in _FEATURES)
    account_identities = (PEP_IDENTITY,)

    def __init__(self, server: Server) -> None:
        super().__init__(server)
        self.store: PepStore = server.stores.pep
        self.notifier = Notifier(server)

    def routes(self) -> Sequence[IqRoute]:
        return (
            IqRoute(Scope.ACCOUNT, PubSub, get=self.pubsub_get, set=self.pubsub_set),
            IqRoute(Scope.ACCOUNT, PubSubOwner, get=self.owner_get, set=self.owner_set),
        )

    def listeners(self) -> Sequence[Listener]:
        return (
            Listener(PresenceBroadcast, self.notifier.on_presence),
            Listener(RosterChanged, self.notifier.on_roster_changed),
        )

    async def account_disco_items(self, owner: JID, requester: JID) -> Sequence[DiscoItem]:
        """XEP-0163 section 8.2: only nodes the requester may retrieve."""
        async with guarded():
            nodes = await self.store.nodes(*owner_key(owner))
            rel = await self._relation(owner, requester) if nodes else rules.OWNER
        visible = (n for n in nodes if rules.may_retrieve(n.config, rel))
        return [DiscoItem(str(owner), node.name) for node in visible]

    # -- pubsub ----------------------------------------------------------------

    async def pubsub_get(self, iq: IqRequest[PubSub]) -> Payload | None:
        op = iq.payload.op
        if isinstance(op, Unsupported):
            raise rules.unsupported(op.feature)
        if not isinstance(op, Items):
            raise StanzaError(_BAD, "not a pubsub get request")
        return await self._items(iq, op)

    async def pubsub_set(self, iq: IqRequest[PubSub]) -> Payload | None:
        op = iq.payload.op
        if isinstance(op, Publish):
            return await self._publish(iq, op)
        if isinstance(op, Retract):
            await self._retract(iq, op)
        elif isinstance(op, Create):
            await self._create(iq, op)
        elif isinstance(op, Unsupported):
            raise rules.unsupported(op.feature)
        else:
            raise StanzaError(_BAD, "not a pubsub set request")
        return None

    async def _publish(self, iq: IqRequest[PubSub], op: Publish) -> Payload:
        owner = _own_account(iq)
        rules.check_node(op.node)
        if op.item is None:
            raise rules.pubsub_error(_BAD, "item-required")
        if op.item.payload is None:
            raise rules.pubsub_error(_BAD, "payload-required")
        item = Item(rules.item_id(op.item.id), op.item.payload)
        record = PepItem(
            item.id or "", serialize(op.item.payload), datetime.now(UTC), str(iq.sender)
        )
        check = rules.publish_check(op.options)
        async with guarded():
            published = await self.store.publish(*owner_key(owner), op.node, record, check)
        self.notifier.broadcast(owner, op.node, published.config, items_event(op.node, [item]))
        return PubSub(Publish(op.node, Item(item.id)))

    async def _retract(self, iq: IqRequest[PubSub], op: Retract) -> None:
        owner = _own_account(iq)
        rules.check_node(op.node)
        async with guarded():
            node = await self.store.node(*owner_key(owner), op.node)
            if node is None:
                raise _not_found()
            removed = await self.store.retract(*owner_key(owner), op.node, op.ids)
        if not removed:
            raise _not_found("no such item")
        if op.notify:
            self.notifier.broadcast(owner, op.node, node.config, retract_event(op.node, removed))

    async def _items(self, iq: IqRequest[PubSub], op: Items) -> Payload:
        owner = iq.to.bare if iq.to is not None else iq.sender.bare
        rules.check_node(op.node)
        async with guarded():
            found = await self.store.items(*owner_key(owner), op.node, op.ids, op.max_items)
            if found is None:
                raise _not_found()
            error = rules.access_error(found.node.config, await self._relation(owner, iq.sender))
        if error is not None:
            raise error
        if op.ids and not found.items:
            raise _not_found("no such item")
        items = tuple(
            Item(i.id, parse_element(i.payload) if i.payload else None) for i in found.items
        )
        return PubSub(Items(op.node, items=items))

    async def _create(self, iq: IqRequest[PubSub], op: Create) -> None:
        owner = _own_account(iq)
        rules.check_node(op.node)
        config = rules.DEFAULT_CONFIG
        if op.config is not None:
            config = rules.config_change(op.config)(config)
        async with guarded():
            await self.store.create(*owner_key(owner), op.node, config)

    # -- pubsub#owner ----------------------------------------------------------

    async def owner_get(self, iq: IqRequest[PubSubOwner]) -> Payload | None:
        op = iq.payload.op
        owner = _own_account(iq)
        if isinstance(op, Default):
            return PubSubOwner(Default(rules.config_form(rules.DEFAULT_CONFIG)))
        if isinstance(op, Configure) and op.form is None:
            async with guarded():
                node = await self.store.node(*owner_key(owner), op.node)
            if node is None:
                raise _not_found()
            return PubSubOwner(Configure(op.node, rules.config_form(node.config)))
        if isinstance(op, Unsupported):
            raise rules.unsupported(op.feature)
        raise StanzaError(_BAD, "not a pubsub#owner get request")

    async def owner_set(self, iq: IqRequest[PubSubOwner]) -> Payload | None:
        op = iq.payload.op
        owner = _own_account(iq)
        if isinstance(op, Configure) and op.form is not None:
            if op.form.type == "cancel":
                return None
            change = rules.config_change(op.form)
            async with guarded():
                if await self.store.configure(*owner_key(owner), op.node, change) is None:
                    raise _not_found()
            return None
        if isinstance(op, Delete):
            async with guarded():
                node = await self.store.node(*owner_key(owner), op.node)
                if node is None or not await self.store.delete(*owner_key(owner), op.node):
                    raise _not_found()
            self.notifier.broadcast(owner, op.node, node.config, delete_event(op.node))
            return None
        if isinstance(op, Unsupported):
            raise rules.unsupported(op.feature)
        raise StanzaError(_BAD, "not a pubsub#owner set request")

    async def _relation(self, owner: JID, requester: JID) -> rules.Relation:
        if requester.bare == owner:
            return rules.OWNER
        entry = await self.server.stores.roster.get(*owner_key(owner), str(requester.bare))
        return rules.relation(owner, requester, entry)


def _own_account(iq: IqRequest[PubSub] | IqRequest[PubSubOwner]) -> JID:
    """Only the owner publishes and manages nodes (XEP-0060 7.1.3.1)."""
    owner = iq.sender.bare
    if iq.to is not None and iq.to.bare != owner:
        raise StanzaError(StanzaErrorCondition.FORBIDDEN, "only the owner may do this")
    return owner
