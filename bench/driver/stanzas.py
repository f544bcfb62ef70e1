"""Stanza bytes the driver sends, built once, and the client's XEP-0115 caps.

The hot path only splices a step number and a send timestamp into a
pre-built groupchat message; everything else here runs during setup.
"""

from __future__ import annotations

import base64
import hashlib
from xml.sax.saxutils import escape, quoteattr

NS_CAPS = "http://jabber.org/protocol/caps"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_MIX = "urn:xmpp:mix:core:1"
NS_PAM = "urn:xmpp:mix:pam:2"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_STREAM = "http://etherx.jabber.org/streams"
NODE_MESSAGES = "urn:xmpp:mix:nodes:messages"

CAPS_NODE = "https://github.com/mixd/bench"
IDENTITY = ("client", "bot", "", "mixd-bench")
FEATURES = (NS_CAPS, NS_DISCO_INFO, NS_MIX)

# The marker a receiver scans for: b"mxb<step>:<monotonic ns>;".
MARKER_PREFIX = b"mxb"


def caps_ver(
    identity: tuple[str, str, str, str] = IDENTITY, features: tuple[str, ...] = FEATURES
) -> str:
    """XEP-0115 section 5.1 verification string, SHA-1, base64 (no forms)."""
    text = "/".join(identity) + "<" + "".join(f"{f}<" for f in sorted(features))
    return base64.b64encode(hashlib.sha1(text.encode()).digest()).decode()


CAPS_VER = caps_ver()


def stream_header(domain: str) -> bytes:
    return (
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
        f"xmlns:stream='{NS_STREAM}' to={quoteattr(domain)} version='1.0'>"
    ).encode()


def auth(mechanism: str, payload: bytes) -> bytes:
    data = base64.b64encode(payload).decode() or "="
    return f"<auth xmlns='{NS_SASL}' mechanism='{mechanism}'>{data}</auth>".encode()


def sasl_response(payload: bytes) -> bytes:
    return f"<response xmlns='{NS_SASL}'>{base64.b64encode(payload).decode()}</response>".encode()


STARTTLS = f"<starttls xmlns='{NS_TLS}'/>".encode()
STREAM_END = b"</stream:stream>"


def bind(resource: str) -> bytes:
    return (
        f"<iq type='set' id='bind'><bind xmlns='{NS_BIND}'>"
        f"<resource>{escape(resource)}</resource></bind></iq>"
    ).encode()


PRESENCE = (
    f"<presence><c xmlns='{NS_CAPS}' hash='sha-1' node='{CAPS_NODE}' ver='{CAPS_VER}'/></presence>"
).encode()


def disco_info_result(iq_id: str, to: str | None, node: str | None) -> bytes:
    """The answer to the server's disco#info query (the features behind CAPS_VER)."""
    category, kind, _, name = IDENTITY
    to_attr = f" to={quoteattr(to)}" if to else ""
    node_attr = f" node={quoteattr(node)}" if node else ""
    features = "".join(f"<feature var='{f}'/>" for f in FEATURES)
    return (
        f"<iq type='result' id={quoteattr(iq_id)}{to_attr}>"
        f"<query xmlns='{NS_DISCO_INFO}'{node_attr}>"
        f"<identity category='{category}' type='{kind}' name='{name}'/>{features}</query></iq>"
    ).encode()


def create_channel(service: str, name: str) -> bytes:
    return (
        f"<iq type='set' id='create' to={quoteattr(service)}>"
        f"<create xmlns='{NS_MIX}' channel={quoteattr(name)}/></iq>"
    ).encode()


def client_join(own_bare: str, channel: str, nick: str) -> bytes:
    return (
        f"<iq type='set' id='join' to={quoteattr(own_bare)}>"
        f"<client-join xmlns='{NS_PAM}' channel={quoteattr(channel)}>"
        f"<join xmlns='{NS_MIX}'><subscribe node='{NODE_MESSAGES}'/>"
        f"<nick>{escape(nick)}</nick></join></client-join></iq>"
    ).encode()


def client_leave(own_bare: str, channel: str) -> bytes:
    return (
        f"<iq type='set' id='leave' to={quoteattr(own_bare)}>"
        f"<client-leave xmlns='{NS_PAM}' channel={quoteattr(channel)}>"
        f"<leave xmlns='{NS_MIX}'/></client-leave></iq>"
    ).encode()


def ping(domain: str) -> bytes:
    ping = "<ping xmlns='urn:xmpp:ping'/>"
    return f"<iq type='get' id='ping' to={quoteattr(domain)}>{ping}</iq>".encode()


def mam_query(query_id: str, to: str | None, with_jid: str | None, after: str | None) -> bytes:
    """A MAM query for 50 items: the last page, or the page after an id."""
    target = f" to={quoteattr(to)}" if to else ""
    form = ""
    if with_jid:
        form = (
            "<x xmlns='jabber:x:data' type='submit'>"
            "<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>"
            f"<field var='with'><value>{escape(with_jid)}</value></field></x>"
        )
    rsm = "<before/>" if after is None else f"<after>{escape(after)}</after>"
    return (
        f"<iq type='set' id={quoteattr(query_id)}{target}>"
        f"<query xmlns='urn:xmpp:mam:2' queryid={quoteattr(query_id)}>{form}"
        f"<set xmlns='http://jabber.org/protocol/rsm'><max>50</max>{rsm}</set>"
        "</query></iq>"
    ).encode()


class GroupchatTemplate:
    """A groupchat message to one channel, split around the marker."""

    def __init__(self, channel: str, body_bytes: int = 64) -> None:
        self.head = (
            f"<message to={quoteattr(channel)} type='groupchat'><body>".encode() + MARKER_PREFIX
        )
        self.tail = b";" + b"x" * body_bytes + b"</body></message>"

    def render(self, step: int, sent_ns: int) -> bytes:
        return b"%s%d:%d%s" % (self.head, step, sent_ns, self.tail)
