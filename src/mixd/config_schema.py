"""Generic TOML-to-dataclass conversion for the configuration.

Each option's type and limits live in its annotation (``Annotated[int, Bound(ge=0)]``), so
adding a section is a dataclass and nothing else; every value, defaults included, goes
through the same conversion, which is what makes the error messages uniform.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import types
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from precis_i18n import get_profile

T = TypeVar("T")


class ConfigError(Exception):
    """A configuration problem; the message names the dotted key and what is wrong."""

    def __init__(self, message: str, source: str = "") -> None:
        super().__init__(f"{source}: {message}" if source else message)
        self.detail = message
        self.source = source


class Invalid(ValueError):
    """Raised by item checkers; the caller prefixes the key."""


@dataclass(frozen=True, slots=True)
class Bound:
    """Numeric limits; ``gt`` exists because a zero timeout is meaningless."""

    ge: float | None = None
    le: float | None = None
    gt: float | None = None

    def describe(self) -> str:
        if self.ge is not None and self.le is not None:
            return f"between {self.ge} and {self.le}"
        parts = [f">= {self.ge}"] if self.ge is not None else []
        parts += [f"> {self.gt}"] if self.gt is not None else []
        parts += [f"<= {self.le}"] if self.le is not None else []
        return " and ".join(parts)

    def holds(self, v: float) -> bool:
        return not (
            (self.ge is not None and v < self.ge)
            or (self.le is not None and v > self.le)
            or (self.gt is not None and v <= self.gt)
        )


@dataclass(frozen=True, slots=True)
class Each:
    """Normalises every list item (or a single string); raises Invalid to refuse it."""

    check: Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Table:
    """A TOML table of string values, kept as sorted (key, value) pairs; keys
    are normalised by `key`, values must not be empty."""

    key: Callable[[str], str]


@dataclass(frozen=True, slots=True)
class NonEmpty:
    """A list that must hold at least one item."""


@dataclass(frozen=True, slots=True)
class Unique:
    """A list whose (normalised) items must not repeat."""


def show(value: object) -> str:
    """Render a value the way it would look in the TOML file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(str(value)) if isinstance(value, Path) else repr(value)


_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def check_host(value: str) -> str:
    """A lowercased DNS name or IP literal (IPv6 kept in JID form, ``[::1]``)."""
    name = value.strip().lower()
    inner = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    try:
        ip = ipaddress.ip_address(inner)
    except ValueError:
        pass
    else:
        return f"[{ip}]" if ip.version == 6 else str(ip)
    name = name.removesuffix(".")  # RFC 7622 section 3.2: a final dot is stripped
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise Invalid(f"expected a domain name or IP address, got {show(value)}")
    return name


_NODE = re.compile(r"[a-z0-9_]{1,64}")


def check_node_name(value: str) -> str:
    """A cluster node name: 1-64 of a-z, 0-9 and _ (it appears in Redis keys
    and server request ids); empty means "not set"."""
    name = value.strip().lower()
    if name and not _NODE.fullmatch(name):
        raise Invalid(f"expected 1-64 characters a-z, 0-9 or _, got {show(value)}")
    return name


def check_redis_url(value: str) -> str:
    url = value.strip()
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise Invalid(f"expected a redis://, rediss:// or unix:// URL, got {show(value)}")
    return url


def check_ip(value: str) -> str:
    """An IP address to listen on, in canonical form."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise Invalid(f"expected an IP address, got {show(value)}") from None


_USERNAME = get_profile("UsernameCaseMapped")
_LOCAL_FORBIDDEN = set("\"&'/:<>@")  # RFC 7622 section 3.3.1


def check_bare_jid(value: str) -> str:
    """``local@domain`` with the localpart PRECIS-normalised, so it compares as JIDs do."""
    problem = f"expected a bare JID like 'admin@example.com', got {show(value)}"
    local, at, domain = value.partition("@")
    if not at or not local or "/" in domain:
        raise Invalid(problem)
    try:
        local = _USERNAME.enforce(local)
        domain = check_host(domain)
    except (UnicodeError, Invalid):
        raise Invalid(problem) from None
    if _LOCAL_FORBIDDEN & set(local) or len(local.encode()) > 1023:
        raise Invalid(problem)
    return f"{local}@{domain}"


def _split(hint: Any) -> tuple[Any, list[Any]]:
    """``Annotated[X, m1, m2]`` -> ``(X, [m1, m2])``."""
    if get_origin(hint) is Annotated:
        base, *meta = get_args(hint)
        return base, meta
    return hint, []


def _first(meta: list[Any], kind: type[T]) -> T | None:
    return next((m for m in meta if isinstance(m, kind)), None)


def _is_path(base: Any) -> bool:
    return base is Path or (get_origin(base) in (Union, types.UnionType) and Path in get_args(base))


def _expected(base: Any, meta: list[Any]) -> str:
    """The 'expected ...' phrase for a type, so type and range errors read the same."""
    bound = _first(meta, Bound)
    limits = f" {bound.describe()}" if bound else ""
    if base is bool:
        return "expected true or false"
    if base is int:
        return f"expected an integer{limits}"
    if base is float:
        return f"expected a number{limits}"
    if get_origin(base) is Literal:
        return "expected one of " + ", ".join(show(a) for a in get_args(base))
    if _is_path(base):
        return "expected a path (a string)"
    if get_origin(base) is tuple:
        item = get_args(base)[0]
        each = f" ({_expected(item, []).replace('expected ', 'each ')})"
        return "expected a list of strings" + (each if get_origin(item) is Literal else "")
    return "expected a string"


def convert(hint: Any, value: object, key: str, base_dir: Path) -> Any:
    """Check and normalise one option value against its (possibly Annotated) type."""
    base, meta = _split(hint)
    if (table := _first(meta, Table)) is not None:
        return _table(table, value, key)
    if get_origin(base) is not tuple:
        return _scalar(base, meta, value, key, base_dir)
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{key}: {_expected(base, meta)}, got {show(value)}")
    item_type = get_args(base)[0]
    items = tuple(_scalar(item_type, meta, v, f"{key}[{i}]", base_dir) for i, v in enumerate(value))
    if _first(meta, NonEmpty) and not items:
        raise ConfigError(f"{key}: must not be empty")
    if _first(meta, Unique):
        dupes = [v for i, v in enumerate(items) if v in items[:i]]
        if dupes:
            raise ConfigError(f"{key}: duplicate entry {show(dupes[0])}")
    return items


def _table(table: Table, value: object, key: str) -> tuple[tuple[str, str], ...]:
    if isinstance(value, tuple):  # the default: pairs already
        value = dict(value)
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected a table of strings, got {show(value)}")
    pairs: dict[str, str] = {}
    for name, item in value.items():
        try:
            normal = table.key(name)
        except Invalid as exc:
            raise ConfigError(f"{key}.{name}: {exc}") from None
        if type(item) is not str or not item:
            raise ConfigError(f"{key}.{name}: expected a non-empty string, got {show(item)}")
        if normal in pairs:
            raise ConfigError(f"{key}: duplicate entry {show(normal)}")
        pairs[normal] = item
    return tuple(sorted(pairs.items()))


def _scalar(base: Any, meta: list[Any], value: Any, key: str, base_dir: Path) -> Any:
    bad = ConfigError(f"{key}: {_expected(base, meta)}, got {show(value)}")
    bound = _first(meta, Bound)
    if base is bool or base is int:  # type() rather than isinstance: true is not 1
        if type(value) is not base or (bound and not bound.holds(value)):
            raise bad
        return value
    if base is float:
        if type(value) not in (int, float) or not math.isfinite(value):
            raise bad
        if bound and not bound.holds(value):
            raise bad
        return float(value)
    if get_origin(base) is Literal:
        if type(value) is not str or value not in get_args(base):
            raise bad
        return value
    if _is_path(base):
        if value is None or value == "":  # "" means "not set" where None is allowed
            if base is Path:
                raise ConfigError(f"{key}: must not be empty")
            return None
        if not isinstance(value, str | os.PathLike):
            raise bad
        return base_dir / Path(value).expanduser()
    if base is not str:
        raise TypeError(f"{key}: unsupported option type {base!r}")
    if type(value) is not str:
        raise bad
    each = _first(meta, Each)
    try:
        return each.check(value) if each else value
    except Invalid as exc:
        raise ConfigError(f"{key}: {exc}") from None


def build_section(cls: type[T], name: str, table: object, base_dir: Path) -> T:
    """Make one section's dataclass from its TOML table; unset options take defaults."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{name}: expected a table ([{name}]), got {show(table)}")
    hints = get_type_hints(cls, include_extras=True)
    known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    for key in table:
        if key not in known:
            raise ConfigError(f"unknown option '{name}.{key}'")
    values: dict[str, Any] = {}
    for key, f in known.items():
        if f.default is MISSING:
            raise TypeError(f"{cls.__name__}.{key} needs a default")
        raw = table.get(key, f.default)
        values[key] = convert(hints[key], raw, f"{name}.{key}", base_dir)
    return cls(**values)
