"""Which new connections the server accepts (RELIABILITY F1).

Two counts, both of open connections: per remote address (all connections,
authenticated or not), so a flood from one address cannot use up what other
addresses need; and unauthenticated connections overall, so a flood from
many addresses cannot hold unbounded memory before anyone has logged in.
Memory is bounded by the open connections themselves: an address's entry
goes when its last connection closes.
"""

from __future__ import annotations

import enum


class Refusal(enum.Enum):
    TOO_MANY_FROM_ADDRESS = "too many connections from your address"
    TOO_MANY_UNAUTHENTICATED = "too many connections waiting to authenticate"


class Admission:
    def __init__(self, max_per_address: int, max_unauthenticated: int) -> None:
        # 0 means no limit (e.g. behind a proxy that hides client addresses).
        self.max_per_address = max_per_address
        self.max_unauthenticated = max_unauthenticated
        self._per_address: dict[str, int] = {}
        self.unauthenticated = 0

    def admit(self, address: str) -> Refusal | None:
        """Count a new connection from `address`, or say why it is refused
        (a refused connection is not counted)."""
        count = self._per_address.get(address, 0)
        if self.max_per_address and count >= self.max_per_address:
            return Refusal.TOO_MANY_FROM_ADDRESS
        if self.max_unauthenticated and self.unauthenticated >= self.max_unauthenticated:
            return Refusal.TOO_MANY_UNAUTHENTICATED
        self._per_address[address] = count + 1
        self.unauthenticated += 1
        return None

    def authenticated(self) -> None:
        """An admitted connection has authenticated."""
        self.unauthenticated -= 1

    def closed(self, address: str, *, authenticated: bool) -> None:
        """An admitted connection has closed."""
        if not authenticated:
            self.unauthenticated -= 1
        count = self._per_address.get(address, 0) - 1
        if count > 0:
            self._per_address[address] = count
        else:
            self._per_address.pop(address, None)

    def connections_from(self, address: str) -> int:
        return self._per_address.get(address, 0)
