"""Collecting what to upload: files named, image and video files found in folders (one
`scandir` per folder), and URLs given or read from URL files, each as an `UploadSource`
(problems too, as sources of kind "error"); and the header checks the uploader makes before
sending a file (`image_problem`, `video_size_problem`, `video_problem`).

A source is a video by its name (`api.models.is_video_name`: .mp4, .mov, .webm, .mkv, .avi,
...), for files and URLs alike: the uploader sends it as ``data.video`` in a call of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from api.models import VIDEO_EXTENSIONS, is_video_name
from api.video import MAX_VIDEO_BYTES, MAX_VIDEO_URL_BYTES, VideoRejected, probe, sniff

IMAGE_EXTENSIONS: Final = frozenset(
    {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".jfif"}
)


@dataclass(frozen=True)
class UploadSource:
    """One thing to upload: a file, a URL, or a problem found while collecting."""

    kind: Literal["file", "url", "error"]
    label: str
    """What the user sees: the path as given/walked, or the URL."""
    path: Path | None = None
    url: str | None = None
    size: int = 0
    mtime_ns: int = 0
    error: str = ""
    input_id: str | None = None
    """An explicit input id (default: derived from the content or the URL)."""
    video: bool = False
    """Sent as ``data.video`` (by its name: a video extension), alone in its PostInputs."""

    key: str = field(init=False, repr=False, compare=False)
    """The journal's key: path + size + mtime_ns, or the URL."""

    def __post_init__(self) -> None:
        # Set once here rather than a cached_property: every source's key is read while
        # collecting, and Python 3.11's cached_property takes a lock on each first read.
        if self.kind == "file":
            key = f"file:{self.path}:{self.size}:{self.mtime_ns}"
        elif self.kind == "url":
            key = f"url:{self.url}"
        else:
            key = f"error:{self.label}"
        object.__setattr__(self, "key", key)

    @classmethod
    def for_file(cls, path: Path, label: str | None = None) -> UploadSource:
        stat = path.stat()
        return cls(
            kind="file",
            label=label or str(path),
            path=path.resolve(),
            size=stat.st_size,
            mtime_ns=stat.st_mtime_ns,
            video=is_video_name(path.name),
        )

    @classmethod
    def for_url(cls, url: str) -> UploadSource:
        url = url.strip()
        if not url.lower().startswith(("http://", "https://")):
            return cls(kind="error", label=url, error="not an http(s) URL")
        return cls(kind="url", label=url, url=url, video=is_video_name(url))


def _walk(
    folder: Path, recursive: bool, extensions: frozenset[str] = IMAGE_EXTENSIONS
) -> Iterable[UploadSource]:
    """Sources for the image and video files in `folder` (by name; hidden entries skipped).

    One `scandir` per folder and one `stat` per file: the entry types come with the listing
    and the folder is resolved once, so thousands of files cost no per-file `resolve()`.
    """
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda e: e.name)
        resolved = folder.resolve()
    except OSError:
        return
    # Labels read as str(folder / name), joined as strings: a pathlib join costs ~3 us a file.
    prefix = "" if str(folder) == "." else os.path.join(str(folder), "")
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_dir():
                if recursive:
                    yield from _walk(folder / entry.name, recursive, extensions)
                continue
            extension = os.path.splitext(entry.name)[1].lower()
            if not entry.is_file() or extension not in extensions:
                continue
        except OSError:
            continue  # gone while walking: as if it had not been there
        label = prefix + entry.name
        try:
            if entry.is_symlink():
                yield UploadSource.for_file(folder / entry.name)
                continue
            stat = entry.stat()
        except OSError as exc:
            yield UploadSource(kind="error", label=label, error=exc.strerror or str(exc))
            continue
        yield UploadSource(
            kind="file",
            label=label,
            path=resolved / entry.name,
            size=stat.st_size,
            mtime_ns=stat.st_mtime_ns,
            video=extension in VIDEO_EXTENSIONS,
        )


def read_url_file(path: Path) -> list[str]:
    """URLs from a text file: one a line; blank lines and `#` comments skipped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [s for s in (line.strip() for line in lines) if s and not s.startswith("#")]


def collect_sources(
    paths: Sequence[str | Path] = (),
    *,
    recursive: bool = False,
    url_files: Sequence[str | Path] = (),
    urls: Sequence[str] = (),
    extensions: Iterable[str] | None = None,
    videos: bool = True,
) -> list[UploadSource]:
    """Files named and found in folders (image and video extensions, hidden entries skipped;
    into sub-folders only with `recursive`), URLs from `url_files` and `urls`, in that order.
    `extensions` ("png" or ".png") narrows or widens what counts as an image in folders
    (default IMAGE_EXTENSIONS); video files (VIDEO_EXTENSIONS) are found beside them unless
    `videos` is False. A file named explicitly is always taken. Files and URLs whose names
    end in a video extension are videos (`UploadSource.video`).

    Problems (a missing path, an unreadable URL file, a bad URL) come back as sources of
    kind "error", which the uploader reports as failed with the reason.
    """
    out: list[UploadSource] = []
    seen: set[str] = set()
    wanted = (
        IMAGE_EXTENSIONS
        if extensions is None
        else frozenset("." + e.lower().lstrip(".") for e in extensions)
    )
    if videos:
        wanted |= VIDEO_EXTENSIONS

    def add(source: UploadSource) -> None:
        if source.key not in seen:
            seen.add(source.key)
            out.append(source)

    for given in paths:
        path = Path(given).expanduser()
        try:
            if path.is_dir():
                for found in _walk(path, recursive, wanted):
                    add(found)
            elif path.is_file():
                add(UploadSource.for_file(path, str(given)))
            else:
                add(UploadSource(kind="error", label=str(given), error="no such file or folder"))
        except OSError as exc:
            add(UploadSource(kind="error", label=str(given), error=exc.strerror or str(exc)))
    for url_file in url_files:
        try:
            for url in read_url_file(Path(url_file).expanduser()):
                add(UploadSource.for_url(url))
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            add(UploadSource(kind="error", label=str(url_file), error=f"cannot read: {reason}"))
    for url in urls:
        if url.strip():
            add(UploadSource.for_url(url))
    return out


#: The image formats the server takes (JPEG, PNG, WebP, GIF, BMP), by the first bytes of a
#: file: what a header check can tell without decoding.
_SIGNATURES: Final = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
)


def image_problem(head: bytes) -> str:
    """Why a file whose first bytes are `head` will not be taken as an image ("" when its
    header is one of the supported formats). Headers only: a file that starts right but is
    broken further in is still the server's to refuse."""
    if not head:
        return "empty file"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ""
    if any(head.startswith(signature) for signature, _ in _SIGNATURES):
        return ""
    container = sniff(head)
    if container is not None:
        return (
            f"a video ({container.upper()}) whose name is not a video's: rename it to end in "
            f".{container} to upload it as a video: not sent"
        )
    return "not a supported image (its header is not JPEG, PNG, WebP, GIF or BMP): not sent"


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB"


def video_size_problem(size: int) -> str:
    """Why a video file of `size` bytes is not sent ("" when it may be): empty, or over the
    platform's limit for a video sent as bytes. Checked before the file is read."""
    if size <= 0:
        return "empty file"
    if size > MAX_VIDEO_BYTES:
        return (
            f"the video is {_megabytes(size)}; the platform takes video files up to "
            f"{_megabytes(MAX_VIDEO_BYTES)} (up to {_megabytes(MAX_VIDEO_URL_BYTES)} by URL): "
            "compress it or cut it into parts, or upload it by URL: not sent"
        )
    return ""


def video_problem(data: bytes) -> str:
    """Why a video file with content `data` will not be taken ("" when it will): empty, too
    large, a header that is no video container, or a container header that says it is
    broken, has no video stream (audio only) or runs past the platform's length limit.

    Headers only (`api.video.sniff`, then `api.video.probe`, which decodes nothing): a video
    broken further in is still the server's to refuse."""
    problem = video_size_problem(len(data))
    if problem:
        return problem
    container = sniff(data[:64])
    if container is None:
        if not image_problem(data[:16]):
            return (
                "an image named like a video: give it an image extension to upload it as an "
                "image: not sent"
            )
        return (
            "not a video (its header is not MP4, QuickTime, WebM, Matroska, AVI, 3GP or WMV): "
            "not sent"
        )
    try:
        probe(data)
    except VideoRejected as exc:
        return f"{exc.description}: not sent"
    return ""
