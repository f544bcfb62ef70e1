"""Password preparation and SCRAM credentials (RFC 5802, RFC 7677, RFC 8265).

Pure functions: no I/O, no async. Plaintext passwords are only held for the
duration of a call; they are never logged, stored, or put in exception
messages or chains.
"""

from __future__ import annotations

import hmac
import os

import precis_i18n
from scramp import ScramException, ScramMechanism

from mixd.storage.contracts.accounts import ScramCredential

__all__ = [
    "SCRAM_MECHANISMS",
    "ScramCredential",
    "make_credentials",
    "prepare_password",
    "scram_auth_info",
    "verify_password",
]

# Strongest first: the order credentials are made and offered in.
SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-1")

SALT_LENGTH = 16
# scramp refuses fewer than 4096 iterations, the RFC 5802 / RFC 7677 minimum.
MIN_ITERATIONS = 4096

_OPAQUE_STRING = precis_i18n.get_profile("OpaqueString")


def prepare_password(password: str) -> str:
    """Enforce the PRECIS OpaqueString profile (RFC 8265 section 4.2).

    Raises ValueError on an empty or disallowed password. The message names the
    position and the rule, never the password itself.
    """
    reason = _opaque_string_violation(password)
    if reason is not None:
        raise ValueError(f"invalid password: {reason}")
    prepared: str = _OPAQUE_STRING.enforce(password)
    return prepared


def _opaque_string_violation(password: str) -> str | None:
    # Returning the reason instead of raising inside `except` keeps the
    # UnicodeEncodeError (whose `.object` is the password) out of any chain.
    try:
        _OPAQUE_STRING.enforce(password)
    except UnicodeEncodeError as exc:
        if exc.reason == "DISALLOWED/empty":
            return "it must not be empty"
        return f"character at position {exc.start} is not allowed ({exc.reason})"
    return None


def make_credentials(password: str, iterations: int) -> tuple[ScramCredential, ...]:
    """One credential per mechanism of SCRAM_MECHANISMS, each with a fresh random salt."""
    if iterations < MIN_ITERATIONS:
        raise ValueError(f"iterations must be at least {MIN_ITERATIONS}, got {iterations}")
    prepared = prepare_password(password)
    return tuple(
        _derive(mechanism, prepared, os.urandom(SALT_LENGTH), iterations)
        for mechanism in SCRAM_MECHANISMS
    )


def verify_password(credential: ScramCredential, password: str) -> bool:
    """True if `password` matches `credential` (for SASL PLAIN); constant-time compare.

    A password that cannot be prepared never matches: no credential can have
    been made from it. An unknown mechanism is a data error (ValueError).
    """
    if credential.mechanism not in SCRAM_MECHANISMS:
        raise ValueError(f"unsupported SCRAM mechanism {credential.mechanism!r}")
    try:
        prepared = prepare_password(password)
        candidate = _derive(credential.mechanism, prepared, credential.salt, credential.iterations)
    except ValueError:
        return False
    return hmac.compare_digest(candidate.stored_key, credential.stored_key)


def scram_auth_info(credential: ScramCredential) -> tuple[bytes, bytes, bytes, int]:
    """The tuple a scramp `auth_fn` returns: (salt, stored_key, server_key, iterations)."""
    return credential.salt, credential.stored_key, credential.server_key, credential.iterations


def _derive(mechanism: str, prepared: str, salt: bytes, iterations: int) -> ScramCredential:
    # scramp applies SASLprep on top of our OpaqueString result, exactly as its
    # ScramClient does, so keys made here match its exchanges.
    failure = None
    try:
        salt_out, stored_key, server_key, count = ScramMechanism(mechanism).make_auth_info(
            prepared, iteration_count=iterations, salt=salt
        )
    except ScramException as exc:
        failure = str(exc)
    if failure is not None:
        raise ValueError(f"cannot derive {mechanism} credential: {failure}")
    return ScramCredential(
        mechanism=mechanism,
        salt=bytes(salt_out),
        stored_key=bytes(stored_key),
        server_key=bytes(server_key),
        iterations=int(count),
    )
