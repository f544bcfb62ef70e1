"""RFC 6120 stanzas: the routing header of message, presence and iq, and
stanza error replies (section 8.3)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mixd import ns as NS
from mixd.errors import ErrorType, StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.xml.element import Element


class Kind(StrEnum):
    MESSAGE = "message"
    PRESENCE = "presence"
    IQ = "iq"


MESSAGE_TYPES = frozenset({"normal", "chat", "groupchat", "headline", "error"})
PRESENCE_TYPES = frozenset(
    {
        "available",  # no type attribute on the wire
        "unavailable",
        "subscribe",
        "subscribed",
        "unsubscribe",
        "unsubscribed",
        "probe",
        "error",
    }
)
IQ_TYPES = frozenset({"get", "set", "result", "error"})


class CodecError(ValueError):
    """A payload that does not match its spec; answered with bad-request."""


@dataclass(slots=True)
class Stanza:
    """A routed stanza: its validated header plus the element itself.

    `type` is normalised: messages without a type are "normal", presence
    without a type is "available".
    """

    kind: Kind
    type: str
    id: str | None
    sender: JID
    to: JID | None
    element: Element

    @property
    def is_error(self) -> bool:
        return self.type == "error"

    @property
    def is_request(self) -> bool:
        return self.kind is Kind.IQ and self.type in ("get", "set")


def header_from_element(element: Element, sender: JID, to: JID | None) -> Stanza:
    """Validate the generic stanza rules; raises StanzaError(bad-request)."""
    kind = Kind(element.name)
    stanza_type = element.attrs.get("type")
    if kind is Kind.MESSAGE:
        stanza_type = stanza_type or "normal"
        allowed = MESSAGE_TYPES
    elif kind is Kind.PRESENCE:
        stanza_type = stanza_type or "available"
        allowed = PRESENCE_TYPES
        if element.attrs.get("type") == "available":
            allowed = frozenset()  # "available" is never written on the wire
    else:
        allowed = IQ_TYPES
    stanza = Stanza(kind, stanza_type or "", element.attrs.get("id"), sender, to, element)
    if stanza_type not in allowed:
        raise StanzaError(StanzaErrorCondition.BAD_REQUEST, f"invalid {kind} type")
    if kind is Kind.IQ:
        if not stanza.id:
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "iq without id")
        if stanza.is_request and sum(1 for _ in element.elements) != 1:
            raise StanzaError(
                StanzaErrorCondition.BAD_REQUEST, "iq get/set must have exactly one child"
            )
    return stanza


def iq_payload(stanza: Stanza) -> Element | None:
    return next(stanza.element.elements, None)


def error_element(error: StanzaError, by: JID | None = None) -> Element:
    attrs = {"type": str(error.error_type)}
    if by is not None:
        attrs["by"] = str(by)
    el = Element(NS.CLIENT, "error", attrs)
    el.add(NS.STANZAS_ERR, str(error.condition))
    if error.text:
        el.add_text_child(NS.STANZAS_ERR, "text", error.text).set("{" + NS.XML + "}lang", "en")
    if error.app is not None:
        el.add(error.app.ns, error.app.name, dict(error.app.attrs))
    return el


def error_reply(
    element: Element, sender: JID | None, to: JID | None, error: StanzaError
) -> Element:
    """The error answer to `element` (sent by `sender` to `to`).

    The original payload is not echoed: echoing lets a peer bounce large
    stanzas through the server (and leaks nothing we would rather keep)."""
    attrs = {"type": "error"}
    if (stanza_id := element.attrs.get("id")) is not None:
        attrs["id"] = stanza_id
    if to is not None:
        attrs["from"] = str(to)
    if sender is not None:
        attrs["to"] = str(sender)
    reply = Element(NS.CLIENT, element.name, attrs)
    reply.append(error_element(error))
    return reply


def stanza_error_reply(stanza: Stanza, error: StanzaError) -> Element:
    return error_reply(stanza.element, stanza.sender, stanza.to, error)


def iq_result(stanza: Stanza, payload: Element | None = None) -> Element:
    attrs = {"type": "result", "id": stanza.id or ""}
    if stanza.to is not None:
        attrs["from"] = str(stanza.to)
    attrs["to"] = str(stanza.sender)
    el = Element(NS.CLIENT, "iq", attrs)
    if payload is not None:
        el.append(payload)
    return el


def error_from_reply(reply: Element) -> StanzaError:
    """The StanzaError an error stanza carries (RFC 6120 8.3), so an error
    from elsewhere can be passed on to a client unchanged."""
    error = reply.find(NS.CLIENT, "error")
    conditions = StanzaErrorCondition._value2member_map_
    condition = StanzaErrorCondition.UNDEFINED_CONDITION
    text = None
    kind = None
    if error is not None:
        for child in error.elements:
            if child.ns != NS.STANZAS_ERR:
                continue
            if child.name == "text":
                text = child.text
            elif child.name in conditions:
                condition = StanzaErrorCondition(child.name)
        kind = ErrorType._value2member_map_.get(error.get("type") or "")
    return StanzaError(condition, text, kind if isinstance(kind, ErrorType) else None)
