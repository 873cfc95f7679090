"""The file worker's handler, run in-process against a FileStore in a temporary folder."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any

import pytest
from PIL import Image
from pydantic import TypeAdapter

from taskyard_common.contracts.file import FilePayload
from taskyard_common.logs import get_logger
from taskyard_common.retry import PermanentError, is_retryable
from taskyard_common.settings import Settings
from taskyard_common.storage import CHUNK_BYTES, FileStore, StorageUnavailable, StoredFile
from taskyard_file_worker import storage_io
from taskyard_file_worker.streams import member_name
from taskyard_file_worker.tasks import process_file

PAYLOAD = TypeAdapter(FilePayload)


class RecordingStore(FileStore):
    """A FileStore that records the size of every read from a stored blob."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.read_sizes: list[int] = []

    @contextmanager
    def open(self, file_id: str) -> Iterator[IO[bytes]]:
        with super().open(file_id) as handle:
            yield _Recorder(handle, self.read_sizes)  # type: ignore[misc]


class _Recorder:
    def __init__(self, handle: IO[bytes], sizes: list[int]) -> None:
        self._handle = handle
        self._sizes = sizes

    def read(self, size: int = -1) -> bytes:
        self._sizes.append(size)
        return self._handle.read(size)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


class BrokenReads(FileStore):
    """Storage that opens blobs but fails mid-read, as a dropped NFS mount or S3 would."""

    @contextmanager
    def open(self, file_id: str) -> Iterator[IO[bytes]]:
        with super().open(file_id) as handle:
            yield _FailingHandle(handle)  # type: ignore[misc]


class _FailingHandle:
    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle

    def read(self, size: int = -1) -> bytes:
        raise OSError(5, "Input/output error")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


class BrokenWrites(FileStore):
    @contextmanager
    def writer(self, *, name: str, content_type: str) -> Iterator[tuple[IO[bytes], dict[str, Any]]]:
        raise OSError(28, "No space left on device")
        yield  # pragma: no cover


class Unreachable(FileStore):
    def stat(self, file_id: str) -> StoredFile:
        raise StorageUnavailable("connection refused")


@pytest.fixture
def files(tmp_path: Path) -> RecordingStore:
    return RecordingStore(f"file://{tmp_path / 'files'}")


def context(files: FileStore, max_pixels: int = 50_000_000) -> Any:
    progress: list[float] = []
    return SimpleNamespace(
        task_id="t-1",
        files=files,
        settings=Settings(image_max_pixels=max_pixels),
        log=get_logger("test"),
        report_progress=progress.append,
        progress=progress,
    )


def run(files: FileStore, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return process_file(PAYLOAD.validate_python(body), context(files, **kwargs))


def image_bytes(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def stored_image(files: FileStore, file_id: str) -> Image.Image:
    with files.open(file_id) as handle:
        image = Image.open(io.BytesIO(handle.read()))
        image.load()
    return image


def read_all(files: FileStore, file_id: str) -> bytes:
    with files.open(file_id) as handle:
        return handle.read()


# ---------------------------------------------------------------- checksum


@pytest.mark.parametrize("algorithm", ["sha256", "sha1", "md5", "blake2b"])
def test_checksum_matches_hashlib_and_reads_in_chunks(
    files: RecordingStore, algorithm: str
) -> None:
    data = os.urandom(2 * CHUNK_BYTES + 12345)
    stored = files.save_bytes(data, name="blob.bin", content_type="application/octet-stream")

    result = run(files, {"file_id": stored.id, "operation": "checksum", "algorithm": algorithm})

    assert result == {
        "checksum": hashlib.new(algorithm, data).hexdigest(),
        "algorithm": algorithm,
        "size": len(data),
    }
    assert files.read_sizes and all(0 < size <= CHUNK_BYTES for size in files.read_sizes)


def test_checksum_of_an_empty_file(files: FileStore) -> None:
    stored = files.save_bytes(b"", name="empty", content_type="text/plain")
    result = run(files, {"file_id": stored.id, "operation": "checksum"})
    assert result["checksum"] == hashlib.sha256(b"").hexdigest()
    assert result["size"] == 0


def test_progress_ends_at_one(files: FileStore) -> None:
    stored = files.save_bytes(b"abc", name="a.txt", content_type="text/plain")
    ctx = context(files)
    process_file(PAYLOAD.validate_python({"file_id": stored.id, "operation": "checksum"}), ctx)
    assert ctx.progress[-1] == 1.0


# ---------------------------------------------------------------- compress


def test_gzip_unpacks_to_the_original_and_is_deterministic(files: RecordingStore) -> None:
    data = os.urandom(CHUNK_BYTES) + b"a" * (3 * CHUNK_BYTES)
    stored = files.save_bytes(data, name="report.csv", content_type="text/csv")

    first = run(files, {"file_id": stored.id, "operation": "compress", "format": "gzip"})
    second = run(files, {"file_id": stored.id, "operation": "compress"})

    packed = read_all(files, first["output_file_id"])
    assert gzip.decompress(packed) == data
    assert first["format"] == "gzip"
    assert first["size"] == len(packed)
    assert first["sha256"] == hashlib.sha256(packed).hexdigest()
    assert first["output_file_id"] != second["output_file_id"]
    assert first["sha256"] == second["sha256"]
    assert packed[3] & 0x08 and b"report.csv\x00" in packed[:64]  # FNAME header
    meta = files.stat(first["output_file_id"])
    assert (meta.name, meta.content_type) == ("report.csv.gz", "application/gzip")
    assert all(size <= CHUNK_BYTES for size in files.read_sizes)


def test_zip_holds_one_member_named_after_the_file(files: FileStore) -> None:
    data = os.urandom(CHUNK_BYTES + 7)
    stored = files.save_bytes(data, name="photo.raw", content_type="application/octet-stream")

    result = run(files, {"file_id": stored.id, "operation": "compress", "format": "zip"})

    packed = read_all(files, result["output_file_id"])
    with zipfile.ZipFile(io.BytesIO(packed)) as archive:
        assert archive.namelist() == ["photo.raw"]
        assert archive.read("photo.raw") == data
        assert archive.testzip() is None
    assert result["format"] == "zip"
    assert files.stat(result["output_file_id"]).content_type == "application/zip"


@pytest.mark.parametrize(
    ("name", "member"),
    [("..", "file"), (".", "file"), ("a/b\\c.txt", "c.txt"), ("ok.txt", "ok.txt")],
)
def test_zip_member_names_never_escape(name: str, member: str) -> None:
    assert member_name(name) == member


# ---------------------------------------------------------------- images


def test_thumbnail_fits_the_box_and_keeps_the_aspect(files: FileStore) -> None:
    source = Image.linear_gradient("L").resize((400, 200)).convert("RGB")
    stored = files.save_bytes(image_bytes(source, "PNG"), name="wide.png", content_type="image/png")

    result = run(
        files,
        {
            "file_id": stored.id,
            "operation": "thumbnail",
            "width": 100,
            "height": 100,
            "format": "webp",
        },
    )

    out = stored_image(files, result["output_file_id"])
    assert out.format == "WEBP"
    assert out.size == (100, 50) == (result["width"], result["height"])
    assert result["format"] == "webp"
    assert files.stat(result["output_file_id"]).name == "wide.thumbnail.webp"


def test_thumbnail_never_enlarges(files: FileStore) -> None:
    source = Image.new("RGB", (40, 30), "red")
    stored = files.save_bytes(image_bytes(source, "PNG"), name="s.png", content_type="image/png")
    result = run(
        files, {"file_id": stored.id, "operation": "thumbnail", "width": 400, "height": 400}
    )
    assert (result["width"], result["height"]) == (40, 30)


def test_exif_orientation_is_applied(files: FileStore) -> None:
    source = Image.new("RGB", (200, 100), "blue")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    data = image_bytes(source, "JPEG", exif=exif.tobytes())
    stored = files.save_bytes(data, name="phone.jpg", content_type="image/jpeg")

    converted = run(files, {"file_id": stored.id, "operation": "convert", "to": "png"})
    thumb = run(
        files,
        {
            "file_id": stored.id,
            "operation": "thumbnail",
            "width": 50,
            "height": 50,
            "format": "jpeg",
        },
    )

    assert (converted["width"], converted["height"]) == (100, 200)
    assert (thumb["width"], thumb["height"]) == (25, 50)
    assert stored_image(files, thumb["output_file_id"]).getexif().get(0x0112) in (None, 1)


def test_jpeg_output_flattens_transparency(files: FileStore) -> None:
    source = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    source.putpixel((0, 0), (255, 0, 0, 255))
    stored = files.save_bytes(image_bytes(source, "PNG"), name="a.png", content_type="image/png")

    result = run(files, {"file_id": stored.id, "operation": "convert", "to": "jpeg"})

    out = stored_image(files, result["output_file_id"])
    assert (out.format, out.mode) == ("JPEG", "RGB")
    assert all(channel > 240 for channel in out.getpixel((9, 9)))  # type: ignore[union-attr]
    assert files.stat(result["output_file_id"]).content_type == "image/jpeg"


@pytest.mark.parametrize("target", ["jpeg", "webp", "png"])
def test_palette_with_transparency_converts(files: FileStore, target: str) -> None:
    source = Image.new("P", (16, 16), 0)
    source.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    source.info["transparency"] = 0
    stored = files.save_bytes(
        image_bytes(source, "PNG", transparency=0), name="p.png", content_type="image/png"
    )

    result = run(files, {"file_id": stored.id, "operation": "convert", "to": target})

    out = stored_image(files, result["output_file_id"])
    assert out.format == {"jpeg": "JPEG", "webp": "WEBP", "png": "PNG"}[target]
    assert out.size == (16, 16)


@pytest.mark.parametrize(
    ("source_format", "target"), [("PNG", "webp"), ("WEBP", "jpeg"), ("JPEG", "png")]
)
def test_convert_opens_as_the_target_format(
    files: FileStore, source_format: str, target: str
) -> None:
    source = Image.new("RGB", (64, 48), "green")
    stored = files.save_bytes(
        image_bytes(source, source_format), name="img", content_type="application/octet-stream"
    )

    result = run(files, {"file_id": stored.id, "operation": "convert", "to": target})

    out = stored_image(files, result["output_file_id"])
    assert out.format == target.upper()
    assert out.size == (64, 48)
    data = read_all(files, result["output_file_id"])
    assert result["sha256"] == hashlib.sha256(data).hexdigest()
    assert result["size"] == len(data)


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height: a decompression bomb's calling card."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "size",
    [(120, 100), (300, 300)],  # above the limit (Pillow warns); above twice it (Pillow errors)
    ids=["warning", "error"],
)
def test_decompression_bombs_are_refused(files: FileStore, size: tuple[int, int]) -> None:
    data = image_bytes(Image.new("1", size), "PNG")
    stored = files.save_bytes(data, name="bomb.png", content_type="image/png")
    with pytest.raises(PermanentError) as caught:
        run(files, {"file_id": stored.id, "operation": "convert", "to": "jpeg"}, max_pixels=10_000)
    assert caught.value.error_type == "DecompressionBomb"
    assert "decompression bomb" in str(caught.value)
    assert not is_retryable(caught.value)


def test_a_header_only_bomb_is_refused_before_decoding(files: FileStore) -> None:
    stored = files.save_bytes(
        png_declaring(100_000, 100_000), name="bomb.png", content_type="image/png"
    )
    with pytest.raises(PermanentError, match="decompression bomb") as caught:
        run(files, {"file_id": stored.id, "operation": "thumbnail", "width": 10, "height": 10})
    assert caught.value.error_type == "DecompressionBomb"


def test_a_truncated_png_is_a_permanent_error(files: FileStore) -> None:
    data = image_bytes(Image.effect_noise((200, 200), 64), "PNG")
    stored = files.save_bytes(data[: len(data) // 2], name="cut.png", content_type="image/png")
    with pytest.raises(PermanentError, match="corrupt or unsupported image") as caught:
        run(files, {"file_id": stored.id, "operation": "convert", "to": "webp"})
    assert caught.value.error_type == "CorruptImage"
    assert "truncated" in str(caught.value)


@pytest.mark.parametrize(
    "data",
    [b"just some text, not an image", image_bytes(Image.new("RGB", (4, 4)), "GIF"), b""],
    ids=["text", "gif", "empty"],
)
def test_non_images_are_unsupported(files: FileStore, data: bytes) -> None:
    stored = files.save_bytes(data, name="notes.txt", content_type="text/plain")
    with pytest.raises(PermanentError, match="not a png, jpeg or webp image") as caught:
        run(files, {"file_id": stored.id, "operation": "thumbnail", "width": 8, "height": 8})
    assert caught.value.error_type == "UnsupportedFile"


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "body",
    [
        {"operation": "checksum"},
        {"operation": "compress", "format": "zip"},
        {"operation": "thumbnail", "width": 8, "height": 8},
        {"operation": "convert", "to": "png"},
    ],
)
def test_unknown_file_id_is_permanent_file_not_found(
    files: FileStore, body: dict[str, Any]
) -> None:
    with pytest.raises(PermanentError, match="file not found") as caught:
        run(files, {"file_id": "0" * 32, **body})
    assert caught.value.error_type == "FileNotFound"
    assert not is_retryable(caught.value)


def test_a_blob_missing_behind_its_metadata_is_file_not_found(
    files: FileStore, tmp_path: Path
) -> None:
    stored = files.save_bytes(b"x", name="x", content_type="text/plain")
    os.remove(tmp_path / "files" / stored.id[:2] / stored.id)
    with pytest.raises(PermanentError, match="file not found"):
        run(files, {"file_id": stored.id, "operation": "checksum"})


def test_unreachable_storage_is_transient(tmp_path: Path) -> None:
    with pytest.raises(StorageUnavailable) as caught:
        run(Unreachable(f"file://{tmp_path}"), {"file_id": "a" * 32, "operation": "checksum"})
    assert is_retryable(caught.value)


@pytest.mark.parametrize(
    "body",
    [{"operation": "checksum"}, {"operation": "compress"}, {"operation": "convert", "to": "png"}],
)
def test_read_failures_midway_are_transient(tmp_path: Path, body: dict[str, Any]) -> None:
    files = BrokenReads(f"file://{tmp_path}")
    stored = files.save_bytes(
        image_bytes(Image.new("RGB", (4, 4)), "PNG"), name="a.png", content_type="image/png"
    )
    with pytest.raises(StorageUnavailable) as caught:
        run(files, {"file_id": stored.id, **body})
    assert is_retryable(caught.value)


@pytest.mark.parametrize(
    "body", [{"operation": "compress"}, {"operation": "convert", "to": "webp"}]
)
def test_write_failures_are_transient(tmp_path: Path, body: dict[str, Any]) -> None:
    files = BrokenWrites(f"file://{tmp_path}")
    stored = FileStore(f"file://{tmp_path}").save_stream(
        io.BytesIO(image_bytes(Image.new("RGB", (4, 4)), "PNG")),
        name="a.png",
        content_type="image/png",
    )
    with pytest.raises(StorageUnavailable) as caught:
        run(files, {"file_id": stored.id, **body})
    assert is_retryable(caught.value)


def test_progress_is_throttled(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([0.0, 0.1, 0.2, 0.7, 0.8, 1.3])
    monkeypatch.setattr(storage_io.time, "monotonic", lambda: next(clock))
    seen: list[float] = []
    progress = storage_io.Progress(seen.append, 100)
    for _ in range(5):
        progress.advance(10)
    progress.finish()
    assert seen == [0.3, 0.5, 1.0]


@pytest.mark.parametrize(
    "body",
    [
        {"operation": "convert", "to": "jpeg"},
        {"operation": "convert", "to": "webp"},
        {"operation": "thumbnail", "width": 64, "height": 64},
    ],
)
def test_16_bit_grayscale_is_scaled_not_clipped(files: FileStore, body: dict[str, Any]) -> None:
    gradient = Image.linear_gradient("L").resize((128, 64)).convert("I")
    wide = gradient.point(lambda value: value * 256).convert("I;16")
    stored = files.save_bytes(image_bytes(wide, "PNG"), name="deep.png", content_type="image/png")

    result = run(files, {"file_id": stored.id, **body})

    values = sorted(stored_image(files, result["output_file_id"]).convert("L").getdata())
    assert values[0] < 20 and values[-1] > 230
    assert values[len(values) // 2] < 200  # not clipped to white
