"""What the sans-I/O client stream machine reports to its driver, and the
settings it runs with. Split from c2s.py so the machine stays readable."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto

from mixd.codec.stanza import Stanza
from mixd.jid import JID
from mixd.storage.contracts.accounts import ScramCredential
from mixd.stream import sasl
from mixd.xml.element import Element
from mixd.xml.parser import Limits


@dataclass(frozen=True, slots=True)
class C2SSettings:
    hosts: frozenset[str]
    mechanisms: tuple[str, ...]
    tls_available: bool
    starttls_required: bool
    preauth_limits: Limits
    limits: Limits
    idle_seconds: int
    decoy_secret: bytes
    # Decoy exchanges for unknown users announce the same count as real ones.
    scram_iterations: int = 4096
    registration: bool = False  # XEP-0077 in-band registration, only over TLS
    # (namespace, name) of the empty features loaded modules offer once
    # authenticated, e.g. roster versioning (Module.stream_features).
    module_features: tuple[tuple[str, str], ...] = ()


# -- events for the driver ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartTLS:
    """`<proceed/>` is queued: flush it, upgrade, then call tls_established()."""


@dataclass(frozen=True, slots=True)
class AccountLookup:
    """Fetch the account, then call account_found() (or refuse_auth())."""

    host: str
    username: str
    mechanism: str


@dataclass(frozen=True, slots=True)
class PasswordCheck:
    """Run credentials.verify_password off the loop, then password_checked()."""

    credential: ScramCredential
    password: str


@dataclass(frozen=True, slots=True)
class AuthFailed:
    host: str
    username: str | None
    mechanism: str | None
    condition: sasl.SaslCondition


@dataclass(frozen=True, slots=True)
class Authenticated:
    jid: JID
    mechanism: str


@dataclass(frozen=True, slots=True)
class BindRequested:
    """Pick a resource (None: client asked the server to), then bound()."""

    iq_id: str
    jid: JID
    resource: str | None


@dataclass(frozen=True, slots=True)
class Bound:
    jid: JID


@dataclass(frozen=True, slots=True)
class StanzaReceived:
    stanza: Stanza


@dataclass(frozen=True, slots=True)
class StanzaRejected:
    """A stanza failed validation; `reply` is its error answer (None for a
    stanza of type error). It still counts as handled for XEP-0198."""

    reply: Element | None


@dataclass(frozen=True, slots=True)
class RegisterRequested:
    """XEP-0077 before authentication: create the account (never log the
    password), then call registered() or register_failed()."""

    iq_id: str
    host: str
    username: str
    password: str


@dataclass(frozen=True, slots=True)
class SmEnable:
    """XEP-0198 <enable/>: answer with sm.enabled() via send_raw()."""

    resume: bool


@dataclass(frozen=True, slots=True)
class SmAckRequest:
    """<r/>: answer with <a h=.../> once every earlier stanza is handled."""


@dataclass(frozen=True, slots=True)
class SmAck:
    h: int


@dataclass(frozen=True, slots=True)
class SmResume:
    """<resume/> after authentication: call resumed() or resume_failed()."""

    jid: JID
    previd: str
    h: int


@dataclass(frozen=True, slots=True)
class Closed:
    """The stream is over: flush what is queued, then close the transport."""

    reason: str


C2SEvent = (
    StartTLS
    | AccountLookup
    | PasswordCheck
    | AuthFailed
    | Authenticated
    | BindRequested
    | Bound
    | StanzaReceived
    | StanzaRejected
    | SmEnable
    | SmAckRequest
    | SmAck
    | SmResume
    | RegisterRequested
    | Closed
)


class StreamState(Enum):
    HEADER = auto()  # waiting for the client's stream header
    NEGOTIATING = auto()  # features sent; TLS / SASL / bind elements expected
    WAIT = auto()  # a decision is pending with the driver
    BOUND = auto()  # stanzas flow
    CLOSED = auto()
