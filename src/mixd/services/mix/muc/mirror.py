"""XEP-0408 partially integrated mode (`mix.muc_mode = "separate"`): the
MUC face answers on its own domain (`muc.<host>` by default), which mirrors
every channel of the MIX domain as a room of the same name, while the MIX
domain answers as MIX only.

The mirror is a translation at the edges: a stanza for `room@<muc domain>`
is handed to the channel service as one for `room@<mix domain>`, with
`VIA_MUC` set while it is handled; everything the face sends to MUC
clients (and the answers to their requests) is written back with the MUC
domain: every attribute naming the MIX domain or one of its JIDs (`from`,
`<stanza-id by/>`, `<delay from/>`, invitations, disco items). Text is
left alone. On the MUC domain only what a MUC client needs is answered
(disco, occupants, groupchat, invitations, `muc#admin`, `muc#owner`, MAM,
the room's vCard, XEP-0425 moderation); MIX requests there are `service-unavailable`.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import replace

from mixd import ns as NS
from mixd.codec.stanza import Kind, Stanza, iq_payload, stanza_error_reply
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.jid import JID
from mixd.services.mix.muc.retract_rules import MODERATE
from mixd.services.mix.service import MixService
from mixd.xml.element import Element

# True while a stanza that came to the MUC domain is handled.
VIA_MUC: ContextVar[bool] = ContextVar("via_muc", default=False)

SERVICE_IQS = frozenset({NS.DISCO_INFO, NS.DISCO_ITEMS})
# vCard: the avatar; XEP-0425 moderation
ROOM_IQS = SERVICE_IQS | {NS.MUC_ADMIN, NS.MUC_OWNER, NS.MAM, NS.VCARD, MODERATE}
MIRROR_FORM = NS.MIX_MUC + "#mix-mirror"  # on the MUC domain, naming the MIX one
MUC_MIRROR_FORM = NS.MIX_MUC + "#muc-mirror"  # on the MIX domain, naming the MUC one


def muc_domain_for(mix_domain: str) -> str:
    """The default MUC domain of a MIX domain: `mix.x` -> `muc.x`, else `muc.<domain>`."""
    return "muc." + mix_domain.removeprefix("mix.")


class MucMirror:
    def __init__(self, service: MixService, domain: str) -> None:
        self.service = service
        self.domain = domain
        self._mix_at = "@" + service.domain

    # -- in: the MUC domain ----------------------------------------------------

    async def receive(self, stanza: Stanza) -> None:
        to = stanza.to
        assert to is not None
        self._check(stanza, to)
        mirrored = replace(stanza, to=JID(to.local, self.service.domain, to.resource))
        token = VIA_MUC.set(True)
        try:
            await self.service.receive(mirrored)
        finally:
            VIA_MUC.reset(token)

    def _check(self, stanza: Stanza, to: JID) -> None:
        """What a MUC service answers; MIX requests are not answered here."""
        if stanza.is_request:
            payload = iq_payload(stanza)
            allowed = SERVICE_IQS if to.local is None else ROOM_IQS
            if to.resource is None and (payload is None or payload.ns not in allowed):
                raise StanzaError(StanzaErrorCondition.SERVICE_UNAVAILABLE)
        elif stanza.kind is Kind.PRESENCE and to.resource is None:
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "enter as room/nick")

    # -- out: what MUC clients see -------------------------------------------------

    def outgoing(self, element: Element) -> Element:
        """`element` (the caller's own copy) with the MIX domain's JIDs
        written with the MUC domain, in place."""
        self._rewrite(element)
        return element

    def _rewrite(self, element: Element) -> None:
        attrs = element.attrs
        for name, value in attrs.items():
            if self.service.domain in value:
                attrs[name] = self._value(value)
        for child in element.children:
            if isinstance(child, Element):
                self._rewrite(child)

    def _value(self, value: str) -> str:
        if value == self.service.domain:
            return self.domain
        local, at, rest = value.partition(self._mix_at)
        if at and local and "@" not in local and (rest == "" or rest.startswith("/")):
            return f"{local}@{self.domain}{rest}"
        return value


class Reach:
    """Where the face answers MUC (any channel when fully integrated, else
    only what came to the mirror domain) and how its stanzas leave."""

    def __init__(self, service: MixService, mirror: MucMirror | None) -> None:
        self.service = service
        self.mirror = mirror
        service.muc_mirror = mirror
        if mirror is not None:
            service.answer_hook = self._answer_out

    def muc_here(self) -> bool:
        """Whether the stanza being handled came to where MUC is answered."""
        return self.mirror is None or VIA_MUC.get()

    def _elsewhere(self) -> StanzaError:
        assert self.mirror is not None
        return StanzaError(
            StanzaErrorCondition.SERVICE_UNAVAILABLE, f"rooms are on {self.mirror.domain}"
        )

    def require_muc(self) -> None:
        if not self.muc_here():
            raise self._elsewhere()

    async def not_here(self, stanza: Stanza) -> None:
        """A stanza to `channel/nick` on the MIX domain of a mirrored service."""
        if stanza.kind is Kind.PRESENCE and stanza.type == "available":
            reply = stanza_error_reply(stanza, self._elsewhere())  # from the MIX domain
            reply.children.insert(0, Element(NS.MUC, "x"))
            await self.service.send(reply)
        elif stanza.is_request or (stanza.kind is Kind.MESSAGE and not stanza.is_error):
            raise self._elsewhere()

    def out(self, element: Element) -> Element:
        """An element (the caller's copy) as MUC clients see it."""
        return self.mirror.outgoing(element) if self.mirror is not None else element

    async def send(self, element: Element) -> None:
        """Route a stanza of the face (not a MIX one) to a MUC client."""
        await self.service.send(self.out(element))

    def _answer_out(self, answer: Element) -> Element:
        return self.out(answer) if VIA_MUC.get() else answer
