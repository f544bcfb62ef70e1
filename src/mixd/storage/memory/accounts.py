"""AccountStore in a dict, for fast service tests; same contract as SQL backends."""

from __future__ import annotations

from mixd.storage.contracts.accounts import Account, ScramCredential, check_credentials
from mixd.storage.errors import AccountExists, AccountNotFound


class MemoryAccountStore:
    """Accounts keyed by (host, username); nothing survives the process."""

    def __init__(self) -> None:
        self._accounts: dict[tuple[str, str], Account] = {}

    async def create(
        self, host: str, username: str, credentials: tuple[ScramCredential, ...]
    ) -> None:
        account = Account(host, username, check_credentials(credentials))
        if (host, username) in self._accounts:
            raise AccountExists(f"account {username}@{host} already exists")
        self._accounts[host, username] = account

    async def get(self, host: str, username: str) -> Account | None:
        return self._accounts.get((host, username))

    async def set_credentials(
        self, host: str, username: str, credentials: tuple[ScramCredential, ...]
    ) -> None:
        account = Account(host, username, check_credentials(credentials))
        if (host, username) not in self._accounts:
            raise AccountNotFound(f"no account {username}@{host}")
        self._accounts[host, username] = account

    async def delete(self, host: str, username: str) -> bool:
        return self._accounts.pop((host, username), None) is not None

    async def list_usernames(self, host: str) -> list[str]:
        return sorted(user for (h, user) in self._accounts if h == host)
