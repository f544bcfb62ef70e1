"""What every client connection of a listener group shares: settings,
TLS context, limits and timeouts, and the registries of open connections
and resumable sessions."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mixd.core.admission import Admission
from mixd.core.auth_limits import FailureLimiter
from mixd.stream import c2s

if TYPE_CHECKING:
    from mixd.net.c2s import C2SConnection
    from mixd.net.session import ClientSession


@dataclass(frozen=True, slots=True)
class ConnectionPolicy:
    settings: c2s.C2SSettings
    ssl_context: ssl.SSLContext
    limiter: FailureLimiter
    preauth_timeout: float
    idle_timeout: float
    max_output_buffer: int
    resume_timeout: float = 300.0
    # Inbound shaping per connection (bytes read, stanzas handled).
    byte_rate: float = 1048576.0
    byte_burst: float = 4194304.0
    stanza_rate: float = 1000.0
    stanza_burst: float = 2000.0
    # Connection counts per address and before authentication (0 = no limit).
    admission: Admission = field(default_factory=lambda: Admission(0, 0))
    # In-band registration: counts accounts created per address (None = off).
    registrations: FailureLimiter | None = None
    # Every open connection of this listener group (for graceful shutdown).
    connections: set[C2SConnection] = field(default_factory=set)
    # XEP-0198 sessions that can be resumed, by stream id.
    resumable: dict[str, ClientSession] = field(default_factory=dict)


TRIM_AFTER = 64  # parsers released in one sweep before freed memory is handed back
PARSER_IDLE = 15.0  # seconds without input before a connection's parser is freed


async def release_idle_parsers(policy: ConnectionPolicy) -> None:
    """Forever: free the XML parser of every connection that has been quiet
    for PARSER_IDLE seconds. Most connections of a chat server are idle most
    of the time, and the parser is most of an idle connection's memory;
    one renewed on the next input costs about as much as parsing a stanza."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(PARSER_IDLE / 2)
        quiet_since = loop.time() - PARSER_IDLE
        connections = list(policy.connections)
        released = sum(conn.release_parser_if_quiet(quiet_since) for conn in connections)
        if released >= TRIM_AFTER:
            give_back_memory()


def _malloc_trim() -> ctypes._NamedFuncPointer | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None  # not glibc


_TRIM = _malloc_trim()


def give_back_memory() -> None:
    """glibc keeps freed memory for reuse; after many parsers were freed,
    return the unused pages to the system (a no-op elsewhere)."""
    if _TRIM is not None:
        _TRIM(0)
