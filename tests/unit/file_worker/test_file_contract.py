"""The file payload contract: opaque ids only, one operation each, bounded sizes."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from taskyard_common.contracts import SubmitRequest
from taskyard_common.contracts.file import (
    ChecksumOp,
    CompressOp,
    ConvertOp,
    FilePayload,
    ThumbnailOp,
)

PAYLOAD = TypeAdapter(FilePayload)
GOOD_ID = "0123456789abcdef0123456789abcdef"

PATH_LIKE_IDS = [
    "../../etc/passwd",
    "/etc/passwd",
    "..",
    "./" + GOOD_ID[:30],
    GOOD_ID[:16] + "/" + GOOD_ID[:15],
    "..%2F..%2Fetc%2Fpasswd",
    "..\\..\\windows",
    GOOD_ID.upper(),
    GOOD_ID + "\n",
    GOOD_ID[:31],
    GOOD_ID + "0",
    "",
]


@pytest.mark.parametrize("file_id", PATH_LIKE_IDS)
def test_anything_but_an_opaque_id_is_rejected(file_id: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PAYLOAD.validate_python({"file_id": file_id, "operation": "checksum"})
    assert caught.value.errors()[0]["loc"][-1] == "file_id"


@pytest.mark.parametrize(
    ("body", "model"),
    [
        ({"operation": "checksum"}, ChecksumOp),
        ({"operation": "compress", "format": "zip"}, CompressOp),
        ({"operation": "thumbnail", "width": 64, "height": 32}, ThumbnailOp),
        ({"operation": "convert", "to": "webp"}, ConvertOp),
    ],
)
def test_operations_parse(body: dict[str, Any], model: type) -> None:
    assert isinstance(PAYLOAD.validate_python({"file_id": GOOD_ID, **body}), model)


def test_defaults() -> None:
    checksum = ChecksumOp.model_validate({"file_id": GOOD_ID, "operation": "checksum"})
    compress = CompressOp.model_validate({"file_id": GOOD_ID, "operation": "compress"})
    thumbnail = ThumbnailOp.model_validate(
        {"file_id": GOOD_ID, "operation": "thumbnail", "width": 1, "height": 1}
    )
    assert (checksum.algorithm, compress.format, thumbnail.format) == ("sha256", "gzip", "png")


@pytest.mark.parametrize(
    "body",
    [
        {"operation": "checksum", "algorithm": "crc32"},
        {"operation": "compress", "format": "bz2"},
        {"operation": "thumbnail", "width": 0, "height": 10},
        {"operation": "thumbnail", "width": 10, "height": 5000},
        {"operation": "thumbnail", "width": 10},
        {"operation": "convert", "to": "gif"},
        {"operation": "convert"},
        {"operation": "delete"},
        {"operation": "checksum", "path": "/etc/passwd"},
    ],
)
def test_bad_payloads_are_rejected(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        PAYLOAD.validate_python({"file_id": GOOD_ID, **body})


def test_a_path_like_id_fails_the_whole_submission() -> None:
    with pytest.raises(ValidationError) as caught:
        SubmitRequest.model_validate(
            {"type": "file", "payload": {"file_id": "../../etc/passwd", "operation": "checksum"}}
        )
    assert "file_id" in caught.value.errors()[0]["loc"]
