"""`taskyard.file.process`: one operation on one stored file; every output is a new file.

Errors: an unknown file id or an input the operation cannot use is a
PermanentError (FAILED at once); storage that cannot be reached raises
StorageUnavailable, a ConnectionError, which the shared runtime retries.
File ids reach storage only through FileStore, which accepts nothing but
32 hex characters: nothing a client sends becomes a path.
"""

from __future__ import annotations

from typing import Any

from taskyard_common.contracts.file import (
    ChecksumOp,
    CompressOp,
    ConvertOp,
    FilePayload,
    ThumbnailOp,
)
from taskyard_common.task_runtime import TaskContext
from taskyard_file_worker import images, streams
from taskyard_file_worker.storage_io import Progress, stat_source


def process_file(payload: FilePayload, context: TaskContext) -> dict[str, Any]:
    files = context.files
    source = stat_source(files, payload.file_id)
    progress = Progress(context.report_progress, source.size)
    max_pixels = context.settings.image_max_pixels
    result: dict[str, Any]
    if isinstance(payload, ChecksumOp):
        result = streams.checksum(files, source, payload.algorithm, progress)
    elif isinstance(payload, CompressOp):
        result = streams.compress(files, source, payload.format, progress)
    elif isinstance(payload, ThumbnailOp):
        result = images.thumbnail(
            files, source, payload.width, payload.height, payload.format, max_pixels
        )
    elif isinstance(payload, ConvertOp):
        result = images.convert(files, source, payload.to, max_pixels)
    else:  # pragma: no cover - the payload model admits nothing else
        raise TypeError(f"unknown file operation {payload!r}")
    progress.finish()
    context.log.info(
        "file_processed",
        operation=payload.operation,
        file_id=source.id,
        output_file_id=result.get("output_file_id"),
    )
    return result
