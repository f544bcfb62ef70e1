"""What a cluster node receives from the others on Redis (`wire.py`): a
slice of ClusterNode (mixed in), kept apart so the node itself stays about
registration, publishing and membership."""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from mixd.cluster import wire
from mixd.cluster.confirm import Confirmations, origin_of
from mixd.codec.stanza import Kind, Stanza
from mixd.core.cluster import Directory
from mixd.core.router import Router
from mixd.core.server import Server
from mixd.jid import JID
from mixd.xml.element import Element
from mixd.xml.fragment import parse_element

log = logging.getLogger("mixd.cluster")

# The stanza a route worker is handling: it came from another node and is
# not forwarded again (two nodes briefly disagreeing on a channel's owner
# must not send it back and forth).
arrived: ContextVar[Stanza | None] = ContextVar("mixd_cluster_arrived", default=None)


class Inbound:
    """Mixed into ClusterNode; the attributes below are the node's."""

    server: Server
    name: str
    heartbeat: float
    live: frozenset[str]
    directory: Directory
    confirmations: Confirmations
    mix_handler: Callable[[Element, list[str]], None] | None
    _pubsub: Any
    _stopping: bool
    _routes: list[asyncio.Queue[tuple[Stanza, str | None]]]

    def _publish(self, channel: str, message: dict[str, Any]) -> None:
        raise NotImplementedError

    def _set_live(self, live: frozenset[str]) -> None:
        raise NotImplementedError

    async def _listen(self) -> None:
        pubsub = self._pubsub
        while not self._stopping:
            try:
                message = await pubsub.get_message(timeout=None)
            except asyncio.CancelledError:
                raise
            except Exception:
                if self._stopping:
                    return
                log.exception("cluster: subscription to Redis failed; retrying")
                await asyncio.sleep(self.heartbeat)
                continue
            if message is None or message.get("type") != "message":
                continue
            try:
                self._received(wire.decode(message["data"]))
            except Exception:
                log.exception("cluster: bad message from Redis")

    def _received(self, msg: dict[str, Any]) -> None:
        kind = msg.get("t")
        if kind == "s":
            self._for_session(JID.parse(msg["j"]), msg["op"], msg.get("d", ""))
        elif kind == "r":
            stanza = Router.stanza(parse_element(msg["x"]))
            key = str(stanza.sender.bare) if stanza.kind is not Kind.IQ else str(stanza.sender)
            queue = self._routes[zlib.crc32(key.encode()) % len(self._routes)]
            queue.put_nowait((stanza, msg.get("k")))
        elif kind == "done":
            self.confirmations.confirmed(msg["k"])
        elif kind == "m":
            if self.mix_handler is not None:
                self.mix_handler(parse_element(msg["x"]), list(msg["u"]))
        elif kind == "acct":
            if msg["n"] != self.name:
                self.server.notices.received(msg["k"], msg["o"], parse_element(msg["x"]))
        elif kind == "put":
            self.directory.put(msg["n"], JID.parse(msg["j"]), wire.entry_of(msg["e"]))
        elif kind == "del":
            self.directory.remove(msg["n"], JID.parse(msg["j"]))
        elif kind == "up":
            if msg["n"] != self.name:
                self._set_live(self.live | {msg["n"]})
        elif kind == "down":
            node = msg["n"]
            if node != self.name:
                self.directory.drop_node(node)
                self._set_live(self.live - {node})

    def _for_session(self, full: JID, op: str, data: str) -> None:
        session = self.server.sessions.local(full)
        if session is None:
            return  # ended meanwhile: what was in flight for it is dropped
        if op == "xml":
            session.deliver_xml(data)
        elif op == "replaced":
            session.replaced()
        elif op == "terminate":
            session.terminate(data)

    async def _route_worker(self, queue: asyncio.Queue[tuple[Stanza, str | None]]) -> None:
        router = self.server.router
        while True:
            stanza, key = await queue.get()
            arrived.set(stanza)
            try:
                await router.route(stanza)  # errors are answered to the sender
            except Exception:
                log.exception("cluster: routing a forwarded stanza failed")
            finally:
                arrived.set(None)
            if key is not None:  # after the error reply, on the same channel
                self._publish(wire.inbox(origin_of(key)), {"t": "done", "k": key})
