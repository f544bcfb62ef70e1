"""The stream features offered at each stage of a client stream."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mixd import ns as NS
from mixd.xml.element import Element

if TYPE_CHECKING:
    from mixd.stream.c2s_events import C2SSettings


def stream_features(settings: C2SSettings, *, tls_active: bool, authenticated: bool) -> Element:
    features = Element(NS.STREAM, "features")
    tls_needed = settings.tls_available and not tls_active
    if tls_needed and not authenticated:
        starttls = features.add(NS.TLS, "starttls")
        if settings.starttls_required:
            # RFC 6120 5.3.1: a mandatory STARTTLS is the only feature offered.
            starttls.add(NS.TLS, "required")
            return features
    if not authenticated:
        if settings.registration and tls_active:
            features.add(NS.REGISTER_FEATURE, "register")
        mechanisms = features.add(NS.SASL, "mechanisms")
        for mechanism in offered_mechanisms(settings.mechanisms, tls_active):
            mechanisms.add_text_child(NS.SASL, "mechanism", mechanism)
        _limits(features, settings.preauth_limits.max_bytes, settings.idle_seconds)
        return features
    features.add(NS.BIND, "bind")
    features.add(NS.SESSION, "session").add(NS.SESSION, "optional")
    features.add(NS.SM, "sm")
    for ns, name in settings.module_features:
        features.add(ns, name)
    _limits(features, settings.limits.max_bytes, settings.idle_seconds)
    return features


def _limits(features: Element, max_bytes: int, idle_seconds: int) -> None:
    """XEP-0478: tell the client the limits we enforce."""
    limits = features.add(NS.STREAM_LIMITS, "limits")
    limits.add_text_child(NS.STREAM_LIMITS, "max-bytes", str(max_bytes))
    limits.add_text_child(NS.STREAM_LIMITS, "idle-seconds", str(idle_seconds))


def offered_mechanisms(configured: tuple[str, ...], tls_active: bool) -> tuple[str, ...]:
    """The SASL mechanisms a stream advertises: never PLAIN in the clear. The
    SCRAM downgrade-protection hash (XEP-0474) is computed over this list."""
    return tuple(m for m in configured if m != "PLAIN" or tls_active)
