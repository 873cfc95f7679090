"""The file payload: one operation on an uploaded file."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from taskyard_common.contracts.common import FileId, StrictModel

MAX_THUMBNAIL_SIDE_PIXELS = 4096
ImageFormat = Literal["png", "jpeg", "webp"]


class ChecksumOp(StrictModel):
    file_id: FileId
    operation: Literal["checksum"]
    algorithm: Literal["sha256", "sha1", "md5", "blake2b"] = "sha256"


class CompressOp(StrictModel):
    file_id: FileId
    operation: Literal["compress"]
    format: Literal["gzip", "zip"] = "gzip"


class ThumbnailOp(StrictModel):
    file_id: FileId
    operation: Literal["thumbnail"]
    width: int = Field(ge=1, le=MAX_THUMBNAIL_SIDE_PIXELS)
    height: int = Field(ge=1, le=MAX_THUMBNAIL_SIDE_PIXELS)
    format: ImageFormat = "png"


class ConvertOp(StrictModel):
    file_id: FileId
    operation: Literal["convert"]
    to: ImageFormat


FilePayload = Annotated[
    ChecksumOp | CompressOp | ThumbnailOp | ConvertOp, Field(discriminator="operation")
]
