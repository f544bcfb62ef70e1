"""Server side of the SASL mechanisms mixd offers (RFC 6120 section 6).

SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802 / RFC 7677) run on the `scramp`
library; PLAIN (RFC 4616) is parsed here and checked against the stored SCRAM
verifier, so no plaintext password is ever stored. Everything is pure: looking
up the account is the caller's job.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum

from scramp import ScramException, ScramMechanism

from mixd.storage.contracts.accounts import ScramCredential

SCRAM = ("SCRAM-SHA-256", "SCRAM-SHA-1")
PLAIN = "PLAIN"


class SaslCondition(StrEnum):
    """RFC 6120 section 6.5 failure conditions."""

    ABORTED = "aborted"
    ACCOUNT_DISABLED = "account-disabled"
    CREDENTIALS_EXPIRED = "credentials-expired"
    ENCRYPTION_REQUIRED = "encryption-required"
    INCORRECT_ENCODING = "incorrect-encoding"
    INVALID_AUTHZID = "invalid-authzid"
    INVALID_MECHANISM = "invalid-mechanism"
    MALFORMED_REQUEST = "malformed-request"
    MECHANISM_TOO_WEAK = "mechanism-too-weak"
    NOT_AUTHORIZED = "not-authorized"
    TEMPORARY_AUTH_FAILURE = "temporary-auth-failure"


class SaslFailure(Exception):
    def __init__(self, condition: SaslCondition, text: str | None = None) -> None:
        super().__init__(f"{condition}: {text}" if text else str(condition))
        self.condition = condition
        self.text = text


@dataclass(frozen=True, slots=True)
class SaslIdentity:
    """Who the client claims to be, before any normalisation."""

    authcid: str
    authzid: str | None


_BAD_ESCAPE = re.compile(r"=(?!2C|3D)")
_ESCAPE = re.compile(r"=(2C|3D)")


def _unescape_scram_name(name: str) -> str:
    # RFC 5802 section 5.1: ',' and '=' are sent as '=2C' and '=3D'; any
    # other '=' is malformed. One left-to-right pass, so '=3D2C' is '=2C'.
    if _BAD_ESCAPE.search(name):
        raise SaslFailure(SaslCondition.MALFORMED_REQUEST, "bad escape in SCRAM username")
    return _ESCAPE.sub(lambda m: "," if m.group(1) == "2C" else "=", name)


def parse_scram_client_first(message: str) -> SaslIdentity:
    """Read the GS2 header and username of a SCRAM client-first message."""
    parts = message.split(",", 3)
    if len(parts) < 4 or (parts[0] not in ("n", "y") and not parts[0].startswith("p=")):
        raise SaslFailure(SaslCondition.MALFORMED_REQUEST, "bad SCRAM client-first message")
    authzid_field, user_field = parts[1], parts[2]
    authzid: str | None = None
    if authzid_field:
        if not authzid_field.startswith("a="):
            raise SaslFailure(SaslCondition.MALFORMED_REQUEST, "bad SCRAM authzid")
        authzid = _unescape_scram_name(authzid_field[2:])
    if not user_field.startswith("n=") or len(user_field) == 2:
        raise SaslFailure(SaslCondition.MALFORMED_REQUEST, "missing SCRAM username")
    return SaslIdentity(_unescape_scram_name(user_field[2:]), authzid)


def parse_plain(message: bytes) -> tuple[SaslIdentity, str]:
    """RFC 4616: authzid NUL authcid NUL passwd."""
    try:
        authzid, authcid, password = message.decode("utf-8").split("\x00")
    except (UnicodeDecodeError, ValueError):
        raise SaslFailure(SaslCondition.MALFORMED_REQUEST, "bad PLAIN message") from None
    if not authcid or not password:
        raise SaslFailure(SaslCondition.MALFORMED_REQUEST, "empty PLAIN username or password")
    return SaslIdentity(authcid, authzid or None), password


def decoy_credential(
    mechanism: str, secret: bytes, username: str, iterations: int = 4096
) -> ScramCredential:
    """A stable fake credential for unknown users, so a SCRAM exchange for a
    missing account looks the same as one with a wrong password (RFC 5802
    section 5.1 advises against revealing which accounts exist)."""
    digest = hashlib.sha256 if mechanism == "SCRAM-SHA-256" else hashlib.sha1
    salt = hmac.new(secret, username.encode(), hashlib.sha256).digest()[:16]
    key = hmac.new(secret, b"decoy" + salt, digest).digest()
    return ScramCredential(mechanism, salt, key, key, iterations)


def downgrade_protection_hash(mechanism: str, advertised: tuple[str, ...]) -> str:
    """XEP-0474 (SSDP): the base64 hash, with the SCRAM mechanism's own hash
    function, of the advertised mechanisms sorted by octet and joined with
    0x1E. mixd advertises no XEP-0440 channel-binding list, so the 0x1F part
    is absent."""
    digest = hashlib.sha256 if mechanism.startswith("SCRAM-SHA-256") else hashlib.sha1
    joined = "\x1e".join(sorted(advertised, key=lambda m: m.encode())).encode()
    return base64.b64encode(digest(joined).digest()).decode()


class ScramExchange:
    """One SCRAM authentication: client-first -> server-first ->
    client-final -> server-final."""

    def __init__(
        self,
        mechanism: str,
        client_first: str,
        credential: ScramCredential,
        advertised: tuple[str, ...],
    ) -> None:
        self._credential = credential
        self._downgrade_hash = downgrade_protection_hash(mechanism, advertised)
        mech = ScramMechanism(mechanism)
        self._server = mech.make_server(self._auth_info)
        try:
            self._server.set_client_first(client_first)
        except ScramException as exc:
            raise SaslFailure(SaslCondition.MALFORMED_REQUEST, str(exc)) from None

    def _auth_info(self, username: str) -> tuple[bytes, bytes, bytes, int]:
        c = self._credential
        return c.salt, c.stored_key, c.server_key, c.iterations

    def server_first(self) -> str:
        # XEP-0474: the optional "h" attribute carries the hash of what was
        # advertised. It must be part of the AuthMessage both sides sign, so
        # scramp's copy of the server-first message is replaced too.
        message = f"{self._server.get_server_first()},h={self._downgrade_hash}"
        self._server.server_first = message
        return message

    def server_final(self, client_final: str) -> str:
        """Check the client's proof; raises SaslFailure(not-authorized)."""
        try:
            self._server.set_client_final(client_final)
        except ScramException:
            raise SaslFailure(SaslCondition.NOT_AUTHORIZED) from None
        return str(self._server.get_server_final())
