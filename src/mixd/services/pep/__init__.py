"""Personal Eventing Protocol (XEP-0163) on each account's bare JID."""

from mixd.services.pep.module import PepModule

__all__ = ["PepModule"]
