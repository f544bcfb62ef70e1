"""Wiring: configuration -> storage -> server core -> modules -> listeners."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import ssl
import sys
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from mixd.cluster.module import ClusterModule
from mixd.cluster.node import ClusterNode
from mixd.config import Config
from mixd.core.admission import Admission
from mixd.core.auth_limits import FailureLimiter
from mixd.core.module import Module
from mixd.core.server import Server, Stores
from mixd.core.sessions import SessionManager
from mixd.errors import StreamErrorCondition
from mixd.logfmt import log_event, use_json
from mixd.net.c2s import C2SConnection
from mixd.net.component import ComponentConnection, ComponentSettings
from mixd.net.policy import ConnectionPolicy, release_idle_parsers
from mixd.net.session import ClientSession
from mixd.net.tls import certificate_fingerprint, ensure_certificate, server_ssl_context
from mixd.services.blocking import BlockingModule
from mixd.services.catalog import DEFAULT_MODULES
from mixd.services.mam import MamLimits, MamModule
from mixd.services.mix import rules as mix_rules
from mixd.services.mix.module import MixModule
from mixd.services.mix.muc.mirror import muc_domain_for
from mixd.services.mix.service import Settings as MixSettings
from mixd.storage.postgres.accounts import PostgresAccountStore
from mixd.storage.postgres.archive import PostgresArchiveStore
from mixd.storage.postgres.blocklist import PostgresBlocklistStore
from mixd.storage.postgres.database import PostgresDatabase
from mixd.storage.postgres.mix import PostgresMixStore
from mixd.storage.postgres.mix_misc import PostgresMixMiscStore
from mixd.storage.postgres.offline import PostgresOfflineStore
from mixd.storage.postgres.pep import PostgresPepStore
from mixd.storage.postgres.roster import PostgresRosterStore
from mixd.storage.sqlite.accounts import SQLiteAccountStore
from mixd.storage.sqlite.archive import SQLiteArchiveStore
from mixd.storage.sqlite.blocklist import SQLiteBlocklistStore
from mixd.storage.sqlite.database import SQLiteDatabase
from mixd.storage.sqlite.mix import SQLiteMixStore
from mixd.storage.sqlite.mix_misc import SQLiteMixMiscStore
from mixd.storage.sqlite.offline import SQLiteOfflineStore
from mixd.storage.sqlite.pep import SQLitePepStore
from mixd.storage.sqlite.roster import SQLiteRosterStore
from mixd.stream.c2s import C2SSettings
from mixd.xml.parser import Limits

log = logging.getLogger("mixd")

SHUTDOWN_GRACE = 5.0  # seconds to finish handling what was received


def setup_logging(config: Config) -> None:
    use_json(config.log.format == "json")
    logging.basicConfig(
        level=config.log.level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


Database = SQLiteDatabase | PostgresDatabase


# [storage] sqlite_durability -> PRAGMA synchronous (WAL mode): "full" syncs
# every commit; "process" syncs at checkpoints only, so a commit survives the
# process dying but not the machine losing power.
SYNCHRONOUS = {"full": "FULL", "process": "NORMAL"}


def open_database(config: Config) -> Database:
    storage = config.storage
    if storage.backend == "postgresql":
        return PostgresDatabase(
            storage.postgresql_dsn,
            pool_size=storage.postgresql_pool_size,
            timeout=storage.postgresql_timeout,
        )
    return SQLiteDatabase(
        config.sqlite_path, synchronous=SYNCHRONOUS[config.storage.sqlite_durability]
    )


def database_label(config: Config) -> str:
    """Where the data lives, for the log: the SQLite file, or the PostgreSQL
    URL's host and database only (user, password and parameters left out)."""
    if config.storage.backend != "postgresql":
        return str(config.sqlite_path)
    url = urlsplit(config.storage.postgresql_dsn)
    host = url.netloc.rpartition("@")[2]
    return f"{url.scheme}://{host}{url.path}"


def stores(db: Database) -> Stores:
    """Every storage contract, on the backend `db` belongs to."""
    return postgres_stores(db) if isinstance(db, PostgresDatabase) else sqlite_stores(db)


def sqlite_stores(db: SQLiteDatabase) -> Stores:
    """Every storage contract, on the SQLite backend."""
    return Stores(
        accounts=SQLiteAccountStore(db),
        archive=SQLiteArchiveStore(db),
        mix=SQLiteMixStore(db),
        mix_misc=SQLiteMixMiscStore(db),
        offline=SQLiteOfflineStore(db),
        pep=SQLitePepStore(db),
        roster=SQLiteRosterStore(db),
        blocklist=SQLiteBlocklistStore(db),
    )


def postgres_stores(db: PostgresDatabase) -> Stores:
    """Every storage contract, on the PostgreSQL backend."""
    return Stores(
        accounts=PostgresAccountStore(db),
        archive=PostgresArchiveStore(db),
        mix=PostgresMixStore(db),
        mix_misc=PostgresMixMiscStore(db),
        offline=PostgresOfflineStore(db),
        pep=PostgresPepStore(db),
        roster=PostgresRosterStore(db),
        blocklist=PostgresBlocklistStore(db),
    )


def mix_module(server: Server, config: Config) -> MixModule:
    domains = mix_rules.service_domains(config.mix.domains, config.server.hosts)
    settings = MixSettings(
        create_policy=config.mix.create_channel,
        destroy_archive=config.mix.destroy_archive,
        admins=frozenset(config.server.admins),
        message_rate=config.mix.message_rate,
        message_burst=config.mix.message_burst,
        expiry_interval=config.mix.expiry_interval,
        retraction_window=config.mix.retraction_window,
        invitation_lifetime=config.mix.invitation_lifetime,
    )
    muc_domains = None
    if config.mix.muc_mode == "separate":
        mirrors = config.mix.muc_domains or tuple(muc_domain_for(d) for d in domains)
        muc_domains = dict(zip(domains, mirrors, strict=True))
    return MixModule(server, domains, settings, muc_domains)


def build_module(module_type: type[Module], server: Server, config: Config) -> Module:
    """A default module, given its settings where it has any."""
    if module_type is MamModule:
        m = config.mam
        limits = MamLimits(
            m.user_query_rate, m.user_query_burst, m.global_query_rate, m.global_query_burst
        )
        return MamModule(server, limits, quota=m.archive_quota)
    if module_type is BlockingModule:
        return BlockingModule(server, config.blocking.max_items)
    return module_type(server)


def c2s_settings(config: Config) -> C2SSettings:
    c = config.c2s
    return C2SSettings(
        hosts=frozenset(config.server.hosts),
        mechanisms=tuple(config.auth.mechanisms),
        tls_available=True,
        starttls_required=c.starttls_required,
        preauth_limits=Limits(max_bytes=c.max_stanza_bytes_preauth, max_depth=c.max_depth),
        limits=Limits(max_bytes=c.max_stanza_bytes, max_depth=c.max_depth),
        idle_seconds=int(c.idle_timeout),
        decoy_secret=os.urandom(32),
        scram_iterations=config.auth.scram_iterations,
        registration=config.registration.enabled,
    )


@dataclass
class App:
    config: Config
    ssl_context: ssl.SSLContext | None = None  # default: from [tls] or a generated cert
    server: Server | None = None
    db: Database | None = None
    c2s_port: int = 0
    direct_tls_port: int = 0
    component_port: int = 0  # 0: no components configured
    components: ComponentSettings | None = None
    policy: ConnectionPolicy | None = None
    cluster: ClusterNode | None = None
    _listeners: list[asyncio.Server] = field(default_factory=list)
    _sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        config = self.config
        self.db = open_database(config)
        await self.db.open()
        hosts = frozenset(config.server.hosts)
        sessions = SessionManager(
            config.c2s.max_resources_per_account, config.c2s.resource_conflict
        )
        self.server = Server(hosts, sessions, stores(self.db))
        self.server.scram_iterations = config.auth.scram_iterations
        for module_type in DEFAULT_MODULES:
            await self.server.load(build_module(module_type, self.server, config))
        if config.mix.enabled:
            await self.server.load(mix_module(self.server, config))
        if config.cluster.enabled:
            c = config.cluster
            self.cluster = ClusterNode(self.server, c.node, c.redis_url, c.heartbeat, c.node_expiry)
            await self.cluster.start()
            await self.server.load(ClusterModule(self.server, self.cluster))
        ctx = self.ssl_context or self._tls_context()
        policy = ConnectionPolicy(
            settings=replace(
                c2s_settings(config), module_features=self.server.registry.stream_features()
            ),
            ssl_context=ctx,
            limiter=FailureLimiter(
                config.auth.max_failures, config.auth.failure_window, config.auth.lockout
            ),
            preauth_timeout=config.c2s.preauth_timeout,
            idle_timeout=config.c2s.idle_timeout,
            max_output_buffer=config.c2s.max_output_buffer,
            resume_timeout=config.c2s.resume_timeout,
            byte_rate=config.c2s.byte_rate,
            byte_burst=config.c2s.byte_burst,
            stanza_rate=config.c2s.stanza_rate,
            stanza_burst=config.c2s.stanza_burst,
            admission=Admission(
                config.c2s.max_connections_per_address, config.c2s.max_unauthenticated
            ),
            registrations=(
                # Counts creations per address; locked once the quota is used.
                FailureLimiter(
                    config.registration.max_per_address,
                    config.registration.window,
                    config.registration.window,
                )
                if config.registration.enabled
                else None
            ),
        )
        self.policy = policy
        self._sweeper = asyncio.get_running_loop().create_task(release_idle_parsers(policy))
        self.c2s_port = await self._listen(policy, config.c2s.port, None)
        if config.c2s.direct_tls_port >= 0:
            self.direct_tls_port = await self._listen(policy, config.c2s.direct_tls_port, ctx)
        if config.components.secrets:
            self.component_port = await self._listen_components()
        log_event(
            log,
            "started",
            hosts=",".join(sorted(hosts)),
            c2s=self.c2s_port,
            direct_tls=self.direct_tls_port or None,
            components=self.component_port or None,
            database=database_label(config),
            node=config.cluster.node if config.cluster.enabled else None,
        )

    def _tls_context(self) -> ssl.SSLContext:
        tls = self.config.tls
        if tls.certificate is not None and tls.key is not None:
            cert, key = tls.certificate, tls.key
        else:
            cert, key = ensure_certificate(self.config.server.data_dir, self.config.server.hosts)
            log_event(log, "tls_certificate", path=cert, sha256=certificate_fingerprint(cert))
        return server_ssl_context(cert, key, tls.min_version)

    async def _listen(
        self, policy: ConnectionPolicy, port: int, direct_tls: ssl.SSLContext | None
    ) -> int:
        server = self.server
        assert server is not None
        loop = asyncio.get_running_loop()
        listener = await loop.create_server(
            lambda: C2SConnection(server, policy, direct_tls=direct_tls is not None),
            host=list(self.config.c2s.bind),
            port=port,
            ssl=direct_tls,
            ssl_handshake_timeout=policy.preauth_timeout if direct_tls else None,
        )
        self._listeners.append(listener)
        return int(listener.sockets[0].getsockname()[1])

    async def _listen_components(self) -> int:
        server = self.server
        assert server is not None
        c = self.config.components
        settings = ComponentSettings(
            dict(c.secrets), c.max_stanza_bytes, c.max_output_buffer, c.handshake_timeout
        )
        self.components = settings
        listener = await asyncio.get_running_loop().create_server(
            lambda: ComponentConnection(server, settings), host=list(c.bind), port=c.port
        )
        self._listeners.append(listener)
        return int(listener.sockets[0].getsockname()[1])

    def connections(self) -> set[C2SConnection]:
        return self.policy.connections if self.policy else set()

    async def _close_sessions(self, server: Server) -> None:
        """End every session still bound (e.g. waiting for resumption),
        keeping what its client never acknowledged, and let the modules see
        each end (presence, etc.) while storage is still open."""
        sessions = [s for s in server.sessions.all() if isinstance(s, ClientSession)]
        for session in sessions:
            if session.connection is None:
                await session.keep_unacked_messages()
            session.close()
        await server.finish_tasks(SHUTDOWN_GRACE)

    async def stop(self) -> None:
        """Graceful shutdown: stop accepting, tell every client, close storage."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        for listener in self._listeners:
            listener.close()
        connections = list(self.connections())
        # Stanzas already received are handled (and acknowledged) before the
        # stream ends and before anything else stops.
        for conn in connections:
            conn.shut_down()
        for component in list(self.components.connections if self.components else ()):
            component.close(StreamErrorCondition.SYSTEM_SHUTDOWN, "server shutting down")
        workers = [conn.worker for conn in connections if conn.worker is not None]
        if workers:
            await asyncio.wait(workers, timeout=SHUTDOWN_GRACE)
        for conn in connections:  # still busy after the grace period
            conn.close_stream(StreamErrorCondition.SYSTEM_SHUTDOWN, "server shutting down")
        for listener in self._listeners:
            await listener.wait_closed()
        self._listeners.clear()
        if self.server is not None:
            await self._close_sessions(self.server)
            await self.server.unload_all()
        if self.cluster is not None:
            await self.cluster.stop()
        if self.db is not None:
            await self.db.close()
        log_event(log, "stopped")


async def serve(config: Config) -> None:
    app = App(config)
    await app.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await app.stop()


SWITCH_INTERVAL = 0.001  # seconds


def run(config: Config) -> None:
    setup_logging(config)
    # The storage thread needs the GIL back after every SQLite call; with the
    # default 5 ms switch interval a busy event loop made each commit wait
    # for it (fan-out latency p99 x10 in bench/; see docs/performance.md).
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        import uvloop

        uvloop.run(serve(config))
    except ImportError:
        asyncio.run(serve(config))
