"""Account storage contract: records and the `AccountStore` protocol.

Hosts and usernames arrive already normalised (callers apply the JID rules);
stores compare them byte for byte. Plaintext passwords never reach storage,
only SCRAM credentials derived from them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ScramCredential:
    """Salted SCRAM keys for one mechanism (RFC 5802 section 3)."""

    mechanism: str
    salt: bytes
    stored_key: bytes
    server_key: bytes
    iterations: int


def check_credentials(credentials: Iterable[ScramCredential]) -> tuple[ScramCredential, ...]:
    """Return `credentials` as a tuple; ValueError if a mechanism appears twice."""
    result = tuple(credentials)
    mechanisms = [c.mechanism for c in result]
    if len(set(mechanisms)) != len(mechanisms):
        raise ValueError(f"duplicate SCRAM mechanism in credentials: {sorted(mechanisms)}")
    return result


@dataclass(frozen=True, slots=True)
class Account:
    """A local account; `credentials` keep the order they were stored in."""

    host: str
    username: str
    credentials: tuple[ScramCredential, ...]

    def __post_init__(self) -> None:
        check_credentials(self.credentials)

    def credential(self, mechanism: str) -> ScramCredential | None:
        """The credential for `mechanism`, or None if the account has none for it."""
        for credential in self.credentials:
            if credential.mechanism == mechanism:
                return credential
        return None


class AccountStore(Protocol):
    """Persistent accounts of the local hosts.

    Every method may raise `StorageUnavailable`. Credentials must hold at most
    one entry per mechanism (ValueError otherwise) and come back in the order
    given.
    """

    async def create(
        self, host: str, username: str, credentials: tuple[ScramCredential, ...]
    ) -> None:
        """Create an account; raises `AccountExists` if it is already there."""
        ...

    async def get(self, host: str, username: str) -> Account | None:
        """The account, or None if it does not exist."""
        ...

    async def set_credentials(
        self, host: str, username: str, credentials: tuple[ScramCredential, ...]
    ) -> None:
        """Replace all credentials (password change); raises `AccountNotFound`."""
        ...

    async def delete(self, host: str, username: str) -> bool:
        """Delete the account and its credentials; False if there was none."""
        ...

    async def list_usernames(self, host: str) -> list[str]:
        """Usernames of `host`, sorted by code point."""
        ...
