"""Files addressed by opaque ids on a `file://` folder or an `s3://` bucket, streamed.

A client never names a path: ids are generated here and checked against a
strict pattern before they touch the filesystem.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import IO, Any, cast

import fsspec
from fsspec.core import url_to_fs

from taskyard_common.clock import now_iso

CHUNK_BYTES = 1024 * 1024
FILE_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
FILE_ID_REGEX = FILE_ID_PATTERN.pattern
DEFAULT_CONTENT_TYPE = "application/octet-stream"
MAX_NAME_CHARS = 255


class FileNotFound(LookupError):
    pass


class FileTooLarge(ValueError):
    pass


class StorageUnavailable(ConnectionError):
    """The storage backend could not be reached; worth retrying."""


@dataclass(frozen=True)
class StoredFile:
    id: str
    name: str
    size: int
    sha256: str
    content_type: str
    created_at: str


def is_file_id(value: str) -> bool:
    return bool(FILE_ID_PATTERN.fullmatch(value))


def _checked(file_id: str) -> str:
    if not is_file_id(file_id):
        raise FileNotFound(file_id)
    return file_id


def _clean_name(name: str | None) -> str:
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    printable = "".join(ch for ch in base if ch.isprintable() and ch not in '\r\n"')
    return printable[:MAX_NAME_CHARS] or "file"


class FileStore:
    def __init__(self, url: str) -> None:
        self._fs: fsspec.AbstractFileSystem
        self._fs, root = url_to_fs(url)
        self._root = root.rstrip("/")
        if "file" in self._fs.protocol:
            self._fs.makedirs(self._root, exist_ok=True)

    def _blob_path(self, file_id: str) -> str:
        return f"{self._root}/{file_id[:2]}/{file_id}"

    def _meta_path(self, file_id: str) -> str:
        return f"{self._root}/{file_id[:2]}/{file_id}.json"

    def save_stream(
        self,
        source: IO[bytes],
        *,
        name: str | None,
        content_type: str | None,
        max_bytes: int | None = None,
    ) -> StoredFile:
        file_id = uuid.uuid4().hex
        digest = hashlib.sha256()
        size = 0
        blob = self._blob_path(file_id)
        try:
            self._fs.makedirs(blob.rsplit("/", 1)[0], exist_ok=True)
            with self._fs.open(blob, "wb") as target:
                while chunk := source.read(CHUNK_BYTES):
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise FileTooLarge(f"file is larger than {max_bytes} bytes")
                    digest.update(chunk)
                    target.write(chunk)
        except FileTooLarge:
            self._fs.rm(blob)
            raise
        except OSError as error:
            raise StorageUnavailable(str(error)) from error
        stored = StoredFile(
            id=file_id,
            name=_clean_name(name),
            size=size,
            sha256=digest.hexdigest(),
            content_type=content_type or DEFAULT_CONTENT_TYPE,
            created_at=now_iso(),
        )
        self._write_meta(stored)
        return stored

    @contextmanager
    def writer(self, *, name: str, content_type: str) -> Iterator[tuple[IO[bytes], dict[str, Any]]]:
        """Stream an output into storage; the dict receives the StoredFile as 'stored'.

        A block that raises leaves nothing behind: the partial blob is removed.
        """
        file_id = uuid.uuid4().hex
        blob = self._blob_path(file_id)
        outcome: dict[str, Any] = {}
        try:
            self._fs.makedirs(blob.rsplit("/", 1)[0], exist_ok=True)
            with self._fs.open(blob, "wb") as raw:
                hashing = _HashingWriter(raw)
                yield cast(IO[bytes], hashing), outcome
            stored = StoredFile(
                id=file_id,
                name=_clean_name(name),
                size=hashing.size,
                sha256=hashing.digest.hexdigest(),
                content_type=content_type,
                created_at=now_iso(),
            )
            self._write_meta(stored)
        except BaseException as error:
            self._remove_quietly(blob)
            if isinstance(error, OSError) and not isinstance(error, FileNotFoundError):
                raise StorageUnavailable(str(error)) from error
            raise
        outcome["stored"] = stored

    def _remove_quietly(self, path: str) -> None:
        try:
            if self._fs.exists(path):
                self._fs.rm(path)
        except OSError:
            pass

    def save_bytes(self, data: bytes, *, name: str, content_type: str) -> StoredFile:
        with self.writer(name=name, content_type=content_type) as (target, outcome):
            target.write(data)
        stored: StoredFile = outcome["stored"]
        return stored

    def _write_meta(self, stored: StoredFile) -> None:
        with self._fs.open(self._meta_path(stored.id), "w") as meta:
            json.dump(asdict(stored), meta)

    def stat(self, file_id: str) -> StoredFile:
        path = self._meta_path(_checked(file_id))
        try:
            with self._fs.open(path, "r") as meta:
                return StoredFile(**json.load(meta))
        except FileNotFoundError as error:
            raise FileNotFound(file_id) from error
        except OSError as error:
            raise StorageUnavailable(str(error)) from error

    @contextmanager
    def open(self, file_id: str) -> Iterator[IO[bytes]]:
        path = self._blob_path(_checked(file_id))
        try:
            handle = self._fs.open(path, "rb")
        except FileNotFoundError as error:
            raise FileNotFound(file_id) from error
        except OSError as error:
            raise StorageUnavailable(str(error)) from error
        with handle:
            yield handle

    def iter_chunks(self, file_id: str) -> Iterator[bytes]:
        with self.open(file_id) as handle:
            while chunk := handle.read(CHUNK_BYTES):
                yield chunk

    def local_path(self, file_id: str) -> str | None:
        """The blob's path when storage is a local folder (for libraries that want one)."""
        if "file" in self._fs.protocol:
            return self._blob_path(_checked(file_id))
        return None


class _HashingWriter:
    def __init__(self, target: IO[bytes]) -> None:
        self._target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self._target.write(data)

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        self._target.flush()
