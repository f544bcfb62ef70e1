"""Sans-I/O client-to-server stream (RFC 6120): header, STARTTLS, SASL, bind.

The machine takes bytes in (`receive`) and gives bytes out (`data_to_send`)
plus events. It never touches sockets, the loop or the database: decisions that
need I/O (look up an account, check a PLAIN password, pick a resource, upgrade
to TLS) are returned as events and the driver answers with a method call.
While such a decision is pending, further input is queued in order.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections import deque
from dataclasses import dataclass
from enum import Enum, auto

from mixd import ns as NS
from mixd.codec.stanza import Stanza, error_reply, header_from_element
from mixd.errors import (
    StanzaError,
    StanzaErrorCondition,
    StreamError,
    StreamErrorCondition,
)
from mixd.jid import JID, JIDError, normalize_localpart, normalize_resource
from mixd.storage.contracts.accounts import Account, ScramCredential
from mixd.stream import sasl, sm
from mixd.stream.features import stream_features
from mixd.stream.header import check_stream_header, stream_close, stream_error, stream_header
from mixd.xml.element import Element
from mixd.xml.parser import ElementReceived, Limits, StreamClosed, StreamOpened, StreamParser
from mixd.xml.serializer import serialize


@dataclass(frozen=True, slots=True)
class C2SSettings:
    hosts: frozenset[str]
    mechanisms: tuple[str, ...]
    tls_available: bool
    starttls_required: bool
    preauth_limits: Limits
    limits: Limits
    idle_seconds: int
    decoy_secret: bytes
    # Decoy exchanges for unknown users announce the same count as real ones.
    scram_iterations: int = 4096
    registration: bool = False  # XEP-0077 in-band registration, only over TLS
    # (namespace, name) of the empty features loaded modules offer once
    # authenticated, e.g. roster versioning (Module.stream_features).
    module_features: tuple[tuple[str, str], ...] = ()


# -- events for the driver ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartTLS:
    """`<proceed/>` is queued: flush it, upgrade, then call tls_established()."""


@dataclass(frozen=True, slots=True)
class AccountLookup:
    """Fetch the account, then call account_found() (or refuse_auth())."""

    host: str
    username: str
    mechanism: str


@dataclass(frozen=True, slots=True)
class PasswordCheck:
    """Run credentials.verify_password off the loop, then password_checked()."""

    credential: ScramCredential
    password: str


@dataclass(frozen=True, slots=True)
class AuthFailed:
    host: str
    username: str | None
    mechanism: str | None
    condition: sasl.SaslCondition


@dataclass(frozen=True, slots=True)
class Authenticated:
    jid: JID
    mechanism: str


@dataclass(frozen=True, slots=True)
class BindRequested:
    """Pick a resource (None: client asked the server to), then bound()."""

    iq_id: str
    jid: JID
    resource: str | None


@dataclass(frozen=True, slots=True)
class Bound:
    jid: JID


@dataclass(frozen=True, slots=True)
class StanzaReceived:
    stanza: Stanza


@dataclass(frozen=True, slots=True)
class StanzaRejected:
    """A stanza failed validation; `reply` is its error answer (None for a
    stanza of type error). It still counts as handled for XEP-0198."""

    reply: Element | None


@dataclass(frozen=True, slots=True)
class RegisterRequested:
    """XEP-0077 before authentication: create the account (never log the
    password), then call registered() or register_failed()."""

    iq_id: str
    host: str
    username: str
    password: str


@dataclass(frozen=True, slots=True)
class SmEnable:
    """XEP-0198 <enable/>: answer with sm.enabled() via send_raw()."""

    resume: bool


@dataclass(frozen=True, slots=True)
class SmAckRequest:
    """<r/>: answer with <a h=.../> once every earlier stanza is handled."""


@dataclass(frozen=True, slots=True)
class SmAck:
    h: int


@dataclass(frozen=True, slots=True)
class SmResume:
    """<resume/> after authentication: call resumed() or resume_failed()."""

    jid: JID
    previd: str
    h: int


@dataclass(frozen=True, slots=True)
class Closed:
    """The stream is over: flush what is queued, then close the transport."""

    reason: str


C2SEvent = (
    StartTLS
    | AccountLookup
    | PasswordCheck
    | AuthFailed
    | Authenticated
    | BindRequested
    | Bound
    | StanzaReceived
    | StanzaRejected
    | SmEnable
    | SmAckRequest
    | SmAck
    | SmResume
    | RegisterRequested
    | Closed
)


class _State(Enum):
    HEADER = auto()  # waiting for the client's stream header
    NEGOTIATING = auto()  # features sent; TLS / SASL / bind elements expected
    WAIT = auto()  # a decision is pending with the driver
    BOUND = auto()  # stanzas flow
    CLOSED = auto()


@dataclass(slots=True)
class _SaslInProgress:
    mechanism: str
    host: str
    identity: sasl.SaslIdentity | None = None
    username: str | None = None  # normalised localpart
    client_first: str = ""
    scram: sasl.ScramExchange | None = None
    password: str | None = None
    account: Account | None = None


class C2SStream:
    def __init__(self, settings: C2SSettings, *, tls_active: bool = False) -> None:
        self.settings = settings
        self.tls_active = tls_active
        self.stream_id = ""
        self.host: str | None = None
        self.lang = "en"
        self.jid: JID | None = None  # the account (bare) once authenticated, full once bound
        self.authenticated = False
        self._out: list[str] = []
        self._state = _State.HEADER
        self._header_sent = False
        self._pending: deque[StreamOpened | ElementReceived | StreamClosed] = deque()
        self._events: list[C2SEvent] = []
        self._sasl: _SaslInProgress | None = None
        self._sasl_failures = 0
        self._parser = StreamParser(settings.preauth_limits)

    # -- I/O side ----------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._state is _State.CLOSED

    def data_to_send(self) -> bytes:
        if not self._out:
            return b""
        data = "".join(self._out).encode()
        self._out.clear()
        return data

    def receive(self, data: bytes) -> list[C2SEvent]:
        if self._state is _State.CLOSED:
            return []
        parser = self._parser
        try:
            self._pending.extend(parser.feed(data))
        except StreamError as exc:
            self._pending.extend(parser.take_events())
            # Whatever parsed before the error is still processed first; bytes
            # that followed a stream restart in the same read belong to no
            # stream (the client had not seen our answer yet) and are dropped.
            self._run()
            if self._parser is parser:
                self._fail(exc)
            return self._take_events()
        self._run()
        return self._take_events()

    def send(self, element: Element) -> None:
        """Queue a stanza for the client (ignored once the stream is closed)."""
        if self._state is not _State.CLOSED:
            self._out.append(serialize(element))

    def close(
        self,
        condition: StreamErrorCondition | None = None,
        text: str | None = None,
        extra: str | None = None,
    ) -> None:
        """End the stream from the server side (an error, or a plain close)."""
        if self._state is _State.CLOSED:
            return
        if condition is not None:
            self._fail(StreamError(condition, text, extra))
        else:
            self._out.append(stream_close())
            self._state = _State.CLOSED
            self._events.append(Closed("closed by server"))

    def take_events(self) -> list[C2SEvent]:
        return self._take_events()

    # -- answers from the driver --------------------------------------------

    def tls_established(self) -> list[C2SEvent]:
        self.tls_active = True
        self._restart()
        return self._take_events()

    def account_found(self, account: Account | None) -> list[C2SEvent]:
        auth = self._sasl
        assert auth is not None and self._state is _State.WAIT
        auth.account = account
        if auth.mechanism == sasl.PLAIN:
            cred = account.credential("SCRAM-SHA-256") if account else None
            cred = cred or (account.credential("SCRAM-SHA-1") if account else None)
            if cred is None or auth.password is None:
                self._sasl_fail(sasl.SaslFailure(sasl.SaslCondition.NOT_AUTHORIZED))
            else:
                self._events.append(PasswordCheck(cred, auth.password))
                auth.password = None
                return self._take_events()
        else:
            cred = account.credential(auth.mechanism) if account else None
            if cred is None:
                cred = sasl.decoy_credential(
                    auth.mechanism,
                    self.settings.decoy_secret,
                    auth.username or "",
                    self.settings.scram_iterations,
                )
            try:
                auth.scram = sasl.ScramExchange(auth.mechanism, auth.client_first, cred)
                self._sasl_element("challenge", auth.scram.server_first())
                self._state = _State.NEGOTIATING
            except sasl.SaslFailure as exc:
                self._sasl_fail(exc)
        self._run()
        return self._take_events()

    def password_checked(self, ok: bool) -> list[C2SEvent]:
        assert self._sasl is not None and self._state is _State.WAIT
        if ok:
            self._sasl_success(None)
        else:
            self._sasl_fail(sasl.SaslFailure(sasl.SaslCondition.NOT_AUTHORIZED))
        self._run()
        return self._take_events()

    def refuse_auth(self, condition: sasl.SaslCondition, text: str) -> list[C2SEvent]:
        """The driver's policy (e.g. too many failures) refuses this attempt."""
        assert self._sasl is not None and self._state is _State.WAIT
        self._sasl_fail(sasl.SaslFailure(condition, text), count=False)
        self._run()
        return self._take_events()

    def bound(self, iq_id: str, jid: JID) -> list[C2SEvent]:
        self.jid = jid
        reply = Element(NS.CLIENT, "iq", {"type": "result", "id": iq_id})
        reply.add(NS.BIND, "bind").add_text_child(NS.BIND, "jid", str(jid))
        self._out.append(serialize(reply))
        self._parser.set_limits(self.settings.limits)
        self._state = _State.BOUND
        self._events.append(Bound(jid))
        self._run()
        return self._take_events()

    def bind_failed(self, iq_id: str, error: StanzaError) -> list[C2SEvent]:
        self._out.append(
            serialize(error_reply(Element(NS.CLIENT, "iq", {"id": iq_id}), None, None, error))
        )
        self._state = _State.NEGOTIATING
        self._run()
        return self._take_events()

    # -- the machine -------------------------------------------------------

    def _take_events(self) -> list[C2SEvent]:
        events, self._events = self._events, []
        return events

    def _run(self) -> None:
        while self._pending and self._state not in (_State.WAIT, _State.CLOSED):
            event = self._pending.popleft()
            try:
                if isinstance(event, StreamOpened):
                    self._on_header(event)
                elif isinstance(event, StreamClosed):
                    self._out.append(stream_close())
                    self._state = _State.CLOSED
                    self._events.append(Closed("closed by client"))
                elif self._state is _State.BOUND:
                    self._on_stanza(event.element)
                else:
                    self._on_negotiation(event.element)
            except StreamError as exc:
                self._fail(exc)

    def _fail(self, exc: StreamError) -> None:
        if self._state is _State.CLOSED:
            return
        if not self._header_sent:
            self._send_header(next(iter(self.settings.hosts)))
        self._out.append(stream_error(exc.condition, exc.text, exc.extra))
        self._out.append(stream_close())
        self._state = _State.CLOSED
        self._pending.clear()
        self._events.append(Closed(f"stream error {exc.condition}"))

    def _restart(self) -> None:
        """Stream restart after TLS or SASL: new parser, new header expected."""
        self._parser = StreamParser(
            self.settings.limits if self.authenticated else self.settings.preauth_limits
        )
        self._pending.clear()  # nothing sent before the restart carries over
        self._header_sent = False
        self._state = _State.HEADER

    def _send_header(self, host: str) -> None:
        self.stream_id = secrets.token_urlsafe(16)
        self._out.append(stream_header(host, self.stream_id, self.lang))
        self._header_sent = True

    def _on_header(self, opened: StreamOpened) -> None:
        if self._state is not _State.HEADER:
            raise StreamError(StreamErrorCondition.CONFLICT, "stream already open")
        fallback = self.host or next(iter(self.settings.hosts))
        try:
            host, lang = check_stream_header(opened, self.settings.hosts)
        except StreamError:
            self._send_header(fallback)
            raise
        if self.host is not None and host != self.host:
            self._send_header(self.host)
            raise StreamError(StreamErrorCondition.NOT_AUTHORIZED, "host changed on restart")
        self.host, self.lang = host, lang
        self._send_header(host)
        features = stream_features(
            self.settings,
            tls_active=self.tls_active,
            authenticated=self.authenticated,
        )
        self._out.append(serialize(features))
        self._state = _State.NEGOTIATING

    # -- negotiation ---------------------------------------------------------

    def _on_negotiation(self, el: Element) -> None:
        if el.is_(NS.TLS, "starttls"):
            self._on_starttls()
        elif el.ns == NS.SASL:
            self._on_sasl(el)
        elif el.is_(NS.CLIENT, "iq") and self.authenticated:
            self._on_bind_iq(el)
        elif el.is_(NS.CLIENT, "iq") and self._registration_open() and self._is_register(el):
            self._on_register(el)
        elif el.ns == NS.SM and self.authenticated:
            self._on_sm_before_bind(el)
        elif el.ns == NS.CLIENT and el.name in ("message", "presence", "iq"):
            raise StreamError(StreamErrorCondition.NOT_AUTHORIZED, "authenticate first")
        elif el.is_(NS.COMPRESS, "compress"):
            self._compress_failure()
        else:
            raise StreamError(StreamErrorCondition.UNSUPPORTED_STANZA_TYPE)

    def _compress_failure(self) -> None:
        # XEP-0138 is never offered (compression-based attacks); answer its
        # request with the defined failure and keep the stream.
        failure = Element(NS.COMPRESS, "failure")
        failure.add(NS.COMPRESS, "unsupported-method")
        self._out.append(serialize(failure))

    def _on_starttls(self) -> None:
        if self.tls_active or not self.settings.tls_available or self.authenticated:
            raise StreamError(StreamErrorCondition.POLICY_VIOLATION, "STARTTLS not offered")
        self._out.append(serialize(Element(NS.TLS, "proceed")))
        # Bytes after <starttls/> were sent in the clear: never process them.
        self._pending.clear()
        self._state = _State.WAIT
        self._events.append(StartTLS())

    def _offered(self) -> tuple[str, ...]:
        if self.authenticated:
            return ()
        if not self.tls_active and self.settings.tls_available and self.settings.starttls_required:
            return ()
        return tuple(m for m in self.settings.mechanisms if m != sasl.PLAIN or self.tls_active)

    def _on_sasl(self, el: Element) -> None:
        try:
            self._dispatch_sasl(el)
        except sasl.SaslFailure as exc:
            self._sasl_fail(exc)

    def _dispatch_sasl(self, el: Element) -> None:
        if el.name == "auth":
            self._on_auth(el)
        elif el.name == "response" and self._sasl is not None and self._sasl.scram:
            self._on_scram_final(el)
        elif el.name == "response" and self._sasl is not None:
            self._on_initial_response(self._decode(el))
        elif el.name == "abort" and self._sasl is not None:
            self._sasl_fail(sasl.SaslFailure(sasl.SaslCondition.ABORTED))
        else:
            raise StreamError(StreamErrorCondition.POLICY_VIOLATION, "unexpected SASL element")

    def _decode(self, el: Element) -> bytes:
        text = el.text.strip()
        if text == "=":
            return b""
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise sasl.SaslFailure(sasl.SaslCondition.INCORRECT_ENCODING) from None

    def _on_auth(self, el: Element) -> None:
        if self.authenticated or self._sasl is not None:
            raise StreamError(StreamErrorCondition.POLICY_VIOLATION, "SASL already in progress")
        mechanism = el.get("mechanism", "") or ""
        assert self.host is not None
        self._sasl = _SaslInProgress(mechanism, self.host)
        try:
            offered = self._offered()
            if not offered and not self.tls_active:
                raise sasl.SaslFailure(sasl.SaslCondition.ENCRYPTION_REQUIRED, "use STARTTLS")
            if mechanism not in offered:
                raise sasl.SaslFailure(sasl.SaslCondition.INVALID_MECHANISM)
            if not el.text.strip():
                # No initial response: ask for it with an empty challenge.
                self._out.append(serialize(Element(NS.SASL, "challenge")))
                return
            self._on_initial_response(self._decode(el))
        except sasl.SaslFailure as exc:
            self._sasl_fail(exc)

    def _on_initial_response(self, data: bytes) -> None:
        auth = self._sasl
        assert auth is not None
        try:
            if auth.mechanism == sasl.PLAIN:
                auth.identity, auth.password = sasl.parse_plain(data)
            else:
                auth.client_first = data.decode("utf-8")
                auth.identity = sasl.parse_scram_client_first(auth.client_first)
            try:
                auth.username = normalize_localpart(auth.identity.authcid)
            except JIDError:
                raise sasl.SaslFailure(sasl.SaslCondition.NOT_AUTHORIZED) from None
            self._check_authzid(auth)
        except UnicodeDecodeError:
            self._sasl_fail(sasl.SaslFailure(sasl.SaslCondition.MALFORMED_REQUEST))
            return
        except sasl.SaslFailure as exc:
            self._sasl_fail(exc)
            return
        self._state = _State.WAIT
        self._events.append(AccountLookup(auth.host, auth.username, auth.mechanism))

    def _check_authzid(self, auth: _SaslInProgress) -> None:
        """An authzid may only name the authenticating account itself."""
        if auth.identity is None or auth.identity.authzid is None:
            return
        try:
            wanted = JID.parse(auth.identity.authzid)
        except JIDError:
            raise sasl.SaslFailure(sasl.SaslCondition.INVALID_AUTHZID) from None
        if wanted != JID(auth.username, auth.host, None):
            raise sasl.SaslFailure(
                sasl.SaslCondition.INVALID_AUTHZID, "authzid must be your own JID"
            )
        if auth.mechanism != sasl.PLAIN:
            # RFC 6120 6.3.8: acting as yourself, send no authzid. PLAIN
            # tolerates one naming yourself; SCRAM's GS2 header is covered by
            # the proof and scramp verifies only an empty one.
            raise sasl.SaslFailure(
                sasl.SaslCondition.INVALID_AUTHZID, "omit the authzid when acting as yourself"
            )

    def _on_scram_final(self, el: Element) -> None:
        auth = self._sasl
        assert auth is not None and auth.scram is not None
        try:
            final = auth.scram.server_final(self._decode(el).decode("utf-8"))
        except UnicodeDecodeError:
            self._sasl_fail(sasl.SaslFailure(sasl.SaslCondition.MALFORMED_REQUEST))
            return
        except sasl.SaslFailure as exc:
            self._sasl_fail(exc)
            return
        if auth.account is None:  # a decoy exchange can never succeed
            self._sasl_fail(sasl.SaslFailure(sasl.SaslCondition.NOT_AUTHORIZED))
            return
        self._sasl_success(final)

    def _sasl_element(self, name: str, payload: str | None) -> None:
        el = Element(NS.SASL, name)
        if payload is not None:
            el.append(base64.b64encode(payload.encode()).decode() or "=")
        self._out.append(serialize(el))

    def _sasl_success(self, final: str | None) -> None:
        auth = self._sasl
        assert auth is not None and auth.username is not None
        self._sasl_element("success", final)
        self.authenticated = True
        self.jid = JID(auth.username, auth.host, None)
        self._sasl = None
        self._events.append(Authenticated(self.jid, auth.mechanism))
        self._restart()

    def _sasl_fail(self, exc: sasl.SaslFailure, *, count: bool = True) -> None:
        auth = self._sasl
        failure = Element(NS.SASL, "failure")
        failure.add(NS.SASL, str(exc.condition))
        if exc.text:
            failure.add_text_child(NS.SASL, "text", exc.text)
        self._out.append(serialize(failure))
        self._sasl = None
        self._state = _State.NEGOTIATING
        if count and exc.condition is not sasl.SaslCondition.ABORTED:
            self._events.append(
                AuthFailed(
                    self.host or "",
                    auth.username if auth else None,
                    auth.mechanism if auth else None,
                    exc.condition,
                )
            )
            self._sasl_failures += 1
            if self._sasl_failures >= 3:
                # RFC 6120 6.4.5: a server may close after a few retries.
                self._fail(
                    StreamError(StreamErrorCondition.POLICY_VIOLATION, "too many failed logins")
                )

    # -- bind and stanzas ------------------------------------------------------

    def _on_bind_iq(self, el: Element) -> None:
        iq_id = el.get("id") or ""
        child = next(el.elements, None)
        if el.get("type") != "set" or child is None or not iq_id:
            raise StreamError(StreamErrorCondition.NOT_AUTHORIZED, "bind a resource first")
        if child.is_(NS.SESSION, "session"):
            self._out.append(serialize(Element(NS.CLIENT, "iq", {"type": "result", "id": iq_id})))
            return
        if not child.is_(NS.BIND, "bind"):
            raise StreamError(StreamErrorCondition.NOT_AUTHORIZED, "bind a resource first")
        requested = child.find_text(NS.BIND, "resource")
        resource: str | None = None
        if requested:
            try:
                resource = normalize_resource(requested)
            except JIDError as exc:
                error = StanzaError(StanzaErrorCondition.BAD_REQUEST, str(exc))
                reply = error_reply(Element(NS.CLIENT, "iq", {"id": iq_id}), None, None, error)
                self._out.append(serialize(reply))
                return
        assert self.jid is not None
        self._state = _State.WAIT
        self._events.append(BindRequested(iq_id, self.jid, resource))

    def _registration_open(self) -> bool:
        return self.settings.registration and self.tls_active and self._sasl is None

    @staticmethod
    def _is_register(el: Element) -> bool:
        children = list(el.elements)
        return len(children) == 1 and children[0].is_(NS.REGISTER, "query")

    def _on_register(self, el: Element) -> None:
        iq_id = el.get("id") or ""
        query = next(el.elements)
        if el.get("type") == "get":
            form = Element(NS.REGISTER, "query")
            form.add_text_child(NS.REGISTER, "instructions", "Choose a username and password.")
            form.add(NS.REGISTER, "username")
            form.add(NS.REGISTER, "password")
            reply = Element(NS.CLIENT, "iq", {"type": "result", "id": iq_id})
            reply.append(form)
            self._out.append(serialize(reply))
            return
        username, password = (
            query.find_text(NS.REGISTER, "username"),
            query.find_text(NS.REGISTER, "password"),
        )
        if el.get("type") != "set" or not username or not password:
            self._iq_error(iq_id, StanzaError(StanzaErrorCondition.BAD_REQUEST))
            return
        try:
            normalized = normalize_localpart(username)
        except JIDError as exc:
            self._iq_error(iq_id, StanzaError(StanzaErrorCondition.NOT_ACCEPTABLE, str(exc)))
            return
        assert self.host is not None
        self._state = _State.WAIT
        self._events.append(RegisterRequested(iq_id, self.host, normalized, password))

    def registered(self, iq_id: str) -> list[C2SEvent]:
        self._out.append(serialize(Element(NS.CLIENT, "iq", {"type": "result", "id": iq_id})))
        self._state = _State.NEGOTIATING
        self._run()
        return self._take_events()

    def _iq_error(self, iq_id: str, error: StanzaError) -> None:
        reply = error_reply(Element(NS.CLIENT, "iq", {"id": iq_id}), None, None, error)
        self._out.append(serialize(reply))

    def register_failed(self, iq_id: str, error: StanzaError) -> list[C2SEvent]:
        self._iq_error(iq_id, error)
        self._state = _State.NEGOTIATING
        self._run()
        return self._take_events()

    def _on_sm_before_bind(self, el: Element) -> None:
        h = sm.parse_h(el) if el.name == "resume" else None
        previd = el.get("previd")
        if el.name == "resume" and h is not None and previd and self.jid is not None:
            self._state = _State.WAIT
            self._events.append(SmResume(self.jid, previd, h))
        elif el.name in ("enable", "resume"):
            self._out.append(
                sm.failed("unexpected-request" if el.name == "enable" else "bad-request")
            )
        else:
            raise StreamError(StreamErrorCondition.UNSUPPORTED_STANZA_TYPE)

    def _on_sm(self, el: Element) -> None:
        if el.name == "r":
            self._events.append(SmAckRequest())
        elif el.name == "a":
            h = sm.parse_h(el)
            if h is None:
                raise StreamError(StreamErrorCondition.INVALID_XML, "bad h")
            self._events.append(SmAck(h))
        elif el.name == "enable":
            self._events.append(SmEnable(el.get("resume") in ("true", "1")))
        elif el.name == "resume":
            self._out.append(sm.failed("unexpected-request"))
        else:
            raise StreamError(StreamErrorCondition.UNSUPPORTED_STANZA_TYPE)

    def send_raw(self, text: str) -> None:
        if self._state is not _State.CLOSED:
            self._out.append(text)

    def resumed(self, jid: JID, previd: str, h: int) -> list[C2SEvent]:
        """The driver took over the old session: the stream carries on as bound."""
        self.jid = jid
        self._out.append(sm.resumed(previd, h))
        self._parser.set_limits(self.settings.limits)
        self._state = _State.BOUND
        self._run()
        return self._take_events()

    def resume_failed(self) -> list[C2SEvent]:
        self._out.append(sm.failed("item-not-found"))
        self._state = _State.NEGOTIATING
        self._run()
        return self._take_events()

    def _on_stanza(self, el: Element) -> None:
        if el.ns == NS.SM:
            self._on_sm(el)
            return
        if el.ns != NS.CLIENT or el.name not in ("message", "presence", "iq"):
            if el.is_(NS.COMPRESS, "compress"):
                self._compress_failure()
                return
            raise StreamError(StreamErrorCondition.UNSUPPORTED_STANZA_TYPE)
        me = self.jid
        assert me is not None
        claimed = el.attrs.get("from")
        if claimed is not None and claimed not in (str(me), str(me.bare)):
            try:
                ok = JID.parse(claimed) in (me, me.bare)
            except JIDError:
                ok = False
            if not ok:
                raise StreamError(StreamErrorCondition.INVALID_FROM, "that is not you")
        el.attrs["from"] = str(me)  # every stanza leaves stamped with the full JID
        to: JID | None = None
        try:
            raw_to = el.attrs.get("to")
            if raw_to is not None:
                try:
                    to = JID.parse(raw_to)
                except JIDError as exc:
                    raise StanzaError(StanzaErrorCondition.JID_MALFORMED, str(exc)) from None
                el.attrs["to"] = str(to)
            stanza = header_from_element(el, me, to)
        except StanzaError as exc:
            reply = error_reply(el, me, None, exc) if el.attrs.get("type") != "error" else None
            # Answered in order with the stanzas before it, and counted as handled.
            self._events.append(StanzaRejected(reply))
            return
        self._events.append(StanzaReceived(stanza))
