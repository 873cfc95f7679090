"""A multipart/form-data upload body streamed from disk, for uploads larger than memory."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

MIB = 1024 * 1024


class StreamedMultipart:
    """A multipart/form-data body (field `file`) read from disk a chunk at a time."""

    def __init__(self, path: Path, filename: str, content_type: str) -> None:
        self.boundary = uuid.uuid4().hex
        self._path = path
        self._head = (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return len(self._head) + self._path.stat().st_size + len(self._tail)

    def __iter__(self) -> Iterator[bytes]:
        yield self._head
        with self._path.open("rb") as handle:
            while chunk := handle.read(MIB):
                yield chunk
        yield self._tail
