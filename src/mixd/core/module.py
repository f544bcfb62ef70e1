"""The module contract: what a feature module declares and registers.

A module's `routes()` and `listeners()` are data; the core registers them when
the module loads and removes them when it unloads. `xeps` and the feature
lists feed service discovery, so what we advertise is what is registered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from mixd.codec.base import Payload
from mixd.codec.stanza import Stanza
from mixd.codec.xep0030_disco import Identity, Item
from mixd.jid import JID

if TYPE_CHECKING:
    from mixd.core.server import Server

P = TypeVar("P", bound=Payload)


class Scope(Enum):
    """Where an IQ is addressed (Prosody's iq/host and iq/bare)."""

    HOST = "host"  # the server domain itself
    ACCOUNT = "account"  # a local account's bare JID (or no 'to' at all)


@dataclass(frozen=True, slots=True)
class Xep:
    number: int
    version: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class IqRequest(Generic[P]):
    stanza: Stanza
    payload: P

    @property
    def sender(self) -> JID:
        return self.stanza.sender

    @property
    def to(self) -> JID | None:
        return self.stanza.to


IqHandler = Callable[[IqRequest[Any]], Awaitable[Payload | None]]


@dataclass(frozen=True, slots=True)
class IqRoute:
    scope: Scope
    payload: type[Payload]
    get: IqHandler | None = None
    set: IqHandler | None = None


@dataclass(frozen=True, slots=True)
class Listener:
    event: type[Any]
    handler: Callable[[Any], Awaitable[None]]


class Module:
    """Base class for feature modules."""

    name: ClassVar[str]
    xeps: ClassVar[tuple[Xep, ...]] = ()
    host_features: ClassVar[tuple[str, ...]] = ()  # disco#info on each server domain
    account_features: ClassVar[tuple[str, ...]] = ()  # disco#info on account bare JIDs
    account_identities: ClassVar[tuple[Identity, ...]] = ()  # likewise (e.g. pubsub/pep)
    # (namespace, name) of empty stream features offered after authentication.
    stream_features: ClassVar[tuple[tuple[str, str], ...]] = ()

    def __init__(self, server: Server) -> None:
        self.server = server

    def routes(self) -> Sequence[IqRoute]:
        return ()

    def listeners(self) -> Sequence[Listener]:
        return ()

    async def account_disco_items(self, owner: JID, requester: JID) -> Sequence[Item]:
        """disco#items entries this module shows on `owner`'s account to
        `requester` (e.g. PEP nodes)."""
        return ()

    async def start(self) -> None:
        """Called after registration, before clients connect."""

    async def stop(self) -> None:
        """Called before unregistration."""
