"""Errors raised by every storage backend.

Services catch these and map them to stanza errors in one place: a
`StorageUnavailable` is transient (answer `wait` / `internal-server-error`),
the others describe the state of the data.
"""

from __future__ import annotations


class StorageError(Exception):
    """Base class of all storage errors."""


class StorageUnavailable(StorageError):
    """The database cannot serve now: down, busy, locked, read-only, disk full, I/O error."""


class SchemaTooNew(StorageError):
    """The database was written by a newer mixd; refusing to touch it."""


class AccountExists(StorageError):
    """An account with this host and username already exists."""


class AccountNotFound(StorageError):
    """No account with this host and username."""
