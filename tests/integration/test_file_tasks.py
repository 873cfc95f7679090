"""File tasks end to end: real uploads through the API, a real file worker, real downloads."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import zipfile
import zlib
from typing import Any

import pytest
from PIL import Image

from support.client import ApiClient
from support.stack import Stack

QUEUE = "file.normal"
TASK_TIMEOUT_SECONDS = 60


@pytest.fixture(scope="module")
def api(stack: Stack) -> ApiClient:
    return ApiClient(stack.base_url)


def image_bytes(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def run_file_task(api: ApiClient, payload: dict[str, Any]) -> dict[str, Any]:
    accepted = api.submit({"type": "file", "payload": payload})
    assert accepted["queue"] == QUEUE
    return api.wait_for(accepted["id"], timeout_seconds=TASK_TIMEOUT_SECONDS)


def succeeded(api: ApiClient, payload: dict[str, Any]) -> dict[str, Any]:
    record = run_file_task(api, payload)
    assert record["status"] == "SUCCESS", record
    result: dict[str, Any] = record["result"]
    return result


def download(api: ApiClient, file_id: str) -> bytes:
    response = api.get(f"/api/files/{file_id}")
    assert response.status_code == 200, response.text
    return response.content


@pytest.fixture(scope="module")
def blob(api: ApiClient) -> tuple[dict[str, Any], bytes]:
    data = os.urandom(3 * 1024 * 1024 + 321) + b"taskyard" * 50_000
    return api.upload("data.bin", data, "application/octet-stream"), data


@pytest.mark.parametrize("algorithm", ["sha256", "sha1", "md5", "blake2b"])
def test_checksum_equals_hashlib(
    api: ApiClient, blob: tuple[dict[str, Any], bytes], algorithm: str
) -> None:
    info, data = blob
    result = succeeded(
        api, {"file_id": info["id"], "operation": "checksum", "algorithm": algorithm}
    )
    assert result == {
        "checksum": hashlib.new(algorithm, data).hexdigest(),
        "algorithm": algorithm,
        "size": len(data),
    }


def test_gzip_output_unpacks_to_the_original(
    api: ApiClient, blob: tuple[dict[str, Any], bytes]
) -> None:
    info, data = blob
    result = succeeded(api, {"file_id": info["id"], "operation": "compress", "format": "gzip"})

    packed = download(api, result["output_file_id"])
    assert result["output_file_id"] != info["id"]
    assert gzip.decompress(packed) == data
    assert result["size"] == len(packed)
    assert result["sha256"] == hashlib.sha256(packed).hexdigest()
    assert result["format"] == "gzip"


def test_zip_output_unpacks_to_the_original(
    api: ApiClient, blob: tuple[dict[str, Any], bytes]
) -> None:
    info, data = blob
    result = succeeded(api, {"file_id": info["id"], "operation": "compress", "format": "zip"})

    response = api.get(f"/api/files/{result['output_file_id']}")
    assert response.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert archive.namelist() == ["data.bin"]
        assert archive.read("data.bin") == data
    assert result["sha256"] == hashlib.sha256(response.content).hexdigest()


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_thumbnail_fits_its_box_with_the_aspect_kept(api: ApiClient, fmt: str) -> None:
    source = Image.radial_gradient("L").resize((640, 360)).convert("RGB")
    info = api.upload("wide.jpg", image_bytes(source, "JPEG"), "image/jpeg")

    result = succeeded(
        api,
        {
            "file_id": info["id"],
            "operation": "thumbnail",
            "width": 160,
            "height": 160,
            "format": fmt,
        },
    )

    thumb = Image.open(io.BytesIO(download(api, result["output_file_id"])))
    assert thumb.format == fmt.upper()
    assert thumb.width <= 160 and thumb.height <= 160
    assert max(thumb.size) == 160
    assert abs(thumb.width / thumb.height - 640 / 360) < 0.02
    assert (result["width"], result["height"], result["format"]) == (*thumb.size, fmt)


@pytest.mark.parametrize(
    ("source_format", "target"),
    [("PNG", "jpeg"), ("PNG", "webp"), ("JPEG", "png"), ("WEBP", "png")],
)
def test_converted_file_opens_as_the_target_format(
    api: ApiClient, source_format: str, target: str
) -> None:
    source = Image.new("RGBA", (120, 80), (10, 200, 30, 128))
    if source_format == "JPEG":
        source = source.convert("RGB")
    info = api.upload(
        f"in.{source_format.lower()}",
        image_bytes(source, source_format),
        f"image/{source_format.lower()}",
    )

    result = succeeded(api, {"file_id": info["id"], "operation": "convert", "to": target})

    response = api.get(f"/api/files/{result['output_file_id']}")
    assert response.headers["Content-Type"] == f"image/{target}"
    converted = Image.open(io.BytesIO(response.content))
    converted.load()
    assert converted.format == target.upper()
    assert converted.size == (120, 80) == (result["width"], result["height"])
    if target == "jpeg":
        assert converted.mode == "RGB"


def png_declaring(width: int, height: int) -> bytes:
    """A few dozen bytes of PNG whose header claims width x height pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def real_bomb() -> bytes:
    """A genuine 10000x10000 single-colour PNG: 100 M pixels in about 15 KB."""
    return image_bytes(Image.new("1", (10_000, 10_000), 1), "PNG")


def truncated_png() -> bytes:
    data = image_bytes(Image.effect_noise((256, 256), 50), "PNG")
    return data[: len(data) * 2 // 3]


@pytest.mark.parametrize(
    ("make", "operation", "message"),
    [
        (real_bomb, {"operation": "thumbnail", "width": 64, "height": 64}, "decompression bomb"),
        (
            lambda: png_declaring(60_000, 60_000),
            {"operation": "convert", "to": "jpeg"},
            "decompression bomb",
        ),
        (truncated_png, {"operation": "convert", "to": "webp"}, "image file is truncated"),
        (
            lambda: b"%PDF-1.7 not an image",
            {"operation": "thumbnail", "width": 8, "height": 8},
            "not a png, jpeg or webp image",
        ),
    ],
    ids=["bomb-10000x10000", "bomb-header-only", "truncated-png", "not-an-image"],
)
def test_bad_images_fail_at_once_and_the_worker_keeps_serving(
    api: ApiClient, stack: Stack, make: Any, operation: dict[str, Any], message: str
) -> None:
    worker = stack.workers[QUEUE]
    pid = worker.pid
    info = api.upload("bad.png", make(), "image/png")

    record = run_file_task(api, {"file_id": info["id"], **operation})

    assert record["status"] == "FAILED", record
    assert record["attempts"] == 1
    assert record["error"]["retryable"] is False
    assert message in record["error"]["message"]
    assert "RETRYING" not in [step["status"] for step in record["history"]]

    good = api.upload("ok.png", image_bytes(Image.new("RGB", (30, 20), "red"), "PNG"), "image/png")
    result = succeeded(api, {"file_id": good["id"], "operation": "convert", "to": "webp"})
    assert (result["width"], result["height"]) == (30, 20)
    assert worker.running() and worker.pid == pid


def test_an_unknown_file_id_is_refused_at_submit(api: ApiClient) -> None:
    body = {"type": "file", "payload": {"file_id": "f" * 32, "operation": "checksum"}}
    error = api.submit(body, expect=422)["error"]
    assert error["details"] == [{"loc": ["payload", "file_id"], "msg": f"no file {'f' * 32}"}]


def test_a_file_deleted_before_its_task_runs_fails_with_file_not_found(api: ApiClient) -> None:
    uploaded = api.upload("gone.txt", b"soon gone", "text/plain")
    accepted = api.submit(
        {
            "type": "file",
            "delay_seconds": 2,
            "payload": {"file_id": uploaded["id"], "operation": "checksum"},
        }
    )
    assert api.delete(f"/api/files/{uploaded['id']}").status_code == 204
    record = api.wait_for(accepted["id"], timeout_seconds=TASK_TIMEOUT_SECONDS)
    assert record["status"] == "FAILED"
    assert record["attempts"] == 1
    assert record["error"]["type"] == "FileNotFound"
    assert "file not found" in record["error"]["message"]


@pytest.mark.parametrize(
    "file_id",
    [
        "../../etc/passwd",
        "/etc/passwd",
        "..",
        "../" + "a" * 29,
        "A" * 32,
        "a" * 31,
        "a" * 32 + "/../x",
        "..%2f..%2fetc%2fpasswd",
    ],
)
def test_path_like_file_ids_are_a_422(api: ApiClient, file_id: str) -> None:
    body = api.submit(
        {"type": "file", "payload": {"file_id": file_id, "operation": "checksum"}}, expect=422
    )
    assert body["error"]["code"] == "validation_error"
    assert any("file_id" in detail["loc"] for detail in body["error"]["details"])
