"""RFC 6121 rosters (section 2) and presence (sections 3-4).

`RosterModule` answers roster get/set and pushes changes to interested
resources; `PresenceModule` is the router's presence handler: subscriptions,
broadcast, probes and directed presence. `rules` is the pure subscription
state machine both rely on.
"""

from mixd.services.roster.presence import PresenceModule, parse_priority
from mixd.services.roster.roster import RosterModule

__all__ = ["PresenceModule", "RosterModule", "parse_priority"]
