"""What nodes say to each other through Redis, and the keys they share.

Every message is one JSON object with a type `t`. On `mixd:all`, to every
node: `put` (`n` node, `j` full JID, `e` entry: a session was bound or
changed), `del` (`n`, `j`: it ended), `up` / `down` (`n`: a node joined,
left or was found dead), `acct` (`n`, `k` kind, `o` account, `x` payload: news about an account
for the other nodes, `core.cluster.AccountNotices`: `roster` and
`blocklist` pushes). On `mixd:to:<node>`, to one node: `s` (`j` full
JID, `op`, `d`: for one session, `xml` deliver `d`, `replaced`,
`terminate` with text `d`), `r` (`x` stanza: route it there: a channel's
owner, the node whose request it answers; with `k`, answer `done` with that
key once routed), `done` (`k`: a stanza handed over with this key is
routed: stored, or answered with an error), `m` (`x` message, `u` users: a
channel message for the sessions these users have on that node).
"""

from __future__ import annotations

import json
from typing import Any

from mixd.core.cluster import Entry

ALL = "mixd:all"
NODES = "mixd:nodes"


def inbox(node: str) -> str:
    return f"mixd:to:{node}"


def alive_key(node: str) -> str:
    return f"mixd:node:{node}"


def sessions_key(node: str) -> str:
    return f"mixd:sessions:{node}"


def cleanup_key(node: str) -> str:
    return f"mixd:cleanup:{node}"


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


def decode(data: str | bytes) -> dict[str, Any]:
    value = json.loads(data)
    if not isinstance(value, dict):
        raise ValueError("not a cluster message")
    return value


def entry_fields(entry: Entry) -> dict[str, Any]:
    fields: dict[str, Any] = {"a": entry.available, "p": entry.priority, "c": entry.carbons}
    if entry.features is not None:
        fields["f"] = sorted(entry.features)
    if entry.presence is not None:
        fields["x"] = entry.presence
    return fields


def entry_of(fields: dict[str, Any]) -> Entry:
    features = fields.get("f")
    return Entry(
        available=bool(fields.get("a")),
        priority=int(fields.get("p", 0)),
        features=frozenset(features) if features is not None else None,
        carbons=bool(fields.get("c")),
        presence=fields.get("x"),
    )
