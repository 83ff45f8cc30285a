"""The CPU half of a video's ingest: sample its frames, embed them, make its thumbnail.

Like ``api.local.analysis`` for images, ``analyse_video`` is a pure function (a file path or
bytes in, plain values out), so it runs in the ingest worker processes. Frames are decoded one
at a time (``api.video.sampled_frames``) and embedded in groups of EMBED_FRAMES, so what it holds
at once is a group of frames at most FRAME_MAX_SIDE pixels, whatever the video's length; only
each sampled frame's vector is kept.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from api.local.analysis import _embed
from api.local.imaging import IngestLimits

if TYPE_CHECKING:
    from PIL import Image

#: Sampled frames embedded together.
EMBED_FRAMES = 32


@dataclass(frozen=True, slots=True)
class SampledVector:
    index: int
    time_ms: int
    #: float32 bytes, or None when no embedding was asked for.
    vector: bytes | None


@dataclass(frozen=True, slots=True)
class VideoAnalysis:
    """What ingest learns from a video: its properties, thumbnail and sampled frames' vectors,
    or why it is unusable."""

    #: The proto's VideoInfo fields.
    info: dict[str, Any] | None = None
    width: int = 0
    height: int = 0
    video_format: str = ""
    #: JPEG of the first frame, at most IngestLimits.thumb_size on its long side.
    thumbnail: bytes | None = None
    frames: tuple[SampledVector, ...] = ()
    #: Why the video cannot be used (the input's 30002 description); "" when it can.
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def _thumbnail(image: Image.Image, size: int) -> bytes:
    thumb = image.copy()
    thumb.thumbnail((size, size))
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=85)
    return out.getvalue()


def _not_a_video(head: bytes) -> str:
    text = head.lstrip()[:64].lower()
    if text.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")):
        return (
            "not a video: the bytes are an HTML page (a URL that serves a web page, not the "
            "video file; use the file's direct link)"
        )
    return (
        "not a video: the bytes are in no video container this reads; send MP4, MOV, WebM, "
        "MKV or AVI"
    )


def analyse_video(
    source: str | bytes,
    limits: IngestLimits,
    embedder: str | None,
    sample_ms: int,
) -> VideoAnalysis:
    """Probe, sample, thumbnail and embed one video (a file path or its bytes)."""
    from api import video

    if isinstance(source, bytes):
        head = source[:64]
        size = len(source)
    else:
        with open(source, "rb") as f:
            head = f.read(64)
            f.seek(0, io.SEEK_END)
            size = f.tell()
    if size == 0:
        return VideoAnalysis(error="the video is empty (0 bytes)")
    if video.sniff(head) is None:
        return VideoAnalysis(error=_not_a_video(head))
    try:
        frames: list[SampledVector] = []
        pending: list[tuple[int, int, Image.Image]] = []
        thumbnail: bytes | None = None
        with video.VideoReader(source, max_seconds=limits.max_video_seconds) as reader:
            info = reader.info
            for sampled in reader.frames(sample_ms):
                if thumbnail is None:
                    thumbnail = _thumbnail(sampled.image, limits.thumb_size)
                if embedder is None:
                    frames.append(SampledVector(sampled.frame.index, sampled.frame.time_ms, None))
                    continue
                pending.append((sampled.frame.index, sampled.frame.time_ms, sampled.image))
                if len(pending) >= EMBED_FRAMES:
                    frames.extend(_embedded(pending, embedder))
                    pending = []
            if pending and embedder is not None:
                frames.extend(_embedded(pending, embedder))
    except video.VideoRejected as exc:
        return VideoAnalysis(error=exc.description)
    except Exception as exc:  # a decoder bug fails this video, not its neighbours
        return VideoAnalysis(error=f"cannot decode the video: {type(exc).__name__}: {exc}")
    return VideoAnalysis(
        # The proto's VideoInfo fields, zeros left out as proto3 JSON leaves them out.
        info={k: v for k, v in dataclasses.asdict(info).items() if v},
        width=info.width,
        height=info.height,
        video_format=info.video_format,
        thumbnail=thumbnail,
        frames=tuple(frames),
    )


def _embedded(
    pending: Sequence[tuple[int, int, Image.Image]], embedder: str
) -> list[SampledVector]:
    vectors = _embed(embedder, [image for _, _, image in pending])
    out: list[SampledVector] = []
    for (index, time_ms, _), vector in zip(pending, vectors, strict=True):
        if isinstance(vector, Exception):
            raise RuntimeError(f"frame {index} at {time_ms} ms: {vector}") from vector
        out.append(SampledVector(index, time_ms, vector))
    return out
