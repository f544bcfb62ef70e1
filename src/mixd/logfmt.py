"""Structured log lines: one event name plus key=value fields (logfmt), or
JSON when configured. Callers never pass secrets here."""

from __future__ import annotations

import json
import logging
from typing import Any

_json = False


def use_json(enabled: bool) -> None:
    global _json
    _json = enabled


def _quote(value: Any) -> str:
    text = str(value)
    if text and all(c.isalnum() or c in "-_.:/@[]" for c in text):
        return text
    return json.dumps(text)


def format_event(event: str, fields: dict[str, Any]) -> str:
    if _json:
        return json.dumps({"event": event, **{k: str(v) for k, v in fields.items()}})
    parts = [f"event={event}"]
    parts.extend(f"{key}={_quote(value)}" for key, value in fields.items() if value is not None)
    return " ".join(parts)


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, format_event(event, fields))
