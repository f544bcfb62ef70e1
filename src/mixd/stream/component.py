"""The external component protocol (XEP-0114, `jabber:component:accept`),
without I/O: the stream header, the handshake and the addressing rules a
component's stanzas must follow. net/component.py drives it."""

from __future__ import annotations

import hashlib
import hmac

from mixd import ns as NS
from mixd.codec.stanza import Stanza, header_from_element
from mixd.errors import StanzaError, StanzaErrorCondition, StreamError, StreamErrorCondition
from mixd.jid import JID, JIDError
from mixd.xml.element import Element
from mixd.xml.parser import StreamOpened
from mixd.xml.serializer import escape_attr

STANZAS = ("message", "presence", "iq")


def check_header(opened: StreamOpened, secrets: dict[str, str]) -> str:
    """The component domain a stream header names (its `to`); StreamError
    if the header is wrong or no component of that name is configured."""
    if opened.name != "stream" or opened.ns != NS.STREAM:
        raise StreamError(StreamErrorCondition.INVALID_NAMESPACE, "expected a stream header")
    if opened.namespaces.get("") != NS.COMPONENT:
        raise StreamError(
            StreamErrorCondition.INVALID_NAMESPACE,
            "content namespace must be jabber:component:accept",
        )
    to = opened.attrs.get("to")
    if not to:
        raise StreamError(StreamErrorCondition.IMPROPER_ADDRESSING, "missing 'to'")
    domain = to.lower().rstrip(".")
    if domain not in secrets:
        raise StreamError(StreamErrorCondition.HOST_UNKNOWN, "no component of that name")
    return domain


def header(domain: str, stream_id: str) -> str:
    return (
        "<?xml version='1.0'?>"
        f"<stream:stream xmlns='{NS.COMPONENT}' xmlns:stream='{NS.STREAM}'"
        f" id='{escape_attr(stream_id)}' from='{escape_attr(domain)}'>"
    )


def handshake_ok(element: Element, stream_id: str, secret: str) -> bool:
    """XEP-0114 section 3: the hex SHA-1 of the stream id and the secret."""
    if not element.is_(NS.COMPONENT, "handshake"):
        return False
    expected = hashlib.sha1((stream_id + secret).encode()).hexdigest()
    return hmac.compare_digest(element.text.strip().lower().encode(), expected.encode())


def incoming_stanza(element: Element, domain: str) -> Stanza:
    """A component's stanza as the router takes it: `from` and `to` are
    required (improper-addressing) and `from` must be at the component's
    domain (invalid-from): stream errors. A malformed `to` or header is a
    StanzaError for the sender. The stanza is moved to `jabber:client`, the
    namespace every other part of the server uses."""
    if element.ns != NS.COMPONENT or element.name not in STANZAS:
        raise StreamError(StreamErrorCondition.UNSUPPORTED_STANZA_TYPE)
    raw_from, raw_to = element.attrs.get("from"), element.attrs.get("to")
    if not raw_from or not raw_to:
        raise StreamError(
            StreamErrorCondition.IMPROPER_ADDRESSING, "a component's stanza needs 'from' and 'to'"
        )
    try:
        sender = JID.parse(raw_from)
    except JIDError:
        raise StreamError(StreamErrorCondition.INVALID_FROM, "'from' is not a JID") from None
    if sender.domain != domain:
        raise StreamError(StreamErrorCondition.INVALID_FROM, f"'from' must be at {domain}")
    _to_client_namespace(element)
    element.attrs["from"] = str(sender)
    try:
        to = JID.parse(raw_to)
    except JIDError as exc:
        raise StanzaError(StanzaErrorCondition.JID_MALFORMED, str(exc)) from None
    element.attrs["to"] = str(to)
    return header_from_element(element, sender, to)


def _to_client_namespace(element: Element) -> None:
    element.ns = NS.CLIENT
    for child in element.elements:
        if child.ns == NS.COMPONENT:
            _to_client_namespace(child)
