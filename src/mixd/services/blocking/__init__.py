"""XEP-0191 Blocking Command: `module` (the protocol), `screen` (the router
filter that enforces it), `cache` (lists in memory), `rules` (pure matching,
MIX forms included)."""

from mixd.services.blocking.module import BlockingModule

__all__ = ["BlockingModule"]
