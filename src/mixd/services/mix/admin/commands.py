"""Channel administration without raw PubSub: XEP-0050 ad-hoc commands.

On the service: `create`. On a channel: `configure` (the configuration
form, owners), `allowed` and `banned` (the whole list as one jid-multi
field, administrators; only while the node is present) and `destroy`
(owners). Each command has one stage: execute returns the form with the
current values, submitting it (action complete or execute) applies it
through the same operations PubSub uses, so the same rights, validation and
notifications apply. Session ids are signed, not stored: a submission
must come from the JID that started the command, to the same entity.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mixd import ns as NS
from mixd.codec.xep0004_forms import DataForm, Field
from mixd.codec.xep0030_disco import DiscoItems, Item
from mixd.codec.xep0050_commands import Command, command_error
from mixd.errors import StanzaError, StanzaErrorCondition
from mixd.services.mix.admin.nodes import LISTS, AdminNodes, access_entry
from mixd.services.mix.admin.rights import Role
from mixd.services.mix.lifecycle import Lifecycle, destroy_channel
from mixd.services.mix.service import MixService, Request, Target
from mixd.xml.element import Element

CREATE, CONFIGURE, ALLOWED, BANNED, DESTROY = "create", "configure", "allowed", "banned", "destroy"
ENTRIES = "entries"  # the field of the allowed/banned forms
CONFIRM = "confirm"  # the field of the destroy form


@dataclass(frozen=True, slots=True)
class Spec:
    name: str
    may: Callable[[Request], bool]
    form: Callable[[Request], DataForm]
    submit: Callable[[Request, DataForm], Awaitable[str]]  # returns a note for the user


class Commands:
    def __init__(self, service: MixService, lifecycle: Lifecycle, admin: AdminNodes) -> None:
        self.service = service
        self.lifecycle = lifecycle
        self.admin = admin
        self._secret = secrets.token_bytes(32)
        self.specs: dict[tuple[Target, str], Spec] = {
            ("service", CREATE): Spec(
                "Create a channel", self._may_create, self._create_form, self._create
            ),
            ("channel", CONFIGURE): Spec(
                "Configure the channel", self._may_configure, self._config_form, self._configure
            ),
            ("channel", ALLOWED): Spec(
                "Allowed users", self._may_list(ALLOWED), self._list_form, self._set_list
            ),
            ("channel", BANNED): Spec(
                "Banned users", self._may_list(BANNED), self._list_form, self._set_list
            ),
            ("channel", DESTROY): Spec(
                "Destroy the channel", self._may_destroy, self._destroy_form, self._destroy
            ),
        }
        for target in ("service", "channel"):
            service.on_iq(target, NS.COMMANDS, "command", "set", self.execute)
            service.item_nodes[(target, NS.COMMANDS)] = self.list
        service.features.add(NS.COMMANDS)

    # -- the executor ------------------------------------------------------------------

    @staticmethod
    def _target(request: Request) -> Target:
        return "service" if request.channel is None else "channel"

    async def list(self, request: Request) -> Element | None:
        """disco#items of the commands node: what this requester may run here."""
        target = self._target(request)
        to = str(request.stanza.to.bare) if request.stanza.to else self.service.domain
        items = tuple(
            Item(to, node, spec.name)
            for (t, node), spec in self.specs.items()
            if t == target and spec.may(request)
        )
        return DiscoItems(NS.COMMANDS, items).encode()

    async def execute(self, request: Request) -> Element | None:
        command = Command.decode(request.payload)
        spec = self.specs.get((self._target(request), command.node))
        if spec is None:
            raise StanzaError(StanzaErrorCondition.ITEM_NOT_FOUND, "no such command")
        if not spec.may(request):
            raise StanzaError(StanzaErrorCondition.FORBIDDEN, "you may not run this command")
        node = command.node
        if command.sessionid is None:
            if command.action != "execute":
                raise command_error(
                    StanzaErrorCondition.BAD_REQUEST, "bad-sessionid", "no session to continue"
                )
            sid = self._new_session(request, node)
            form = spec.form(request)
            return Command(node, sessionid=sid, status="executing", form=form,
                           offered=("complete",)).encode()  # fmt: skip
        if not self._valid_session(request, node, command.sessionid):
            raise command_error(StanzaErrorCondition.BAD_REQUEST, "bad-sessionid", "bad sessionid")
        if command.action == "cancel":
            return Command(node, sessionid=command.sessionid, status="canceled").encode()
        if command.action in ("prev", "next"):
            raise command_error(StanzaErrorCondition.BAD_REQUEST, "bad-action", "one stage only")
        if command.form is None or command.form.type != "submit":
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, "submit the form")
        note = await spec.submit(request, command.form)
        return Command(node, sessionid=command.sessionid, status="completed",
                       notes=(("info", note),)).encode()  # fmt: skip

    def _mac(self, request: Request, node: str, token: str) -> str:
        to = str(request.stanza.to) if request.stanza.to else ""
        text = f"{request.sender}|{to}|{node}|{token}".encode()
        return hmac.new(self._secret, text, hashlib.sha256).hexdigest()[:24]

    def _new_session(self, request: Request, node: str) -> str:
        token = secrets.token_hex(8)
        return f"{token}-{self._mac(request, node, token)}"

    def _valid_session(self, request: Request, node: str, sid: str) -> bool:
        token, _, mac = sid.partition("-")
        return hmac.compare_digest(mac, self._mac(request, node, token))

    # -- create -------------------------------------------------------------------------

    def _may_create(self, request: Request) -> bool:
        return self.lifecycle.may_create(request.sender)

    def _create_form(self, request: Request) -> DataForm:
        name = Field("channel", (), "text-single", "Channel name (empty: an ad hoc channel)")
        return DataForm("form", (name,))

    async def _create(self, request: Request, form: DataForm) -> str:
        field = form.field("channel")
        requested = field.value.strip() if field is not None and field.value else None
        name = await self.lifecycle.create_channel(requested or None, str(request.sender.bare))
        return f"created {name}@{self.service.domain}"

    # -- configure ----------------------------------------------------------------------

    def _may_configure(self, request: Request) -> bool:
        return self.service.may(request.state(), request.sender, NS.MIX_NODE_CONFIG, "update")

    def _config_form(self, request: Request) -> DataForm:
        return self.admin.config_form(request.state(), "form")

    async def _configure(self, request: Request, form: DataForm) -> str:
        await self.admin.configure(request.state(), request.sender, form)
        return "configuration changed"

    # -- allowed and banned -------------------------------------------------------------

    def _may_list(self, which: str) -> Callable[[Request], bool]:
        node = NS.MIX_NODE_ALLOWED if which == ALLOWED else NS.MIX_NODE_BANNED
        return lambda request: self.service.may(request.state(), request.sender, node, "update")

    @staticmethod
    def _which(request: Request) -> str:
        command = request.payload.get("node")
        return NS.MIX_NODE_ALLOWED if command == ALLOWED else NS.MIX_NODE_BANNED

    def _list_form(self, request: Request) -> DataForm:
        which = LISTS[self._which(request)]
        entries = tuple(sorted(getattr(request.state(), which)))
        label = f"{which.capitalize()} bare JIDs and domains (the whole list)"
        return DataForm("form", (Field(ENTRIES, entries, "jid-multi", label),))

    async def _set_list(self, request: Request, form: DataForm) -> str:
        state, which = request.state(), LISTS[self._which(request)]
        field = form.field(ENTRIES)
        wanted = {access_entry(v) for v in (field.values if field else ()) if v.strip()}
        current = set(getattr(state, which))
        for entry in sorted(wanted - current):
            await self.admin.add_entry(state, which, entry)
        for entry in sorted(current - wanted):
            await self.admin.remove_entry(state, which, entry)
        return f"{len(wanted - current)} added, {len(current - wanted)} removed"

    # -- destroy ------------------------------------------------------------------------

    def _may_destroy(self, request: Request) -> bool:
        return self.service.role(request.state(), request.sender) >= Role.OWNER

    def _destroy_form(self, request: Request) -> DataForm:
        label = f"Destroy {request.state().jid} and its archive?"
        return DataForm("form", (Field(CONFIRM, ("false",), "boolean", label),))

    async def _destroy(self, request: Request, form: DataForm) -> str:
        field = form.field(CONFIRM)
        if field is None or field.value not in ("1", "true"):
            raise StanzaError(StanzaErrorCondition.BAD_REQUEST, f"{CONFIRM}: must be true")
        state = request.state()
        await destroy_channel(self.service, state)
        return f"destroyed {state.jid}"
