"""One node of a cluster, on Redis (`redis.asyncio`).

- Registry: `mixd:node:<name>` exists while the node lives (refreshed every
  `heartbeat`, expires after `node_expiry`); `mixd:nodes` lists the names.
- Directory: `mixd:sessions:<name>` maps each full JID bound on the node to
  its entry (`core.cluster.Entry`); every change is also published on
  `mixd:all`, which every node applies to its in-memory mirror
  (`core.cluster.Directory`), so routing never waits for Redis.
- Delivery: each node subscribes to `mixd:to:<name>`, which carries
  stanzas for its sessions, stanzas to route there, and channel messages
  with their recipients on that node (`wire.py`).

Everything this node writes or publishes goes through one task, in order,
several commands per round trip: a session's directory entry is published
before any stanza it sends, so a node that gets the stanza already knows
the session. Pub/sub delivers at most once: what is published while a
node's subscription is down is lost for it (docs/scaling.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import weakref
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from mixd.cluster import wire
from mixd.cluster.confirm import Confirmations
from mixd.cluster.inbound import Inbound
from mixd.codec.stanza import Stanza
from mixd.core.cluster import Directory, Entry, RemoteSession
from mixd.core.events import SessionClosed
from mixd.core.server import Server
from mixd.core.sessions import Session
from mixd.jid import JID
from mixd.logfmt import log_event
from mixd.xml.element import Element
from mixd.xml.serializer import serialize

log = logging.getLogger("mixd.cluster")

ROUTE_WORKERS = 16  # stanzas routed here, in order per sender
CLEANUP_LOCK_MS = 30_000
STOP_TIMEOUT = 5.0


class NodeNameInUse(Exception):
    """Another live node has this node's name."""


def owner_of(key: str, nodes: frozenset[str]) -> str:
    """Rendezvous hashing: the node that owns `key` among `nodes`. When a
    node leaves, only its keys move; when one joins, it takes only its own."""
    return max(nodes, key=lambda n: hashlib.blake2b(f"{n}\0{key}".encode(), digest_size=8).digest())


class ClusterNode(Inbound):
    def __init__(
        self,
        server: Server,
        name: str,
        redis_url: str,
        heartbeat: float,
        expiry: float,
    ) -> None:
        self.server = server
        self.name = name
        self.redis_url = redis_url
        self.heartbeat = heartbeat
        self.expiry = expiry
        self.directory = Directory(self, name)
        self.live: frozenset[str] = frozenset({name})
        self.membership_listeners: list[Callable[[frozenset[str], frozenset[str]], None]] = []
        self.mix_handler: Callable[[Element, list[str]], None] | None = None
        self._redis: Any = None
        self._pubsub: Any = None
        self._incarnation = secrets.token_hex(8)
        self._outbox: list[tuple[str, tuple[Any, ...]]] = []
        self._outbox_ready = asyncio.Event()
        self._presence: weakref.WeakKeyDictionary[Session, str] = weakref.WeakKeyDictionary()
        self._routes: list[asyncio.Queue[tuple[Stanza, str | None]]] = []
        self.confirmations = Confirmations(name)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    # -- start and stop ----------------------------------------------------------------

    async def start(self) -> None:
        self._redis = aioredis.Redis.from_url(self.redis_url, decode_responses=True)
        redis = self._redis
        if await redis.exists(wire.alive_key(self.name)):
            await redis.aclose()
            raise NodeNameInUse(f"cluster node name {self.name!r} is in use by a live node")
        self._pubsub = redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(wire.ALL, wire.inbox(self.name))
        # A previous run of this node that died left its sessions behind.
        await redis.delete(wire.sessions_key(self.name))
        await redis.publish(wire.ALL, wire.encode({"t": "down", "n": self.name}))
        await self._register()
        await self._load_snapshot()
        sessions = self.server.sessions
        sessions.remote = self.directory
        sessions.watcher = self
        router = self.server.router
        router.iq_id_suffix = f"-{self.name}"
        router.answers = self
        loop = asyncio.get_running_loop()
        self._routes = [asyncio.Queue() for _ in range(ROUTE_WORKERS)]
        self._tasks = [
            loop.create_task(self._writer()),
            loop.create_task(self._listen()),
            loop.create_task(self._beat()),
            *(loop.create_task(self._route_worker(q)) for q in self._routes),
        ]
        log_event(log, "cluster_joined", node=self.name, nodes=",".join(sorted(self.live)))

    async def _register(self) -> None:
        redis = self._redis
        px = int(self.expiry * 1000)
        await redis.set(wire.alive_key(self.name), self._incarnation, px=px)
        await redis.sadd(wire.NODES, self.name)
        await redis.publish(wire.ALL, wire.encode({"t": "up", "n": self.name}))

    async def _load_snapshot(self) -> None:
        """Mirror every other live node's sessions (published changes that
        arrive meanwhile are applied after, in order: they are idempotent)."""
        live = await self._live_nodes()
        for node in live - {self.name}:
            for full, data in (await self._redis.hgetall(wire.sessions_key(node))).items():
                self.directory.put(node, JID.parse(full), wire.entry_of(wire.decode(data)))
        self._set_live(live)

    async def stop(self) -> None:
        """Leave the cluster: the others forget this node's sessions."""
        if self._redis is None:
            return
        self._stopping = True
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await self._flush()
                redis = self._redis
                await redis.delete(wire.alive_key(self.name), wire.sessions_key(self.name))
                await redis.srem(wire.NODES, self.name)
                await redis.publish(wire.ALL, wire.encode({"t": "down", "n": self.name}))
        except Exception:
            log.warning("cluster: could not leave cleanly; the others will expire this node")
        await self._close()

    async def abandon(self) -> None:
        """Stop talking to the cluster without a word, as a node that dies
        does (tests and failure drills): the others find out by expiry."""
        self._stopping = True
        await self._close()

    async def _close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT)
            for task in pending:
                log.warning("cluster: task did not stop: %s", task.get_coro())
        self._tasks = []
        self.server.sessions.watcher = None
        self.server.router.answers = None
        with contextlib.suppress(Exception):
            async with asyncio.timeout(STOP_TIMEOUT):
                if self._pubsub is not None:
                    await self._pubsub.aclose()
                await self._redis.aclose()
        self._redis = None

    # -- writing, in order -------------------------------------------------------------

    def _queue(self, command: str, *args: Any) -> None:
        self._outbox.append((command, args))
        self._outbox_ready.set()

    def _publish(self, channel: str, message: dict[str, Any]) -> None:
        self._queue("publish", channel, wire.encode(message))

    async def _writer(self) -> None:
        while not self._stopping:
            await self._outbox_ready.wait()
            await self._flush()

    async def _flush(self) -> None:
        while self._outbox:
            batch, self._outbox = self._outbox, []
            self._outbox_ready.clear()
            pipe = self._redis.pipeline(transaction=False)
            for command, args in batch:
                getattr(pipe, command)(*args)
            try:
                await pipe.execute()
            except Exception:
                log.exception("cluster: %d commands to Redis failed", len(batch))

    # -- SessionWatcher: local sessions into the directory ------------------------------

    def _entry(self, session: Any) -> Entry:
        return Entry(
            available=bool(session.available),
            priority=int(session.priority),
            features=session.features,
            carbons=bool(getattr(session, "carbons", False)),
            presence=self._presence.get(session) if session.available else None,
        )

    def _put(self, session: Any) -> None:
        full = str(session.jid)
        fields = wire.entry_fields(self._entry(session))
        self._queue("hset", wire.sessions_key(self.name), full, wire.encode(fields))
        self._publish(wire.ALL, {"t": "put", "n": self.name, "j": full, "e": fields})

    def bound(self, session: object) -> None:
        self._put(session)

    def changed(self, session: object) -> None:
        jid = getattr(session, "jid", None)
        if isinstance(jid, JID) and self.server.sessions.local(jid) is session:
            self._put(session)

    def unbound(self, session: object) -> None:
        full = str(getattr(session, "jid", ""))
        self._queue("hdel", wire.sessions_key(self.name), full)
        self._publish(wire.ALL, {"t": "del", "n": self.name, "j": full})

    def presence_sent(self, session: Session, stanza: Stanza) -> None:
        """A local session broadcast presence: availability, priority and the
        presence itself (probes on other nodes are answered with it)."""
        if stanza.type == "available":
            self._presence[session] = serialize(stanza.element)
        else:
            self._presence.pop(session, None)
        self.changed(session)

    # -- NodeLink: to other nodes ------------------------------------------------------

    def to_session(self, node: str, full: str, op: str, data: str) -> None:
        self._publish(wire.inbox(node), {"t": "s", "j": full, "op": op, "d": data})

    def route_on(self, node: str, element: Element) -> None:
        """Have `node` route this stanza as if it had arrived there."""
        self._publish(wire.inbox(node), {"t": "r", "x": serialize(element)})

    async def route_confirmed(self, node: str, element: Element) -> None:
        """`route_on`, returning once `node` has routed the stanza (stored
        it, or answered it with an error); StanzaError if it does not say so."""
        key, done = self.confirmations.expect(node)
        self._publish(wire.inbox(node), {"t": "r", "x": serialize(element), "k": key})
        await self.confirmations.wait(key, done)

    def send_channel_message(self, node: str, message: str, users: list[str]) -> None:
        self._publish(wire.inbox(node), {"t": "m", "x": message, "u": users})

    def account_notice(self, kind: str, account: str, payload: Element) -> None:
        """`core.cluster.AccountNotices` to every other node."""
        message = {"t": "acct", "n": self.name, "k": kind, "o": account, "x": serialize(payload)}
        self._publish(wire.ALL, message)

    def forward_answer(self, stanza: Stanza) -> bool:
        """An IQ answer to `mixd-<n>-<node>` goes to the node that asked."""
        iq_id = stanza.id or ""
        if not iq_id.startswith("mixd-"):
            return False
        node = iq_id.rpartition("-")[2]
        if node == self.name or node not in self.live:
            return False
        self.route_on(node, stanza.element)
        return True

    # -- membership --------------------------------------------------------------------

    def _set_live(self, live: frozenset[str]) -> None:
        live = live | {self.name}
        if live == self.live:
            return
        before, self.live = self.live, live
        log_event(log, "cluster_nodes", node=self.name, nodes=",".join(sorted(live)))
        for node in before - live:
            self.confirmations.node_left(node)
        for listener in self.membership_listeners:
            listener(before, live)

    async def _live_nodes(self) -> frozenset[str]:
        members = sorted(await self._redis.smembers(wire.NODES))
        if not members:
            return frozenset({self.name})
        alive = await self._redis.mget([wire.alive_key(n) for n in members])
        return frozenset(n for n, a in zip(members, alive, strict=True) if a is not None)

    async def _beat(self) -> None:
        # Checks `_stopping` as well as cancellation: a command cancelled
        # inside the Redis client may come out as a connection error.
        while not self._stopping:
            await asyncio.sleep(self.heartbeat)
            try:
                await self._beat_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                if self._stopping:
                    return
                log.exception("cluster: heartbeat failed")

    async def _beat_once(self) -> None:
        redis = self._redis
        px = int(self.expiry * 1000)
        if not await redis.set(wire.alive_key(self.name), self._incarnation, px=px, xx=True):
            # Declared dead (paused too long?): come back with every session.
            log_event(log, "cluster_rejoin", node=self.name)
            await self._register()
            for session in self.server.sessions.all():
                self._put(session)
        members = set(await redis.smembers(wire.NODES))
        live = await self._live_nodes()
        for node in sorted(members - live):
            await self._bury(node)
        self._set_live(live)

    async def _bury(self, node: str) -> None:
        """`node` stopped beating: one node (whoever takes the lock) removes
        its sessions and tells everyone, then ends those sessions for the
        modules here (presence goes unavailable to their contacts)."""
        redis = self._redis
        if not await redis.set(wire.cleanup_key(node), self.name, nx=True, px=CLEANUP_LOCK_MS):
            return
        if await redis.exists(wire.alive_key(node)):
            return  # it came back
        await redis.delete(wire.sessions_key(node))
        await redis.srem(wire.NODES, node)
        await redis.publish(wire.ALL, wire.encode({"t": "down", "n": node}))
        gone = self.directory.drop_node(node)
        self._set_live(self.live - {node})
        log_event(log, "cluster_node_dead", node=node, sessions=len(gone), by=self.name)
        for session in gone:
            await self._ended(session)

    async def _ended(self, session: RemoteSession) -> None:
        try:
            await self.server.hooks.emit(SessionClosed(session))
        except Exception:
            log.exception("cluster: ending %s of a dead node failed", session.jid)

    async def wait_until(self, check: Callable[[], bool], timeout: float) -> None:
        """Return once `check()` holds for the directory mirror (bounded)."""
        async with asyncio.timeout(timeout):
            while not check():
                await self.directory.changed()
