"""Account administration: the rules shared by the CLI and, later, in-band
registration and admin commands. Passwords become SCRAM verifiers here and go
no further."""

from __future__ import annotations

import asyncio

from mixd.credentials import make_credentials, prepare_password
from mixd.jid import JID, JIDError
from mixd.storage.contracts.accounts import AccountStore
from mixd.storage.contracts.archive import ArchiveStore
from mixd.storage.contracts.offline import OfflineStore
from mixd.storage.errors import AccountNotFound

OFFLINE_BATCH = 500


class AccountError(ValueError):
    pass


class AccountService:
    def __init__(self, store: AccountStore, hosts: frozenset[str], iterations: int) -> None:
        self.store = store
        self.hosts = hosts
        self.iterations = iterations

    def parse_account(self, jid_text: str) -> JID:
        """`user@host` -> normalised bare JID of a hosted domain."""
        try:
            jid = JID.parse(jid_text)
        except JIDError as exc:
            raise AccountError(f"invalid JID {jid_text!r}: {exc}") from None
        if jid.local is None or jid.resource is not None:
            raise AccountError(f"{jid_text!r} is not a bare JID of the form user@host")
        if jid.domain not in self.hosts:
            raise AccountError(f"{jid.domain} is not a host of this server")
        return jid

    async def _credentials(self, password: str) -> tuple:  # type: ignore[type-arg]
        try:
            prepare_password(password)
        except ValueError as exc:
            raise AccountError(f"unusable password: {exc}") from None
        # PBKDF2 is deliberately slow: keep it off the event loop.
        return await asyncio.to_thread(make_credentials, password, self.iterations)

    async def add(self, jid: JID, password: str) -> None:
        assert jid.local is not None
        await self.store.create(jid.domain, jid.local, await self._credentials(password))

    async def set_password(self, jid: JID, password: str) -> None:
        assert jid.local is not None
        await self.store.set_credentials(jid.domain, jid.local, await self._credentials(password))

    async def delete(self, jid: JID) -> None:
        assert jid.local is not None
        if not await self.store.delete(jid.domain, jid.local):
            raise AccountNotFound(str(jid))

    async def list(self, host: str) -> list[str]:
        return await self.store.list_usernames(host)


async def erase_messages(archive: ArchiveStore, offline: OfflineStore, account: JID) -> None:
    """Remove an account's archive and offline queue, for a removal made
    without a running server (`mixd user delete`); in-band, the MAM and
    offline modules do this on `AccountRemoving`. Roster, PEP, vCard and blocklist rows
    go with the account row itself."""
    owner = str(account)
    await archive.delete_owner(owner)
    while batch := await offline.fetch(owner, OFFLINE_BATCH):
        await offline.delete(owner, [m.id for m in batch])
