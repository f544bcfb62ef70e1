"""XEP-0198 on the client stream, as a slice of C2SStream: <enable/>,
<r/>, <a/> and <resume/> become events for the driver, which owns the
session's counters and answers `resumed` or `resume_failed`."""

from __future__ import annotations

from mixd.errors import StreamError, StreamErrorCondition
from mixd.jid import JID
from mixd.stream import sm
from mixd.stream.c2s_events import (
    C2SEvent,
    C2SSettings,
    SmAck,
    SmAckRequest,
    SmEnable,
    SmResume,
    StreamState,
)
from mixd.xml.element import Element
from mixd.xml.parser import StreamParser


class StreamManagement:
    """Mixed into C2SStream; the attributes below are the machine's."""

    settings: C2SSettings
    jid: JID | None
    _state: StreamState
    _out: list[str]
    _events: list[C2SEvent]
    _parser: StreamParser

    def _run(self) -> None:
        raise NotImplementedError

    def _take_events(self) -> list[C2SEvent]:
        raise NotImplementedError

    def _on_sm_before_bind(self, el: Element) -> None:
        h = sm.parse_h(el) if el.name == "resume" else None
        previd = el.get("previd")
        if el.name == "resume" and h is not None and previd and self.jid is not None:
            self._state = StreamState.WAIT
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

    def resumed(self, jid: JID, previd: str, h: int) -> list[C2SEvent]:
        """The driver took over the old session: the stream carries on as bound."""
        if self._state is StreamState.CLOSED:
            return []
        self.jid = jid
        self._out.append(sm.resumed(previd, h))
        self._parser.set_limits(self.settings.limits)
        self._state = StreamState.BOUND
        self._run()
        return self._take_events()

    def resume_failed(self) -> list[C2SEvent]:
        if self._state is StreamState.CLOSED:
            return []
        self._out.append(sm.failed("item-not-found"))
        self._state = StreamState.NEGOTIATING
        self._run()
        return self._take_events()
