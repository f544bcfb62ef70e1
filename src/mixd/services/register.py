"""XEP-0077 In-Band Registration 2.4 for logged-in users: change one's
password, or delete one's account. (Creating accounts happens before
authentication, in the stream layer, when `registration.enabled` is set.)"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from mixd import ns as NS
from mixd.codec.base import Payload
from mixd.codec.xep0077_register import RegisterQuery
from mixd.core.events import AccountRemoving
from mixd.core.module import IqRequest, IqRoute, Module, Scope, Xep
from mixd.errors import ErrorType, StanzaError, StanzaErrorCondition
from mixd.jid import JID, JIDError, normalize_localpart
from mixd.services.accounts import AccountError, AccountService
from mixd.storage.errors import StorageError


class RegisterModule(Module):
    name = "register"
    xeps = (Xep(77, "2.4"),)
    account_features = (NS.REGISTER,)

    def routes(self) -> Sequence[IqRoute]:
        return (IqRoute(Scope.ACCOUNT, RegisterQuery, get=self.get, set=self.set),)

    def _own(self, iq: IqRequest[RegisterQuery]) -> JID:
        account = iq.sender.bare
        if iq.to is not None and iq.to != account:
            raise StanzaError(StanzaErrorCondition.FORBIDDEN)
        return account

    async def get(self, iq: IqRequest[RegisterQuery]) -> Payload | None:
        account = self._own(iq)
        return RegisterQuery(username=account.local, registered=True)

    async def set(self, iq: IqRequest[RegisterQuery]) -> Payload | None:
        account = self._own(iq)
        service = AccountService(
            self.server.stores.accounts, self.server.hosts, self.server.scram_iterations
        )
        try:
            if iq.payload.remove:
                await self.server.hooks.emit(AccountRemoving(account))
                await service.delete(account)
                # The result goes out first; then every session of the deleted
                # account ends (scheduled, so it follows the reply).
                loop = asyncio.get_running_loop()
                for session in self.server.sessions.resources(account):
                    loop.call_soon(session.terminate, "account removed")
                return None
            await self._change_password(service, account, iq.payload)
        except AccountError as exc:
            raise StanzaError(StanzaErrorCondition.NOT_ACCEPTABLE, str(exc)) from None
        except StorageError:
            raise StanzaError(
                StanzaErrorCondition.INTERNAL_SERVER_ERROR, "try again later", ErrorType.WAIT
            ) from None
        return None

    async def _change_password(
        self, service: AccountService, account: JID, query: RegisterQuery
    ) -> None:
        if not query.password or not query.username:
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "username and password needed")
        try:
            same = normalize_localpart(query.username) == account.local
        except JIDError:
            same = False
        if not same:
            raise StanzaError(StanzaErrorCondition.NOT_ALLOWED, "that is not your account")
        await service.set_password(account, query.password)
