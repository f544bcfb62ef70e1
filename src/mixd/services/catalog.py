"""The modules a server loads, in load order (message stages run in this order)."""

from __future__ import annotations

from mixd.core.module import Module
from mixd.services.disco import DiscoModule
from mixd.services.offline import OfflineModule
from mixd.services.ping import PingModule
from mixd.services.presence import PresenceModule

DEFAULT_MODULES: tuple[type[Module], ...] = (
    DiscoModule,
    PingModule,
    PresenceModule,
    # Archiving stages must come before OfflineModule: offline storage ends
    # the pipeline for an undeliverable message.
    OfflineModule,
)
