"""Files in a local folder (a PVC in the chart), each one written whole or not at all."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from taskyard_common.storage.errors import (
    STORAGE_ERRORS,
    FileNotFound,
    StorageMisconfigured,
    StorageUnavailable,
)


class FolderBackend:
    def __init__(self, root: Path) -> None:
        self._root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self._root / key

    def open_read(self, key: str) -> IO[bytes]:
        try:
            return self._path(key).open("rb")
        except FileNotFoundError as error:
            raise FileNotFound(key) from error
        except OSError as error:
            raise StorageUnavailable(str(error)) from error

    @contextmanager
    def open_write(self, key: str) -> Iterator[IO[bytes]]:
        path = self._path(key)
        # Written beside its final name and renamed: readers never see half a file.
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = partial.open("wb")
        except OSError as error:
            raise StorageUnavailable(str(error)) from error
        try:
            with handle:
                yield handle
            os.replace(partial, path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise

    def read_bytes(self, key: str) -> bytes:
        with self.open_read(key) as handle:
            try:
                return handle.read()
            except OSError as error:
                raise StorageUnavailable(str(error)) from error

    def write_bytes(self, key: str, data: bytes) -> None:
        try:
            with self.open_write(key) as handle:
                handle.write(data)
        except STORAGE_ERRORS:
            raise
        except OSError as error:
            raise StorageUnavailable(str(error)) from error

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as error:
            raise StorageUnavailable(str(error)) from error

    def list_names(self, prefix: str, *, after: str, limit: int) -> list[str]:
        try:
            names = os.listdir(self._path(prefix))
        except FileNotFoundError:
            return []
        except OSError as error:
            raise StorageUnavailable(str(error)) from error
        # Half-written files (".name.part") are not entries yet.
        return sorted(name for name in names if name > after and not name.startswith("."))[:limit]

    def check(self) -> None:
        if not os.access(self._root, os.W_OK | os.X_OK):
            raise StorageMisconfigured(f"the folder {self._root} is missing or not writable")
