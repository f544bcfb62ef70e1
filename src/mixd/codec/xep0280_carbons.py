"""XEP-0280 Message Carbons 1.0.1: the enable/disable payloads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from mixd import ns as NS
from mixd.codec.base import EmptyPayload


@dataclass(frozen=True, slots=True)
class CarbonsEnable(EmptyPayload):
    XMLNS: ClassVar[str] = NS.CARBONS
    NAME: ClassVar[str] = "enable"


@dataclass(frozen=True, slots=True)
class CarbonsDisable(EmptyPayload):
    XMLNS: ClassVar[str] = NS.CARBONS
    NAME: ClassVar[str] = "disable"
