"""Where a file lives inside any backend, and what its metadata record holds: spelled once.

A client never names a path: ids are generated here and checked against a strict
pattern before they reach a backend. A file is four objects under the store's
root, `<id[:2]>/<id>` (the bytes), `<id[:2]>/<id>.json` (its StoredFile), an
empty entry in the index of every file, `index/<newest-first rank>-<id>`, and the
same entry in its owner's index, `owners/<owner>/<rank>-<id>`: the rank counts down
as time goes on, so an index's plain key order (a folder listing, S3's
ListObjectsV2) is newest first and a page resumes after the last entry it showed.
Owners are API key names (taskyard_common.settings.KEY_NAME_PATTERN: path-safe).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from taskyard_common.file_ids import FILE_ID_CHARS, is_file_id
from taskyard_common.settings import ANONYMOUS, KEY_NAME_PATTERN
from taskyard_common.storage.errors import FileNotFound

MAX_NAME_CHARS = 255
INDEX_PREFIX = "index/"
OWNERS_PREFIX = "owners/"
# Microseconds since the epoch count down from here (beyond the year 5000), 17 digits wide.
_RANK_CEILING = 10**17
INDEX_ENTRY_PATTERN = re.compile(rf"^(\d{{17}})-({FILE_ID_CHARS})$")


@dataclass(frozen=True)
class StoredFile:
    id: str
    name: str
    size: int
    sha256: str
    content_type: str
    created_at: str
    # Empty on files stored before expiry existed: those never expire on their own.
    expires_at: str = ""
    # The API key name that uploaded it, or whose task wrote it.
    owner: str = ANONYMOUS

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, data: bytes) -> StoredFile:
        return cls(**json.loads(data))


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


def expiry(created: datetime, ttl_seconds: int) -> datetime:
    return created + timedelta(seconds=ttl_seconds)


def is_expired(expires_at: str, now: datetime) -> bool:
    """A file expires at its recorded instant; one without a readable instant never does."""
    try:
        return datetime.fromisoformat(expires_at) <= now
    except ValueError:
        return False


def index_entry(stored: StoredFile) -> str:
    """The file's name in the index, from its record alone; entries sort newest first."""
    micros = int(datetime.fromisoformat(stored.created_at).timestamp() * 1_000_000)
    return f"{_RANK_CEILING - micros:017d}-{checked(stored.id)}"


def index_key(entry: str) -> str:
    return f"{INDEX_PREFIX}{entry}"


def owner_index_prefix(owner: str) -> str:
    if not KEY_NAME_PATTERN.fullmatch(owner) and owner != ANONYMOUS:
        raise ValueError(f"not an owner name: {owner!r}")
    return f"{OWNERS_PREFIX}{owner}/"


def owner_index_key(owner: str, entry: str) -> str:
    return f"{owner_index_prefix(owner)}{entry}"


def entry_file_id(entry: str) -> str | None:
    """The file id an index entry names, None for a name that is not an entry (a cursor's too)."""
    found = INDEX_ENTRY_PATTERN.fullmatch(entry)
    return found.group(2) if found else None
