"""How both SQL backends keep MIX values in text columns: a channel's JID
split for its service, its configuration and a participant's MIX-ANON
preferences as JSON objects (sorted, so equal values are equal text)."""

from __future__ import annotations

import json


def service_of(jid: str) -> str:
    """The service (domain) part of a channel's bare JID."""
    local, at, service = jid.partition("@")
    if not at or not local or not service or "/" in jid:
        raise ValueError(f"not a channel JID: {jid!r}")
    return service


def config_json(config: dict[str, tuple[str, ...]]) -> str:
    return json.dumps({k: list(v) for k, v in config.items()}, sort_keys=True)


def config_of(text: str) -> dict[str, tuple[str, ...]]:
    settings = json.loads(text)
    assert isinstance(settings, dict)
    return {
        str(k): (str(v),) if isinstance(v, str) else tuple(str(x) for x in v)
        for k, v in settings.items()
    }


def preferences_json(preferences: tuple[tuple[str, str], ...]) -> str:
    return json.dumps(dict(preferences), sort_keys=True)


def preferences_of(text: object) -> tuple[tuple[str, str], ...]:
    assert isinstance(text, str)
    values = json.loads(text)
    assert isinstance(values, dict)
    return tuple(sorted((str(k), str(v)) for k, v in values.items()))
