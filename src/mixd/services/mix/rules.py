"""MIX-CORE decisions as plain functions (no I/O): names, nicks, stable
participant ids, who may create, which nodes exist."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Literal

import precis_i18n

from mixd import ns as NS
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID, JIDError, normalize_localpart

CreatePolicy = Literal["local", "admins", "anyone"]

# Nodes a MIX-CORE channel has; later slices (presence, config, allowed,
# banned, jidmap, avatar) extend this set per channel.
CORE_NODES = frozenset({NS.MIX_NODE_MESSAGES, NS.MIX_NODE_PARTICIPANTS, NS.MIX_NODE_INFO})
DEFAULT_SUBSCRIPTIONS = CORE_NODES
MAX_NICK_LENGTH = 64

_DISPLAY = precis_i18n.get_profile("NicknameCasePreserved")
_COMPARE = precis_i18n.get_profile("NicknameCaseMapped")


def channel_name(requested: str) -> str:
    """A channel name is a JID localpart (RFC 7622)."""
    try:
        return normalize_localpart(requested)
    except JIDError as exc:
        raise StanzaError(StanzaErrorCondition.BAD_REQUEST, f"bad channel name: {exc}") from None


def adhoc_name() -> str:
    """Server-chosen, unguessable, never listed (XEP-0369 7.3.2)."""
    return base64.b32encode(secrets.token_bytes(10)).decode().lower()


def nick(requested: str) -> str:
    """RFC 8266 nickname profile; raises not-acceptable."""
    try:
        value = str(_DISPLAY.enforce(requested))
    except UnicodeError as exc:
        raise StanzaError(StanzaErrorCondition.NOT_ACCEPTABLE, f"bad nick: {exc}") from None
    if len(value) > MAX_NICK_LENGTH:
        raise StanzaError(StanzaErrorCondition.NOT_ACCEPTABLE, "nick too long")
    return value


def nick_key(value: str) -> str:
    """Two nicks conflict when their case-mapped forms are equal."""
    return str(_COMPARE.enforce(value))


def participant_id(secret: bytes, user: JID) -> str:
    """Stable Participant ID: the same for a user in a channel forever, not
    derivable from the JID without the channel's secret, only [a-z2-7]."""
    digest = hmac.new(secret, str(user.bare).encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:10]).decode().lower()


def new_secret() -> bytes:
    return secrets.token_bytes(32)


def may_create(
    policy: CreatePolicy, requester: JID, hosts: frozenset[str], admins: frozenset[str]
) -> bool:
    if policy == "anyone":
        return True
    if policy == "admins":
        return str(requester.bare) in admins
    return requester.domain in hosts and requester.local is not None


def subscribable(requested: tuple[str, ...], nodes: frozenset[str]) -> tuple[str, ...]:
    """The requested nodes that exist; an empty request means the defaults."""
    if not requested:
        return tuple(sorted(DEFAULT_SUBSCRIPTIONS & nodes))
    return tuple(node for node in requested if node in nodes)


def service_domains(configured: tuple[str, ...], hosts: tuple[str, ...]) -> tuple[str, ...]:
    return configured or tuple(f"mix.{host}" for host in hosts)


def parse_jid(text: str) -> JID:
    try:
        return JID.parse(text)
    except JIDError as exc:
        raise StanzaError(StanzaErrorCondition.JID_MALFORMED, str(exc)) from None
