"""Files addressed by opaque ids on a `file://` folder or an `s3://` bucket, streamed.

One interface (FileStore) over two backends (folder.py, s3.py); where a file and
its metadata live is spelled once, in layout.py.
"""

from taskyard_common.storage.errors import (
    FileNotFound,
    FileTooLarge,
    StorageMisconfigured,
    StorageUnavailable,
)
from taskyard_common.storage.layout import StoredFile, is_expired
from taskyard_common.storage.options import S3Options
from taskyard_common.storage.store import (
    CHUNK_BYTES,
    DEFAULT_CONTENT_TYPE,
    CursorInvalid,
    FilePage,
    FileStore,
)

__all__ = [
    "CHUNK_BYTES",
    "DEFAULT_CONTENT_TYPE",
    "CursorInvalid",
    "FileNotFound",
    "FilePage",
    "FileStore",
    "FileTooLarge",
    "S3Options",
    "StorageMisconfigured",
    "StorageUnavailable",
    "StoredFile",
    "is_expired",
]
