"""XEP-0050 Ad-Hoc Commands 1.3.0: the `<command/>` request and response.

A request names a command node, an action (absent means execute) and, after
the first stage, the session id and a submitted data form. A response has a
status, the session id, the form to fill in (with the actions offered) or a
result, and notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from mixd import ns as NS
from mixd.codec.stanza import CodecError
from mixd.codec.xep0004_forms import DataForm
from mixd.errors import AppCondition, StanzaError, StanzaErrorCondition
from mixd.xml.element import Element

ACTIONS = frozenset({"execute", "cancel", "prev", "next", "complete"})
STATUSES = frozenset({"executing", "completed", "canceled"})
NOTE_TYPES = frozenset({"info", "warn", "error"})


@dataclass(frozen=True, slots=True)
class Command:
    XMLNS: ClassVar[str] = NS.COMMANDS
    NAME: ClassVar[str] = "command"

    node: str
    action: str = "execute"  # a request's action
    sessionid: str | None = None
    status: str | None = None  # a response's status
    form: DataForm | None = None
    offered: tuple[str, ...] = ()  # actions a response offers; the first is the default
    notes: tuple[tuple[str, str], ...] = ()  # (type, text)

    @classmethod
    def decode(cls, element: Element) -> Self:
        node = element.get("node")
        if not node:
            raise CodecError("command needs a node")
        action = element.get("action") or "execute"
        if action not in ACTIONS:
            raise bad_action(action)
        x = element.find(NS.DATA_FORMS, "x")
        form = DataForm.decode(x) if x is not None else None
        return cls(node, action, element.get("sessionid"), element.get("status"), form)

    def encode(self) -> Element:
        el = Element(NS.COMMANDS, "command", {"node": self.node})
        el.set("sessionid", self.sessionid)
        el.set("status", self.status)
        if self.offered:
            actions = el.add(NS.COMMANDS, "actions", {"execute": self.offered[0]})
            for action in self.offered:
                actions.add(NS.COMMANDS, action)
        for kind, text in self.notes:
            el.add_text_child(NS.COMMANDS, "note", text).set("type", kind)
        if self.form is not None:
            el.append(self.form.encode())
        return el


def command_error(condition: StanzaErrorCondition, app: str, text: str) -> StanzaError:
    """A stanza error with a XEP-0050 specific condition (e.g. bad-sessionid)."""
    return StanzaError(condition, text, app=AppCondition(NS.COMMANDS, app))


def bad_action(action: str) -> StanzaError:
    return command_error(StanzaErrorCondition.BAD_REQUEST, "malformed-action", f"no {action!r}")
