"""A real `mixd run` process and raw-socket clients for fault tests.

`MixdProcess` runs the server from a generated config in a temporary
directory (SQLite, loopback, port 0: the port is read from the `started`
log line), adds accounts with `mixd user add`, and is stopped by PID:
SIGKILL for a crash, SIGTERM for a graceful stop.

`Peer` is one user's connection for one server lifetime: STARTTLS, SCRAM,
bind, XEP-0198 enabled right after bind, MIX-capable presence. It counts
every stanza it sends after `<enable/>`, so the server's `<a h=.../>` tells
exactly which messages were handled (stored); a channel's reflection of a
groupchat message to its sender confirms it too. `Ledger` remembers every
message (by origin-id) across restarts and whether it was confirmed, so a
peer of the next lifetime resends what was not, with the same origin-id.

Every wait is bounded; nothing sleeps to synchronise.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import ssl
import sys
import xml.etree.ElementTree as ET
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from tests.helpers import STREAM_HEADER, TIMEOUT
from tests.wire import SASL, STREAM, STREAMS_ERR, TLS_NS, Wire, bind, scram_auth

MIXD = [sys.executable, "-m", "mixd.cli"]
HOST = "localhost"
SERVICE = f"mix.{HOST}"
CLIENT = "jabber:client"
SM = "urn:xmpp:sm:3"
SID = "urn:xmpp:sid:0"
MAM = "urn:xmpp:mam:2"
RSM = "http://jabber.org/protocol/rsm"
FORWARD = "urn:xmpp:forward:0"
DISCO_INFO = "http://jabber.org/protocol/disco#info"
MIX = "urn:xmpp:mix:core:1"
PAM = "urn:xmpp:mix:pam:2"
MESSAGES_NODE = "urn:xmpp:mix:nodes:messages"

STARTED = re.compile(r"event=started .*c2s=(\d+)")


class ServerExited(Exception):
    """The server process ended before it was told to."""


# -- the server process ----------------------------------------------------------


class MixdProcess:
    """`mixd run` on 127.0.0.1, one SQLite database for all its lifetimes."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.config = workdir / "mixd.toml"
        self.config.write_text(
            f'[server]\nhosts = ["{HOST}"]\ndata_dir = "data"\n'
            '[c2s]\nbind = ["127.0.0.1"]\nport = 0\ndirect_tls_port = -1\n'
            "[auth]\nscram_iterations = 4096\n"
            # Reading every archive back takes more queries than one account
            # may normally make in a row.
            "[mam]\nuser_query_rate = 1000.0\nuser_query_burst = 1000\n"
        )
        self.process: asyncio.subprocess.Process | None = None
        self.env: dict[str, str] = {}  # added to the server's environment
        self.port = 0
        self.starts = 0
        self.log: deque[str] = deque(maxlen=60)  # the last lines, for failure messages
        self._drain: asyncio.Task[None] | None = None

    @property
    def ca_file(self) -> Path:
        """The self-signed certificate the first start generates."""
        return self.data_dir / "tls" / "cert.pem"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def command(self, *args: str, stdin: str = "") -> tuple[int, str]:
        """A `mixd` administration command; its exit code and stderr."""
        process = await asyncio.create_subprocess_exec(
            *MIXD,
            "--config",
            str(self.config),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, err = await asyncio.wait_for(process.communicate(stdin.encode()), 60)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.returncode is not None
        return process.returncode, err.decode(errors="replace")

    async def add_user(self, jid: str, password: str) -> None:
        code, err = await self.command("user", "add", jid, stdin=f"{password}\n")
        assert code == 0, err

    async def start(self) -> int:
        """Start the server on the existing database; its c2s port."""
        assert not self.running
        self.starts += 1
        self.log.append(f"--- start {self.starts}")
        self.process = await asyncio.create_subprocess_exec(
            *MIXD,
            "--config",
            str(self.config),
            "run",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            cwd=self.workdir,
            env={**os.environ, **self.env},
        )
        try:
            self.port = await asyncio.wait_for(self._read_port(), 30)
        except BaseException:
            await self.kill()
            raise
        # Keep reading the log, or the server blocks on a full pipe.
        self._drain = asyncio.get_running_loop().create_task(self._read_log())
        return self.port

    async def _read_port(self) -> int:
        assert self.process is not None and self.process.stderr is not None
        while line := await self.process.stderr.readline():
            text = line.decode(errors="replace").rstrip()
            self.log.append(text)
            if match := STARTED.search(text):
                return int(match.group(1))
        raise ServerExited(f"the server exited before starting:\n{self.tail()}")

    async def _read_log(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        while line := await self.process.stderr.readline():
            self.log.append(line.decode(errors="replace").rstrip())

    async def _finish(self) -> int:
        assert self.process is not None
        code = await asyncio.wait_for(self.process.wait(), TIMEOUT)
        if self._drain is not None:
            await asyncio.wait_for(self._drain, TIMEOUT)
            self._drain = None
        return code

    async def kill(self) -> None:
        """kill -9 by PID: the crash."""
        if self.process is None:
            return
        if self.process.returncode is None:
            os.kill(self.process.pid, signal.SIGKILL)
        await self._finish()

    async def terminate(self) -> int:
        """SIGTERM by PID: a graceful stop; the exit code."""
        assert self.process is not None and self.process.returncode is None
        os.kill(self.process.pid, signal.SIGTERM)
        return await self._finish()

    def tail(self) -> str:
        return "\n".join(self.log)


# -- messages and what became of them -------------------------------------------------


@dataclass
class Message:
    origin_id: str
    sender: str  # bare JID
    to: str  # bare JID of a user, or the channel
    kind: str  # "chat" or "groupchat"
    sends: int = 0  # times written to a connection
    confirmed: bool = False  # acked (<a h/>) or reflected by the channel
    confirmed_before_stop: bool = False  # ... and then the server was stopped or killed

    def stanza(self) -> str:
        body = f"{self.origin_id} from {self.sender}"
        return (
            f"<message to={quoteattr(self.to)} type='{self.kind}' id={quoteattr(self.origin_id)}>"
            f"<body>{escape(body)}</body><origin-id xmlns='{SID}' id={quoteattr(self.origin_id)}/>"
            "</message>"
        )


@dataclass
class Ledger:
    """Every message of a run, in the order first sent."""

    messages: dict[str, Message] = field(default_factory=dict)
    counters: Counter[str] = field(default_factory=Counter)
    lifetimes: list[int] = field(default_factory=list)  # confirmations per server lifetime

    def new(self, sender: str, to: str, kind: str) -> Message:
        local = sender.split("@", 1)[0]
        self.counters[local] += 1
        message = Message(f"{local}-{self.counters[local]}", sender, to, kind)
        self.messages[message.origin_id] = message
        return message

    def pending(self, sender: str) -> list[Message]:
        """What `sender` sent and never saw confirmed: to resend."""
        return [
            m for m in self.messages.values() if m.sender == sender and m.sends and not m.confirmed
        ]

    def server_stopped(self) -> int:
        """The server went away; how many confirmations it had given since
        the previous stop."""
        newly = 0
        for message in self.messages.values():
            if message.confirmed and not message.confirmed_before_stop:
                message.confirmed_before_stop = True
                newly += 1
        self.lifetimes.append(newly)
        return newly


# -- one user's connection -------------------------------------------------------------


class Link(Wire):
    """A Wire for long sessions: it keeps only the end of the transcript and
    lets parsed stanzas go, and hands each one to `on_element` as it arrives
    (in order, from the reading task) before queueing it in `inbox`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.on_element: Callable[[ET.Element], None] = lambda _: None
        self._root: ET.Element | None = None
        super().__init__(reader, writer)

    def _new_stream(self) -> None:
        super()._new_stream()
        self._root = None

    def _feed(self, chunk: bytes) -> None:
        self.transcript = (self.transcript + chunk)[-2000:]
        self._parser.feed(chunk)
        for event, element in self._parser.read_events():
            if event == "start":
                self._depth += 1
                if self._depth == 1:
                    self._root = element
                continue
            self._depth -= 1
            if self._depth == 1:
                if self._root is not None:
                    self._root.remove(element)
                self.on_element(element)
                self.inbox.append(element)
            elif self._depth == 0:
                self.stream_closed = True

    def abort(self) -> None:
        transport = self.writer.transport
        if not transport.is_closing():
            transport.abort()


def tls_context(ca_file: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_file))


async def login(port: int, ca_file: Path, user: str, password: str, resource: str) -> Link:
    """STARTTLS, SCRAM-SHA-256, bind: a Link with a bound resource."""
    link = await asyncio.wait_for(_connect(port), TIMEOUT)
    await link.start_stream(STREAM_HEADER.format(host=HOST))
    await link.send(f"<starttls xmlns='{TLS_NS}'/>")
    assert (await link.next()).tag == f"{{{TLS_NS}}}proceed"
    await asyncio.wait_for(
        link.writer.start_tls(tls_context(ca_file), server_hostname=HOST), TIMEOUT
    )
    await link.start_stream(STREAM_HEADER.format(host=HOST))
    success = await scram_auth(link, user, password)
    assert success.tag == f"{{{SASL}}}success", ET.tostring(success)
    await bind(link, await link.start_stream(STREAM_HEADER.format(host=HOST)), resource)
    return link


async def _connect(port: int) -> Link:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    return Link(reader, writer)


def is_iq_result(iq_id: str) -> Callable[[ET.Element], bool]:
    return lambda el: el.tag == f"{{{CLIENT}}}iq" and el.get("id") == iq_id


async def iq(link: Link, to: str, payload: str, iq_id: str) -> ET.Element:
    """An IQ set; its result (a stanza error fails the test)."""
    await link.send(f"<iq type='set' id='{iq_id}' to={quoteattr(to)}>{payload}</iq>")
    reply = await link.expect(is_iq_result(iq_id))
    assert reply.get("type") == "result", ET.tostring(reply)
    return reply


async def create_channel(link: Link, name: str) -> None:
    await iq(link, SERVICE, f"<create xmlns='{MIX}' channel='{name}'/>", "create")


async def client_join(link: Link, own_bare: str, channel: str, nick: str) -> None:
    payload = (
        f"<client-join xmlns='{PAM}' channel='{channel}'><join xmlns='{MIX}'>"
        f"<subscribe node='{MESSAGES_NODE}'/><nick>{nick}</nick></join></client-join>"
    )
    await iq(link, own_bare, payload, "join")


def disco_answer(query: ET.Element) -> str:
    """A MIX client's answer to the server's disco#info query (its caps lookup)."""
    to = query.get("from")
    features = "".join(f"<feature var='{f}'/>" for f in (DISCO_INFO, MIX))
    return (
        f"<iq type='result' id={quoteattr(query.get('id') or '')}"
        f"{f' to={quoteattr(to)}' if to else ''}>"
        f"<query xmlns='{DISCO_INFO}'><identity category='client' type='pc'/>{features}"
        "</query></iq>"
    )


def is_disco_query(el: ET.Element) -> bool:
    return (
        el.tag == f"{{{CLIENT}}}iq"
        and el.get("type") == "get"
        and el.find(f"{{{DISCO_INFO}}}query") is not None
    )


class Peer:
    """One user, one connection, one server lifetime, XEP-0198 enabled."""

    def __init__(
        self, link: Link, jid: str, ledger: Ledger, notify: asyncio.Event | None = None
    ) -> None:
        self.link = link
        self.notify = notify  # also set on every change (a watcher of several peers)
        self.bare = jid.split("/", 1)[0]
        self.ledger = ledger
        self.outgoing: list[Message | None] = []  # every stanza sent since <enable/>
        self.acked = 0  # the server's last h
        self.received = 0  # stanzas received since <enabled/>
        self.counting = False
        self.confirmations = 0  # messages confirmed on this connection
        self.stream_errors: list[str] = []
        self.after_error = 0  # elements received after a stream error
        self.changed = asyncio.Event()
        self.gone = False
        link.on_element = self._on_element

    @classmethod
    async def connect(
        cls,
        port: int,
        ca_file: Path,
        user: str,
        password: str,
        ledger: Ledger,
        notify: asyncio.Event | None = None,
    ) -> Peer:
        link = await login(port, ca_file, user, password, "traffic")
        peer = cls(link, f"{user}@{HOST}/traffic", ledger, notify)
        await peer._start()
        return peer

    async def _start(self) -> None:
        link = self.link
        await link.send(f"<enable xmlns='{SM}'/>")
        await link.expect(lambda el: el.tag == f"{{{SM}}}enabled")
        # Presence without caps: the server asks disco#info, which this
        # client answers as MIX-capable; the ping's answer means the server
        # has handled that answer, so channel messages can reach us.
        await self._send("<presence/>")
        await link.expect(is_disco_query)  # answered as it arrives (_on_element)
        await self._send(
            f"<iq type='get' id='ready' to='{HOST}'><ping xmlns='urn:xmpp:ping'/></iq>"
        )
        await link.expect(is_iq_result("ready"))

    def _on_element(self, el: ET.Element) -> None:
        if self.stream_errors:
            self.after_error += 1
        if el.tag == f"{{{SM}}}enabled":
            self.counting = True
        elif el.tag == f"{{{SM}}}a":
            self._acked(int(el.get("h") or 0))
        elif el.tag == f"{{{SM}}}r":
            self._write(f"<a xmlns='{SM}' h='{self.received}'/>")
        elif el.tag == f"{{{STREAM}}}error":
            self.stream_errors += [
                child.tag.removeprefix(f"{{{STREAMS_ERR}}}")
                for child in el
                if child.tag != f"{{{STREAMS_ERR}}}text"
            ]
        elif el.tag.startswith(f"{{{CLIENT}}}"):
            self.received += self.counting
            if el.tag == f"{{{CLIENT}}}message" and el.get("type") == "groupchat":
                self._reflected(el)
            elif is_disco_query(el) and self.counting:
                self._write(disco_answer(el), counted=True)
        self.changed.set()
        if self.notify is not None:
            self.notify.set()

    def _acked(self, h: int) -> None:
        assert self.acked <= h <= len(self.outgoing), (self.acked, h, len(self.outgoing))
        for message in self.outgoing[self.acked : h]:
            if message is not None and not message.confirmed:
                message.confirmed = True
                self.confirmations += 1
        self.acked = h

    def _reflected(self, el: ET.Element) -> None:
        origin = el.find(f"{{{SID}}}origin-id")
        message = self.ledger.messages.get(origin.get("id") or "") if origin is not None else None
        if message is not None and message.sender == self.bare and not message.confirmed:
            message.confirmed = True
            self.confirmations += 1

    def _write(self, data: str, message: Message | None = None, counted: bool = False) -> None:
        if counted:
            self.outgoing.append(message)
        self.link.writer.write(data.encode())

    async def _send(self, stanza: str) -> None:
        self._write(stanza, counted=True)
        await self.link.writer.drain()

    async def send_message(self, message: Message) -> None:
        """Send (or resend, same origin-id) and ask for an ack."""
        message.sends += 1
        self._write(message.stanza(), message, counted=True)
        self._write(f"<r xmlns='{SM}'/>")
        await self.link.writer.drain()

    def in_flight(self) -> int:
        return sum(1 for m in self.outgoing[self.acked :] if m is not None and not m.confirmed)

    async def read(self) -> None:
        """Read until the server closes the connection."""
        try:
            while await self.link.reader.read(65536):
                self.link.inbox.clear()  # handled in _on_element
        finally:
            self.gone = True
            self.changed.set()
            if self.notify is not None:
                self.notify.set()

    async def wait_until(self, condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
        """Until `condition` holds; ConnectionError if the connection ends first."""

        async def wait() -> None:
            while not condition():
                if self.gone:
                    raise ConnectionError(f"{self.bare}: connection closed")
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), timeout)

    async def close(self) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            await self.link.send("</stream:stream>")
        await self.link.close()


# -- the archives, read back with MAM ---------------------------------------------------


async def mam_origin_ids(
    link: Link, to: str | None = None, with_jid: str | None = None
) -> Counter[str]:
    """Every message of an archive, counted by origin-id (all pages)."""
    found: Counter[str] = Counter()
    after: str | None = None
    for page in range(10_000):
        queryid = f"q{page}"
        fields = f"<field var='FORM_TYPE' type='hidden'><value>{MAM}</value></field>"
        if with_jid is not None:
            fields += f"<field var='with'><value>{escape(with_jid)}</value></field>"
        rsm = "<max>250</max>" + (f"<after>{escape(after)}</after>" if after else "")
        to_attr = f" to={quoteattr(to)}" if to else ""
        await link.send(
            f"<iq type='set' id='{queryid}'{to_attr}><query xmlns='{MAM}' queryid='{queryid}'>"
            f"<x xmlns='jabber:x:data' type='submit'>{fields}</x>"
            f"<set xmlns='{RSM}'>{rsm}</set></query></iq>"
        )
        while True:
            el = await link.next()
            result = el.find(f"{{{MAM}}}result")
            if result is not None and result.get("queryid") == queryid:
                origin = result.find(
                    f"{{{FORWARD}}}forwarded/{{{CLIENT}}}message/{{{SID}}}origin-id"
                )
                found[origin.get("id") if origin is not None else "(none)"] += 1
            elif is_iq_result(queryid)(el):
                assert el.get("type") == "result", ET.tostring(el)
                break
        fin = el.find(f"{{{MAM}}}fin")
        assert fin is not None, ET.tostring(el)
        if fin.get("complete") in ("true", "1"):
            return found
        after = fin.findtext(f"{{{RSM}}}set/{{{RSM}}}last")
        assert after, ET.tostring(el)
    raise AssertionError("the archive never ended")


@dataclass
class Findings:
    """What the archives hold, compared with what the clients were told.
    Each problem is an (origin-id, archive, count) triple."""

    missing: list[tuple[str, str, int]] = field(default_factory=list)
    missing_before_stop: list[tuple[str, str, int]] = field(default_factory=list)
    duplicated_resent: list[tuple[str, str, int]] = field(default_factory=list)
    duplicated_sent_once: list[tuple[str, str, int]] = field(default_factory=list)
    unknown: list[tuple[str, str, int]] = field(default_factory=list)
    entries: int = 0  # archive entries checked

    def ok(self) -> bool:
        return not (
            self.missing or self.duplicated_resent or self.duplicated_sent_once or self.unknown
        )

    def summary(self, limit: int = 6) -> str:
        def show(name: str, items: list[tuple[str, str, int]]) -> str:
            if not items:
                return f"{name}: 0"
            messages = len({origin for origin, _, _ in items})
            examples = ", ".join(f"{o} x{n} in {a}" for o, a, n in items[:limit])
            return f"{name}: {messages} messages, {len(items)} archive entries (e.g. {examples})"

        return "\n".join(
            show(name, items)
            for name, items in (
                ("missing though confirmed", self.missing),
                ("  of which confirmed before the server went down", self.missing_before_stop),
                ("duplicated after a resend", self.duplicated_resent),
                ("duplicated though sent once", self.duplicated_sent_once),
                ("never sent by a client", self.unknown),
            )
        )


def compare(
    findings: Findings, archive: str, found: Counter[str], expected: Iterable[Message]
) -> None:
    """Each expected message exactly once in `archive` (found by origin-id);
    one that was never confirmed may be absent."""
    expected_ids = set()
    for message in expected:
        expected_ids.add(message.origin_id)
        count = found.get(message.origin_id, 0)
        problem = (message.origin_id, archive, count)
        if count == 0 and message.confirmed:
            findings.missing.append(problem)
            if message.confirmed_before_stop:
                findings.missing_before_stop.append(problem)
        elif count > 1:
            if message.sends > 1:
                findings.duplicated_resent.append(problem)
            else:
                findings.duplicated_sent_once.append(problem)
    findings.entries += sum(found.values())
    findings.unknown += [(o, archive, n) for o, n in found.items() if o not in expected_ids]
