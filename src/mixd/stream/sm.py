"""XEP-0198 Stream Management 1.6.1: the wire side (pure).

Counters are unsigned 32-bit and wrap (section 4); `acked_count` turns a
client's `h` into how many of our queued stanzas it acknowledges, or None when
it claims more than we sent (handled-count-too-high, section 4).
"""

from __future__ import annotations

from mixd import ns as NS
from mixd.xml.element import Element
from mixd.xml.serializer import serialize

MOD = 2**32


def parse_h(el: Element) -> int | None:
    try:
        h = int(el.get("h") or "")
    except ValueError:
        return None
    return h if 0 <= h < MOD else None


def acked_count(h: int, acked: int, sent: int) -> int | None:
    """How many more stanzas `h` acknowledges, given `acked` of `sent` so far."""
    newly = (h - acked) % MOD
    return newly if newly <= (sent - acked) % MOD else None


def enabled(stream_id: str | None, max_seconds: int) -> str:
    el = Element(NS.SM, "enabled")
    if stream_id is not None:
        el.attrs.update({"id": stream_id, "resume": "true", "max": str(max_seconds)})
    return serialize(el)


def ack(h: int) -> str:
    return serialize(Element(NS.SM, "a", {"h": str(h % MOD)}))


def resumed(previd: str, h: int) -> str:
    return serialize(Element(NS.SM, "resumed", {"previd": previd, "h": str(h % MOD)}))


def failed(condition: str, h: int | None = None) -> str:
    el = Element(NS.SM, "failed", {"h": str(h % MOD)} if h is not None else None)
    el.add(NS.STANZAS_ERR, condition)
    return serialize(el)


def too_high(h: int, sent: int) -> str:
    """The stream error for an `h` above what we sent (section 4)."""
    inner = Element(NS.SM, "handled-count-too-high", {"h": str(h), "send-count": str(sent)})
    return serialize(inner)
