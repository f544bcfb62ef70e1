"""One simulated client: an asyncio Protocol on a raw socket.

Setup (stream, STARTTLS, SASL, bind, presence, channel create and join) reads
the stream with ElementTree's pull parser; it is slow but runs once. After
`start_counting()` incoming bytes are only scanned: every complete
`</message>` chunk is searched for the bench marker `mxb<step>:<sent ns>;`
and the send->receive latency is recorded in the shared `Tally`. Disco#info
queries from the server (XEP-0115 caps lookups) are answered in both modes.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import ipaddress
import re
import ssl
import time
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import scramp
import scramp.core

from bench.driver import stanzas as S
from bench.driver.accounts import Account

# A real client keeps its salted password between logins (RFC 5802 5.1), so
# the driver does too: otherwise a login storm measures the driver's PBKDF2.
# The first login of each account in a run still pays for it.
_salted = functools.lru_cache(maxsize=100_000)(scramp.core.hi)
scramp.core.hi = lambda hf, password, salt, iterations: _salted(hf, password, salt, int(iterations))

MARK = re.compile(rb"mxb(\d+):(\d+);")
IQ = re.compile(rb"<iq\b[^>]*?/>|<iq\b[^>]*>.*?</iq>", re.S)
MESSAGE_END = b"</message>"

STREAM = f"{{{S.NS_STREAM}}}"
SASL = f"{{{S.NS_SASL}}}"


class SetupError(Exception):
    """Login, create or join did not succeed."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int
    domain: str
    tls: bool = False  # STARTTLS, certificate not verified
    mechanism: str = "SCRAM-SHA-256"  # or "PLAIN" (only over TLS on most servers)


class Tally:
    """Deliveries of the current step, shared by every client of a run."""

    def __init__(self) -> None:
        self.step_tag = b"-1"
        self.latencies_ns: list[int] = []
        self.stale = 0  # markers of an earlier step (arrived late)
        self.last_ns = 0  # time of the last delivery of this step
        self.dropped = 0  # connections lost while counting

    def begin(self, step: int) -> None:
        self.step_tag = str(step).encode()
        self.latencies_ns = []
        self.stale = 0
        self.last_ns = 0


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One context for every client: building one loads the system CA store
    (~50 ms), which dominated a login."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class BenchClient(asyncio.Protocol):
    def __init__(
        self,
        user: str,
        password: str,
        endpoint: Endpoint,
        tally: Tally,
        source: str | None = None,
    ) -> None:
        self.source = source  # local address to connect from (None: any)
        self.user = user  # localpart
        self.password = password
        self.endpoint = endpoint
        self.tally = tally
        self.bare = f"{user}@{endpoint.domain}"
        self.full = self.bare
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self._counting = False
        self._tail = b""
        self._answered: set[str] = set()
        self._parser: ET.XMLPullParser[ET.Element] | None = None
        self._root: ET.Element | None = None
        self._depth = 0
        self._inbox: deque[ET.Element] = deque()
        self._wakeup = asyncio.Event()

    # -- asyncio.Protocol ------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._counting:
            self._count(data)
        else:
            self._parse(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self._counting:
            self.tally.dropped += 1
        self._wakeup.set()

    # -- hot path ----------------------------------------------------------------

    def start_counting(self) -> None:
        self._counting = True
        self._parser = None
        self._root = None

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def _count(self, data: bytes) -> None:
        buf = self._tail + data if self._tail else data
        end = buf.rfind(MESSAGE_END)
        if end >= 0:
            end += len(MESSAGE_END)
            self._scan(buf if end == len(buf) else buf[:end])
            self._tail = buf[end:]
        else:
            self._tail = buf
        if b"<iq" in buf:
            self._answer_raw_iqs(buf)

    def _scan(self, chunk: bytes) -> None:
        now = time.monotonic_ns()
        tally = self.tally
        tag = tally.step_tag
        latencies = tally.latencies_ns
        matched = False
        for m in MARK.finditer(chunk):
            if m.group(1) == tag:
                latencies.append(now - int(m.group(2)))
                matched = True
            else:
                tally.stale += 1
        if matched:
            tally.last_ns = now

    def _answer_raw_iqs(self, buf: bytes) -> None:
        for m in IQ.finditer(buf):
            raw = m.group(0)
            if b"disco#info" not in raw:
                continue
            try:
                element = ET.fromstring(raw)
            except ET.ParseError:
                continue
            self._maybe_answer_disco(element)

    # -- setup: parsing ----------------------------------------------------------

    def _new_stream(self) -> None:
        self._parser = ET.XMLPullParser(events=("start", "end"))
        self._root = None
        self._depth = 0

    def _parse(self, data: bytes) -> None:
        if self._parser is None:
            return
        try:
            self._parser.feed(data)
            events = list(self._parser.read_events())
        except ET.ParseError as exc:
            self._inbox.append(ET.Element(f"{STREAM}error", {"parse": str(exc)}))
            self._wakeup.set()
            return
        for item in events:
            event, element = cast(tuple[str, ET.Element], item)
            if event == "start":
                self._depth += 1
                if self._depth == 1:
                    self._root = element
                continue
            self._depth -= 1
            if self._depth == 1 and self._root is not None:
                self._root.remove(element)
                if not self._maybe_answer_disco(element):
                    self._inbox.append(element)
                    self._wakeup.set()

    def _maybe_answer_disco(self, iq: ET.Element) -> bool:
        """Answer a disco#info get (the server's caps lookup); True if it was one."""
        if not iq.tag.endswith("iq") or iq.get("type") != "get":
            return False
        query = iq.find(f"{{{S.NS_DISCO_INFO}}}query")
        if query is None:
            return False
        iq_id = iq.get("id") or ""
        if iq_id not in self._answered:
            self._answered.add(iq_id)
            self.send(S.disco_info_result(iq_id, iq.get("from"), query.get("node")))
        return True

    async def _expect(self, accept: Callable[[ET.Element], bool]) -> ET.Element:
        """The next stanza `accept`s; others are skipped. Stream errors raise."""
        while True:
            while self._inbox:
                element = self._inbox.popleft()
                if element.tag == f"{STREAM}error":
                    detail = ", ".join(child.tag for child in element) or str(element.attrib)
                    raise SetupError(f"{self.bare}: stream error {detail}")
                if accept(element):
                    return element
            if self.lost:
                raise SetupError(f"{self.bare}: connection lost")
            self._wakeup.clear()
            await self._wakeup.wait()

    async def _expect_tag(self, *tags: str) -> ET.Element:
        return await self._expect(lambda e: e.tag in tags)

    async def _iq(self, data: bytes, iq_id: str) -> ET.Element:
        self.send(data)
        answer = await self._expect(
            lambda e: e.tag == "{jabber:client}iq" and e.get("id") == iq_id
            and e.get("type") in ("result", "error")
        )  # fmt: skip
        if answer.get("type") == "error":
            error = answer.find("{jabber:client}error")
            conditions = [c.tag.split("}")[-1] for c in error] if error is not None else []
            raise SetupError(f"{self.bare}: iq {iq_id} failed: {' '.join(conditions)}")
        return answer

    # -- setup: the steps ----------------------------------------------------------

    async def _open_stream(self) -> ET.Element:
        self._new_stream()
        self.send(S.stream_header(self.endpoint.domain))
        return await self._expect_tag(f"{STREAM}features")

    async def login(self, resource: str = "bench") -> None:
        """Connect, (STARTTLS), authenticate, bind and send presence with caps."""
        loop = asyncio.get_running_loop()
        await loop.create_connection(
            lambda: self,
            self.endpoint.host,
            self.endpoint.port,
            local_addr=(self.source, 0) if self.source else None,
        )
        features = await self._open_stream()
        if self.endpoint.tls:
            if features.find(f"{{{S.NS_TLS}}}starttls") is None:
                raise SetupError("the server offers no STARTTLS")
            self.send(S.STARTTLS)
            await self._expect_tag(f"{{{S.NS_TLS}}}proceed")
            assert self.transport is not None
            transport = await loop.start_tls(
                self.transport, self, _tls_context(), server_hostname=self.endpoint.domain
            )
            if transport is None:
                raise SetupError("STARTTLS failed")
            self.transport = transport
            features = await self._open_stream()
        mechanisms = {m.text or "" for m in features.iter(f"{SASL}mechanism")}
        if self.endpoint.mechanism not in mechanisms:
            raise SetupError(f"{self.endpoint.mechanism} not offered: {sorted(mechanisms)}")
        await self._authenticate()
        await self._open_stream()
        bound = await self._iq(S.bind(resource), "bind")
        jid = bound.findtext(f"{{{S.NS_BIND}}}bind/{{{S.NS_BIND}}}jid")
        self.full = jid or f"{self.bare}/{resource}"
        self.send(S.PRESENCE)

    async def _authenticate(self) -> None:
        mechanism = self.endpoint.mechanism
        scram: scramp.ScramClient | None = None
        if mechanism == "PLAIN":
            self.send(S.auth("PLAIN", f"\0{self.user}\0{self.password}".encode()))
        else:
            scram = scramp.ScramClient([mechanism], self.user, self.password)
            self.send(S.auth(mechanism, scram.get_client_first().encode()))
            challenge = await self._expect_tag(f"{SASL}challenge", f"{SASL}failure")
            if challenge.tag != f"{SASL}challenge":
                raise SetupError(f"{self.bare}: authentication failed")
            scram.set_server_first(base64.b64decode(challenge.text or "").decode())
            self.send(S.sasl_response(scram.get_client_final().encode()))
        outcome = await self._expect_tag(f"{SASL}success", f"{SASL}failure")
        if outcome.tag != f"{SASL}success":
            failure = ", ".join(c.tag.split("}")[-1] for c in outcome)
            raise SetupError(f"{self.bare}: authentication failed ({failure})")
        if scram is not None:
            scram.set_server_final(base64.b64decode(outcome.text or "").decode())

    async def create_channel(self, service: str, name: str) -> None:
        await self._iq(S.create_channel(service, name), "create")

    async def join(self, channel: str, nick: str) -> float:
        """MIX-PAM client-join of the messages node; returns its latency (s)."""
        started = time.perf_counter()
        await self._iq(S.client_join(self.bare, channel, nick), "join")
        return time.perf_counter() - started

    async def leave(self, channel: str) -> float:
        """MIX-PAM client-leave; returns its latency (s)."""
        started = time.perf_counter()
        await self._iq(S.client_leave(self.bare, channel), "leave")
        return time.perf_counter() - started

    async def mam(self, query: bytes) -> int:
        """Send a MAM query and wait for its end; returns the archive's
        size as the answer's RSM count says."""
        query_id = ET.fromstring(query).get("id") or ""
        answer = await self._iq(query, query_id)
        count = answer.findtext(".//{http://jabber.org/protocol/rsm}count")
        return int(count or 0)

    async def ping(self) -> float:
        """XEP-0199 ping to the server; returns the round trip (s)."""
        started = time.perf_counter()
        await self._iq(S.ping(self.endpoint.domain), "ping")
        return time.perf_counter() - started

    def close(self) -> None:
        if self.transport is not None and not self.lost:
            self._counting = False  # a drop from now on is ours, not the server's
            self.transport.write(S.STREAM_END)
            self.transport.close()


CLIENTS_PER_ADDRESS = 50


def loopback_source(endpoint: Endpoint, index: int) -> str | None:
    """Against a server on an IPv4 loopback address, spread clients over loopback addresses
    (127.1.x.y), CLIENTS_PER_ADDRESS each, so that a server's per-address
    connection limit (mixd: c2s.max_connections_per_address, 100 by default)
    does not cap the run. Any other endpoint: no source address."""
    try:
        address = ipaddress.ip_address(endpoint.host)
    except ValueError:
        return None  # a name may resolve to IPv6 or to another machine
    if address.version != 4 or not address.is_loopback:
        return None
    group = index // CLIENTS_PER_ADDRESS
    return f"127.1.{group // 250}.{group % 250 + 1}"


def bench_client(
    account: Account, endpoints: tuple[Endpoint, ...], index: int, tally: Tally
) -> BenchClient:
    """The client for the index-th account: the accounts take the endpoints
    (the nodes of a cluster) in turn, so each node holds an equal share."""
    endpoint = endpoints[index % len(endpoints)]
    return BenchClient(
        account.user, account.password, endpoint, tally, loopback_source(endpoint, index)
    )
