"""Where a file lives inside any backend, and what its metadata record holds: spelled once.

A client never names a path: ids are generated here and checked against a strict
pattern before they reach a backend. A file is two objects under the store's
root, `<id[:2]>/<id>` (the bytes) and `<id[:2]>/<id>.json` (its StoredFile).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import asdict, dataclass

from taskyard_common.storage.errors import FileNotFound

FILE_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
FILE_ID_REGEX = FILE_ID_PATTERN.pattern
MAX_NAME_CHARS = 255


@dataclass(frozen=True)
class StoredFile:
    id: str
    name: str
    size: int
    sha256: str
    content_type: str
    created_at: str

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, data: bytes) -> StoredFile:
        return cls(**json.loads(data))


def new_file_id() -> str:
    return uuid.uuid4().hex


def is_file_id(value: str) -> bool:
    return bool(FILE_ID_PATTERN.fullmatch(value))


def checked(file_id: str) -> str:
    if not is_file_id(file_id):
        raise FileNotFound(file_id)
    return file_id


def blob_key(file_id: str) -> str:
    return f"{file_id[:2]}/{checked(file_id)}"


def meta_key(file_id: str) -> str:
    return f"{blob_key(file_id)}.json"


def clean_name(name: str | None) -> str:
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    printable = "".join(ch for ch in base if ch.isprintable() and ch not in '\r\n"')
    return printable[:MAX_NAME_CHARS] or "file"
