"""Image decoding and thumbnails for ingest (CPU work: called from worker threads)."""

from __future__ import annotations

import io
import threading
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

#: Formats the embedded backend accepts (MPO is the multi-picture JPEG many phones write).
SUPPORTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP"})

#: Held while decode() opens an image in its own catch_warnings() (in every process but the
#: ingest worker processes: see bomb_warnings_are_errors). catch_warnings() swaps the process's
#: list of warning filters and puts it back on exit, so two threads inside it at once could leave
#: the "bomb warning is an error" filter installed for the whole process (or drop it early).
#: Opening reads only the header: holding a lock for it costs nothing measurable.
_OPEN_LOCK = threading.Lock()

#: True once this process makes DecompressionBombWarning an error for good (the ingest worker
#: processes do as they start: see bomb_warnings_are_errors); decode() then needs no
#: catch_warnings of its own.
_BOMB_WARNING_IS_ERROR = False


def bomb_warnings_are_errors() -> None:
    """Make Pillow's DecompressionBombWarning an error for the rest of this process.

    For processes that only analyse uploads (the ingest worker processes). decode() then opens
    each image without its own ``warnings.catch_warnings()``, which copies the process's list of
    filters and resets the warnings caches on the way in and out: ~12 us an image, about 5% of
    decoding a small PNG. Elsewhere (the TUI's process, the server's threads) decode() keeps
    scoping the filter to its own call."""
    global _BOMB_WARNING_IS_ERROR
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    _BOMB_WARNING_IS_ERROR = True


@dataclass(frozen=True)
class IngestLimits:
    """Caps applied to every input. Defaults suit a laptop; tests shrink them."""

    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 50_000_000
    url_timeout: float = 10.0
    max_redirects: int = 5
    thumb_size: int = 256


class ImageRejected(Exception):
    """The input cannot be used; ``description`` says why, for the input's 30002 status."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


@dataclass
class Decoded:
    image: Image.Image
    width: int
    height: int
    format: str
    color_mode: str
    #: Encoded thumbnail, or None when the original is already small enough to serve as one.
    thumbnail: bytes | None


def human_bytes(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / (1024 * 1024):.1f} MB"
    if count >= 1024:
        return f"{count / 1024:.1f} KB"
    return f"{count} bytes"


def check_size(count: int, limits: IngestLimits) -> None:
    if count > limits.max_bytes:
        raise ImageRejected(
            f"too large: the image is {human_bytes(count)}; "
            f"the limit is {human_bytes(limits.max_bytes)}"
        )


def decode(data: bytes, limits: IngestLimits) -> Decoded:
    """Decode and check an image (first frame of an animation); raise ImageRejected if unusable."""
    if not data:
        raise ImageRejected("not an image: the input has 0 bytes")
    check_size(len(data), limits)
    try:
        image = _open(data)
    except UnidentifiedImageError:
        head = data[:16].decode("ascii", "replace").strip()
        hint = f" (it starts with {head[:12]!r})" if head.isprintable() and head else ""
        raise ImageRejected(
            "not an image: the bytes are not in a format Pillow recognizes"
            + hint
            + "; send JPEG, PNG, WebP, GIF or BMP"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(
            f"too large: more than {limits.max_pixels:,} pixels (decompression bomb guard)"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(f"corrupt image header: {exc}") from None
    fmt = image.format or "unknown"
    if fmt not in SUPPORTED_FORMATS:
        raise ImageRejected(f"unsupported format {fmt}; send JPEG, PNG, WebP, GIF or BMP")
    width, height = image.size
    if width * height > limits.max_pixels:
        raise ImageRejected(
            f"too large: {width}x{height} is {width * height:,} pixels; "
            f"the limit is {limits.max_pixels:,}"
        )
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
        message = str(exc) or type(exc).__name__
        kind = "truncated" if "truncated" in message or isinstance(exc, EOFError) else "corrupt"
        raise ImageRejected(f"{kind} {fmt} data: {message}") from None
    return Decoded(image, width, height, fmt, image.mode, _thumbnail(image, limits.thumb_size))


def _open(data: bytes) -> Image.Image:
    """Image.open with DecompressionBombWarning raised as an error."""
    if _BOMB_WARNING_IS_ERROR:
        return Image.open(io.BytesIO(data))
    with _OPEN_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(data))


def _thumbnail(image: Image.Image, size: int) -> bytes | None:
    if max(image.size) <= size:
        return None
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    thumb = image.convert("RGBA" if has_alpha else "RGB")
    thumb.thumbnail((size, size))
    out = io.BytesIO()
    if has_alpha:
        thumb.save(out, "PNG", optimize=False)
    else:
        thumb.save(out, "JPEG", quality=85)
    return out.getvalue()


def to_rgb(image: Image.Image) -> Image.Image:
    return image if image.mode == "RGB" else image.convert("RGB")
