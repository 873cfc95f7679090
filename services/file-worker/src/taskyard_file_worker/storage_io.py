"""Reading inputs from and writing outputs to the file store, with errors sorted for retry.

Every byte the worker touches flows through the two wrappers here, so that an
`OSError` raised by the storage backend becomes `StorageUnavailable` (transient,
retried) while an `OSError` raised by a decoder (Pillow says "image file is
truncated" with one) stays distinguishable and can be reported as permanent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from taskyard_common.retry import PermanentError, TaskError
from taskyard_common.storage import (
    CHUNK_BYTES,
    FileNotFound,
    FileStore,
    StorageUnavailable,
    StoredFile,
)

PROGRESS_INTERVAL_SECONDS = 0.5


def not_found(file_id: str) -> PermanentError:
    return PermanentError(f"file not found: {file_id}", error_type="FileNotFound")


def stat_source(files: FileStore, file_id: str) -> StoredFile:
    try:
        return files.stat(file_id)
    except FileNotFound as error:
        raise not_found(file_id) from error


class SourceReader:
    """A read-only, seekable view of a stored blob whose storage errors are transient."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle

    def read(self, size: int = -1) -> bytes:
        try:
            return self._handle.read(size)
        except OSError as error:
            raise StorageUnavailable(f"reading from storage failed: {error}") from error

    def seek(self, offset: int, whence: int = 0) -> int:
        try:
            return self._handle.seek(offset, whence)
        except OSError as error:
            raise StorageUnavailable(f"seeking in storage failed: {error}") from error

    def tell(self) -> int:
        return self._handle.tell()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def chunks(self, size: int = CHUNK_BYTES) -> Iterator[bytes]:
        while chunk := self.read(size):
            yield chunk


@contextmanager
def open_source(files: FileStore, file_id: str) -> Iterator[SourceReader]:
    try:
        with files.open(file_id) as handle:
            yield SourceReader(handle)
    except FileNotFound as error:
        raise not_found(file_id) from error


class OutputWriter:
    """Write-only and deliberately without seek/tell/fileno: consumers must stream."""

    def __init__(self, target: IO[bytes]) -> None:
        self._target = target

    def write(self, data: bytes) -> int:
        try:
            written = self._target.write(data)
        except OSError as error:
            raise StorageUnavailable(f"writing to storage failed: {error}") from error
        return len(data) if written is None else written

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        try:
            self._target.flush()
        except OSError as error:
            raise StorageUnavailable(f"writing to storage failed: {error}") from error


@contextmanager
def open_output(
    files: FileStore, *, name: str, content_type: str
) -> Iterator[tuple[OutputWriter, dict[str, Any]]]:
    """A new stored file; after the block, outcome["stored"] holds its StoredFile."""
    try:
        with files.writer(name=name, content_type=content_type) as (target, outcome):
            yield OutputWriter(target), outcome
    except (TaskError, StorageUnavailable):
        raise
    except OSError as error:
        # Only storage code can raise OSError here: callers turn decoder and
        # encoder errors into PermanentError inside the block.
        raise StorageUnavailable(f"storing the output failed: {error}") from error


class Progress:
    """Reports the fraction of `total` bytes done, at most every PROGRESS_INTERVAL_SECONDS."""

    def __init__(self, report: Callable[[float], None], total: int) -> None:
        self._report = report
        self._total = max(total, 1)
        self._done = 0
        self._last = time.monotonic()

    def advance(self, count: int) -> None:
        self._done += count
        now = time.monotonic()
        if now - self._last >= PROGRESS_INTERVAL_SECONDS:
            self._last = now
            self._report(min(self._done / self._total, 1.0))

    def finish(self) -> None:
        self._report(1.0)
