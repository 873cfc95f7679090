"""S3 and S3-compatible object stores through botocore.

Reads are one streamed GET per object, re-issued from the new offset (a ranged GET)
only when the reader seeks; writes are buffered one part at a time and sent as a
multipart upload, so neither side holds a whole file in memory. Credentials come
from botocore's standard chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, web
identity, pod identity, instance profile); Taskyard never reads them itself.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any, cast

import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
    ResponseStreamingError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from taskyard_common.storage.errors import (
    STORAGE_ERRORS,
    FileNotFound,
    StorageMisconfigured,
    StorageUnavailable,
)
from taskyard_common.storage.options import S3Options

# Every part but the last must be at least 5 MiB; 10,000 parts of 8 MiB allow 80 GiB a file.
PART_BYTES = 8 * 1024 * 1024
READ_CHUNK_BYTES = 1024 * 1024
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 30
# A readiness probe has 3 s in the chart, shared with the broker and Redis checks.
PROBE_TIMEOUT_SECONDS = 1
# botocore's "standard" mode retries throttling, 5xx and dropped connections this often in all.
MAX_ATTEMPTS = 3

NOT_FOUND_CODES = frozenset({"NoSuchKey", "NotFound", "404"})
# Answers that say "later": the store is overloaded or timed out, not wrong.
RETRY_LATER_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestThrottled",
        "RequestLimitExceeded",
        "TooManyRequests",
        "RequestTimeout",
        "ServiceUnavailable",
        "InternalError",
        "503",
        "500",
    }
)


def classify(error: Exception, what: str) -> Exception:
    """The storage error a botocore (or socket) error stands for; `what` names the object."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = str(details.get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        message = f"{what}: {code or status} {details.get('Message', '')}".strip()
        if code in NOT_FOUND_CODES:
            return FileNotFound(what)
        if code in RETRY_LATER_CODES or status == 429 or status >= 500:
            return StorageUnavailable(message)
        if code == "NoSuchBucket":
            return StorageMisconfigured(f"{what}: the bucket does not exist")
        return StorageMisconfigured(message)
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return StorageMisconfigured(
            f"{what}: no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            f"or give the pod an identity ({error})"
        )
    if isinstance(
        error, BotoConnectionError | HTTPClientError | IncompleteReadError | ResponseStreamingError
    ):
        return StorageUnavailable(f"{what}: {error}")
    if isinstance(error, BotoCoreError | ValueError):
        return StorageMisconfigured(f"{what}: {error}")
    if isinstance(error, OSError):
        return StorageUnavailable(f"{what}: {error}")
    return error


def parse_s3_url(url: str) -> tuple[str, str]:
    """s3://bucket/some/prefix -> ("bucket", "some/prefix")."""
    rest = url.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise ValueError(f"no bucket in storage URL {url!r} (expected s3://bucket/prefix)")
    return bucket, prefix.strip("/")


class S3Backend:
    def __init__(self, url: str, options: S3Options) -> None:
        self.bucket, self._prefix = parse_s3_url(url)
        self._options = options
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._client_pid = 0

    def client(self, *, probe: bool = False) -> Any:
        """One client a process: connection pools must not cross a fork (gunicorn, Celery).

        The probe client (readiness checks) gives up fast instead of retrying.
        """
        with self._lock:
            if self._client_pid != os.getpid():
                self._clients.clear()
                self._client_pid = os.getpid()
            name = "probe" if probe else "main"
            if name not in self._clients:
                self._clients[name] = self._new_client(probe)
            return self._clients[name]

    def _new_client(self, probe: bool) -> Any:
        options = self._options
        config = Config(
            connect_timeout=PROBE_TIMEOUT_SECONDS if probe else CONNECT_TIMEOUT_SECONDS,
            read_timeout=PROBE_TIMEOUT_SECONDS if probe else READ_TIMEOUT_SECONDS,
            retries={"mode": "standard", "max_attempts": 1 if probe else MAX_ATTEMPTS},
            s3={"addressing_style": options.addressing_style},
            # Checksums only where S3 requires them: many S3-compatible stores
            # refuse the CRC trailers botocore sends by default since 1.36.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        try:
            return botocore.session.get_session().create_client(
                "s3",
                region_name=options.region or None,
                endpoint_url=options.endpoint_url or None,
                config=config,
            )
        except (BotoCoreError, ValueError) as error:
            raise classify(error, f"s3://{self.bucket}") from error

    def object_key(self, key: str) -> str:
        return f"{self._prefix}/{key}" if self._prefix else key

    def call(self, operation: str, key: str, **arguments: Any) -> Any:
        what = f"s3://{self.bucket}/{self.object_key(key)}"
        try:
            method = getattr(self.client(), operation)
            return method(Bucket=self.bucket, Key=self.object_key(key), **arguments)
        except STORAGE_ERRORS:
            raise
        except Exception as error:
            raise classify(error, what) from error

    def open_read(self, key: str) -> IO[bytes]:
        first = self.call("get_object", key)
        return io.BufferedReader(_ObjectReader(self, key, first), buffer_size=READ_CHUNK_BYTES)

    @contextmanager
    def open_write(self, key: str) -> Iterator[IO[bytes]]:
        upload = _MultipartUpload(self, key)
        try:
            yield cast(IO[bytes], upload)
            upload.finish()
        except BaseException:
            upload.abort()
            raise

    def read_bytes(self, key: str) -> bytes:
        with self.open_read(key) as handle:
            return handle.read()

    def write_bytes(self, key: str, data: bytes) -> None:
        self.call("put_object", key, Body=data)

    def delete(self, key: str) -> None:
        # S3 answers 204 for a key that does not exist: deleting twice is no error.
        self.call("delete_object", key)

    def list_names(self, prefix: str, *, after: str, limit: int) -> list[str]:
        folder = self.object_key(prefix)
        what = f"s3://{self.bucket}/{folder}"
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Prefix": folder, "MaxKeys": limit}
        if after:
            arguments["StartAfter"] = folder + after
        try:
            answer = self.client().list_objects_v2(**arguments)
        except Exception as error:
            raise classify(error, what) from error
        return [str(item["Key"]).removeprefix(folder) for item in answer.get("Contents", [])]

    def check(self) -> None:
        what = f"s3://{self.bucket}"
        try:
            self.client(probe=True).head_bucket(Bucket=self.bucket)
        except ClientError as error:
            # HEAD answers carry no error body: the status code is all there is.
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            if status == 404:
                raise StorageMisconfigured(f"{what}: the bucket does not exist") from error
            if status == 403:
                raise StorageMisconfigured(
                    f"{what}: access denied (check the credentials, and that they may "
                    "s3:ListBucket on the bucket)"
                ) from error
            raise classify(error, what) from error
        except STORAGE_ERRORS:
            raise
        except Exception as error:
            raise classify(error, what) from error


class _ObjectReader(io.RawIOBase):
    """Streams the body of one GET; a seek elsewhere drops it and the next read GETs a range."""

    def __init__(self, backend: S3Backend, key: str, first: dict[str, Any]) -> None:
        super().__init__()
        self._backend = backend
        self._key = key
        self._size = int(first["ContentLength"])
        self._body: Any = first["Body"]
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._position + offset
        elif whence == io.SEEK_END:
            target = self._size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if target < 0:
            raise ValueError("negative seek position")
        if target != self._position:
            self._drop_body()
            self._position = target
        return target

    def readinto(self, buffer: Any) -> int:
        if self._position >= self._size:
            return 0
        if self._body is None:
            answer = self._backend.call("get_object", self._key, Range=f"bytes={self._position}-")
            self._body = answer["Body"]
        view = memoryview(buffer).cast("B")
        try:
            data = self._body.read(len(view))
        except Exception as error:
            self._drop_body()
            raise classify(error, f"s3://{self._backend.bucket}/{self._key}") from error
        if not data:
            self._drop_body()
            raise StorageUnavailable(
                f"s3://{self._backend.bucket}/{self._key}: the stream ended at byte "
                f"{self._position} of {self._size}"
            )
        view[: len(data)] = data
        self._position += len(data)
        return len(data)

    def readall(self) -> bytes:
        # RawIOBase.readall reads 8 KiB at a time; a whole object deserves bigger reads.
        parts = []
        while chunk := self.read(READ_CHUNK_BYTES):
            parts.append(chunk)
        return b"".join(parts)

    def _drop_body(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None

    def close(self) -> None:
        self._drop_body()
        super().close()


class _MultipartUpload:
    """Write-only: buffers one part, sends it, and completes (or aborts) at the end.

    A file smaller than one part is sent as a single PUT instead.
    """

    def __init__(self, backend: S3Backend, key: str) -> None:
        self._backend = backend
        self._key = key
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        """Parts are sent when full; there is nothing to push early."""

    def write(self, data: bytes) -> int:
        self._buffer += data
        while len(self._buffer) >= PART_BYTES:
            # The full buffer is sent as it is (no copy of the part); the rest starts a new one.
            part, self._buffer = self._buffer, bytearray(self._buffer[PART_BYTES:])
            del part[PART_BYTES:]
            self._send_part(part)
        return len(data)

    def _send_part(self, data: bytearray) -> None:
        if self._upload_id is None:
            started = self._backend.call("create_multipart_upload", self._key)
            self._upload_id = str(started["UploadId"])
        number = len(self._parts) + 1
        sent = self._backend.call(
            "upload_part", self._key, UploadId=self._upload_id, PartNumber=number, Body=data
        )
        self._parts.append({"ETag": sent["ETag"], "PartNumber": number})

    def finish(self) -> None:
        if self._upload_id is None:
            self._backend.call("put_object", self._key, Body=self._buffer)
            return
        if self._buffer:
            self._send_part(self._buffer)
        self._backend.call(
            "complete_multipart_upload",
            self._key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )

    def abort(self) -> None:
        self._buffer.clear()
        if self._upload_id is None:
            return
        # If this fails too, a bucket lifecycle rule (AbortIncompleteMultipartUpload) cleans up.
        with contextlib.suppress(*STORAGE_ERRORS):
            self._backend.call("abort_multipart_upload", self._key, UploadId=self._upload_id)
