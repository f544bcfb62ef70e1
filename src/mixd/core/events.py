"""Events the core emits through Hooks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mixd.jid import JID

if TYPE_CHECKING:
    from mixd.codec.stanza import Stanza
    from mixd.core.sessions import Session


@dataclass(frozen=True, slots=True)
class SessionBound:
    session: Session


@dataclass(frozen=True, slots=True)
class SessionClosed:
    session: Session


@dataclass(frozen=True, slots=True)
class PresenceBroadcast:
    """A client sent presence with no 'to' (RFC 6121 section 4.2 / 4.5)."""

    session: Session
    stanza: Stanza


@dataclass(frozen=True, slots=True)
class SessionAvailable:
    """A session became available (initial presence, priority >= 0 or not):
    the moment to deliver stored offline messages."""

    session: Session


@dataclass(frozen=True, slots=True)
class AccountRemoving:
    """`account` (bare JID) asked to be removed and is deleted once every
    listener returned: the moment to undo what needs its data (MIX-PAM
    leaves the channels in its roster, MAM and offline storage drop the
    account's messages). Account deletion from the command
    line, with the server stopped, emits nothing."""

    account: JID
