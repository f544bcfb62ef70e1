"""Stream headers, stream errors and the closing tag (RFC 6120 section 4)."""

from __future__ import annotations

from mixd import ns as NS
from mixd.errors import StreamError, StreamErrorCondition
from mixd.xml.parser import StreamOpened
from mixd.xml.serializer import escape_attr, escape_text

_XML_LANG = "{" + NS.XML + "}lang"
MAX_LANG_LENGTH = 64


def stream_header(host: str, stream_id: str, lang: str) -> str:
    return (
        "<?xml version='1.0'?>"
        f"<stream:stream xmlns='{NS.CLIENT}' xmlns:stream='{NS.STREAM}'"
        f" id='{escape_attr(stream_id)}' from='{escape_attr(host)}' version='1.0'"
        f" xml:lang='{escape_attr(lang)}'>"
    )


def stream_close() -> str:
    return "</stream:stream>"


def stream_error(
    condition: StreamErrorCondition, text: str | None = None, extra: str | None = None
) -> str:
    inner = f"<{condition} xmlns='{NS.STREAMS_ERR}'/>"
    if text:
        inner += f"<text xmlns='{NS.STREAMS_ERR}' xml:lang='en'>{escape_text(text)}</text>"
    if extra:
        inner += extra
    return f"<stream:error>{inner}</stream:error>"


def check_stream_header(opened: StreamOpened, hosts: frozenset[str]) -> tuple[str, str]:
    """Validate a client's stream header; returns (host, xml:lang)."""
    if opened.name != "stream" or opened.ns != NS.STREAM:
        raise StreamError(StreamErrorCondition.INVALID_NAMESPACE, "expected a stream header")
    if opened.namespaces.get("", NS.CLIENT) != NS.CLIENT:
        raise StreamError(
            StreamErrorCondition.INVALID_NAMESPACE, "content namespace must be jabber:client"
        )
    version = opened.attrs.get("version")
    if version is None or _major(version) < 1:
        raise StreamError(StreamErrorCondition.UNSUPPORTED_VERSION, "XMPP 1.0 is required")
    lang = opened.attrs.get(_XML_LANG, "en")
    if len(lang) > MAX_LANG_LENGTH:
        raise StreamError(StreamErrorCondition.INVALID_XML, "xml:lang too long")
    to = opened.attrs.get("to")
    if not to:
        raise StreamError(StreamErrorCondition.IMPROPER_ADDRESSING, "missing 'to'")
    host = to.lower().rstrip(".")
    if host not in hosts:
        raise StreamError(StreamErrorCondition.HOST_UNKNOWN, "this server does not serve that host")
    return host, lang


def _major(version: str) -> int:
    try:
        return int(version.split(".", 1)[0])
    except ValueError:
        raise StreamError(StreamErrorCondition.UNSUPPORTED_VERSION, "bad version") from None
