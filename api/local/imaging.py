"""Image decoding and thumbnails for ingest (CPU work: called from worker threads)."""

from __future__ import annotations

import io
import threading
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from api.video import MAX_VIDEO_BYTES, MAX_VIDEO_SECONDS, MAX_VIDEO_URL_BYTES

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
    #: Videos: the platform's limits (api.video): length, and bytes sent in a request or
    #: downloaded from a URL.
    max_video_seconds: float = MAX_VIDEO_SECONDS
    max_video_bytes: int = MAX_VIDEO_BYTES
    max_video_url_bytes: int = MAX_VIDEO_URL_BYTES


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


def check_video_size(count: int, limit: int) -> None:
    """A video's bytes against a limit (IngestLimits.max_video_bytes: the platform's 128 MB
    for a video sent as bytes)."""
    if count > limit:
        raise ImageRejected(
            f"too large: the video is {human_bytes(count)}; the platform takes videos up to "
            f"{human_bytes(limit)}: cut it into shorter parts"
        )
    if count == 0:
        raise ImageRejected("the video is empty (0 bytes)")


#: JPEGs with more pixels than this are decoded at a reduced scale (Pillow's ``draft``: the
#: JPEG decoder scales by 1/2, 1/4 or 1/8 while decoding, so the full-size pixels never exist).
#: Below it an image is decoded in full, as before: a phone photo (12 MP) embeds exactly as it
#: always did. Embeddings and thumbnails need far fewer pixels than this.
DRAFT_ABOVE_PIXELS = 16_000_000

#: The longer side a drafted JPEG keeps at least (then the largest scale that keeps it).
DRAFT_MIN_SIDE = 2048


@dataclass(frozen=True)
class Header:
    """What an image's header says, read without decoding any pixel."""

    width: int
    height: int
    format: str
    #: Pixels a decode() of it holds at once (fewer than width x height for a drafted JPEG).
    decode_pixels: int


def _draft_size(fmt: str, width: int, height: int) -> tuple[int, int] | None:
    """The size to ask ``draft`` for, or None to decode in full."""
    if fmt not in ("JPEG", "MPO") or width * height <= DRAFT_ABOVE_PIXELS:
        return None
    longer = max(width, height)
    return (
        max(1, -(-width * DRAFT_MIN_SIDE // longer)),
        max(1, -(-height * DRAFT_MIN_SIDE // longer)),
    )


def _drafted_pixels(width: int, height: int, wanted: tuple[int, int] | None) -> int:
    """Pixels Pillow's JPEG draft decodes for ``wanted`` (its own rule: the largest of 8, 4,
    2, 1 that divides neither side below the wanted size)."""
    if wanted is None:
        return width * height
    scale = min(width // wanted[0], height // wanted[1])
    step = next(s for s in (8, 4, 2, 1) if scale >= s)
    return -(-width // step) * -(-height // step)


def _open_checked(data: bytes, limits: IngestLimits) -> tuple[Image.Image, str, int, int]:
    """Open (header only) and check an image; raise ImageRejected if unusable."""
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
    return image, fmt, width, height


def probe(data: bytes, limits: IngestLimits) -> Header:
    """The header of an image that decode() would accept; ImageRejected (without decoding a
    pixel) for one it would refuse from its header alone: too many bytes or pixels, not an
    image, an unsupported format."""
    image, fmt, width, height = _open_checked(data, limits)
    image.close()
    pixels = _drafted_pixels(width, height, _draft_size(fmt, width, height))
    return Header(width, height, fmt, pixels)


def decode(data: bytes, limits: IngestLimits, *, thumbnail: bool = True) -> Decoded:
    """Decode and check an image (first frame of an animation); raise ImageRejected if unusable.

    Width, height and the pixel limit are the header's; a JPEG of more than
    DRAFT_ABOVE_PIXELS is decoded at a reduced scale (see DRAFT_ABOVE_PIXELS). Without
    ``thumbnail`` none is made (``Decoded.thumbnail`` is None)."""
    image, fmt, width, height = _open_checked(data, limits)
    wanted = _draft_size(fmt, width, height)
    if wanted is not None:
        image.draft(image.mode, wanted)
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
        message = str(exc) or type(exc).__name__
        kind = "truncated" if "truncated" in message or isinstance(exc, EOFError) else "corrupt"
        raise ImageRejected(f"{kind} {fmt} data: {message}") from None
    thumb = _thumbnail(image, limits.thumb_size) if thumbnail else None
    return Decoded(image, width, height, fmt, image.mode, thumb)


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
