"""The SASL part of the client stream machine (RFC 6120 section 6), as a
slice of C2SStream: mechanisms offered, the exchanges, authzid rules,
failure counting. Account lookups and PLAIN checks are driver decisions."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from mixd import ns as NS
from mixd.errors import StreamError, StreamErrorCondition
from mixd.jid import JID, JIDError, normalize_localpart
from mixd.storage.contracts.accounts import Account
from mixd.stream import sasl
from mixd.stream.c2s_events import (
    AccountLookup,
    Authenticated,
    AuthFailed,
    C2SEvent,
    C2SSettings,
    PasswordCheck,
    StreamState,
)
from mixd.stream.features import offered_mechanisms
from mixd.xml.element import Element
from mixd.xml.serializer import serialize


@dataclass(slots=True)
class SaslInProgress:
    mechanism: str
    host: str
    identity: sasl.SaslIdentity | None = None
    username: str | None = None  # normalised localpart
    client_first: str = ""
    scram: sasl.ScramExchange | None = None
    password: str | None = None
    account: Account | None = None


class SaslNegotiation:
    """Mixed into C2SStream; the attributes below are the machine's."""

    settings: C2SSettings
    tls_active: bool
    authenticated: bool
    host: str | None
    jid: JID | None
    _state: StreamState
    _out: list[str]
    _events: list[C2SEvent]
    _sasl: SaslInProgress | None
    _sasl_failures: int

    def _run(self) -> None:
        raise NotImplementedError

    def _take_events(self) -> list[C2SEvent]:
        raise NotImplementedError

    def _restart(self) -> None:
        raise NotImplementedError

    def _fail(self, exc: StreamError) -> None:
        raise NotImplementedError

    def account_found(self, account: Account | None) -> list[C2SEvent]:
        if self._state is StreamState.CLOSED:
            return []  # answered after the stream ended
        auth = self._sasl
        assert auth is not None and self._state is StreamState.WAIT
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
                auth.scram = sasl.ScramExchange(
                    auth.mechanism, auth.client_first, cred, self._offered()
                )
                self._sasl_element("challenge", auth.scram.server_first())
                self._state = StreamState.NEGOTIATING
            except sasl.SaslFailure as exc:
                self._sasl_fail(exc)
        self._run()
        return self._take_events()

    def password_checked(self, ok: bool) -> list[C2SEvent]:
        if self._state is StreamState.CLOSED:
            return []  # answered after the stream ended
        assert self._sasl is not None and self._state is StreamState.WAIT
        if ok:
            self._sasl_success(None)
        else:
            self._sasl_fail(sasl.SaslFailure(sasl.SaslCondition.NOT_AUTHORIZED))
        self._run()
        return self._take_events()

    def refuse_auth(self, condition: sasl.SaslCondition, text: str) -> list[C2SEvent]:
        """The driver's policy (e.g. too many failures) refuses this attempt."""
        if self._state is StreamState.CLOSED:
            return []  # answered after the stream ended
        assert self._sasl is not None and self._state is StreamState.WAIT
        self._sasl_fail(sasl.SaslFailure(condition, text), count=False)
        self._run()
        return self._take_events()

    def _offered(self) -> tuple[str, ...]:
        if self.authenticated:
            return ()
        if not self.tls_active and self.settings.tls_available and self.settings.starttls_required:
            return ()
        return offered_mechanisms(self.settings.mechanisms, self.tls_active)

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
        self._sasl = SaslInProgress(mechanism, self.host)
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
        self._state = StreamState.WAIT
        self._events.append(AccountLookup(auth.host, auth.username, auth.mechanism))

    def _check_authzid(self, auth: SaslInProgress) -> None:
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
        self._state = StreamState.NEGOTIATING
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
