"""XEP-0199 XMPP Ping 2.0.1: the <ping/> payload."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from mixd import ns as NS
from mixd.codec.base import EmptyPayload


@dataclass(frozen=True, slots=True)
class Ping(EmptyPayload):
    XMLNS: ClassVar[str] = NS.PING
    NAME: ClassVar[str] = "ping"
