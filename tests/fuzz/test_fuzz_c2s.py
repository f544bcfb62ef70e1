"""Fuzz target for the sans-I/O client stream machine (docs/fuzzing.md).

Random client inputs (stream headers, STARTTLS, SASL with random mechanisms
and payloads, a correct PLAIN login, bind, registration, stanzas, XEP-0198
elements, garbage, closes), cut into random reads, with a driver that answers
the machine's decisions at random. The machine never raises, is always in a
defined state, reports Closed once and then stays quiet, and everything it
writes is well-formed XML: one document per stream, each left with only the
stream element open, or closed when the stream ended.
"""

from __future__ import annotations

import base64
import pyexpat

from hypothesis import given
from hypothesis import strategies as st

from mixd import ns as NS
from mixd.credentials import make_credentials
from mixd.errors import StanzaError, StanzaErrorCondition, StreamErrorCondition
from mixd.storage.contracts.accounts import Account
from mixd.stream import c2s, sm
from mixd.stream.c2s import C2SSettings, C2SStream
from mixd.stream.c2s_events import StreamState
from mixd.stream.sasl import SaslCondition
from mixd.xml.element import Element
from mixd.xml.parser import Limits
from tests.fuzz.budget import fuzz

HOST = "localhost"
PASSWORD = "pencil"
ALICE = Account(HOST, "alice", make_credentials(PASSWORD, 4096))
XML_DECL = b"<?xml version='1.0'?>"
PLAIN_OK = base64.b64encode(b"\x00alice\x00" + PASSWORD.encode()).decode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def header(to: str = HOST, version: str = "1.0", ns: str = NS.CLIENT, decl: bool = True) -> str:
    head = "<?xml version='1.0'?>" if decl else ""
    return (
        f"{head}<stream:stream xmlns='{ns}' xmlns:stream='{NS.STREAM}'"
        f" to='{to}' version='{version}'>"
    )


_headers = st.one_of(
    st.just(header()),
    st.builds(
        header,
        st.sampled_from([HOST, "example.org", "other.org", "", "LOCALHOST.", "a'b"]),
        st.sampled_from(["1.0", "0.9", "2.0", "x", "1"]),
        st.sampled_from([NS.CLIENT, NS.SERVER, "urn:x"]),
        st.booleans(),
    ),
    st.sampled_from(
        [
            f"<stream:stream xmlns:stream='{NS.STREAM}' version='1.0'>",
            f"<stream xmlns='{NS.STREAM}' to='{HOST}' version='1.0'>",
            f"<stream:stream xmlns='{NS.CLIENT}' xmlns:stream='{NS.STREAM}' to='{HOST}'"
            f" version='1.0' xml:lang='{'x' * 80}'>",
        ]
    ),
)

_mechanisms = st.sampled_from(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-1", "EXTERNAL", "", "x"])
_sasl_payloads = st.one_of(
    st.binary(max_size=40).map(b64),
    st.sampled_from(
        [
            "",
            "=",
            "!!!",
            b64(b"\x00alice\x00" + PASSWORD.encode()),
            b64(b"alice@localhost\x00alice\x00" + PASSWORD.encode()),
            b64(b"bob@localhost\x00alice\x00" + PASSWORD.encode()),
            b64(b"\x00alice\x00wrong"),
            b64(b"\x00\x00"),
            b64(b"\x00\xff\x00x"),
            b64(b"n,,n=alice,r=abcdef"),
            b64(b"n,a=alice@localhost,n=alice,r=abc"),
            b64(b"y,,n=nobody,r=x"),
            b64(b"p=tls-unique,,n=alice,r=x"),
            b64(b"n,,n=al=2Cice,r=x"),
            b64(b"n,,n=al=ice,r=x"),
            b64(b"c=biws,r=abcdefXYZ,p=AAAA"),
            b64(b"\xc3("),
        ]
    ),
)
_jids = st.sampled_from(
    [
        "",
        "bob@localhost",
        "alice@localhost",
        "alice@localhost/x",
        "alice@localhost/r1",
        "eve@localhost",
        "a@b@c",
        "@x",
        "localhost",
        "mix.localhost",
        "\u00e9@x/\u00e9",
        "x" * 1100,
    ]
)
_types = st.sampled_from(
    [
        "",
        "chat",
        "get",
        "set",
        "result",
        "error",
        "available",
        "bogus",
        "unavailable",
        "groupchat",
        "normal",
        "subscribe",
    ]
)
_ids = st.sampled_from(["", "1", "b1", "x'y", "&amp;"])


def _attrs(**values: str) -> str:
    return "".join(f" {k}='{v}'" for k, v in values.items() if v)


@st.composite
def _stanza(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["message", "presence", "iq", "x", "stream:features"]))
    attrs = _attrs(to=draw(_jids), type=draw(_types), id=draw(_ids), **{"from": draw(_jids)})
    body = draw(
        st.sampled_from(
            [
                "",
                "<body>hi</body>",
                f"<ping xmlns='{NS.PING}'/>",
                f"<ping xmlns='{NS.PING}'/><ping xmlns='{NS.PING}'/>",
                f"<query xmlns='{NS.ROSTER}'/>",
                "<error type='cancel'/>",
            ]
        )
    )
    return f"<{kind}{attrs}>{body}</{kind}>" if body else f"<{kind}{attrs}/>"


def _bind(resource: str | None, iq_type: str, iq_id: str) -> str:
    inner = "" if resource is None else f"<resource>{resource}</resource>"
    return f"<iq{_attrs(type=iq_type, id=iq_id)}><bind xmlns='{NS.BIND}'>{inner}</bind></iq>"


_actions = st.one_of(
    _headers,
    st.just(f"<starttls xmlns='{NS.TLS}'/>"),
    st.just(f"<auth xmlns='{NS.SASL}' mechanism='PLAIN'>{PLAIN_OK}</auth>"),
    st.builds(
        lambda m, p: f"<auth xmlns='{NS.SASL}' mechanism='{m}'>{p}</auth>",
        _mechanisms,
        _sasl_payloads,
    ),
    st.builds(lambda p: f"<response xmlns='{NS.SASL}'>{p}</response>", _sasl_payloads),
    st.just(f"<abort xmlns='{NS.SASL}'/>"),
    st.builds(
        _bind,
        st.sampled_from([None, "", "r1", "phone", " ", "\u00e9", "a/b", "x" * 1100]),
        st.sampled_from(["set", "get", ""]),
        st.sampled_from(["b1", ""]),
    ),
    st.just(f"<iq type='set' id='s1'><session xmlns='{NS.SESSION}'/></iq>"),
    st.builds(
        lambda t, u, p: (
            f"<iq type='{t}' id='r1'><query xmlns='{NS.REGISTER}'>"
            f"<username>{u}</username><password>{p}</password></query></iq>"
        ),
        st.sampled_from(["get", "set", "result"]),
        st.sampled_from(["", "bob", "Bob", "a@b", "\u00e9"]),
        st.sampled_from(["", "pw"]),
    ),
    _stanza(),
    st.builds(
        lambda r: f"<enable xmlns='{NS.SM}'{_attrs(resume=r)}/>",
        st.sampled_from(["", "true", "1", "false"]),
    ),
    st.just(f"<r xmlns='{NS.SM}'/>"),
    st.builds(
        lambda h: f"<a xmlns='{NS.SM}'{_attrs(h=h)}/>",
        st.sampled_from(["", "0", "1", "-1", "4294967295", "4294967296", "x", "99999999999"]),
    ),
    st.builds(
        lambda p, h: f"<resume xmlns='{NS.SM}'{_attrs(previd=p, h=h)}/>",
        st.sampled_from(["", "abc"]),
        st.sampled_from(["", "0", "3", "x"]),
    ),
    st.builds(lambda n: f"<{n} xmlns='{NS.SM}'/>", st.sampled_from(["enabled", "failed", "zz"])),
    st.just(f"<compress xmlns='{NS.COMPRESS}'><method>zlib</method></compress>"),
    st.sampled_from(
        [
            "</stream:stream>",
            " ",
            "\n",
            "<!-- x -->",
            "<?pi?>",
            "<!DOCTYPE x>",
            "&x;",
            "<a><b></a>",
            "<stream:stream>",
            "<x xmlns='urn:x'/>",
        ]
    ),
    st.binary(max_size=6),
)

# A login skeleton makes the deeper states likely; random actions go anywhere.
_happy = [
    header(),
    f"<starttls xmlns='{NS.TLS}'/>",
    header(),
    f"<auth xmlns='{NS.SASL}' mechanism='PLAIN'>{PLAIN_OK}</auth>",
    header(),
    _bind("r1", "set", "b1"),
    f"<enable xmlns='{NS.SM}' resume='true'/>",
]


@st.composite
def _session(draw: st.DrawFn) -> list[bytes]:
    prefix: list[str | bytes] = list(_happy[: draw(st.integers(0, len(_happy)))])
    actions = prefix + draw(st.lists(_actions, max_size=12))
    for _ in range(draw(st.integers(0, 3))):  # random actions inside the skeleton too
        actions.insert(draw(st.integers(0, len(actions))), draw(_actions))
    data = [a if isinstance(a, bytes) else a.encode() for a in actions]
    # Reads: whole actions, several actions together, or actions cut anywhere.
    reads: list[bytes] = []
    for piece in data:
        if reads and draw(st.integers(0, 3)) == 0:
            reads[-1] += piece
        else:
            reads.append(piece)
    out: list[bytes] = []
    for read in reads:
        while len(read) > 1 and draw(st.integers(0, 4)) == 0:
            cut = draw(st.integers(1, len(read) - 1))
            out.append(read[:cut])
            read = read[cut:]
        out.append(read)
    return out


class Driver:
    """Answers the machine's decisions like the connection would, with
    random outcomes, and checks what the machine reports."""

    def __init__(self, stream: C2SStream, data: st.DataObject) -> None:
        self.stream = stream
        self.data = data
        self.output = b""
        self.closed_events = 0
        self.restarts = 0  # streams the server may begin (TLS, SASL success)
        self.sent = 0

    def handle(self, events: list[c2s.C2SEvent]) -> None:
        queue = list(events)
        while queue:
            event = queue.pop(0)
            assert self.closed_events == 0, f"{event} after Closed"
            queue += self.answer(event)
        self.output += self.stream.data_to_send()
        self.check_state()

    def choose(self, label: str) -> bool:
        return self.data.draw(st.integers(0, 3), label=label) != 0

    def answer(self, event: c2s.C2SEvent) -> list[c2s.C2SEvent]:
        s = self.stream
        if isinstance(event, c2s.Closed):
            self.closed_events += 1
            return []
        if isinstance(event, c2s.StartTLS):
            self.output += s.data_to_send()
            self.restarts += 1
            return s.tls_established()
        if isinstance(event, c2s.AccountLookup):
            if not self.choose("lookup works"):
                return s.refuse_auth(SaslCondition.TEMPORARY_AUTH_FAILURE, "later")
            return s.account_found(ALICE if event.username == "alice" else None)
        if isinstance(event, c2s.PasswordCheck):
            return s.password_checked(event.password == PASSWORD)
        if isinstance(event, c2s.Authenticated):
            self.restarts += 1
            return []
        if isinstance(event, c2s.BindRequested):
            if not self.choose("bind works"):
                return s.bind_failed(event.iq_id, StanzaError(StanzaErrorCondition.CONFLICT))
            return s.bound(event.iq_id, event.jid.with_resource(event.resource or "gen"))
        if isinstance(event, c2s.Bound):
            assert event.jid.resource
            return []
        if isinstance(event, c2s.RegisterRequested):
            if self.choose("registration works"):
                return s.registered(event.iq_id)
            return s.register_failed(event.iq_id, StanzaError(StanzaErrorCondition.CONFLICT))
        if isinstance(event, c2s.SmResume):
            if self.choose("resume works"):
                return s.resumed(event.jid.with_resource("old"), event.previd, 0)
            return s.resume_failed()
        if isinstance(event, c2s.StanzaReceived):
            assert s.jid is not None and s.jid.resource
            assert event.stanza.element.get("from") == str(s.jid)
            self.sent += 1
            return []
        if isinstance(event, c2s.StanzaRejected):
            if event.reply is not None:
                s.send(event.reply)
            return []
        if isinstance(event, c2s.SmEnable):
            s.send_raw(sm.enabled("sm1" if event.resume else None, 300))
            return []
        if isinstance(event, c2s.SmAckRequest):
            s.send_raw(sm.ack(self.sent))
            return []
        assert isinstance(event, c2s.SmAck | c2s.AuthFailed), event
        return []

    def check_state(self) -> None:
        s = self.stream
        assert isinstance(s._state, StreamState)
        assert s.closed == (self.closed_events == 1)
        assert s._state is not StreamState.WAIT  # every decision was answered
        if s._state is StreamState.BOUND:
            assert s.jid is not None and s.jid.resource and s.authenticated


def _parse_document(doc: bytes) -> tuple[pyexpat.XMLParserType, list[int]]:
    """Parse one document with a plain expat; returns the parser and
    [depth, whether the root element ended]."""
    state = [0, 0]

    def start(name: str, attrs: object) -> None:
        assert not state[1], "content after the root element"
        state[0] += 1

    def end(name: str) -> None:
        state[0] -= 1
        state[1] = int(state[0] == 0)

    p = pyexpat.ParserCreate("UTF-8", " ")
    p.StartElementHandler = start
    p.EndElementHandler = end
    p.Parse(doc, False)
    return p, state


def check_output(output: bytes, closed: bool, restarts: int) -> None:
    """One XML document per stream the server began; each well-formed, with
    only the stream element left open, or complete when the stream closed."""
    pieces = output.split(XML_DECL)
    assert pieces[0] == b"", pieces[0][:100]
    documents = [XML_DECL + p for p in pieces[1:]]
    assert len(documents) <= restarts + 1
    for i, doc in enumerate(documents):
        parser, (depth, ended) = _parse_document(doc)
        if i == len(documents) - 1 and closed:
            parser.Parse(b"", True)  # the document is complete
            assert ended
        else:
            assert depth == 1 and not ended, (depth, doc[-200:])


SETTINGS = C2SSettings(
    hosts=frozenset({HOST, "example.org"}),
    mechanisms=("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"),
    tls_available=True,
    starttls_required=True,
    preauth_limits=Limits(max_bytes=2000),
    limits=Limits(max_bytes=20_000),
    idle_seconds=300,
    decoy_secret=b"decoy" * 8,
    scram_iterations=4096,
)


@fuzz(150)
@given(
    reads=_session(),
    tls_available=st.booleans(),
    starttls_required=st.booleans(),
    registration=st.booleans(),
    tls_active=st.booleans(),
    data=st.data(),
)
def test_client_stream_machine(
    reads: list[bytes],
    tls_available: bool,
    starttls_required: bool,
    registration: bool,
    tls_active: bool,
    data: st.DataObject,
) -> None:
    settings = C2SSettings(
        **{
            **{f: getattr(SETTINGS, f) for f in SETTINGS.__dataclass_fields__},
            "tls_available": tls_available,
            "starttls_required": starttls_required,
            "registration": registration,
        }
    )
    stream = C2SStream(settings, tls_active=tls_active)
    driver = Driver(stream, data)
    for read in reads:
        before = stream.closed
        events = stream.receive(read)
        if before:
            assert events == [] and stream.data_to_send() == b""
        driver.handle(events)
    # The server may end the stream itself at any time.
    if data.draw(st.booleans(), label="server closes"):
        stream.close(data.draw(st.sampled_from([None, StreamErrorCondition.SYSTEM_SHUTDOWN])))
        driver.handle(stream.take_events())
    # Stanzas for a bound session may arrive at any time (ignored once closed).
    if stream._state in (StreamState.BOUND, StreamState.CLOSED):
        stream.send(Element(NS.CLIENT, "iq", {"type": "get", "id": "s"}, [Element(NS.PING, "p")]))
    driver.handle([])
    check_output(driver.output, stream.closed, driver.restarts)
