"""The sans-I/O client stream, driven like a real client would drive it.

Each test is a protocol trace: bytes in, the server's bytes out (read back with
the standard library's XML pull parser, so a malformed answer fails the test),
and the events the driver would see. Covers RELIABILITY A5, A6, A9-A13, B1,
B3, B5, B6 and C1.
"""

from __future__ import annotations

import base64
import dataclasses
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import replace
from typing import cast

import pytest
from scramp import ScramClient

from mixd import ns as NS
from mixd.credentials import make_credentials, verify_password
from mixd.errors import StanzaError, StanzaErrorCondition, StreamErrorCondition
from mixd.jid import JID
from mixd.storage.contracts.accounts import Account
from mixd.stream import c2s
from mixd.stream.c2s import C2SSettings, C2SStream
from mixd.stream.sasl import SaslCondition
from mixd.xml.parser import Limits

HOST = "localhost"
PASSWORD = "correct horse battery staple"
ALICE = Account(HOST, "alice", make_credentials(PASSWORD, 4096))
ALICE_JID = JID("alice", HOST, None)

SETTINGS = C2SSettings(
    hosts=frozenset({HOST, "example.org"}),
    mechanisms=("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"),
    tls_available=True,
    starttls_required=True,
    preauth_limits=Limits(max_bytes=10_000),
    limits=Limits(max_bytes=262_144),
    idle_seconds=300,
    decoy_secret=b"decoy-secret" * 3,
)


def header(to: str | None = HOST, **attrs: str | None) -> str:
    fields = {
        "xmlns": NS.CLIENT,
        "xmlns:stream": NS.STREAM,
        "to": to,
        "version": "1.0",
        **attrs,
    }
    text = " ".join(f"{k}='{v}'" for k, v in fields.items() if v is not None)
    return f"<?xml version='1.0'?><stream:stream {text}>"


def q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def unb64(el: ET.Element) -> str:
    return base64.b64decode(el.text or "").decode()


# -- the client side --------------------------------------------------------------

Frame = ET.Element | str  # a top-level element, or "header" / "close"


class Client:
    """What a client sees: the server's output parsed frame by frame."""

    def __init__(self, settings: C2SSettings = SETTINGS, *, tls: bool = False) -> None:
        self.stream = C2SStream(settings, tls_active=tls)
        self.events: list[c2s.C2SEvent] = []
        self.server_header: ET.Element | None = None
        self._reset()

    def _reset(self) -> None:
        self._xml: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
        self._depth = 0

    # client -> server

    def send(self, data: str | bytes) -> list[c2s.C2SEvent]:
        if isinstance(data, str):
            if data.startswith("<?xml"):
                self._reset()  # the server answers a new stream with a new document
            data = data.encode()
        return self.answer(self.stream.receive(data))

    def answer(self, events: list[c2s.C2SEvent]) -> list[c2s.C2SEvent]:
        self.events += events
        for event in events:
            # The driver sends a rejected stanza's error reply (in order).
            if isinstance(event, c2s.StanzaRejected) and event.reply is not None:
                self.stream.send(event.reply)
        return events

    # server -> client

    def read(self) -> list[Frame]:
        self._xml.feed(self.stream.data_to_send())
        frames: list[Frame] = []
        for event in self._xml.read_events():
            kind, el = cast(tuple[str, ET.Element], event)  # only start/end were asked for
            if kind == "start":
                if self._depth == 0:
                    self.server_header = el
                    frames.append("header")
                self._depth += 1
            else:
                self._depth -= 1
                if self._depth == 1:
                    frames.append(el)
                elif self._depth == 0:
                    frames.append("close")
        return frames

    def read_one(self, tag: str) -> ET.Element:
        frames = self.read()
        assert len(frames) == 1, frames
        (el,) = frames
        assert isinstance(el, ET.Element) and el.tag == tag, frames
        return el

    def read_nothing(self) -> None:
        assert self.stream.data_to_send() == b""

    # traces

    def open(self, to: str = HOST) -> ET.Element:
        """Open a stream; returns the features."""
        self.send(header(to))
        frames = self.read()
        assert frames[0] == "header" and len(frames) == 2, frames
        features = frames[1]
        assert isinstance(features, ET.Element) and features.tag == q(NS.STREAM, "features")
        assert self.server_header is not None
        assert self.server_header.get("from") == to
        assert self.server_header.get("version") == "1.0"
        assert self.server_header.get("id")
        return features

    def starttls(self) -> ET.Element:
        assert self.send(f"<starttls xmlns='{NS.TLS}'/>") == [c2s.StartTLS()]
        self.read_one(q(NS.TLS, "proceed"))
        assert self.answer(self.stream.tls_established()) == []
        self.read_nothing()  # the client speaks first after the upgrade
        return self.open()

    def sasl_failure(self) -> str:
        el = self.read_one(q(NS.SASL, "failure"))
        return next(iter(el)).tag.split("}")[1]

    def stream_error(self, *, with_header: bool = False) -> str:
        """The stream ends with an error (after our header, if one is due):
        returns its condition."""
        frames = self.read()
        if with_header:
            assert frames[0] == "header", frames
            frames = frames[1:]
        assert len(frames) == 2 and frames[-1] == "close", frames
        error = frames[0]
        assert isinstance(error, ET.Element) and error.tag == q(NS.STREAM, "error")
        assert isinstance(self.events[-1], c2s.Closed)
        assert self.stream.closed
        conditions = [c for c in error if c.tag != q(NS.STREAMS_ERR, "text")]
        assert len(conditions) == 1
        assert conditions[0].tag.startswith("{" + NS.STREAMS_ERR + "}")
        return conditions[0].tag.split("}")[1]

    def scram(
        self,
        mechanism: str = "SCRAM-SHA-256",
        *,
        account: Account | None = ALICE,
        username: str = "alice",
        password: str = PASSWORD,
    ) -> tuple[ScramClient, list[c2s.C2SEvent]]:
        """Run a SCRAM exchange up to the client-final; returns the events it caused."""
        client, events = self.scram_start(mechanism, username, password)
        assert events == [c2s.AccountLookup(HOST, username.lower(), mechanism)]
        assert self.answer(self.stream.account_found(account)) == []
        challenge = self.read_one(q(NS.SASL, "challenge"))
        client.set_server_first(unb64(challenge))
        final = client.get_client_final()
        return client, self.send(f"<response xmlns='{NS.SASL}'>{b64(final)}</response>")

    def scram_start(
        self, mechanism: str = "SCRAM-SHA-256", username: str = "alice", password: str = PASSWORD
    ) -> tuple[ScramClient, list[c2s.C2SEvent]]:
        """Send <auth/> with a SCRAM client-first message."""
        client = ScramClient([mechanism], username, password)
        first = client.get_client_first()
        events = self.send(f"<auth xmlns='{NS.SASL}' mechanism='{mechanism}'>{b64(first)}</auth>")
        return client, events

    def plain(
        self, authcid: str = "alice", password: str = PASSWORD, authzid: str = ""
    ) -> list[c2s.C2SEvent]:
        message = f"{authzid}\x00{authcid}\x00{password}"
        return self.send(f"<auth xmlns='{NS.SASL}' mechanism='PLAIN'>{b64(message)}</auth>")

    def login(self) -> ET.Element:
        """SCRAM-SHA-256 login and stream restart; returns the new features."""
        _, events = self.scram()
        assert events == [c2s.Authenticated(ALICE_JID, "SCRAM-SHA-256")]
        self.read_one(q(NS.SASL, "success"))
        return self.open()

    def bind(self, resource: str | None = None, iq_id: str = "b1") -> list[c2s.C2SEvent]:
        inner = f"<resource>{resource}</resource>" if resource is not None else ""
        return self.send(f"<iq type='set' id='{iq_id}'><bind xmlns='{NS.BIND}'>{inner}</bind></iq>")

    def bound(self, resource: str = "phone") -> JID:
        """Logged in and bound as alice@localhost/<resource>."""
        self.login()
        assert self.bind(resource) == [c2s.BindRequested("b1", ALICE_JID, resource)]
        full = ALICE_JID.with_resource(resource)
        assert self.answer(self.stream.bound("b1", full)) == [c2s.Bound(full)]
        reply = self.read_one(q(NS.CLIENT, "iq"))
        assert reply.get("type") == "result" and reply.get("id") == "b1"
        assert reply.findtext(f"{q(NS.BIND, 'bind')}/{q(NS.BIND, 'jid')}") == str(full)
        return full

    def stanza_error(self, tag: str = q(NS.CLIENT, "iq")) -> tuple[ET.Element, str, str]:
        """An error reply: (reply, error type, condition)."""
        reply = self.read_one(tag)
        assert reply.get("type") == "error"
        error = reply.find(q(NS.CLIENT, "error"))
        assert error is not None
        conditions = [c for c in error if c.tag.startswith("{" + NS.STANZAS_ERR + "}")]
        condition = conditions[0].tag.split("}")[1]
        return reply, error.get("type") or "", condition


def tags(el: ET.Element) -> list[str]:
    return [child.tag for child in el]


def mechanisms(features: ET.Element) -> list[str]:
    mechs = features.find(q(NS.SASL, "mechanisms"))
    return [] if mechs is None else [m.text or "" for m in mechs]


def no_auth(events: Iterable[c2s.C2SEvent]) -> bool:
    return not any(isinstance(e, c2s.Authenticated) for e in events)


def tls_client(settings: C2SSettings = SETTINGS) -> Client:
    client = Client(settings, tls=True)
    client.open()
    return client


# -- headers and features ------------------------------------------------------------


def test_starttls_required_is_the_only_feature() -> None:
    client = Client()
    features = client.open()
    assert tags(features) == [q(NS.TLS, "starttls")]
    starttls = features[0]
    assert tags(starttls) == [q(NS.TLS, "required")]
    assert client.events == []


def test_after_tls_a_new_header_is_expected_and_plain_offered() -> None:
    client = Client()
    client.open()
    features = client.starttls()
    assert features.find(q(NS.TLS, "starttls")) is None
    assert mechanisms(features) == ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"]
    assert client.stream.tls_active


def test_each_header_gets_a_fresh_stream_id() -> None:
    client = Client()
    client.open()
    first = client.server_header
    client.starttls()
    assert first is not None and client.server_header is not None
    assert first.get("id") != client.server_header.get("id")


def test_plain_never_offered_or_accepted_without_tls() -> None:
    client = Client(replace(SETTINGS, starttls_required=False))
    features = client.open()
    starttls = features.find(q(NS.TLS, "starttls"))
    assert starttls is not None and tags(starttls) == []  # offered, not required
    assert mechanisms(features) == ["SCRAM-SHA-256", "SCRAM-SHA-1"]
    events = client.plain()
    assert client.sasl_failure() == "invalid-mechanism"
    assert no_auth(events)


def test_plain_never_offered_when_tls_is_unavailable() -> None:
    client = Client(replace(SETTINGS, tls_available=False, starttls_required=False))
    features = client.open()
    assert features.find(q(NS.TLS, "starttls")) is None
    assert mechanisms(features) == ["SCRAM-SHA-256", "SCRAM-SHA-1"]
    client.plain()
    assert client.sasl_failure() == "invalid-mechanism"


def test_advertised_limits_match_enforced_limits() -> None:
    client = Client(tls=True)
    limits = client.open().find(q(NS.STREAM_LIMITS, "limits"))
    assert limits is not None
    assert limits.findtext(q(NS.STREAM_LIMITS, "max-bytes")) == "10000"
    assert limits.findtext(q(NS.STREAM_LIMITS, "idle-seconds")) == "300"
    after = client.login().find(q(NS.STREAM_LIMITS, "limits"))
    assert after is not None
    assert after.findtext(q(NS.STREAM_LIMITS, "max-bytes")) == "262144"


def test_preauth_stanza_over_the_preauth_limit() -> None:
    client = tls_client()
    client.send(f"<auth xmlns='{NS.SASL}' mechanism='PLAIN'>{'A' * 12_000}</auth>")
    assert client.stream_error() == "policy-violation"


def test_post_auth_limit_applies_after_bind() -> None:
    client = Client(tls=True)
    client.open()
    client.bound()
    big = "x" * 50_000  # over the pre-auth limit, under the post-auth one
    events = client.send(f"<message to='bob@localhost'><body>{big}</body></message>")
    assert [type(e) for e in events] == [c2s.StanzaReceived]
    client.send(f"<message to='bob@localhost'><body>{'x' * 300_000}</body></message>")
    assert client.stream_error() == "policy-violation"


# -- bad stream headers (A5) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "condition"),
    [
        pytest.param(
            header(**{"xmlns:stream": "urn:wrong"}), "invalid-namespace", id="stream-namespace"
        ),
        pytest.param(header(xmlns=NS.SERVER), "invalid-namespace", id="content-jabber-server"),
        pytest.param(header(to=None), "improper-addressing", id="missing-to"),
        pytest.param(header(to="evil.example"), "host-unknown", id="unknown-host"),
        pytest.param(header(version=None), "unsupported-version", id="version-missing"),
        pytest.param(header(version="0.9"), "unsupported-version", id="version-0.9"),
        pytest.param(header(version="x.y"), "unsupported-version", id="version-garbage"),
        pytest.param(header(**{"xml:lang": "a" * 200}), "invalid-xml", id="overlong-lang"),
        pytest.param("<stream:stream\x00", "not-well-formed", id="nul-in-header"),
        pytest.param(
            "<?xml version='1.0'?><!DOCTYPE s>" + header()[21:], "restricted-xml", id="doctype"
        ),
    ],
)
def test_bad_stream_header_gets_our_header_then_error(data: str, condition: str) -> None:
    client = Client()
    client.send(data)
    assert client.stream_error(with_header=True) == condition
    assert client.server_header is not None
    assert client.server_header.get("from") in SETTINGS.hosts
    assert client.events == [c2s.Closed(f"stream error {condition}")]
    assert client.send("<presence/>") == []  # a closed stream ignores input
    client.read_nothing()


@pytest.mark.parametrize(
    ("garbage", "condition"),
    [("<'/>", "not-well-formed"), ("<!-- x -->", "restricted-xml")],
)
def test_good_header_then_garbage_in_one_read(garbage: str, condition: str) -> None:
    # The valid header is still answered (with features) before the error.
    client = Client()
    client.send(header() + garbage)
    features, error, close = client.read()[-3:]
    assert isinstance(features, ET.Element) and features.tag == q(NS.STREAM, "features")
    assert isinstance(error, ET.Element) and error.tag == q(NS.STREAM, "error")
    assert error[0].tag == q(NS.STREAMS_ERR, condition)
    assert close == "close"
    assert client.events == [c2s.Closed(f"stream error {condition}")]


def test_header_byte_by_byte() -> None:
    client = Client()
    for byte in header().encode():
        client.send(bytes([byte]))
    frames = client.read()
    assert frames[0] == "header" and len(frames) == 2


def test_restart_after_auth_with_another_host_is_a_stream_error() -> None:
    client = Client(tls=True)
    client.open()
    _, events = client.scram()
    assert [type(e) for e in events] == [c2s.Authenticated]
    client.read_one(q(NS.SASL, "success"))
    client.send(header(to="example.org"))
    assert client.stream_error(with_header=True) in ("not-authorized", "host-unknown")
    assert client.server_header is not None
    assert client.server_header.get("from") == HOST  # never the other host
    assert not any(isinstance(e, c2s.BindRequested) for e in client.events)


def test_xml_lang_is_echoed_safely() -> None:
    # The client's xml:lang is echoed in our header. An apostrophe in it (legal
    # inside a double-quoted attribute) must not break our single-quoted one.
    client = Client()
    client.send(header().replace(" to=", ' xml:lang="en\'x" to='))
    frames = client.read()  # raises if our header is not well-formed
    assert frames[0] == "header"
    assert client.server_header is not None
    # Echoed intact, or replaced by our default.
    assert client.server_header.get(q(NS.XML, "lang")) in ("en'x", "en")


# -- STARTTLS ------------------------------------------------------------------------


def test_bytes_after_starttls_in_the_same_chunk_are_never_processed() -> None:
    client = Client()
    client.open()
    injected = (
        f"<starttls xmlns='{NS.TLS}'/>"
        f"<auth xmlns='{NS.SASL}' mechanism='PLAIN'>{b64(chr(0) + 'alice' + chr(0) + 'x')}</auth>"
        "<message to='bob@localhost'><body>injected</body></message>"
        "</stream:stream>"
    )
    assert client.send(injected) == [c2s.StartTLS()]
    client.read_one(q(NS.TLS, "proceed"))
    assert client.answer(client.stream.tls_established()) == []
    client.read_nothing()
    features = client.open()
    assert "PLAIN" in mechanisms(features)
    assert client.events == [c2s.StartTLS()]


def test_plaintext_sent_while_tls_is_being_set_up_is_dropped() -> None:
    client = Client()
    client.open()
    assert client.send(f"<starttls xmlns='{NS.TLS}'/>") == [c2s.StartTLS()]
    client.read()
    assert client.send("<presence/>") == []
    assert client.answer(client.stream.tls_established()) == []
    client.open()
    assert client.events == [c2s.StartTLS()]


def test_starttls_twice_is_a_stream_error() -> None:
    client = Client()
    client.open()
    client.starttls()
    client.send(f"<starttls xmlns='{NS.TLS}'/>")
    assert client.stream_error() == "policy-violation"


# -- SASL -----------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-1"])
def test_scram_login_restart_and_bind(mechanism: str) -> None:
    client = Client()
    client.open()
    client.starttls()
    scram, events = client.scram(mechanism)
    assert events == [c2s.Authenticated(ALICE_JID, mechanism)]
    success = client.read_one(q(NS.SASL, "success"))
    scram.set_server_final(unb64(success))  # raises unless the server proved the key
    assert client.stream.authenticated and client.stream.jid == ALICE_JID

    features = client.open()
    assert tags(features)[:2] == [q(NS.BIND, "bind"), q(NS.SESSION, "session")]
    assert mechanisms(features) == []

    assert client.bind("phone") == [c2s.BindRequested("b1", ALICE_JID, "phone")]
    client.read_nothing()  # the answer waits for the driver
    full = JID("alice", HOST, "phone")
    assert client.answer(client.stream.bound("b1", full)) == [c2s.Bound(full)]
    reply = client.read_one(q(NS.CLIENT, "iq"))
    assert reply.get("id") == "b1" and reply.get("type") == "result"
    assert reply.findtext(f"{q(NS.BIND, 'bind')}/{q(NS.BIND, 'jid')}") == "alice@localhost/phone"
    assert client.stream.jid == full


def test_scram_without_initial_response_gets_an_empty_challenge() -> None:
    client = tls_client()
    scram = ScramClient(["SCRAM-SHA-256"], "alice", PASSWORD)
    assert client.send(f"<auth xmlns='{NS.SASL}' mechanism='SCRAM-SHA-256'/>") == []
    challenge = client.read_one(q(NS.SASL, "challenge"))
    assert not (challenge.text or "").strip("=")
    events = client.send(f"<response xmlns='{NS.SASL}'>{b64(scram.get_client_first())}</response>")
    assert events == [c2s.AccountLookup(HOST, "alice", "SCRAM-SHA-256")]
    client.answer(client.stream.account_found(ALICE))
    scram.set_server_first(unb64(client.read_one(q(NS.SASL, "challenge"))))
    final = scram.get_client_final()
    events = client.send(f"<response xmlns='{NS.SASL}'>{b64(final)}</response>")
    assert events == [c2s.Authenticated(ALICE_JID, "SCRAM-SHA-256")]


def test_plain_success() -> None:
    client = tls_client()
    assert client.plain() == [c2s.AccountLookup(HOST, "alice", "PLAIN")]
    client.read_nothing()
    (check,) = client.answer(client.stream.account_found(ALICE))
    assert isinstance(check, c2s.PasswordCheck)
    assert check.password == PASSWORD
    assert verify_password(check.credential, check.password)
    client.read_nothing()
    events = client.answer(client.stream.password_checked(True))
    assert events == [c2s.Authenticated(ALICE_JID, "PLAIN")]
    success = client.read_one(q(NS.SASL, "success"))
    assert not (success.text or "").strip()
    assert tags(client.open())[0] == q(NS.BIND, "bind")


def test_plain_wrong_password() -> None:
    client = tls_client()
    client.plain(password="wrong")
    (check,) = client.answer(client.stream.account_found(ALICE))
    assert isinstance(check, c2s.PasswordCheck)
    assert not verify_password(check.credential, check.password)
    events = client.answer(client.stream.password_checked(False))
    assert events == [c2s.AuthFailed(HOST, "alice", "PLAIN", SaslCondition.NOT_AUTHORIZED)]
    assert client.sasl_failure() == "not-authorized"
    assert not client.stream.authenticated


def test_plain_unknown_user() -> None:
    client = tls_client()
    assert client.plain(authcid="nobody") == [c2s.AccountLookup(HOST, "nobody", "PLAIN")]
    events = client.answer(client.stream.account_found(None))
    assert events == [c2s.AuthFailed(HOST, "nobody", "PLAIN", SaslCondition.NOT_AUTHORIZED)]
    assert client.sasl_failure() == "not-authorized"


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-1"])
def test_scram_wrong_password(mechanism: str) -> None:
    client = tls_client()
    _, events = client.scram(mechanism, password="wrong password")
    assert events == [c2s.AuthFailed(HOST, "alice", mechanism, SaslCondition.NOT_AUTHORIZED)]
    assert client.sasl_failure() == "not-authorized"
    assert not client.stream.authenticated and client.stream.jid is None


def test_scram_unknown_user_still_gets_a_challenge() -> None:
    # The challenge for a missing account looks like a real one (RFC 5802 5.1).
    client = tls_client()
    scram, _ = client.scram_start("SCRAM-SHA-256", "nobody")
    assert client.answer(client.stream.account_found(None)) == []
    server_first = unb64(client.read_one(q(NS.SASL, "challenge")))
    fields = dict(part.split("=", 1) for part in server_first.split(","))
    assert set(fields) == {"r", "s", "i", "h"} and fields["i"] == "4096"
    assert len(base64.b64decode(fields["s"])) == 16
    scram.set_server_first(server_first)
    final = scram.get_client_final()
    events = client.send(f"<response xmlns='{NS.SASL}'>{b64(final)}</response>")
    assert events == [c2s.AuthFailed(HOST, "nobody", "SCRAM-SHA-256", SaslCondition.NOT_AUTHORIZED)]
    assert client.sasl_failure() == "not-authorized"


def test_scram_unknown_user_salt_is_stable() -> None:
    salts = []
    for _ in range(2):
        client = tls_client()
        client.scram_start("SCRAM-SHA-1", "nobody")
        client.answer(client.stream.account_found(None))
        salts.append(unb64(client.read_one(q(NS.SASL, "challenge"))).split(",")[1])
    assert salts[0] == salts[1]


def test_scram_unknown_user_iteration_count_matches_real_accounts() -> None:
    # An operator who raises auth.scram_iterations gets accounts with that
    # count; a missing account must not stand out by announcing i=4096.
    bob = Account(HOST, "bob", make_credentials(PASSWORD, 10_000))
    settings = dataclasses.replace(SETTINGS, scram_iterations=10_000)
    counts = []
    for username, account in (("bob", bob), ("nobody", None)):
        client = tls_client(settings)
        client.scram_start("SCRAM-SHA-256", username)
        client.answer(client.stream.account_found(account))
        server_first = unb64(client.read_one(q(NS.SASL, "challenge")))
        counts.append(dict(p.split("=", 1) for p in server_first.split(","))["i"])
    assert counts[0] == "10000"
    assert counts[1] == counts[0]


@pytest.mark.parametrize(
    "client_first",
    [
        "n,a=bob@localhost,n=alice,r=abcdefgh",
        "n,a=alice@example.org,n=alice,r=abcdefgh",
        "n,a=example.org,n=alice,r=abcdefgh",
        "n,a=not a jid@@,n=alice,r=abcdefgh",
    ],
)
def test_scram_authzid_of_someone_else(client_first: str) -> None:
    client = tls_client()
    events = client.send(
        f"<auth xmlns='{NS.SASL}' mechanism='SCRAM-SHA-256'>{b64(client_first)}</auth>"
    )
    assert [type(e) for e in events] == [c2s.AuthFailed]
    assert client.sasl_failure() == "invalid-authzid"
    assert no_auth(client.events)


def test_scram_authzid_of_oneself_is_invalid_authzid() -> None:
    # RFC 6120 6.3.8: acting as yourself, send no authzid (PLAIN tolerates it).
    client = tls_client()
    events = client.send(
        f"<auth xmlns='{NS.SASL}' mechanism='SCRAM-SHA-256'>"
        f"{b64('n,a=alice@localhost,n=alice,r=abcdefgh')}</auth>"
    )
    assert [type(e) for e in events] == [c2s.AuthFailed]
    assert client.sasl_failure() == "invalid-authzid"


@pytest.mark.parametrize("authzid", ["bob@localhost", "alice@example.org", "bob"])
def test_plain_authzid_of_someone_else(authzid: str) -> None:
    client = tls_client()
    events = client.plain(authzid=authzid)
    assert [type(e) for e in events] == [c2s.AuthFailed]
    assert client.sasl_failure() == "invalid-authzid"
    assert no_auth(client.events)


def test_plain_authzid_of_oneself_is_fine() -> None:
    client = tls_client()
    assert client.plain(authzid="alice@localhost") == [c2s.AccountLookup(HOST, "alice", "PLAIN")]


def test_auth_before_required_starttls() -> None:
    client = Client()
    client.open()
    client.scram_start("SCRAM-SHA-256", "alice")
    assert client.sasl_failure() == "encryption-required"
    assert not any(isinstance(e, c2s.AccountLookup) for e in client.events)


@pytest.mark.parametrize("mechanism", ["DIGEST-MD5", "EXTERNAL", "SCRAM-SHA-256-PLUS", "", "plain"])
def test_unknown_mechanism(mechanism: str) -> None:
    client = tls_client()
    client.send(f"<auth xmlns='{NS.SASL}' mechanism='{mechanism}'>{b64('x')}</auth>")
    assert client.sasl_failure() == "invalid-mechanism"
    assert not any(isinstance(e, c2s.AccountLookup) for e in client.events)


@pytest.mark.parametrize("payload", ["not base64!", "QUJD=x", "====", "QQ"])
def test_bad_base64(payload: str) -> None:
    client = tls_client()
    client.send(f"<auth xmlns='{NS.SASL}' mechanism='PLAIN'>{payload}</auth>")
    assert client.sasl_failure() == "incorrect-encoding"


def test_bad_base64_in_scram_final() -> None:
    client = tls_client()
    client.scram_start("SCRAM-SHA-256", "alice")
    client.answer(client.stream.account_found(ALICE))
    client.read()
    client.send(f"<response xmlns='{NS.SASL}'>%%%</response>")
    assert client.sasl_failure() == "incorrect-encoding"
    assert no_auth(client.events)


def test_abort_during_scram() -> None:
    client = tls_client()
    client.scram_start("SCRAM-SHA-256", "alice")
    client.answer(client.stream.account_found(ALICE))
    client.read_one(q(NS.SASL, "challenge"))
    assert client.send(f"<abort xmlns='{NS.SASL}'/>") == []
    assert client.sasl_failure() == "aborted"
    # A fresh attempt works afterwards.
    _, events = client.scram()
    assert events == [c2s.Authenticated(ALICE_JID, "SCRAM-SHA-256")]


def test_abort_without_exchange_is_a_stream_error() -> None:
    client = tls_client()
    client.send(f"<abort xmlns='{NS.SASL}'/>")
    assert client.stream_error() == "policy-violation"


def test_three_failures_close_the_stream() -> None:
    client = tls_client()
    for attempt in range(3):
        client.scram(password=f"wrong {attempt}")
        if attempt < 2:
            assert client.sasl_failure() == "not-authorized"
    frames = client.read()
    assert isinstance(frames[0], ET.Element) and frames[0].tag == q(NS.SASL, "failure")
    error = frames[1]
    assert isinstance(error, ET.Element) and error.tag == q(NS.STREAM, "error")
    assert error[0].tag == q(NS.STREAMS_ERR, "policy-violation")
    assert frames[2:] == ["close"]
    failed = [e for e in client.events if isinstance(e, c2s.AuthFailed)]
    assert len(failed) == 3
    assert isinstance(client.events[-1], c2s.Closed)
    assert no_auth(client.events)


def test_refused_auth_is_temporary_and_not_counted() -> None:
    client = tls_client()
    for _ in range(4):
        client.plain()
        events = client.answer(
            client.stream.refuse_auth(SaslCondition.TEMPORARY_AUTH_FAILURE, "slow down")
        )
        assert events == []
        failure = client.read_one(q(NS.SASL, "failure"))
        assert tags(failure) == [q(NS.SASL, "temporary-auth-failure"), q(NS.SASL, "text")]
    assert not client.stream.closed
    assert no_auth(client.events)


def test_second_auth_while_one_is_in_progress() -> None:
    client = tls_client()
    client.send(f"<auth xmlns='{NS.SASL}' mechanism='SCRAM-SHA-256'/>")
    client.read()
    client.send(f"<auth xmlns='{NS.SASL}' mechanism='SCRAM-SHA-256'/>")
    assert client.stream_error() == "policy-violation"


@pytest.mark.parametrize(
    "stanza",
    [
        "<message to='bob@localhost'><body>hi</body></message>",
        "<presence/>",
        "<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>",
    ],
)
@pytest.mark.parametrize("tls", [False, True])
def test_stanza_before_auth(stanza: str, tls: bool) -> None:
    client = Client(tls=tls)
    client.open()
    client.send(stanza)
    assert client.stream_error() == "not-authorized"
    assert not any(isinstance(e, c2s.StanzaReceived) for e in client.events)


def test_stanza_after_auth_before_bind() -> None:
    client = tls_client()
    client.login()
    client.send("<message to='bob@localhost'><body>hi</body></message>")
    assert client.stream_error() == "not-authorized"
    assert not any(isinstance(e, c2s.StanzaReceived) for e in client.events)


def test_sasl_after_auth_is_refused() -> None:
    client = tls_client()
    client.login()
    client.plain()
    assert client.stream_error() == "policy-violation"


def test_stream_header_inside_the_stream_after_auth() -> None:
    client = tls_client()
    client.bound()
    client.send(f"<stream:stream xmlns='{NS.CLIENT}' to='{HOST}' version='1.0'/>")
    assert client.stream_error() == "conflict"


# -- bind ---------------------------------------------------------------------------------


def test_bind_without_resource() -> None:
    client = tls_client()
    client.login()
    assert client.bind() == [c2s.BindRequested("b1", ALICE_JID, None)]
    full = ALICE_JID.with_resource("generated-1234")
    client.answer(client.stream.bound("b1", full))
    reply = client.read_one(q(NS.CLIENT, "iq"))
    assert reply.findtext(f"{q(NS.BIND, 'bind')}/{q(NS.BIND, 'jid')}") == str(full)


def test_bind_empty_resource_is_server_generated() -> None:
    client = tls_client()
    client.login()
    assert client.bind("") == [c2s.BindRequested("b1", ALICE_JID, None)]


def test_bind_conflict_then_retry() -> None:
    client = tls_client()
    client.login()
    client.bind("phone")
    error = StanzaError(StanzaErrorCondition.CONFLICT)
    assert client.answer(client.stream.bind_failed("b1", error)) == []
    reply, error_type, condition = client.stanza_error()
    assert reply.get("id") == "b1"
    assert (error_type, condition) == ("cancel", "conflict")
    assert client.bind("laptop", iq_id="b2") == [c2s.BindRequested("b2", ALICE_JID, "laptop")]


def test_bind_invalid_resource() -> None:
    client = tls_client()
    client.login()
    assert client.bind("x" * 1100) == []
    reply, _, condition = client.stanza_error()
    assert reply.get("id") == "b1" and condition == "bad-request"
    assert not client.stream.closed
    assert client.bind("ok", iq_id="b2") == [c2s.BindRequested("b2", ALICE_JID, "ok")]


def test_invalid_resource_then_pipelined_bind() -> None:
    # A client may pipeline a second bind after one that fails; the second
    # must still reach the driver.
    client = tls_client()
    client.login()
    events = client.send(
        f"<iq type='set' id='b1'><bind xmlns='{NS.BIND}'><resource>{'x' * 1100}</resource>"
        f"</bind></iq><iq type='set' id='b2'><bind xmlns='{NS.BIND}'/></iq>"
    )
    assert events == [c2s.BindRequested("b2", ALICE_JID, None)]


def test_invalid_resource_then_pipelined_close() -> None:
    client = tls_client()
    client.login()
    events = client.send(
        f"<iq type='set' id='b1'><bind xmlns='{NS.BIND}'><resource>{'x' * 1100}</resource>"
        "</bind></iq></stream:stream>"
    )
    assert events == [c2s.Closed("closed by client")]


@pytest.mark.parametrize(
    "iq",
    [
        "<iq type='get' id='b1'><bind xmlns='{bind}'/></iq>",
        "<iq type='set'><bind xmlns='{bind}'/></iq>",
        "<iq type='set' id='b1'/>",
        "<iq type='set' id='b1'><query xmlns='jabber:iq:roster'/></iq>",
    ],
)
def test_bad_bind_request(iq: str) -> None:
    client = tls_client()
    client.login()
    client.send(iq.format(bind=NS.BIND))
    assert client.stream_error() == "not-authorized"


def test_legacy_session_request_before_bind_is_answered() -> None:
    client = tls_client()
    client.login()
    assert client.send(f"<iq type='set' id='s1'><session xmlns='{NS.SESSION}'/></iq>") == []
    reply = client.read_one(q(NS.CLIENT, "iq"))
    assert (reply.get("type"), reply.get("id")) == ("result", "s1")
    assert not client.stream.closed


def test_session_request_after_bind_is_an_ordinary_stanza() -> None:
    client = tls_client()
    client.bound()
    events = client.send(f"<iq type='set' id='s1'><session xmlns='{NS.SESSION}'/></iq>")
    assert [type(e) for e in events] == [c2s.StanzaReceived]


# -- stanzas after bind (C1, A10, F6) ---------------------------------------------------------


@pytest.mark.parametrize(
    "sender",
    [
        "bob@localhost",
        "bob@localhost/phone",
        "alice@example.org",
        "alice@localhost/other",
        "localhost",
        "not a jid@@",
    ],
)
def test_from_of_someone_else(sender: str) -> None:
    client = tls_client()
    client.bound()
    events = client.send(f"<message from='{sender}' to='bob@localhost'><body>x</body></message>")
    assert not any(isinstance(e, c2s.StanzaReceived) for e in events)
    assert client.stream_error() == "invalid-from"


@pytest.mark.parametrize(
    "sender", ["alice@localhost", "alice@localhost/phone", "ALICE@LocalHost", None]
)
def test_own_from_is_stamped_with_the_full_jid(sender: str | None) -> None:
    client = tls_client()
    full = client.bound()
    attr = f" from='{sender}'" if sender else ""
    (event,) = client.send(f"<message{attr} to='Bob@localhost' id='m1'><body>x</body></message>")
    assert isinstance(event, c2s.StanzaReceived)
    stanza = event.stanza
    assert stanza.sender == full
    assert stanza.element.get("from") == "alice@localhost/phone"
    assert stanza.to == JID("bob", HOST, None)
    assert stanza.element.get("to") == "bob@localhost"
    assert (stanza.kind, stanza.type, stanza.id) == ("message", "normal", "m1")
    client.read_nothing()


def test_malformed_to_gets_jid_malformed_and_stream_stays_open() -> None:
    client = tls_client()
    full = client.bound()
    events = client.send("<message to='a@b@c' id='m1'><body>x</body></message>")
    assert [type(e) for e in events] == [c2s.StanzaRejected]
    reply, error_type, condition = client.stanza_error(q(NS.CLIENT, "message"))
    assert (error_type, condition) == ("modify", "jid-malformed")
    assert reply.get("id") == "m1" and reply.get("to") == str(full)
    assert reply.find(q(NS.CLIENT, "body")) is None  # the payload is not echoed
    assert not client.stream.closed
    events = client.send("<presence/>")
    assert [type(e) for e in events] == [c2s.StanzaReceived]


def test_error_stanza_with_malformed_to_gets_no_reply() -> None:
    client = tls_client()
    client.bound()
    assert client.send("<message type='error' to='a@b@c'/>") == [c2s.StanzaRejected(None)]
    client.read_nothing()
    assert not client.stream.closed


@pytest.mark.parametrize(
    "iq",
    [
        pytest.param("<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>", id="no-id"),
        pytest.param(
            "<iq type='get' id='q1'><ping xmlns='urn:xmpp:ping'/>"
            "<query xmlns='jabber:iq:version'/></iq>",
            id="two-children",
        ),
        pytest.param("<iq type='set' id='q1'/>", id="no-child"),
        pytest.param("<iq type='wrong' id='q1'><ping xmlns='urn:xmpp:ping'/></iq>", id="type"),
    ],
)
def test_bad_iq_gets_bad_request(iq: str) -> None:
    client = tls_client()
    client.bound()
    assert [type(e) for e in client.send(iq)] == [c2s.StanzaRejected]
    _, error_type, condition = client.stanza_error()
    assert (error_type, condition) == ("modify", "bad-request")
    assert not client.stream.closed


@pytest.mark.parametrize(
    "element",
    [
        "<foo/>",
        "<message xmlns='jabber:server'/>",
        f"<starttls xmlns='{NS.TLS}'/>",
    ],
)
def test_unknown_top_level_element_after_bind(element: str) -> None:
    client = tls_client()
    client.bound()
    assert client.send(element)[-1:] == [c2s.Closed("stream error unsupported-stanza-type")]
    assert client.stream_error() == "unsupported-stanza-type"


@pytest.mark.parametrize("stage", ["preauth", "bound"])
def test_compress_gets_failure_and_stream_is_kept(stage: str) -> None:
    client = tls_client()
    if stage == "bound":
        client.bound()
    events = client.send(
        "<compress xmlns='http://jabber.org/protocol/compress'><method>zlib</method></compress>"
    )
    assert events == []
    failure = client.read_one(q(NS.COMPRESS, "failure"))
    assert tags(failure) == [q(NS.COMPRESS, "unsupported-method")]
    assert not client.stream.closed
    assert client.stream.tls_active


def test_compression_never_offered() -> None:
    for client in (Client(), Client(replace(SETTINGS, starttls_required=False))):
        features = client.open()
        assert features.find(q("http://jabber.org/features/compress", "compression")) is None


def test_stanza_before_garbage_in_the_same_read_is_still_delivered() -> None:
    # C2SStream.receive: "Whatever parsed before the error is still processed first".
    client = tls_client()
    client.bound()
    events = client.send("<message to='bob@localhost' id='m1'><body>hi</body></message><'/>")
    assert [type(e) for e in events] == [c2s.StanzaReceived, c2s.Closed]
    assert client.stream_error() == "not-well-formed"


# -- closing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["header", "preauth", "bound"])
def test_client_close_is_answered_with_our_close(stage: str) -> None:
    client = Client(tls=True)
    if stage != "header":
        client.open()
    if stage == "bound":
        client.bound()
    if stage == "header":
        assert client.send(header() + "</stream:stream>") == [c2s.Closed("closed by client")]
        assert client.read()[-1] == "close"
    else:
        assert client.send("</stream:stream>") == [c2s.Closed("closed by client")]
        assert client.read() == ["close"]
    assert client.stream.closed
    assert client.send("<presence/>") == []
    client.read_nothing()


def test_server_close_with_and_without_error() -> None:
    client = tls_client()
    client.bound()
    client.stream.close()
    assert client.read() == ["close"]
    assert client.stream.take_events() == [c2s.Closed("closed by server")]
    client.stream.close()  # idempotent
    client.read_nothing()

    other = tls_client()
    other.stream.close(StreamErrorCondition.SYSTEM_SHUTDOWN, "bye")
    other.events += other.stream.take_events()
    assert other.stream_error() == "system-shutdown"


def test_server_close_before_any_header_still_sends_one() -> None:
    client = Client()
    client.stream.close(StreamErrorCondition.CONNECTION_TIMEOUT)
    client.events += client.stream.take_events()
    assert client.stream_error(with_header=True) == "connection-timeout"


# -- found by fuzzing (tests/fuzz/test_fuzz_c2s.py) ------------------------------------


def test_answer_after_the_stream_closed_is_ignored() -> None:
    """The read that carried <auth/> may also end the stream; the account
    lookup answers later, to a closed stream."""
    client = tls_client()
    message = "\x00alice\x00" + PASSWORD
    events = client.send(f"<auth xmlns='{NS.SASL}' mechanism='PLAIN'>{b64(message)}</auth><'/>")
    assert isinstance(events[0], c2s.AccountLookup) and isinstance(events[-1], c2s.Closed)
    assert client.stream_error() == "not-well-formed"
    assert client.stream.account_found(ALICE) == []
    assert client.stream.password_checked(True) == []
    assert client.stream.bound("b1", ALICE_JID.with_resource("r")) == []
    assert client.stream.tls_established() == []
    assert client.stream.closed
    client.read_nothing()


def test_garbage_after_starttls_in_the_same_read_is_dropped_too() -> None:
    client = Client()
    client.open()
    # Bytes after <starttls/> belong to no stream: not even an error comes of them.
    assert client.send(f"<starttls xmlns='{NS.TLS}'/><?xml version='1.0'?>\x00") == [c2s.StartTLS()]
    client.read_one(q(NS.TLS, "proceed"))
    assert client.send("<'/>") == []
    assert client.answer(client.stream.tls_established()) == []
    assert "PLAIN" in mechanisms(client.open())


def test_server_close_before_any_header_is_still_a_document() -> None:
    client = Client()
    client.stream.close()
    assert client.read() == ["header", "close"]
    assert client.events == [] and isinstance(client.stream.take_events()[0], c2s.Closed)
