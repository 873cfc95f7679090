"""The file payload: one operation on an uploaded file, chosen by "operation".

`file_id` is the opaque id POST /api/files returned (32 lowercase hex
characters); anything else, a path like "../../etc/passwd" included, is a 422
at submit time and never reaches storage.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from taskyard_common.contracts.common import FileId, StrictModel

MAX_THUMBNAIL_SIDE_PIXELS = 4096
ImageFormat = Literal["png", "jpeg", "webp"]
ChecksumAlgorithm = Literal["sha256", "sha1", "md5", "blake2b"]
CompressFormat = Literal["gzip", "zip"]


class ChecksumOp(StrictModel):
    """Hash the file. Result: {"checksum" (hex), "algorithm", "size"}."""

    file_id: FileId
    operation: Literal["checksum"]
    algorithm: ChecksumAlgorithm = "sha256"


class CompressOp(StrictModel):
    """Store a gzip or zip (one member named after the file) of it as a new file."""

    file_id: FileId
    operation: Literal["compress"]
    format: CompressFormat = "gzip"


class ThumbnailOp(StrictModel):
    """A png, jpeg or webp image scaled to fit width x height, aspect ratio kept, never enlarged."""

    file_id: FileId
    operation: Literal["thumbnail"]
    width: int = Field(ge=1, le=MAX_THUMBNAIL_SIDE_PIXELS)
    height: int = Field(ge=1, le=MAX_THUMBNAIL_SIDE_PIXELS)
    format: ImageFormat = "png"


class ConvertOp(StrictModel):
    """A png, jpeg or webp image re-encoded as `to` (jpeg flattens transparency on white)."""

    file_id: FileId
    operation: Literal["convert"]
    to: ImageFormat


FilePayload = Annotated[
    ChecksumOp | CompressOp | ThumbnailOp | ConvertOp, Field(discriminator="operation")
]
