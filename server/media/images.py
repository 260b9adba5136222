"""Uploaded images: what the bytes are, and the copies the server keeps of them.

The type is read from the bytes (their signature, then a full decode with
Pillow restricted to that format), never from the file name or the declared
content type. What is stored is a re-encoded copy, at most `FULL_SIZE` pixels
on its long side and turned upright from its EXIF orientation, plus a
thumbnail: no metadata of the original (camera, GPS position) is kept. The
work is CPU-bound; callers run `process` in a thread.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

FULL_SIZE = 2048
THUMB_SIZE = 480
#: Larger images are refused before they are decoded (a small file can hold a huge image).
MAX_PIXELS = 50_000_000


@dataclass(frozen=True, slots=True)
class Kind:
    pillow_format: str
    content_type: str
    extension: str


JPEG = Kind("JPEG", "image/jpeg", "jpg")
PNG = Kind("PNG", "image/png", "png")
WEBP = Kind("WEBP", "image/webp", "webp")
ACCEPTED = "Only JPEG, PNG or WebP images can be uploaded"


class ImageRefused(ValueError):
    """The upload is not an image the server accepts; the message says why, for the user."""


@dataclass(frozen=True, slots=True)
class Rendition:
    data: bytes
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class ProcessedImage:
    kind: Kind
    full: Rendition
    thumb: Rendition


def sniff(head: bytes) -> Kind | None:
    """The kind of image the first bytes announce, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    return None


def process(data: bytes) -> ProcessedImage:
    """The stored copies of an uploaded image, or `ImageRefused`."""
    kind = sniff(data[:16])
    if kind is None:
        raise ImageRefused(ACCEPTED)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[kind.pillow_format]) as opened:
                if opened.width * opened.height > MAX_PIXELS:
                    raise ImageRefused(
                        f"The image is {opened.width} by {opened.height} pixels; "
                        f"at most {MAX_PIXELS // 1_000_000} megapixels can be uploaded"
                    )
                if kind is JPEG:
                    # Decode at the smallest scale still at least FULL_SIZE (DCT scaling):
                    # a 48-megapixel photo never needs its full 144 MB in memory.
                    opened.draft(None, (FULL_SIZE, FULL_SIZE))
                opened.load()
                image = ImageOps.exif_transpose(opened)
                icc_profile = opened.info.get("icc_profile")
    except ImageRefused:
        raise
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
    ) as error:
        raise ImageRefused("The file is damaged or not a complete image") from error
    if kind is JPEG and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    elif kind is not JPEG and image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA")
    return ProcessedImage(
        kind=kind,
        full=_rendition(image, FULL_SIZE, kind, icc_profile),
        thumb=_rendition(image, THUMB_SIZE, kind, icc_profile),
    )


def _rendition(image: Image.Image, size: int, kind: Kind, icc_profile: bytes | None) -> Rendition:
    copy = image.copy()
    copy.thumbnail((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    options: dict[str, object] = {"icc_profile": icc_profile} if icc_profile else {}
    if kind is JPEG:
        options.update(quality=85, optimize=True, progressive=True)
    elif kind is PNG:
        options.update(optimize=True)
    else:
        options.update(quality=85, method=4)
    copy.save(buffer, format=kind.pillow_format, **options)
    return Rendition(data=buffer.getvalue(), width=copy.width, height=copy.height)
