"""What every client connection of a listener group shares: settings,
TLS context, limits and timeouts, and the registries of open connections
and resumable sessions."""

from __future__ import annotations

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
