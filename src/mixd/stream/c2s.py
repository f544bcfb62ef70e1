"""Sans-I/O client-to-server stream (RFC 6120): header, STARTTLS, SASL, bind.

The machine takes bytes in (`receive`) and gives bytes out (`data_to_send`)
plus events. It never touches sockets, the loop or the database: decisions that
need I/O (look up an account, check a PLAIN password, pick a resource, upgrade
to TLS) are returned as events and the driver answers with a method call.
While such a decision is pending, further input is queued in order.
"""

from __future__ import annotations

import secrets

from mixd import ns as NS
from mixd.backlog import Backlog
from mixd.codec.stanza import error_reply, header_from_element
from mixd.errors import (
    StanzaError,
    StanzaErrorCondition,
    StreamError,
    StreamErrorCondition,
)
from mixd.jid import JID, JIDError, normalize_resource
from mixd.stream.c2s_events import (
    AccountLookup,
    Authenticated,
    AuthFailed,
    BindRequested,
    Bound,
    C2SEvent,
    C2SSettings,
    Closed,
    PasswordCheck,
    RegisterRequested,
    SmAck,
    SmAckRequest,
    SmEnable,
    SmResume,
    StanzaReceived,
    StanzaRejected,
    StartTLS,
    StreamState,
)
from mixd.stream.c2s_register import Registration
from mixd.stream.c2s_sasl import SaslInProgress, SaslNegotiation
from mixd.stream.c2s_sm import StreamManagement
from mixd.stream.features import stream_features
from mixd.stream.header import check_stream_header, stream_close, stream_error, stream_header
from mixd.xml.element import Element
from mixd.xml.parser import ElementReceived, StreamClosed, StreamOpened, StreamParser
from mixd.xml.serializer import serialize

# The events are part of this module's interface (drivers use c2s.X).
__all__ = [
    "AccountLookup",
    "AuthFailed",
    "Authenticated",
    "BindRequested",
    "Bound",
    "C2SEvent",
    "C2SSettings",
    "C2SStream",
    "Closed",
    "PasswordCheck",
    "RegisterRequested",
    "SmAck",
    "SmAckRequest",
    "SmEnable",
    "SmResume",
    "StanzaReceived",
    "StanzaRejected",
    "StartTLS",
]


class C2SStream(SaslNegotiation, Registration, StreamManagement):
    def __init__(self, settings: C2SSettings, *, tls_active: bool = False) -> None:
        self.settings = settings
        self.tls_active = tls_active
        self.stream_id = ""
        self.host: str | None = None
        self.lang = "en"
        self.jid: JID | None = None  # the account (bare) once authenticated, full once bound
        self.authenticated = False
        self._out: list[str] = []
        self._state = StreamState.HEADER
        self._header_sent = False
        self._pending: Backlog[StreamOpened | ElementReceived | StreamClosed] = Backlog()
        self._events: list[C2SEvent] = []
        self._sasl: SaslInProgress | None = None
        self._sasl_failures = 0
        self._parser = StreamParser(settings.preauth_limits)
        # <proceed/> is out: what arrives until the upgrade was sent in the
        # clear and belongs to no stream.
        self._tls_pending = False

    # -- I/O side ----------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._state is StreamState.CLOSED

    def data_to_send(self) -> bytes:
        if not self._out:
            return b""
        data = "".join(self._out).encode()
        self._out.clear()
        return data

    def receive(self, data: bytes) -> list[C2SEvent]:
        if self._state is StreamState.CLOSED or self._tls_pending:
            return []
        parser = self._parser
        try:
            self._pending.extend(parser.feed(data))
        except StreamError as exc:
            self._pending.extend(parser.take_events())
            # Whatever parsed before the error is still processed first; bytes
            # that followed a stream restart or <starttls/> in the same read
            # belong to no stream (the client had not seen our answer yet) and
            # are dropped, errors included.
            self._run()
            if self._parser is parser and not self._tls_pending:
                self._fail(exc)
            return self._take_events()
        self._run()
        return self._take_events()

    def release_parser(self) -> bool:
        """An idle bound stream's parser gives back its memory until more
        input arrives (`StreamParser.release`)."""
        return self._state is StreamState.BOUND and self._parser.release()

    def send(self, element: Element) -> None:
        """Queue a stanza for the client (ignored once the stream is closed)."""
        if self._state is not StreamState.CLOSED:
            self._out.append(serialize(element))

    def close(
        self,
        condition: StreamErrorCondition | None = None,
        text: str | None = None,
        extra: str | None = None,
    ) -> None:
        """End the stream from the server side (an error, or a plain close)."""
        if self._state is StreamState.CLOSED:
            return
        if condition is not None:
            self._fail(StreamError(condition, text, extra))
        else:
            if not self._header_sent:
                self._send_header(self.host or next(iter(self.settings.hosts)))
            self._out.append(stream_close())
            self._state = StreamState.CLOSED
            self._events.append(Closed("closed by server"))

    def take_events(self) -> list[C2SEvent]:
        return self._take_events()

    # -- answers from the driver --------------------------------------------
    # An answer may come after the stream closed (the client's next read
    # ended it meanwhile): it is then ignored.

    def tls_established(self) -> list[C2SEvent]:
        if self._state is StreamState.CLOSED:
            return []
        self._tls_pending = False
        self.tls_active = True
        self._restart()
        return self._take_events()

    def bound(self, iq_id: str, jid: JID) -> list[C2SEvent]:
        if self._state is StreamState.CLOSED:
            return []
        self.jid = jid
        reply = Element(NS.CLIENT, "iq", {"type": "result", "id": iq_id})
        reply.add(NS.BIND, "bind").add_text_child(NS.BIND, "jid", str(jid))
        self._out.append(serialize(reply))
        self._parser.set_limits(self.settings.limits)
        self._state = StreamState.BOUND
        self._events.append(Bound(jid))
        self._run()
        return self._take_events()

    def bind_failed(self, iq_id: str, error: StanzaError) -> list[C2SEvent]:
        if self._state is StreamState.CLOSED:
            return []
        self._iq_error(iq_id, error)
        self._state = StreamState.NEGOTIATING
        self._run()
        return self._take_events()

    # -- the machine -------------------------------------------------------

    def _take_events(self) -> list[C2SEvent]:
        events, self._events = self._events, []
        return events

    def _run(self) -> None:
        while self._pending and self._state not in (StreamState.WAIT, StreamState.CLOSED):
            event = self._pending.popleft()
            try:
                if isinstance(event, StreamOpened):
                    self._on_header(event)
                elif isinstance(event, StreamClosed):
                    self._out.append(stream_close())
                    self._state = StreamState.CLOSED
                    self._events.append(Closed("closed by client"))
                elif self._state is StreamState.BOUND:
                    self._on_stanza(event.element)
                else:
                    self._on_negotiation(event.element)
            except StreamError as exc:
                self._fail(exc)

    def _fail(self, exc: StreamError) -> None:
        if self._state is StreamState.CLOSED:
            return
        if not self._header_sent:
            self._send_header(next(iter(self.settings.hosts)))
        self._out.append(stream_error(exc.condition, exc.text, exc.extra))
        self._out.append(stream_close())
        self._state = StreamState.CLOSED
        self._pending.clear()
        self._events.append(Closed(f"stream error {exc.condition}"))

    def _restart(self) -> None:
        """Stream restart after TLS or SASL: new parser, new header expected."""
        self._parser = StreamParser(
            self.settings.limits if self.authenticated else self.settings.preauth_limits
        )
        self._pending.clear()  # nothing sent before the restart carries over
        self._header_sent = False
        self._state = StreamState.HEADER

    def _send_header(self, host: str) -> None:
        self.stream_id = secrets.token_urlsafe(16)
        self._out.append(stream_header(host, self.stream_id, self.lang))
        self._header_sent = True

    def _on_header(self, opened: StreamOpened) -> None:
        if self._state is not StreamState.HEADER:
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
        self._state = StreamState.NEGOTIATING

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
        self._tls_pending = True
        self._state = StreamState.WAIT
        self._events.append(StartTLS())

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
                self._iq_error(iq_id, StanzaError(StanzaErrorCondition.BAD_REQUEST, str(exc)))
                return
        assert self.jid is not None
        self._state = StreamState.WAIT
        self._events.append(BindRequested(iq_id, self.jid, resource))

    def _iq_error(self, iq_id: str, error: StanzaError) -> None:
        reply = error_reply(Element(NS.CLIENT, "iq", {"id": iq_id}), None, None, error)
        self._out.append(serialize(reply))

    def send_raw(self, text: str) -> None:
        if self._state is not StreamState.CLOSED:
            self._out.append(text)

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
