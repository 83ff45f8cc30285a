"""Video files: what they are, how long, and their frames at the platform's sampling.

Shared by the uploader (a header check before sending, and the platform's limits checked
locally), the embedded backend (sampling and embedding frames) and the screens (the frame a
person chose). PyAV (``av``) decodes; its wheels bundle FFmpeg, and it is imported inside the
functions that need it, so importing this module costs nothing.

Sampling follows the platform: a frame every ``sample_ms`` milliseconds from the start (the
app's ``sample_ms``, 1,000 unless set), frame ``k`` at time ``k * sample_ms``, each the first
decoded frame at or after that time. Decoding streams packet by packet from a file or bytes: a
long video is never held whole, and frames that are not sampled are dropped as they come.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Final

from api.models import DEFAULT_SAMPLE_MS, FrameInfo, VideoInfo

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.frame import VideoFrame
    from av.video.stream import VideoStream
    from PIL import Image

#: The platform's limits (docs.clarifai.com, "Upload Inputs": "If uploading via URL, the video
#: can be up to 300MB or 10 minutes long. If uploading via direct file upload (byte data), the
#: video must be less than 128MB"; and one video per PostInputs request).
MAX_VIDEO_BYTES: Final = 128 * 1024 * 1024
MAX_VIDEO_URL_BYTES: Final = 300 * 1024 * 1024
MAX_VIDEO_SECONDS: Final = 600
VIDEOS_PER_REQUEST: Final = 1

#: Sampled frames are decoded at most this large (long side): the embedder sees 224-pixel
#: thumbnails anyway, and a 4K frame would cost 25 MB of RGB.
FRAME_MAX_SIDE: Final = 1024

Source = str | bytes | os.PathLike[str] | BinaryIO


class VideoRejected(Exception):
    """Why a video cannot be used, in words for the person who sent it."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def sniff(head: bytes) -> str | None:
    """The container a file's first bytes announce ("mp4", "mov", "3gp", "webm", "mkv",
    "avi", "wmv"), or None when they announce no video container this reads."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "mov"
        if brand.startswith(b"3g"):
            return "3gp"
        return "mp4"
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mov"  # QuickTime files from before ftyp
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm" if b"webm" in head[:64] else "mkv"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "wmv"
    return None


def _open(source: Source) -> InputContainer:
    import av

    if isinstance(source, bytes | bytearray | memoryview):
        source = io.BytesIO(bytes(source))
    try:
        return av.open(source, mode="r", metadata_errors="ignore")
    except av.error.InvalidDataError as exc:
        raise VideoRejected(
            "the video file is cut short or broken: its container cannot be read "
            f"(FFmpeg: {_reason(exc)}); upload the whole file again, or re-encode it"
        ) from None
    except av.error.FFmpegError as exc:
        raise VideoRejected(f"the video cannot be opened (FFmpeg: {_reason(exc)})") from None


def _reason(exc: Exception) -> str:
    """FFmpeg's words for an error, without its errno and the '<none>' file name."""
    return str(getattr(exc, "strerror", None) or exc)


def _stream(container: InputContainer) -> VideoStream:
    streams = container.streams.video
    kinds = {str(s.type) for s in container.streams}
    if not kinds & {"video", "audio", "subtitle"}:
        # No stream, or only "data" ones: an index read in part (an MP4 cut short).
        raise VideoRejected(
            "the video file is cut short or broken: its container lists no stream (an MP4 "
            "whose index is missing, say); upload the whole file again, or re-encode it"
        )
    if not streams:
        raise VideoRejected(
            f"the file has no video stream (streams: {', '.join(sorted(kinds))}); an "
            "audio-only file is not a video input"
        )
    stream = streams[0]
    stream.thread_type = "AUTO"
    return stream


def _info(container: InputContainer, stream: VideoStream) -> VideoInfo:
    duration = 0.0
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    if duration <= 0 and container.duration:
        duration = container.duration / 1_000_000
    fps = float(stream.average_rate or stream.guessed_rate or 0)
    frames = int(stream.frames or 0)
    if not frames and fps and duration:
        frames = round(fps * duration)
    ctx = stream.codec_context
    return VideoInfo(
        width=int(ctx.width or 0),
        height=int(ctx.height or 0),
        fps=round(fps, 3),
        video_format=f"{_container_name(container)}/{ctx.name}",
        bit_rate=int(stream.bit_rate or container.bit_rate or 0),
        frame_count=frames,
        duration_seconds=round(duration, 3),
    )


def _container_name(container: InputContainer) -> str:
    """ "mp4", "mov", "matroska", "avi", ...: FFmpeg reads MP4 and QuickTime with one demuxer
    ("mov,mp4,m4a,3gp,3g2,mj2"); the file's major brand tells them apart."""
    name = container.format.name.split(",")[0]
    if name == "mov":
        brand = str(container.metadata.get("major_brand", "")).strip()
        if brand and brand != "qt":
            return "3gp" if brand.startswith("3g") else "mp4"
    return name


def probe(source: Source, *, max_seconds: float = MAX_VIDEO_SECONDS) -> VideoInfo:
    """A video's properties from its container header (nothing is decoded). VideoRejected
    when it is no video, has no video stream, or is longer than ``max_seconds``."""
    with VideoReader(source, max_seconds=max_seconds) as reader:
        return reader.info


def check_length(info: VideoInfo, max_seconds: float = MAX_VIDEO_SECONDS) -> None:
    if info.duration_seconds > max_seconds:
        raise VideoRejected(
            f"the video is {describe_duration(info.duration_seconds)} long; the platform takes "
            f"videos up to {describe_duration(max_seconds)}: cut it into shorter parts"
        )


def describe_duration(seconds: float) -> str:
    """4.0 s, 1 min 30 s, 10 h 0 min."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s"


def sample_times(duration_ms: int, sample_ms: int = DEFAULT_SAMPLE_MS) -> list[int]:
    """The times of the sampled frames of a video ``duration_ms`` long: 0, sample_ms, ...
    (at least the first frame)."""
    step = max(1, sample_ms)
    return list(range(0, max(duration_ms, 1), step))


@dataclass(frozen=True, slots=True)
class SampledFrame:
    frame: FrameInfo
    image: Image.Image


def _frame_image(frame: VideoFrame) -> Image.Image:
    width, height = frame.width, frame.height
    scale = FRAME_MAX_SIDE / max(width, height, 1)
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small: Image.Image = frame.to_image(width=size[0], height=size[1])  # type: ignore[no-untyped-call]
        return small.convert("RGB")
    image: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]
    return image.convert("RGB")


class VideoReader:
    """An open video: its properties, read from the container header and checked against the
    length limit as it opens (VideoRejected), then its sampled frames. Opened once for both,
    so a caller that needs the two (ingest) reads the header once."""

    def __init__(self, source: Source, *, max_seconds: float = MAX_VIDEO_SECONDS) -> None:
        self.max_seconds = max_seconds
        self._container = _open(source)
        try:
            self._stream = _stream(self._container)
            self.info = _info(self._container, self._stream)
            check_length(self.info, max_seconds)
        except BaseException:
            self._container.close()
            raise

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._container.close()

    def frames(self, sample_ms: int = DEFAULT_SAMPLE_MS) -> Iterator[SampledFrame]:
        """The sampled frames, in time order, decoded one at a time (RGB, at most
        FRAME_MAX_SIDE on the long side). A video cut short after some frames yields those
        and then raises VideoRejected."""
        import av

        step = max(1, sample_ms)
        stream = self._stream
        base = stream.time_base
        start = stream.start_time or 0
        limit_ms = self.max_seconds * 1000
        index = 0
        # Frame k is the one on screen at k * step: the last frame that starts at or before
        # that time (the first frame for times before it). One decoded frame is held back.
        shown = None
        try:
            for frame in self._container.decode(stream):
                if frame.pts is None:
                    continue
                time_ms = float((frame.pts - start) * base * 1000) if base else 0.0
                if time_ms > limit_ms:
                    raise VideoRejected(
                        f"the video runs past {describe_duration(self.max_seconds)} (its "
                        "header said less); the platform takes videos up to that: cut it"
                    )
                if shown is None:
                    shown = frame
                while index * step + 0.5 < time_ms:
                    yield SampledFrame(FrameInfo(index, index * step), _frame_image(shown))
                    index += 1
                shown = frame
        except av.error.FFmpegError as exc:
            raise VideoRejected(
                f"the video is broken after {index} sampled frame(s) (FFmpeg: {_reason(exc)}); "
                "upload the whole file again, or re-encode it"
            ) from None
        if shown is None:
            raise VideoRejected("the video has no frame that can be decoded")
        # The times after the last frame's start: the same rule the screens count frames by.
        total = len(sample_times(round(self.info.duration_seconds * 1000), step))
        while index < total:
            yield SampledFrame(FrameInfo(index, index * step), _frame_image(shown))
            index += 1


def sampled_frames(
    source: Source,
    sample_ms: int = DEFAULT_SAMPLE_MS,
    *,
    max_seconds: float = MAX_VIDEO_SECONDS,
) -> Iterator[SampledFrame]:
    """The sampled frames of a video (see VideoReader.frames). VideoRejected when it
    cannot be read."""
    with VideoReader(source, max_seconds=max_seconds) as reader:
        yield from reader.frames(sample_ms)


def frame_at(source: Source, time_ms: int) -> Image.Image:
    """The first frame at or after ``time_ms`` (RGB; the last frame when the video ends
    before). For a preview: seeks to the key frame before, then decodes forward."""
    import av

    with _open(source) as container:
        stream = _stream(container)
        base = stream.time_base
        start = stream.start_time or 0
        if base and time_ms > 0:
            with _suppress_ffmpeg():
                container.seek(start + int(time_ms / 1000 / base), stream=stream, backward=True)
        last = None
        try:
            for frame in container.decode(stream):
                last = frame
                if frame.pts is None or not base:
                    break
                if float((frame.pts - start) * base * 1000) + 0.5 >= time_ms:
                    break
        except av.error.FFmpegError as exc:
            if last is None:
                raise VideoRejected(
                    f"the video cannot be decoded (FFmpeg: {_reason(exc)})"
                ) from None
        if last is None:
            raise VideoRejected("the video has no frame that can be decoded")
        return _frame_image(last)


class _suppress_ffmpeg:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: object, tb: object) -> bool:
        import av

        return isinstance(exc, av.error.FFmpegError)


def encode(
    frames: Iterable[Image.Image],
    *,
    fps: int = 10,
    container: str = "mp4",
    codec: str = "mpeg4",
) -> bytes:
    """Frames (all one size) as a video file's bytes: for the demo's videos and the tests."""
    import av
    import numpy as np

    out = io.BytesIO()
    with av.open(out, mode="w", format=container) as muxer:
        stream: VideoStream | None = None
        for image in frames:
            rgb = image.convert("RGB")
            if stream is None:
                stream = muxer.add_stream(codec, rate=fps)  # type: ignore[assignment]
                assert stream is not None
                stream.width, stream.height = rgb.size
                stream.pix_fmt = "yuv420p"
            frame = av.VideoFrame.from_ndarray(np.asarray(rgb), format="rgb24")
            for packet in stream.encode(frame):
                muxer.mux(packet)
        if stream is None:
            raise ValueError("encode needs at least one frame")
        for packet in stream.encode():
            muxer.mux(packet)
    return out.getvalue()
