"""XEP-0077 account creation before authentication, as a slice of
C2SStream: offered only over TLS when `registration` is set; the account
itself is created by the driver (RegisterRequested)."""

from __future__ import annotations

from mixd import ns as NS
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JIDError, normalize_localpart
from mixd.stream.c2s_events import C2SEvent, C2SSettings, RegisterRequested, StreamState
from mixd.stream.c2s_sasl import SaslInProgress
from mixd.xml.element import Element
from mixd.xml.serializer import serialize


class Registration:
    """Mixed into C2SStream; the attributes below are the machine's."""

    settings: C2SSettings
    tls_active: bool
    host: str | None
    _state: StreamState
    _out: list[str]
    _events: list[C2SEvent]
    _sasl: SaslInProgress | None

    def _run(self) -> None:
        raise NotImplementedError

    def _take_events(self) -> list[C2SEvent]:
        raise NotImplementedError

    def _iq_error(self, iq_id: str, error: StanzaError) -> None:
        raise NotImplementedError

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
        self._state = StreamState.WAIT
        self._events.append(RegisterRequested(iq_id, self.host, normalized, password))

    def registered(self, iq_id: str) -> list[C2SEvent]:
        if self._state is StreamState.CLOSED:
            return []  # answered after the stream ended
        self._out.append(serialize(Element(NS.CLIENT, "iq", {"type": "result", "id": iq_id})))
        self._state = StreamState.NEGOTIATING
        self._run()
        return self._take_events()

    def register_failed(self, iq_id: str, error: StanzaError) -> list[C2SEvent]:
        if self._state is StreamState.CLOSED:
            return []  # answered after the stream ended
        self._iq_error(iq_id, error)
        self._state = StreamState.NEGOTIATING
        self._run()
        return self._take_events()
