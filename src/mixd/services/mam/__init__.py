"""Message Archive Management (XEP-0313): rules, the archiving stage, the query handlers."""

from mixd.services.mam.limits import MamLimits
from mixd.services.mam.module import MamModule

__all__ = ["MamLimits", "MamModule"]
