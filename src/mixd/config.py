"""Typed server configuration, read from one TOML file.

The sections are frozen dataclasses; each option's type and limits are in its annotation
and :mod:`mixd.config_schema` enforces them, so a mistyped or out-of-range option stops the
server at start-up with a message naming the key instead of failing later.
docs/configuration.md documents every option (a test keeps the two in step).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, Literal, get_type_hints

from mixd.config_schema import (
    Bound,
    ConfigError,
    Each,
    NonEmpty,
    Table,
    Unique,
    build_section,
    check_bare_jid,
    check_host,
    check_ip,
    check_node_name,
    check_redis_url,
)

__all__ = [
    "AuthConfig",
    "C2SConfig",
    "ClusterConfig",
    "ComponentsConfig",
    "Config",
    "ConfigError",
    "LogConfig",
    "MamConfig",
    "ServerConfig",
    "StorageConfig",
    "TLSConfig",
    "load_config",
    "parse_config",
]

Port = Annotated[int, Bound(ge=0, le=65535)]
Seconds = Annotated[float, Bound(gt=0)]
Mechanism = Literal["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"]


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """[server]: which domains this server is, and where it keeps its state."""

    hosts: Annotated[tuple[str, ...], Each(check_host), NonEmpty(), Unique()] = ("localhost",)
    data_dir: Path = Path("mixd-data")
    admins: Annotated[tuple[str, ...], Each(check_bare_jid), Unique()] = ()


@dataclass(frozen=True, slots=True)
class C2SConfig:
    """[c2s]: client listeners and the per-connection limits that protect the server."""

    bind: Annotated[tuple[str, ...], Each(check_ip), NonEmpty(), Unique()] = ("127.0.0.1",)
    port: Port = 5222
    direct_tls_port: Annotated[int, Bound(ge=-1, le=65535)] = 5223
    starttls_required: bool = True
    max_stanza_bytes: Annotated[int, Bound(ge=1024)] = 262144
    max_stanza_bytes_preauth: Annotated[int, Bound(ge=1024)] = 8192
    max_depth: Annotated[int, Bound(ge=8)] = 64
    preauth_timeout: Seconds = 30.0
    idle_timeout: Seconds = 600.0
    max_resources_per_account: Annotated[int, Bound(ge=1)] = 10
    resource_conflict: Literal["replace", "refuse"] = "replace"
    max_output_buffer: Annotated[int, Bound(ge=4096)] = 1048576
    resume_timeout: Seconds = 300.0
    # 0 disables the two connection counts (e.g. behind a proxy).
    max_connections_per_address: Annotated[int, Bound(ge=0)] = 100
    max_unauthenticated: Annotated[int, Bound(ge=0)] = 1000
    # Inbound shaping per connection: reading pauses above the byte rate, the
    # session waits before its next stanza above the stanza rate.
    byte_rate: Annotated[int, Bound(ge=1024)] = 1048576
    byte_burst: Annotated[int, Bound(ge=1024)] = 4194304
    stanza_rate: Annotated[float, Bound(gt=0)] = 1000.0
    stanza_burst: Annotated[int, Bound(ge=1)] = 2000


@dataclass(frozen=True, slots=True)
class TLSConfig:
    """[tls]: None for certificate and key means a generated self-signed pair."""

    certificate: Path | None = None
    key: Path | None = None
    min_version: Literal["1.2", "1.3"] = "1.2"


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """[auth]: SASL mechanisms offered and the brute-force lockout."""

    mechanisms: Annotated[tuple[Mechanism, ...], NonEmpty(), Unique()] = (
        "SCRAM-SHA-256",
        "SCRAM-SHA-1",
        "PLAIN",
    )
    scram_iterations: Annotated[int, Bound(ge=4096)] = 4096
    max_failures: Annotated[int, Bound(ge=1)] = 5
    failure_window: Seconds = 60.0
    lockout: Seconds = 60.0


@dataclass(frozen=True, slots=True)
class StorageConfig:
    """[storage]: None for sqlite_path means ``<data_dir>/mixd.sqlite``; the
    postgresql_* options apply to backend = "postgresql" (dsn required)."""

    backend: Literal["sqlite", "postgresql"] = "sqlite"
    sqlite_path: Path | None = None
    sqlite_durability: Literal["full", "process"] = "full"
    postgresql_dsn: str = ""
    postgresql_pool_size: Annotated[int, Bound(ge=1, le=1000)] = 10
    postgresql_timeout: Seconds = 10.0


@dataclass(frozen=True, slots=True)
class RegistrationConfig:
    """[registration]: in-band account creation (XEP-0077), off by default."""

    enabled: bool = False
    max_per_address: Annotated[int, Bound(ge=1)] = 3
    window: Seconds = 3600.0


@dataclass(frozen=True, slots=True)
class MixConfig:
    """[mix]: the MIX channel service (XEP-0369)."""

    enabled: bool = True
    domains: Annotated[tuple[str, ...], Each(check_host), Unique()] = ()
    create_channel: Literal["local", "admins", "anyone"] = "local"
    destroy_archive: Literal["delete", "keep"] = "delete"
    message_rate: Annotated[float, Bound(ge=0)] = 50.0  # per participant and channel; 0: none
    message_burst: Annotated[int, Bound(ge=1)] = 200
    expiry_interval: Annotated[float, Bound(ge=1, le=86400)] = 60.0
    retraction_window: Annotated[float, Bound(ge=0)] = 0.0  # seconds; 0: no limit
    invitation_lifetime: Annotated[float, Bound(ge=60, le=31536000)] = 604800.0  # 7 days
    # XEP-0408: MUC on the channels' own domain, or on a mirror domain.
    muc_mode: Literal["integrated", "separate"] = "integrated"
    muc_domains: Annotated[tuple[str, ...], Each(check_host), Unique()] = ()


@dataclass(frozen=True, slots=True)
class MamConfig:
    """[mam]: limits on archive queries (XEP-0313), per account and server-wide."""

    user_query_rate: Annotated[float, Bound(gt=0)] = 5.0
    user_query_burst: Annotated[int, Bound(ge=1)] = 30
    global_query_rate: Annotated[float, Bound(gt=0)] = 500.0
    global_query_burst: Annotated[int, Bound(ge=1)] = 1000
    archive_quota: Annotated[int, Bound(ge=0)] = 0  # entries per account; 0: none


@dataclass(frozen=True, slots=True)
class BlockingConfig:
    """[blocking]: the Blocking Command (XEP-0191)."""

    max_items: Annotated[int, Bound(ge=1, le=100_000)] = 1000  # entries per account


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """[cluster]: several nodes sharing one PostgreSQL database and one Redis
    (docs/scaling.md); off by default."""

    enabled: bool = False
    node: Annotated[str, Each(check_node_name)] = ""
    redis_url: Annotated[str, Each(check_redis_url)] = "redis://127.0.0.1:6379/0"
    heartbeat: Seconds = 1.0
    node_expiry: Seconds = 5.0


@dataclass(frozen=True, slots=True)
class ComponentsConfig:
    """[components]: external components (XEP-0114), each a domain and its
    shared secret in `[components.secrets]`. Listening only when one is set."""

    bind: Annotated[tuple[str, ...], Each(check_ip), NonEmpty(), Unique()] = ("127.0.0.1",)
    port: Port = 5347
    secrets: Annotated[tuple[tuple[str, str], ...], Table(check_host)] = ()
    max_stanza_bytes: Annotated[int, Bound(ge=1024)] = 1048576
    max_output_buffer: Annotated[int, Bound(ge=65536)] = 16777216
    handshake_timeout: Seconds = 30.0


@dataclass(frozen=True, slots=True)
class LogConfig:
    """[log]: verbosity and line format."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["logfmt", "json"] = "logfmt"


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration; each field is a TOML section of the same name.

    Build it with :func:`load_config` or :func:`parse_config`: constructing it directly
    skips validation and leaves relative paths unresolved.
    """

    server: ServerConfig = ServerConfig()
    c2s: C2SConfig = C2SConfig()
    tls: TLSConfig = TLSConfig()
    auth: AuthConfig = AuthConfig()
    storage: StorageConfig = StorageConfig()
    registration: RegistrationConfig = RegistrationConfig()
    mix: MixConfig = MixConfig()
    mam: MamConfig = MamConfig()
    blocking: BlockingConfig = BlockingConfig()
    cluster: ClusterConfig = ClusterConfig()
    components: ComponentsConfig = ComponentsConfig()
    log: LogConfig = LogConfig()

    @property
    def sqlite_path(self) -> Path:
        """The database file, whether configured or defaulted under data_dir."""
        return self.storage.sqlite_path or self.server.data_dir / "mixd.sqlite"


def load_config(path: Path | None) -> Config:
    """Read and validate a TOML file; None gives the defaults (paths relative to the cwd)."""
    if path is None:
        return parse_config({}, "<defaults>", base_dir=Path.cwd())
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"cannot read configuration: {exc.strerror}", str(path)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"invalid TOML: {exc}", str(path)) from None
    return parse_config(data, str(path), base_dir=Path(path).absolute().parent)


def parse_config(data: dict[str, Any], source: str, *, base_dir: Path | None = None) -> Config:
    """Validate already-parsed TOML; source prefixes error messages.

    Relative paths resolve against base_dir (the config file's directory when called from
    load_config), or the current directory when it is not given.
    """
    base = (base_dir or Path.cwd()).absolute()
    hints = get_type_hints(Config)
    sections = {f.name: hints[f.name] for f in fields(Config)}
    try:
        for name in data:
            if name not in sections:
                raise ConfigError(f"unknown section '{name}'")
        config = Config(
            **{
                name: build_section(cls, name, data.get(name, {}), base)
                for name, cls in sections.items()
            }
        )
        _check_across(config)
    except ConfigError as exc:
        raise ConfigError(exc.detail, source) from None
    return config


def _check_muc_mode(config: Config) -> None:
    mix = config.mix
    if mix.muc_mode != "separate":
        if mix.muc_domains:
            raise ConfigError('mix.muc_domains: only with mix.muc_mode = "separate"')
        return
    if config.cluster.enabled:
        raise ConfigError('mix.muc_mode: "separate" is not available in a cluster yet')
    count = len(mix.domains or config.server.hosts)
    if mix.muc_domains and len(mix.muc_domains) != count:
        raise ConfigError(f"mix.muc_domains: one per MIX domain ({count}), in the same order")
    taken = set(mix.domains) | set(config.server.hosts)
    if taken & set(mix.muc_domains):
        raise ConfigError("mix.muc_domains: must differ from the hosts and MIX domains")


def _check_across(config: Config) -> None:
    """Rules that involve more than one option."""
    c2s, tls = config.c2s, config.tls
    if c2s.max_stanza_bytes_preauth > c2s.max_stanza_bytes:
        raise ConfigError("c2s.max_stanza_bytes_preauth: must not exceed c2s.max_stanza_bytes")
    if c2s.max_output_buffer < c2s.max_stanza_bytes:
        raise ConfigError("c2s.max_output_buffer: must be at least c2s.max_stanza_bytes")
    if c2s.port != 0 and c2s.direct_tls_port == c2s.port:
        raise ConfigError("c2s.direct_tls_port: must differ from c2s.port")
    if config.storage.backend == "postgresql" and not config.storage.postgresql_dsn.strip():
        raise ConfigError('storage.postgresql_dsn: must be set when storage.backend = "postgresql"')
    cluster = config.cluster
    if cluster.enabled:
        if config.storage.backend != "postgresql":
            raise ConfigError(
                'cluster.enabled: a cluster needs storage.backend = "postgresql"'
                " (every node shares one database; SQLite is one process's file)"
            )
        if not cluster.node:
            raise ConfigError("cluster.node: must be set when cluster.enabled (unique per node)")
        if cluster.node_expiry < 2 * cluster.heartbeat:
            raise ConfigError("cluster.node_expiry: must be at least twice cluster.heartbeat")
    _check_components(config)
    _check_muc_mode(config)
    if (tls.certificate is None) != (tls.key is None):
        unset, other = ("key", "certificate") if tls.key is None else ("certificate", "key")
        raise ConfigError(f"tls.{unset}: must be set when tls.{other} is set")


def _check_components(config: Config) -> None:
    taken = set(config.server.hosts)
    if config.mix.enabled:
        mix_domains = config.mix.domains or tuple(f"mix.{host}" for host in config.server.hosts)
        taken |= set(mix_domains)
        if config.mix.muc_mode == "separate":  # the MUC mirrors (app.mix_module)
            taken |= set(
                config.mix.muc_domains or ("muc." + d.removeprefix("mix.") for d in mix_domains)
            )
    for domain, _ in config.components.secrets:
        if domain in taken:
            raise ConfigError(
                f"components.secrets.{domain}: this server already serves that domain"
            )
    if config.components.max_output_buffer < config.components.max_stanza_bytes:
        raise ConfigError(
            "components.max_output_buffer: must be at least components.max_stanza_bytes"
        )
