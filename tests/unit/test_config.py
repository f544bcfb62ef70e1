"""Configuration loading: defaults, a full file, every kind of error, and the docs in step."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any, get_type_hints

import pytest

from mixd.config import (
    AuthConfig,
    C2SConfig,
    Config,
    ConfigError,
    LogConfig,
    ServerConfig,
    StorageConfig,
    TLSConfig,
    load_config,
    parse_config,
)
from mixd.config_schema import Table

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "configuration.md"
SECTIONS: dict[str, type] = get_type_hints(Config)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _error(toml_text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(tomllib.loads(toml_text), "test.toml")
    return str(info.value)


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(None)
    assert config.server == ServerConfig(
        hosts=("localhost",), data_dir=tmp_path / "mixd-data", admins=()
    )
    assert config.c2s == C2SConfig()
    assert config.c2s.bind == ("127.0.0.1",)
    assert (config.c2s.port, config.c2s.direct_tls_port) == (5222, 5223)
    assert config.c2s.starttls_required is True
    assert config.c2s.max_stanza_bytes == 262144
    assert config.c2s.max_stanza_bytes_preauth == 8192
    assert config.c2s.max_depth == 64
    assert config.c2s.preauth_timeout == 30.0
    assert config.c2s.idle_timeout == 600.0
    assert config.c2s.max_resources_per_account == 10
    assert config.c2s.resource_conflict == "replace"
    assert config.c2s.max_output_buffer == 1048576
    assert config.tls == TLSConfig(certificate=None, key=None, min_version="1.2")
    assert config.auth == AuthConfig(
        mechanisms=("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"),
        scram_iterations=4096,
        max_failures=5,
        failure_window=60.0,
        lockout=60.0,
    )
    assert config.storage == StorageConfig(backend="sqlite", sqlite_path=None)
    assert (config.storage.postgresql_dsn, config.storage.postgresql_pool_size) == ("", 10)
    assert config.log == LogConfig(level="info", format="logfmt")
    assert config.sqlite_path == tmp_path / "mixd-data" / "mixd.sqlite"
    assert parse_config({}, "x", base_dir=tmp_path) == config


FULL = """
[server]
hosts = ["Example.COM", "chat.example.org.", "192.0.2.7", "::1"]
data_dir = "state"
admins = ["Admin@Example.com", "ops@chat.example.org"]

[c2s]
bind = ["0.0.0.0", "::"]
port = 0
direct_tls_port = -1
starttls_required = false
max_stanza_bytes = 65536
max_stanza_bytes_preauth = 4096
max_depth = 32
preauth_timeout = 5
idle_timeout = 120.5
max_resources_per_account = 3
resource_conflict = "refuse"
max_output_buffer = 65536

[tls]
certificate = "certs/fullchain.pem"
key = "/abs/privkey.pem"
min_version = "1.3"

[auth]
mechanisms = ["PLAIN", "SCRAM-SHA-256"]
scram_iterations = 8192
max_failures = 3
failure_window = 30.0
lockout = 900.0

[storage]
backend = "sqlite"
sqlite_path = "db/main.sqlite"

[log]
level = "debug"
format = "json"
"""


def test_full_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "etc" / "mixd.toml", FULL)
    monkeypatch.chdir(_write(tmp_path / "elsewhere" / "x", "").parent)
    config = load_config(path)
    etc = tmp_path / "etc"
    assert config.server == ServerConfig(
        hosts=("example.com", "chat.example.org", "192.0.2.7", "[::1]"),
        data_dir=etc / "state",
        admins=("admin@example.com", "ops@chat.example.org"),
    )
    assert config.c2s == C2SConfig(
        bind=("0.0.0.0", "::"),
        port=0,
        direct_tls_port=-1,
        starttls_required=False,
        max_stanza_bytes=65536,
        max_stanza_bytes_preauth=4096,
        max_depth=32,
        preauth_timeout=5.0,
        idle_timeout=120.5,
        max_resources_per_account=3,
        resource_conflict="refuse",
        max_output_buffer=65536,
    )
    assert isinstance(config.c2s.preauth_timeout, float)
    assert config.tls == TLSConfig(
        certificate=etc / "certs" / "fullchain.pem", key=Path("/abs/privkey.pem"), min_version="1.3"
    )
    assert config.auth == AuthConfig(
        mechanisms=("PLAIN", "SCRAM-SHA-256"),
        scram_iterations=8192,
        max_failures=3,
        failure_window=30.0,
        lockout=900.0,
    )
    assert config.storage == StorageConfig(backend="sqlite", sqlite_path=etc / "db" / "main.sqlite")
    assert config.sqlite_path == etc / "db" / "main.sqlite"
    assert config.log == LogConfig(level="debug", format="json")


def test_config_is_frozen() -> None:
    config = parse_config({}, "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.c2s.port = 1  # type: ignore[misc]


def test_relative_paths_without_file_use_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = parse_config({"server": {"data_dir": "d"}, "storage": {"sqlite_path": "s.db"}}, "x")
    assert config.server.data_dir == tmp_path / "d"
    assert config.sqlite_path == tmp_path / "s.db"


def test_postgresql_backend() -> None:
    storage = {
        "backend": "postgresql",
        "postgresql_dsn": "postgresql://mixd@db.example.org/mixd",
        "postgresql_pool_size": 4,
        "postgresql_timeout": 2.5,
    }
    config = parse_config({"storage": storage}, "x")
    assert config.storage == StorageConfig(
        backend="postgresql",
        postgresql_dsn="postgresql://mixd@db.example.org/mixd",
        postgresql_pool_size=4,
        postgresql_timeout=2.5,
    )


def test_relative_paths_against_file_dir_with_default_data_dir(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path / "conf" / "m.toml", "[log]\nlevel = 'error'\n"))
    assert config.server.data_dir == tmp_path / "conf" / "mixd-data"
    assert config.sqlite_path == tmp_path / "conf" / "mixd-data" / "mixd.sqlite"


def test_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = parse_config({"server": {"data_dir": "~/mixd"}}, "x", base_dir=Path("/nowhere"))
    assert config.server.data_dir == tmp_path / "home" / "mixd"


@pytest.mark.parametrize(
    ("toml_text", "message"),
    [
        # unknown names
        ("[c2s]\nprot = 5222", "unknown option 'c2s.prot'"),
        ("[xmpp]\nport = 1", "unknown section 'xmpp'"),
        ("c2s = 5", "c2s: expected a table"),
        # wrong types
        ("[c2s]\nport = 'abc'", "c2s.port: expected an integer between 0 and 65535, got 'abc'"),
        ("[c2s]\nport = 5222.0", "c2s.port: expected an integer between 0 and 65535, got 5222.0"),
        ("[c2s]\nstarttls_required = 1", "c2s.starttls_required: expected true or false, got 1"),
        ("[c2s]\nstarttls_required = 'yes'", "c2s.starttls_required: expected true or false"),
        ("[c2s]\npreauth_timeout = '30'", "c2s.preauth_timeout: expected a number > 0, got '30'"),
        ("[c2s]\nidle_timeout = true", "c2s.idle_timeout: expected a number > 0, got true"),
        ("[c2s]\nidle_timeout = inf", "c2s.idle_timeout: expected a number > 0, got inf"),
        ("[c2s]\nidle_timeout = nan", "c2s.idle_timeout: expected a number > 0"),
        ("[server]\nhosts = 'localhost'", "server.hosts: expected a list of strings, got 'local"),
        ("[server]\nhosts = [1]", "server.hosts[0]: expected a string, got 1"),
        ("[server]\ndata_dir = 5", "server.data_dir: expected a path (a string), got 5"),
        ("[tls]\nmin_version = 1.2", "tls.min_version: expected one of '1.2', '1.3', got 1.2"),
        ("[auth]\nmechanisms = 'PLAIN'", "auth.mechanisms: expected a list of strings"),
        # out of range
        ("[c2s]\nport = 65536", "c2s.port: expected an integer between 0 and 65535, got 65536"),
        ("[c2s]\nport = -1", "c2s.port: expected an integer between 0 and 65535, got -1"),
        ("[c2s]\ndirect_tls_port = -2", "c2s.direct_tls_port: expected an integer between -1 and"),
        ("[c2s]\npreauth_timeout = 0", "c2s.preauth_timeout: expected a number > 0, got 0"),
        ("[c2s]\nmax_depth = 2", "c2s.max_depth: expected an integer >= 8, got 2"),
        ("[auth]\nscram_iterations = 4095", "auth.scram_iterations: expected an integer >= 4096"),
        ("[auth]\nmax_failures = 0", "auth.max_failures: expected an integer >= 1, got 0"),
        # enums
        ("[c2s]\nresource_conflict = 'kick'", "c2s.resource_conflict: expected one of 'replace'"),
        ("[tls]\nmin_version = '1.1'", "tls.min_version: expected one of '1.2', '1.3', got '1.1'"),
        ("[storage]\nbackend = 'postgres'", "storage.backend: expected one of 'sqlite'"),
        ("[log]\nlevel = 'trace'", "log.level: expected one of 'debug', 'info', 'warning'"),
        ("[log]\nformat = 'xml'", "log.format: expected one of 'logfmt', 'json', got 'xml'"),
        ("[auth]\nmechanisms = ['MD5']", "auth.mechanisms[0]: expected one of 'SCRAM-SHA-256'"),
        # list rules
        ("[server]\nhosts = []", "server.hosts: must not be empty"),
        ("[server]\nhosts = ['a.org', 'A.org.']", "server.hosts: duplicate entry 'a.org'"),
        ("[server]\nhosts = ['a b']", "server.hosts[0]: expected a domain name or IP address"),
        ("[server]\nhosts = ['-a.org']", "server.hosts[0]: expected a domain name or IP address"),
        ("[server]\nhosts = ['1.2.3']", "server.hosts[0]: expected a domain name or IP address"),
        ("[server]\nhosts = ['x', '']", "server.hosts[1]: expected a domain name or IP address"),
        ("[server]\nadmins = ['example.com']", "server.admins[0]: expected a bare JID"),
        ("[server]\nadmins = ['a@b.org/res']", "server.admins[0]: expected a bare JID"),
        ("[server]\nadmins = ['a@b', 'A@B']", "server.admins: duplicate entry 'a@b'"),
        ("[c2s]\nbind = []", "c2s.bind: must not be empty"),
        ("[c2s]\nbind = ['localhost']", "c2s.bind[0]: expected an IP address, got 'localhost'"),
        ("[c2s]\nbind = ['::', '0::0']", "c2s.bind: duplicate entry '::'"),
        ("[auth]\nmechanisms = []", "auth.mechanisms: must not be empty"),
        ("[auth]\nmechanisms = ['PLAIN', 'PLAIN']", "auth.mechanisms: duplicate entry 'PLAIN'"),
        # paths and cross-option rules
        ("[server]\ndata_dir = ''", "server.data_dir: must not be empty"),
        ("[tls]\ncertificate = 'c.pem'", "tls.key: must be set when tls.certificate is set"),
        ("[storage]\nbackend = 'postgresql'", "storage.postgresql_dsn: must be set when"),
        ("[storage]\npostgresql_pool_size = 0", "storage.postgresql_pool_size: expected an"),
        ("[tls]\nkey = 'k.pem'", "tls.certificate: must be set when tls.key is set"),
        (
            "[c2s]\nmax_stanza_bytes = 4096\nmax_stanza_bytes_preauth = 8192",
            "c2s.max_stanza_bytes_preauth: must not exceed c2s.max_stanza_bytes",
        ),
        (
            "[c2s]\nmax_output_buffer = 65536",
            "c2s.max_output_buffer: must be at least c2s.max_stanza_bytes",
        ),
        ("[c2s]\nport = 5000\ndirect_tls_port = 5000", "c2s.direct_tls_port: must differ"),
    ],
)
def test_errors_name_the_key(toml_text: str, message: str) -> None:
    assert _error(toml_text).startswith("test.toml: " + message)


def test_bool_is_not_an_int() -> None:
    assert _error("[c2s]\nport = true") == (
        "test.toml: c2s.port: expected an integer between 0 and 65535, got true"
    )
    assert _error("[c2s]\nmax_depth = false").startswith("test.toml: c2s.max_depth:")


def test_error_attributes() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"c2s": {"prot": 1}}, "some.toml")
    assert info.value.source == "some.toml"
    assert info.value.detail == "unknown option 'c2s.prot'"


def test_zero_ports_may_coincide() -> None:
    config = parse_config({"c2s": {"port": 0, "direct_tls_port": 0}}, "x")
    assert (config.c2s.port, config.c2s.direct_tls_port) == (0, 0)


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot read configuration"):
        load_config(tmp_path / "missing.toml")
    bad = _write(tmp_path / "bad.toml", "[c2s\nport = 1\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: invalid TOML: .*line 1"):
        load_config(bad)


# --- docs/configuration.md must describe exactly the options the code has -----------------

_HEADING = re.compile(r"^## `\[(\w+)\]`\s*$")
_ROW = re.compile(r"^\|\s*`(\w+)`\s*\|([^|]+)\|\s*`([^`]*)`\s*\|([^|]+)\|\s*$")


def _documented() -> dict[str, dict[str, str]]:
    """section -> option -> default cell, from the per-section tables."""
    tables: dict[str, dict[str, str]] = {}
    section: str | None = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            heading = _HEADING.match(line)
            section = heading.group(1) if heading else None
            if section is not None:
                assert section not in tables, f"section [{section}] documented twice"
                tables[section] = {}
        elif section is not None and (row := _ROW.match(line)):
            assert row.group(1) not in tables[section], f"{section}.{row.group(1)} twice"
            tables[section][row.group(1)] = row.group(3)
    return tables


def _as_toml(value: Any) -> Any:
    """A dataclass default as it is written in TOML (None is the empty string)."""
    if value is None:
        return ""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def test_docs_document_every_option_with_its_default() -> None:
    documented = _documented()
    assert set(documented) == set(SECTIONS)
    for name, cls in SECTIONS.items():
        options = {f.name: f.default for f in dataclasses.fields(cls)}
        hints = get_type_hints(cls, include_extras=True)
        assert set(documented[name]) == set(options), f"[{name}] table out of step"
        for key, default in options.items():
            cell = documented[name][key]
            shown = tomllib.loads(f"v = {cell}")["v"]
            tables = [m for m in getattr(hints[key], "__metadata__", ()) if isinstance(m, Table)]
            expected = dict(default) if tables else _as_toml(default)
            assert (type(shown), shown) == (type(expected), expected), f"{name}.{key} default"


def test_docs_example_is_complete_and_valid(tmp_path: Path) -> None:
    blocks = re.findall(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) == 1
    data = tomllib.loads(blocks[0])
    for name, cls in SECTIONS.items():
        assert set(data[name]) == {f.name for f in dataclasses.fields(cls)}, name
    parse_config(data, "docs example", base_dir=tmp_path)


def test_cluster_needs_postgresql_and_a_node_name() -> None:
    assert "needs storage.backend" in _error('[cluster]\nenabled = true\nnode = "a"\n')
    pg = '[storage]\nbackend = "postgresql"\npostgresql_dsn = "postgresql://h/db"\n'
    assert "cluster.node: must be set" in _error(pg + "[cluster]\nenabled = true\n")
    assert "cluster.node:" in _error(pg + '[cluster]\nnode = "a-b"\n')
    assert "twice" in _error(pg + '[cluster]\nenabled = true\nnode = "a"\nnode_expiry = 1.5\n')
    config = parse_config(tomllib.loads(pg + '[cluster]\nenabled = true\nnode = "N1"\n'), "t")
    assert config.cluster.node == "n1"


def test_component_secrets_table() -> None:
    config = parse_config(
        tomllib.loads('[components.secrets]\n"IRC.Example.org" = "s1"\n"b.example.org" = "s2"\n'),
        "t",
    )
    assert config.components.secrets == (("b.example.org", "s2"), ("irc.example.org", "s1"))
    assert "expected a non-empty string" in _error('[components.secrets]\n"a.example" = ""\n')
    assert "expected a non-empty string" in _error('[components.secrets]\n"a.example" = 3\n')
    assert "expected a table" in _error('[components]\nsecrets = ["a"]\n')
    assert "components.secrets.a b:" in _error('[components.secrets]\n"a b" = "s"\n')
    assert "duplicate" in _error('[components.secrets]\n"A.example" = "s"\n"a.example" = "t"\n')
    # A component cannot take a domain the server serves itself.
    assert "already serves" in _error('[components.secrets]\n"localhost" = "s"\n')
    assert "already serves" in _error('[components.secrets]\n"mix.localhost" = "s"\n')
    # The secret never appears in an error message.
    assert "hunter2" not in _error('[components.secrets]\n"mix.localhost" = "hunter2"\n')


def test_muc_mode_options() -> None:
    config = parse_config({"mix": {"muc_mode": "separate"}}, "test")
    assert (config.mix.muc_mode, config.mix.muc_domains) == ("separate", ())
    both = {"muc_mode": "separate", "domains": ["mix.a.example"], "muc_domains": ["chat.a.example"]}
    assert parse_config({"mix": both}, "test").mix.muc_domains == ("chat.a.example",)
    assert "only with" in _error('[mix]\nmuc_domains = ["muc.localhost"]\n')
    assert "one per MIX domain" in _error(
        '[mix]\nmuc_mode = "separate"\nmuc_domains = ["a.example", "b.example"]\n'
    )
    assert "must differ" in _error('[mix]\nmuc_mode = "separate"\nmuc_domains = ["localhost"]\n')
    assert "cluster" in _error(
        '[mix]\nmuc_mode = "separate"\n[storage]\nbackend = "postgresql"\n'
        'postgresql_dsn = "postgresql://x"\n[cluster]\nenabled = true\nnode = "n1"\n'
    )
    assert "muc_mode" in _error('[mix]\nmuc_mode = "half"\n')
    mirrored = '[mix]\nmuc_mode = "separate"\n[components.secrets]\n"muc.localhost" = "s"\n'
    assert "already serves" in _error(mirrored)
