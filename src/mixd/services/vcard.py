"""XEP-0054 vcard-temp 1.3.0: each account's vCard, kept by the server.

The owner sets it (no `to`, or its own bare JID) and anyone reads it at the
account's bare JID; the server answers on the account's behalf. Without a
stored vCard the answer is an empty `<vCard/>` (section 3.1), for another
user's account too, and whether the account exists or not, so the answer
tells nothing about which accounts exist. A vCard is at most MAX_VCARD_BYTES
serialized (`not-acceptable`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mixd import ns as NS
from mixd.codec.base import Payload
from mixd.codec.xep0054_vcard import VCard
from mixd.core.module import IqRequest, IqRoute, Module, Scope, Xep
from mixd.errors import ErrorType, StanzaError, StanzaErrorCondition
from mixd.storage.contracts.pep import PepStore
from mixd.storage.errors import AccountNotFound, StorageUnavailable
from mixd.xml.fragment import parse_element
from mixd.xml.serializer import serialize

if TYPE_CHECKING:
    from mixd.core.server import Server

MAX_VCARD_BYTES = 64 * 1024


class VCardModule(Module):
    name = "vcard"
    xeps = (Xep(54, "1.3.0", "an empty vCard when none is stored"),)
    account_features = (NS.VCARD,)

    def __init__(self, server: Server) -> None:
        super().__init__(server)
        self.store: PepStore = server.stores.pep

    def routes(self) -> Sequence[IqRoute]:
        return (IqRoute(Scope.ACCOUNT, VCard, get=self.get, set=self.set),)

    async def get(self, iq: IqRequest[VCard]) -> Payload | None:
        account = iq.to.bare if iq.to is not None else iq.sender.bare
        assert account.local is not None
        try:
            stored = await self.store.vcard(account.domain, account.local)
        except StorageUnavailable:
            raise _unavailable() from None
        return VCard() if stored is None else VCard(parse_element(stored))

    async def set(self, iq: IqRequest[VCard]) -> Payload | None:
        owner = iq.sender.bare
        if iq.to is not None and iq.to.bare != owner:
            raise StanzaError(StanzaErrorCondition.FORBIDDEN, "not your vCard")
        assert owner.local is not None
        text = serialize(iq.payload.element)
        if len(text.encode()) > MAX_VCARD_BYTES:
            raise StanzaError(
                StanzaErrorCondition.NOT_ACCEPTABLE, f"a vCard is at most {MAX_VCARD_BYTES} bytes"
            )
        try:
            await self.store.set_vcard(owner.domain, owner.local, text)
        except StorageUnavailable:
            raise _unavailable() from None
        except AccountNotFound:
            raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "no such account") from None
        return None


def _unavailable() -> StanzaError:
    return StanzaError(
        StanzaErrorCondition.INTERNAL_SERVER_ERROR, "storage unavailable", ErrorType.WAIT
    )
