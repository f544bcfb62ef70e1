"""Stream errors (RFC 6120 section 4.9) and stanza errors (section 8.3).

Handlers raise these; the stream layer and the dispatcher turn them into wire
errors, so no handler builds error XML itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class StreamErrorCondition(StrEnum):
    """RFC 6120 section 4.9.3 defined conditions."""

    BAD_FORMAT = "bad-format"
    BAD_NAMESPACE_PREFIX = "bad-namespace-prefix"
    CONFLICT = "conflict"
    CONNECTION_TIMEOUT = "connection-timeout"
    HOST_GONE = "host-gone"
    HOST_UNKNOWN = "host-unknown"
    IMPROPER_ADDRESSING = "improper-addressing"
    INTERNAL_SERVER_ERROR = "internal-server-error"
    INVALID_FROM = "invalid-from"
    INVALID_NAMESPACE = "invalid-namespace"
    INVALID_XML = "invalid-xml"
    NOT_AUTHORIZED = "not-authorized"
    NOT_WELL_FORMED = "not-well-formed"
    POLICY_VIOLATION = "policy-violation"
    REMOTE_CONNECTION_FAILED = "remote-connection-failed"
    RESET = "reset"
    RESOURCE_CONSTRAINT = "resource-constraint"
    RESTRICTED_XML = "restricted-xml"
    SEE_OTHER_HOST = "see-other-host"
    SYSTEM_SHUTDOWN = "system-shutdown"
    UNDEFINED_CONDITION = "undefined-condition"
    UNSUPPORTED_ENCODING = "unsupported-encoding"
    UNSUPPORTED_FEATURE = "unsupported-feature"
    UNSUPPORTED_STANZA_TYPE = "unsupported-stanza-type"
    UNSUPPORTED_VERSION = "unsupported-version"


class StanzaErrorCondition(StrEnum):
    """RFC 6120 section 8.3.3 defined conditions."""

    BAD_REQUEST = "bad-request"
    CONFLICT = "conflict"
    FEATURE_NOT_IMPLEMENTED = "feature-not-implemented"
    FORBIDDEN = "forbidden"
    GONE = "gone"
    INTERNAL_SERVER_ERROR = "internal-server-error"
    ITEM_NOT_FOUND = "item-not-found"
    JID_MALFORMED = "jid-malformed"
    NOT_ACCEPTABLE = "not-acceptable"
    NOT_ALLOWED = "not-allowed"
    NOT_AUTHORIZED = "not-authorized"
    POLICY_VIOLATION = "policy-violation"
    RECIPIENT_UNAVAILABLE = "recipient-unavailable"
    REDIRECT = "redirect"
    REGISTRATION_REQUIRED = "registration-required"
    REMOTE_SERVER_NOT_FOUND = "remote-server-not-found"
    REMOTE_SERVER_TIMEOUT = "remote-server-timeout"
    RESOURCE_CONSTRAINT = "resource-constraint"
    SERVICE_UNAVAILABLE = "service-unavailable"
    SUBSCRIPTION_REQUIRED = "subscription-required"
    UNDEFINED_CONDITION = "undefined-condition"
    UNEXPECTED_REQUEST = "unexpected-request"


class ErrorType(StrEnum):
    AUTH = "auth"
    CANCEL = "cancel"
    CONTINUE = "continue"
    MODIFY = "modify"
    WAIT = "wait"


# RFC 6120 section 8.3.3 gives each condition a usual error type.
DEFAULT_TYPE: dict[StanzaErrorCondition, ErrorType] = {
    StanzaErrorCondition.BAD_REQUEST: ErrorType.MODIFY,
    StanzaErrorCondition.CONFLICT: ErrorType.CANCEL,
    StanzaErrorCondition.FEATURE_NOT_IMPLEMENTED: ErrorType.CANCEL,
    StanzaErrorCondition.FORBIDDEN: ErrorType.AUTH,
    StanzaErrorCondition.GONE: ErrorType.CANCEL,
    StanzaErrorCondition.INTERNAL_SERVER_ERROR: ErrorType.WAIT,
    StanzaErrorCondition.ITEM_NOT_FOUND: ErrorType.CANCEL,
    StanzaErrorCondition.JID_MALFORMED: ErrorType.MODIFY,
    StanzaErrorCondition.NOT_ACCEPTABLE: ErrorType.MODIFY,
    StanzaErrorCondition.NOT_ALLOWED: ErrorType.CANCEL,
    StanzaErrorCondition.NOT_AUTHORIZED: ErrorType.AUTH,
    StanzaErrorCondition.POLICY_VIOLATION: ErrorType.MODIFY,
    StanzaErrorCondition.RECIPIENT_UNAVAILABLE: ErrorType.WAIT,
    StanzaErrorCondition.REDIRECT: ErrorType.MODIFY,
    StanzaErrorCondition.REGISTRATION_REQUIRED: ErrorType.AUTH,
    StanzaErrorCondition.REMOTE_SERVER_NOT_FOUND: ErrorType.CANCEL,
    StanzaErrorCondition.REMOTE_SERVER_TIMEOUT: ErrorType.WAIT,
    StanzaErrorCondition.RESOURCE_CONSTRAINT: ErrorType.WAIT,
    StanzaErrorCondition.SERVICE_UNAVAILABLE: ErrorType.CANCEL,
    StanzaErrorCondition.SUBSCRIPTION_REQUIRED: ErrorType.AUTH,
    StanzaErrorCondition.UNDEFINED_CONDITION: ErrorType.CANCEL,
    StanzaErrorCondition.UNEXPECTED_REQUEST: ErrorType.WAIT,
}


class StreamError(Exception):
    """Ends the stream: the driver sends <stream:error/> and closes."""

    def __init__(
        self, condition: StreamErrorCondition, text: str | None = None, extra: str | None = None
    ) -> None:
        super().__init__(f"{condition}: {text}" if text else str(condition))
        self.condition = condition
        self.text = text
        self.extra = extra  # an application-specific condition, already serialized


@dataclass(frozen=True, slots=True)
class AppCondition:
    """An application-specific error condition (RFC 6120 8.3.4): an empty
    element, e.g. XEP-0060's <precondition-not-met/>, with optional attributes."""

    ns: str
    name: str
    attrs: tuple[tuple[str, str], ...] = ()


class StanzaError(Exception):
    """Answers one stanza with an error; the stream stays up."""

    def __init__(
        self,
        condition: StanzaErrorCondition,
        text: str | None = None,
        error_type: ErrorType | None = None,
        app: AppCondition | None = None,
    ) -> None:
        super().__init__(f"{condition}: {text}" if text else str(condition))
        self.condition = condition
        self.text = text
        self.error_type = error_type or DEFAULT_TYPE[condition]
        self.app = app
