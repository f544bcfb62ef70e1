"""Error stanzas from elsewhere are read back into the same StanzaError."""

from __future__ import annotations

from mixd.codec.stanza import error_from_reply, error_reply
from mixd.errors import ErrorType, StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.xml.element import Element
from mixd.xml.fragment import parse_element
from mixd.xml.serializer import serialize


def test_round_trip_of_condition_type_and_text() -> None:
    original = StanzaError(StanzaErrorCondition.CONFLICT, "nick taken", ErrorType.CANCEL)
    request = Element("jabber:client", "iq", {"id": "1", "type": "set"})
    reply = error_reply(request, JID.parse("a@b"), JID.parse("c@d"), original)
    parsed = error_from_reply(parse_element(serialize(reply)))
    assert (parsed.condition, parsed.text, parsed.error_type) == (
        StanzaErrorCondition.CONFLICT,
        "nick taken",
        ErrorType.CANCEL,
    )


def test_unknown_or_missing_condition_is_undefined() -> None:
    odd = parse_element(
        "<iq type='error'><error type='bogus'><made-up xmlns='urn:ietf:params:xml:ns:"
        "xmpp-stanzas'/></error></iq>"
    )
    parsed = error_from_reply(odd)
    assert parsed.condition is StanzaErrorCondition.UNDEFINED_CONDITION
    assert parsed.error_type is ErrorType.CANCEL  # the condition's usual type
    assert error_from_reply(parse_element("<iq type='error'/>")).condition is (
        StanzaErrorCondition.UNDEFINED_CONDITION
    )
