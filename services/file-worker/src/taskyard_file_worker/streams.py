"""Checksum and compress: one pass over the input in CHUNK_BYTES pieces, never the whole file."""

from __future__ import annotations

import gzip
import hashlib
import zipfile
from datetime import datetime
from typing import Any

from taskyard_common.storage import FileStore, StoredFile
from taskyard_file_worker.storage_io import Progress, open_output, open_source

COMPRESS_LEVEL = 6
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FALLBACK_NAME = "file"


def checksum(
    files: FileStore, source: StoredFile, algorithm: str, progress: Progress
) -> dict[str, Any]:
    digest = hashlib.new(algorithm, usedforsecurity=False)
    size = 0
    with open_source(files, source.id) as reader:
        for chunk in reader.chunks():
            digest.update(chunk)
            size += len(chunk)
            progress.advance(len(chunk))
    return {"checksum": digest.hexdigest(), "algorithm": algorithm, "size": size}


def member_name(name: str) -> str:
    """The original file's name, safe to unpack anywhere: no folders, no dot-only names."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].replace("\x00", "")
    return FALLBACK_NAME if base.strip(".") == "" else base


def _zip_time(created_at: str) -> tuple[int, int, int, int, int, int]:
    try:
        moment = datetime.fromisoformat(created_at)
    except ValueError:
        return ZIP_EPOCH
    if moment.year < ZIP_EPOCH[0] or moment.year > 2107:
        return ZIP_EPOCH
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)


def compress(files: FileStore, source: StoredFile, fmt: str, progress: Progress) -> dict[str, Any]:
    original = member_name(source.name)
    if fmt == "gzip":
        out_name, content_type = f"{original}.gz", "application/gzip"
    else:
        out_name, content_type = f"{original}.zip", "application/zip"
    with (
        open_source(files, source.id) as reader,
        open_output(files, name=out_name, content_type=content_type) as (target, outcome),
    ):
        if fmt == "gzip":
            # mtime=0: the same input always gives the same bytes (and sha256).
            with gzip.GzipFile(
                filename=original,
                mode="wb",
                fileobj=target,  # type: ignore[arg-type]
                compresslevel=COMPRESS_LEVEL,
                mtime=0,
            ) as packed:
                for chunk in reader.chunks():
                    packed.write(chunk)
                    progress.advance(len(chunk))
        else:
            info = zipfile.ZipInfo(original, date_time=_zip_time(source.created_at))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            # The declared size lets zipfile choose ZIP64 up front for files over 4 GiB;
            # the target has no seek, so sizes and CRC go in a trailing data descriptor.
            info.file_size = source.size
            with (
                zipfile.ZipFile(target, mode="w") as archive,  # type: ignore[call-overload]
                archive.open(info, mode="w") as member,
            ):
                for chunk in reader.chunks():
                    member.write(chunk)
                    progress.advance(len(chunk))
    stored: StoredFile = outcome["stored"]
    return {
        "output_file_id": stored.id,
        "size": stored.size,
        "sha256": stored.sha256,
        "format": fmt,
    }
