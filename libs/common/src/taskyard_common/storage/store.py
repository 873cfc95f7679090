"""FileStore: files addressed by opaque ids, streamed into and out of one backend.

Every file has an owner (an API key name). Methods that read or delete take `owner`:
a file of another owner is FileNotFound, exactly as a missing one; None means any
owner (an admin's view). A store bound to an owner (`owned_by`, a task's view) uses
that owner whenever none is given, for new files too.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, cast
from urllib.parse import unquote, urlsplit

from taskyard_common.clock import iso, utc_now
from taskyard_common.file_ids import new_file_id
from taskyard_common.settings import ANONYMOUS, Settings
from taskyard_common.storage.backend import Backend
from taskyard_common.storage.errors import (
    STORAGE_ERRORS,
    FileNotFound,
    FileTooLarge,
    StorageUnavailable,
)
from taskyard_common.storage.folder import FolderBackend
from taskyard_common.storage.layout import (
    INDEX_PREFIX,
    StoredFile,
    blob_key,
    clean_name,
    entry_file_id,
    expiry,
    index_entry,
    index_key,
    is_expired,
    meta_key,
    owner_index_key,
    owner_index_prefix,
)
from taskyard_common.storage.options import S3Options

CHUNK_BYTES = 1024 * 1024
DEFAULT_CONTENT_TYPE = "application/octet-stream"
DEFAULT_TTL_SECONDS: int = Settings.model_fields["file_ttl_seconds"].default
# How many index entries a purge reads at a time.
PURGE_PAGE = 500


class CursorInvalid(ValueError):
    """A files cursor this API did not hand out."""


@dataclass(frozen=True)
class FilePage:
    items: list[StoredFile]
    # The last entry shown: the next page starts after it. None: nothing more.
    next_cursor: str | None


def open_backend(url: str, s3: S3Options) -> Backend:
    """The backend a storage URL names: file:///a/folder or s3://bucket/prefix."""
    scheme = urlsplit(url).scheme
    if scheme == "file":
        return FolderBackend(Path(unquote(urlsplit(url).path)))
    if scheme == "s3":
        # botocore costs a second to import: only processes that use S3 pay for it.
        from taskyard_common.storage.s3 import S3Backend

        return S3Backend(url, s3)
    raise ValueError(f"storage URL {url!r}: expected file:///folder or s3://bucket/prefix")


class FileStore:
    def __init__(
        self, url: str, s3: S3Options | None = None, *, ttl_seconds: int = DEFAULT_TTL_SECONDS
    ) -> None:
        self._backend = open_backend(url, s3 or S3Options())
        self._ttl_seconds = ttl_seconds
        self._owner: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> FileStore:
        return cls(
            settings.storage_url,
            S3Options(
                endpoint_url=settings.s3_endpoint_url,
                region=settings.s3_region,
                addressing_style=settings.s3_addressing_style,
            ),
            ttl_seconds=settings.file_ttl_seconds,
        )

    def owned_by(self, owner: str) -> FileStore:
        """This store as `owner` sees it: only its files, and new files are its."""
        bound = copy.copy(self)
        bound._owner = owner
        return bound

    def _scope(self, owner: str | None) -> str | None:
        return self._owner if owner is None else owner

    def check(self) -> None:
        """Raise StorageUnavailable or StorageMisconfigured unless the storage can be used."""
        self._backend.check()

    def save_stream(
        self,
        source: IO[bytes],
        *,
        name: str | None,
        content_type: str | None,
        max_bytes: int | None = None,
        owner: str | None = None,
    ) -> StoredFile:
        size = 0
        with self.writer(name=name, content_type=content_type, owner=owner) as (target, outcome):
            while chunk := source.read(CHUNK_BYTES):
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise FileTooLarge(f"file is larger than {max_bytes} bytes")
                target.write(chunk)
        stored: StoredFile = outcome["stored"]
        return stored

    @contextmanager
    def writer(
        self, *, name: str | None, content_type: str | None, owner: str | None = None
    ) -> Iterator[tuple[IO[bytes], dict[str, Any]]]:
        """Stream an output into storage; the dict receives the StoredFile as 'stored'.

        The file is `owner`'s (default: the bound owner's, else anonymous). A block that
        raises leaves nothing behind.
        """
        file_id = new_file_id()
        file_owner = self._scope(owner) or ANONYMOUS
        # Checked before any byte is written: an owner that cannot name an index is a bug.
        owner_index_prefix(file_owner)
        outcome: dict[str, Any] = {}
        try:
            with self._backend.open_write(blob_key(file_id)) as raw:
                hashing = _HashingWriter(raw)
                yield cast(IO[bytes], hashing), outcome
            created = utc_now()
            stored = StoredFile(
                id=file_id,
                name=clean_name(name),
                size=hashing.size,
                sha256=hashing.digest.hexdigest(),
                content_type=content_type or DEFAULT_CONTENT_TYPE,
                created_at=iso(created),
                expires_at=iso(expiry(created, self._ttl_seconds)),
                owner=file_owner,
            )
            self._backend.write_bytes(meta_key(file_id), stored.to_json())
            # Indexed last, so every index entry but a half-deleted file's has a record; the
            # index of every file first, so purge-expired finds each file with a record.
            entry = index_entry(stored)
            self._backend.write_bytes(index_key(entry), b"")
            self._backend.write_bytes(owner_index_key(file_owner, entry), b"")
        except STORAGE_ERRORS:
            raise
        except OSError as error:
            if isinstance(error, FileNotFoundError):
                raise
            raise StorageUnavailable(str(error)) from error
        outcome["stored"] = stored

    def save_bytes(
        self, data: bytes, *, name: str, content_type: str, owner: str | None = None
    ) -> StoredFile:
        with self.writer(name=name, content_type=content_type, owner=owner) as (target, outcome):
            target.write(data)
        stored: StoredFile = outcome["stored"]
        return stored

    def stat(self, file_id: str, owner: str | None = None) -> StoredFile:
        """The file's record; FileNotFound if there is none or it is not `owner`'s."""
        stored = self._record(file_id)
        scope = self._scope(owner)
        if scope is not None and stored.owner != scope:
            raise FileNotFound(file_id)
        return stored

    def _record(self, file_id: str) -> StoredFile:
        try:
            return StoredFile.from_json(self._backend.read_bytes(meta_key(file_id)))
        except FileNotFound as error:
            raise FileNotFound(file_id) from error

    def list_page(
        self, *, limit: int, cursor: str | None = None, owner: str | None = None
    ) -> FilePage:
        """The newest files first, `limit` at most, from `owner`'s index (None: every
        file's); `cursor` is a page's next_cursor, a position that lists only this index."""
        after = cursor or ""
        if cursor is not None and entry_file_id(cursor) is None:
            raise CursorInvalid("not a cursor from this API")
        scope = self._scope(owner)
        prefix = INDEX_PREFIX if scope is None else owner_index_prefix(scope)
        items: list[StoredFile] = []
        while len(items) < limit:
            entries = self._backend.list_names(prefix, after=after, limit=limit - len(items))
            for entry in entries:
                after = entry
                stored = self._indexed(entry, scope)
                if stored is not None:
                    items.append(stored)
            if not entries:
                return FilePage(items, None)
        return FilePage(items, after)

    def _indexed(self, entry: str, owner: str | None) -> StoredFile | None:
        """The record an index entry names; None for a stray name or a half-deleted file."""
        file_id = entry_file_id(entry)
        if file_id is None:
            return None
        try:
            return self.stat(file_id, owner)
        except FileNotFound:
            return None

    def delete(self, file_id: str, owner: str | None = None) -> StoredFile:
        """Delete the file's owner index entry, bytes, record and index entry, in that order
        (what a crash leaves, purge-expired finds); FileNotFound if none is `owner`'s."""
        return self._delete(self.stat(file_id, owner))

    def _delete(self, stored: StoredFile) -> StoredFile:
        entry = index_entry(stored)
        self._backend.delete(owner_index_key(stored.owner, entry))
        self._backend.delete(blob_key(stored.id))
        self._backend.delete(meta_key(stored.id))
        self._backend.delete(index_key(entry))
        return stored

    def purge_expired(self, now: datetime | None = None) -> Iterator[StoredFile]:
        """Delete every indexed file expired at `now`, whoever owns it, yielding each as it
        goes. Index entries left by a half-done delete go too."""
        moment = now or utc_now()
        after = ""
        while entries := self._backend.list_names(INDEX_PREFIX, after=after, limit=PURGE_PAGE):
            for entry in entries:
                after = entry
                file_id = entry_file_id(entry)
                if file_id is None:
                    continue
                try:
                    stored = self._record(file_id)
                except FileNotFound:
                    self._backend.delete(blob_key(file_id))
                    self._backend.delete(index_key(entry))
                    continue
                if is_expired(stored.expires_at, moment):
                    yield self._delete(stored)

    def _open_blob(self, file_id: str) -> IO[bytes]:
        if self._owner is not None:
            self.stat(file_id)
        try:
            return self._backend.open_read(blob_key(file_id))
        except FileNotFound as error:
            raise FileNotFound(file_id) from error

    @contextmanager
    def open(self, file_id: str) -> Iterator[IO[bytes]]:
        with self._open_blob(file_id) as handle:
            yield handle

    def iter_chunks(self, file_id: str) -> Iterator[bytes]:
        """Opens the blob now (a missing one raises here), then yields it piece by piece."""
        return _chunks(self._open_blob(file_id))


def _chunks(handle: IO[bytes]) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk


class _HashingWriter:
    def __init__(self, target: IO[bytes]) -> None:
        self._target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        self._target.write(data)
        return len(data)

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        self._target.flush()
