"""Thumbnail and convert with Pillow: png, jpeg and webp in and out.

Decoding is where untrusted input bites, so: only the three formats' decoders
are tried, the pixel count is checked against `image_max_pixels` before any
pixel is decoded (Pillow's DecompressionBombWarning and DecompressionBombError
are both refusals here), and a truncated or malformed file is a permanent error.
"""

from __future__ import annotations

import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from taskyard_common.retry import PermanentError
from taskyard_common.storage import FileStore, StorageUnavailable, StoredFile
from taskyard_file_worker.storage_io import open_output, open_source

INPUT_FORMATS = ("PNG", "JPEG", "WEBP")
EXIF_ORIENTATION = 0x0112
ROTATED_ORIENTATIONS = frozenset({5, 6, 7, 8})
JPEG_BACKGROUND = (255, 255, 255)
# What a decoder raises on bad input; StorageUnavailable (an OSError) is re-raised first.
DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    KeyError,
    IndexError,
    struct.error,
    zlib.error,
)


@dataclass(frozen=True)
class OutputFormat:
    pillow: str
    content_type: str
    extension: str
    options: tuple[tuple[str, Any], ...]


OUTPUT_FORMATS = {
    "png": OutputFormat("PNG", "image/png", "png", (("compress_level", 6),)),
    "jpeg": OutputFormat("JPEG", "image/jpeg", "jpg", (("quality", 85),)),
    "webp": OutputFormat("WEBP", "image/webp", "webp", (("quality", 80), ("method", 4))),
}


class ImageRejected(PermanentError):
    pass


def _bomb(width: int, height: int, limit: int) -> ImageRejected:
    return ImageRejected(
        f"image refused as a possible decompression bomb: {width}x{height} = "
        f"{width * height} pixels, above the limit of {limit} pixels",
        error_type="DecompressionBomb",
    )


def load_image(
    files: FileStore, source: StoredFile, max_pixels: int, draft_box: tuple[int, int] | None = None
) -> Image.Image:
    """Decode the stored image, EXIF orientation applied. `draft_box` lets JPEG decode smaller."""
    Image.MAX_IMAGE_PIXELS = max_pixels
    with open_source(files, source.id) as reader, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(reader, formats=INPUT_FORMATS)  # type: ignore[arg-type]
            width, height = image.size
            if width * height > max_pixels:
                raise _bomb(width, height, max_pixels)
            if draft_box is not None and image.format == "JPEG":
                orientation = image.getexif().get(EXIF_ORIENTATION)
                box = draft_box[::-1] if orientation in ROTATED_ORIENTATIONS else draft_box
                image.draft(None, (box[0], box[1]))
            image.load()
            ImageOps.exif_transpose(image, in_place=True)
        except (StorageUnavailable, PermanentError):
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise ImageRejected(
                f"image refused as a possible decompression bomb: {error}",
                error_type="DecompressionBomb",
            ) from error
        except UnidentifiedImageError as error:
            raise ImageRejected(
                f"unsupported file {source.name!r}: not a png, jpeg or webp image",
                error_type="UnsupportedFile",
            ) from error
        except DECODE_ERRORS as error:
            raise ImageRejected(
                f"corrupt or unsupported image {source.name!r}: {error}",
                error_type="CorruptImage",
            ) from error
    return image


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or image.has_transparency_data


def _family(mode: str) -> str:
    if mode in ("1", "L", "LA", "La", "I", "F") or mode.startswith("I;"):
        return "gray"
    if mode == "CMYK":
        return "cmyk"
    return "rgb"


def _is_wide_gray(mode: str) -> bool:
    return mode == "I" or mode.startswith("I;16")


def to_8bit(image: Image.Image) -> Image.Image:
    """16-bit grayscale (PNG's I;16) scaled down to L; a plain convert would clip it."""
    if not _is_wide_gray(image.mode):
        return image
    return image.convert("I").point(lambda value: value * (1 / 256)).convert("L")


def prepare_for(image: Image.Image, fmt: str) -> Image.Image:
    """A mode the target encoder writes: JPEG gets RGB/L/CMYK (alpha flattened on white)."""
    if fmt == "PNG":
        # PNG writes 1, L, LA, I, I;16, P, RGB and RGBA.
        if image.mode in ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"):
            return image
        return image.convert("RGBA" if _has_alpha(image) else "RGB")
    image = to_8bit(image)
    if fmt == "JPEG":
        if image.mode in ("RGB", "L", "CMYK") and not _has_alpha(image):
            return image
        if _has_alpha(image):
            rgba = image.convert("RGBA")
            flat = Image.new("RGB", image.size, JPEG_BACKGROUND)
            flat.paste(rgba, mask=rgba.getchannel("A"))
            return flat
        return image.convert("RGB")
    wanted = "RGBA" if _has_alpha(image) else "RGB"  # WEBP
    return image if image.mode == wanted else image.convert(wanted)


def resample_ready(image: Image.Image) -> Image.Image:
    """Palette and bilevel images resize with NEAREST only, 16-bit gray not at all: fix that."""
    if image.mode == "P":
        return image.convert("RGBA" if _has_alpha(image) else "RGB")
    if image.mode == "1":
        return image.convert("L")
    return to_8bit(image)


def _processing_failed(error: Exception, what: str) -> PermanentError:
    return PermanentError(f"could not {what}: {error}", error_type="ImageProcessingError")


def store_image(
    files: FileStore, image: Image.Image, fmt_name: str, name: str, icc_profile: bytes | None
) -> dict[str, Any]:
    fmt = OUTPUT_FORMATS[fmt_name]
    try:
        ready = prepare_for(image, fmt.pillow)
    except (OSError, ValueError) as error:
        raise _processing_failed(error, f"convert the image for {fmt_name}") from error
    options = dict(fmt.options)
    if icc_profile and _family(image.mode) == _family(ready.mode):
        options["icc_profile"] = icc_profile
    with open_output(files, name=name, content_type=fmt.content_type) as (target, outcome):
        try:
            ready.save(target, format=fmt.pillow, **options)  # type: ignore[arg-type]
        except StorageUnavailable:
            raise
        except (OSError, ValueError, KeyError) as error:
            raise _processing_failed(error, f"write the image as {fmt_name}") from error
    stored: StoredFile = outcome["stored"]
    return {
        "output_file_id": stored.id,
        "size": stored.size,
        "sha256": stored.sha256,
        "width": ready.width,
        "height": ready.height,
        "format": fmt_name,
    }


def _stem(name: str) -> str:
    return PurePosixPath(name).stem or "image"


def thumbnail(
    files: FileStore, source: StoredFile, width: int, height: int, fmt_name: str, max_pixels: int
) -> dict[str, Any]:
    image = load_image(files, source, max_pixels, draft_box=(width, height))
    icc = image.info.get("icc_profile")
    try:
        image = resample_ready(image)
        # Fits inside width x height, aspect ratio kept; never enlarges a smaller image.
        image.thumbnail((width, height), Image.Resampling.LANCZOS)
    except (OSError, ValueError) as error:
        raise _processing_failed(error, "scale the image") from error
    extension = OUTPUT_FORMATS[fmt_name].extension
    return store_image(files, image, fmt_name, f"{_stem(source.name)}.thumbnail.{extension}", icc)


def convert(files: FileStore, source: StoredFile, fmt_name: str, max_pixels: int) -> dict[str, Any]:
    image = load_image(files, source, max_pixels)
    icc = image.info.get("icc_profile")
    extension = OUTPUT_FORMATS[fmt_name].extension
    return store_image(files, image, fmt_name, f"{_stem(source.name)}.{extension}", icc)
