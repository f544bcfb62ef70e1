"""JID value type (RFC 7622), with PRECIS (RFC 8264/8265) preparation of each part.

Domainpart handling: the third-party ``idna`` package is not a dependency, so domains are
normalised by mapping the IDNA full-stop variants to '.', stripping one trailing dot,
lowercasing and applying NFC.  ``xn--`` A-labels are decoded to U-labels with Python's
built-in (IDNA 2003) codec so that the A-label and U-label spellings of a domain compare equal;
an A-label that does not decode and round-trip is rejected.  Other non-ASCII labels are
accepted as-is after NFC + lowercase (no full IDNA2008 validation).
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import unicodedata

import precis_i18n
from precis_i18n.profile import Profile

__all__ = [
    "JID",
    "JIDError",
    "normalize_domain",
    "normalize_localpart",
    "normalize_resource",
]

_MAX_BYTES = 1023  # RFC 7622 section 3: each part is 1..1023 octets once prepared
_LOCAL_FORBIDDEN = frozenset("\"&'/:<>@")  # RFC 7622 section 3.3.1
_DOMAIN_FORBIDDEN = frozenset(" \"&'/:<>@[]\\")  # brackets only around an IPv6 literal
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})

_USERNAME = precis_i18n.get_profile("UsernameCaseMapped")
_OPAQUE = precis_i18n.get_profile("OpaqueString")


class JIDError(ValueError):
    """A string is not a valid JID (or JID part)."""


def _check_size(value: str, part: str) -> None:
    # Cheap guard before costly preparation; no PRECIS/NFC mapping shrinks UTF-8 text 4-fold.
    if len(value) > 4 * _MAX_BYTES or len(value.encode("utf-8", "surrogatepass")) > 4 * _MAX_BYTES:
        raise JIDError(f"{part} too long")


def _check_len(value: str, part: str) -> str:
    if not value:
        raise JIDError(f"empty {part}")
    if len(value.encode("utf-8")) > _MAX_BYTES:
        raise JIDError(f"{part} too long")
    return value


def _precis(profile: Profile, value: str, part: str) -> str:
    """Enforce a PRECIS profile, turning its UnicodeError into a readable JIDError."""
    if not value:
        raise JIDError(f"empty {part}")
    _check_size(value, part)
    try:
        return _check_len(profile.enforce(value), part)
    except UnicodeEncodeError as exc:
        rule = exc.reason.rpartition("/")[2]
        if rule == "empty":
            raise JIDError(f"empty {part}") from None
        if exc.end - exc.start == 1 and exc.start < len(exc.object):
            ch = exc.object[exc.start]
            raise JIDError(f"disallowed character {ch!r} in {part} ({rule})") from None
        raise JIDError(f"invalid {part} ({rule})") from None
    except UnicodeError as exc:
        raise JIDError(f"invalid {part} ({exc})") from None


def normalize_localpart(s: str) -> str:
    """Prepare a localpart (also used for account usernames): UsernameCaseMapped + RFC 7622."""
    out = _precis(_USERNAME, s, "localpart")
    # Checked after enforcement: width mapping turns e.g. U+FF20 into '@'.
    bad = next((c for c in out if c in _LOCAL_FORBIDDEN), None)
    if bad is not None:
        raise JIDError(f"forbidden character {bad!r} in localpart")
    return out


def normalize_resource(s: str) -> str:
    """Prepare a resourcepart with the OpaqueString profile (case and spaces preserved)."""
    return _precis(_OPAQUE, s, "resourcepart")


def _decode_alabel(label: str) -> str:
    try:
        return label.encode("ascii").decode("idna")
    except UnicodeError:
        raise JIDError(f"invalid A-label {label!r} in domainpart") from None


def normalize_domain(s: str) -> str:
    """Prepare a domainpart: DNS name (U-labels), IPv4 literal or bracketed IPv6 literal."""
    s = s.translate(_DOTS)
    if s.endswith("."):
        s = s[:-1]  # RFC 7622 section 3.2: one trailing dot is stripped
    if not s:
        raise JIDError("empty domainpart")
    _check_size(s, "domainpart")
    if s.startswith("["):
        if not s.endswith("]"):
            raise JIDError("unterminated IPv6 literal in domainpart")
        if "%" in s:  # zone ids are host-local, never meaningful in an address
            raise JIDError("zone id not allowed in IPv6 literal in domainpart")
        try:
            return f"[{ipaddress.IPv6Address(s[1:-1]).compressed}]"
        except ValueError:
            raise JIDError("invalid IPv6 literal in domainpart") from None
    if all(c.isascii() and (c.isdigit() or c == ".") for c in s):
        # All-numeric names are not hostnames (TLDs are never numeric): must be IPv4.
        try:
            return str(ipaddress.IPv4Address(s))
        except ValueError:
            raise JIDError("invalid IPv4 literal in domainpart") from None
    labels = []
    for label in unicodedata.normalize("NFC", s.lower()).split("."):
        if not label:
            raise JIDError("empty label in domainpart")
        if label.startswith("xn--"):
            label = unicodedata.normalize("NFC", _decode_alabel(label).lower())
        for c in label:
            if c in _DOMAIN_FORBIDDEN or c.isspace() or unicodedata.category(c) in ("Cc", "Cs"):
                raise JIDError(f"forbidden character {c!r} in domainpart")
        labels.append(label)
    return _check_len(".".join(labels), "domainpart")


@dataclasses.dataclass(frozen=True, slots=True)
class JID:
    """An immutable, normalised JID.  Build with ``parse`` or ``make``, not the raw constructor."""

    local: str | None
    domain: str
    resource: str | None = None

    @classmethod
    def parse(cls, text: str) -> JID:
        """Parse and normalise ``text``; raise JIDError if it is not a valid JID."""
        return _parse(text)

    @classmethod
    def make(cls, local: str | None, domain: str, resource: str | None = None) -> JID:
        """Build a JID from raw parts, normalising each exactly as ``parse`` does."""
        return cls(
            None if local is None else normalize_localpart(local),
            normalize_domain(domain),
            None if resource is None else normalize_resource(resource),
        )

    @property
    def bare(self) -> JID:
        return self if self.resource is None else JID(self.local, self.domain, None)

    @property
    def is_bare(self) -> bool:
        return self.resource is None

    @property
    def is_domain(self) -> bool:
        return self.local is None and self.resource is None

    def with_resource(self, resource: str) -> JID:
        return JID(self.local, self.domain, normalize_resource(resource))

    def __str__(self) -> str:
        s = self.domain if self.local is None else f"{self.local}@{self.domain}"
        return s if self.resource is None else f"{s}/{self.resource}"

    def __repr__(self) -> str:
        return f"JID({str(self)!r})"


@functools.lru_cache(maxsize=65536)  # bounded: attacker-chosen strings cannot grow memory
def _parse(text: str) -> JID:
    # RFC 7622 section 3.1: resource from the first '/', then localpart up to the first '@'.
    if not text:
        raise JIDError("empty JID")
    head, slash, resource = text.partition("/")
    local: str | None = None
    if "@" in head:
        local, _, head = head.partition("@")
    return JID(
        None if local is None else normalize_localpart(local),
        normalize_domain(head),
        normalize_resource(resource) if slash else None,
    )
