"""Small video files for tests, made with PyAV: a good one, an audio-only one and one whose
container says it runs for hours (two frames, hours apart: a few KB)."""

from __future__ import annotations

import io
from fractions import Fraction

from api.video import encode


def tiny_video(frames: int = 5, *, size: int = 32, fps: int = 5, shade: int = 0) -> bytes:
    """An MP4 (MPEG-4 part 2) of `frames` grey frames, each a shade lighter; `shade` makes
    videos of different content."""
    from PIL import Image

    return encode(
        (Image.new("RGB", (size, size), ((shade * 37 + i * 20) % 256,) * 3) for i in range(frames)),
        fps=fps,
    )


def audio_only_mp4() -> bytes:
    """An MP4 holding one AAC audio stream and no video."""
    import av
    import numpy as np

    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as muxer:
        stream = muxer.add_stream("aac", rate=8000)
        for k in range(4):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate = 8000
            frame.pts = k * 1024
            for packet in stream.encode(frame):
                muxer.mux(packet)
        for packet in stream.encode():
            muxer.mux(packet)
    return out.getvalue()


def hours_long_mp4(hours: float = 10) -> bytes:
    """An MP4 of two frames `hours` apart: its header says it lasts that long."""
    import av
    import numpy as np

    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as muxer:
        stream = muxer.add_stream("mpeg4", rate=1)
        stream.width = stream.height = 16
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1)
        for pts in (0, int(hours * 3600)):
            frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), dtype=np.uint8), "rgb24")
            frame.pts = pts
            frame.time_base = Fraction(1, 1)
            for packet in stream.encode(frame):
                muxer.mux(packet)
        for packet in stream.encode():
            muxer.mux(packet)
    return out.getvalue()
