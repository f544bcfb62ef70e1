"""XEP-0082 XMPP Date and Time Profiles 1.1.1: the DateTime profile.

Times travel as integer microseconds since the Unix epoch (UTC) inside mixd;
these helpers convert to and from the wire form `CCYY-MM-DDThh:mm:ss[.sss]TZD`.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

from mixd.codec.stanza import CodecError

_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})",
    re.ASCII,
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_datetime(text: str) -> int:
    """Microseconds since the epoch; CodecError unless `text` is a XEP-0082
    DateTime (fractions beyond microseconds are truncated)."""
    match = _DATETIME.fullmatch(text.strip()) if len(text) <= 64 else None
    if match is None:
        raise CodecError("not a XEP-0082 DateTime")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=UTC
        )
        if zone != "Z":
            offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
            moment = moment - offset if zone[0] == "+" else moment + offset
    except (ValueError, OverflowError):
        raise CodecError("not a valid date or time") from None
    micros = int((fraction or "").ljust(6, "0")[:6])
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + micros


def format_datetime(micros: int) -> str:
    """The UTC wire form; a fraction only when there is one."""
    moment = _EPOCH + timedelta(microseconds=micros)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micros() -> int:
    return time.time_ns() // 1000
