"""The modules a server loads, in load order (message stages run in this order)."""

from __future__ import annotations

from mixd.core.module import Module
from mixd.services.blocking import BlockingModule
from mixd.services.caps import CapsModule
from mixd.services.carbons import CarbonsModule
from mixd.services.disco import DiscoModule
from mixd.services.mam import MamModule
from mixd.services.mix_pam.module import MixPamModule
from mixd.services.offline import OfflineModule
from mixd.services.pep import PepModule
from mixd.services.ping import PingModule
from mixd.services.register import RegisterModule
from mixd.services.roster import PresenceModule, RosterModule
from mixd.services.vcard import VCardModule

DEFAULT_MODULES: tuple[type[Module], ...] = (
    DiscoModule,
    PingModule,
    RegisterModule,
    CapsModule,
    RosterModule,
    PresenceModule,
    # Its router filter runs before every message stage (nothing blocked is archived).
    BlockingModule,
    # After caps and presence: PEP asks caps for +notify features when
    # presence is broadcast, and reads rosters for access.
    PepModule,
    VCardModule,
    # Archiving stages must come before OfflineModule: offline storage ends
    # the pipeline for an undeliverable message.
    MamModule,
    OfflineModule,
    # Carbon copies carry what archiving added (stanza ids).
    CarbonsModule,
    # Delivers what local channels send (the channel service itself is
    # configured, so App loads it).
    MixPamModule,
)
