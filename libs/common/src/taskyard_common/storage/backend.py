"""The few operations FileStore needs from a place that keeps bytes under keys."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import IO, Protocol


class Backend(Protocol):
    """Keys are relative paths from storage.layout; errors are those of storage.errors.

    A missing key raises FileNotFound, an unreachable or overloaded store
    StorageUnavailable, a store that refuses us StorageMisconfigured.
    """

    def open_read(self, key: str) -> IO[bytes]:
        """A readable, seekable handle on the object; the caller closes it."""
        ...

    def open_write(self, key: str) -> AbstractContextManager[IO[bytes]]:
        """A handle whose bytes become the object when the block ends without an error.

        A block that raises leaves nothing behind under `key`.
        """
        ...

    def read_bytes(self, key: str) -> bytes: ...

    def write_bytes(self, key: str, data: bytes) -> None: ...

    def delete(self, key: str) -> None:
        """Remove the object; one that is already gone is no error."""
        ...

    def list_names(self, prefix: str, *, after: str, limit: int) -> list[str]:
        """Up to `limit` names under the folder `prefix` ("index/"), in key order, after `after`."""
        ...

    def check(self) -> None:
        """Raise unless the store can be used now (cheap: one round trip at most)."""
        ...
