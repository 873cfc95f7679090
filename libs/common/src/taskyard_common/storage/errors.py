"""What storage can go wrong with, sorted by what a caller should do about it."""

from __future__ import annotations


class FileNotFound(LookupError):
    """No such file: a 404 at the API, a permanent error in a task."""


class FileTooLarge(ValueError):
    pass


class StorageUnavailable(ConnectionError):
    """The storage backend could not be reached or is overloaded; worth retrying."""


class StorageMisconfigured(RuntimeError):
    """The backend answers but refuses us (credentials, bucket, permissions): retrying cannot help.

    Not a ConnectionError, so a task fails at once; the API answers 503 and /readyz names it.
    """


# Everything a backend raises on purpose: callers pass these through untouched.
STORAGE_ERRORS = (FileNotFound, StorageUnavailable, StorageMisconfigured)
