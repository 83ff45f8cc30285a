"""A video's frames for the previews (issue #27): the detail and review screens fetch a video's
bytes once, and show the frame a person chose as an image.

`VideoFrames.png` seeks and decodes one frame with `api.video.frame_at` (PyAV) and encodes it
as PNG for `ImagePreview.set_image`; it blocks, so the screens call it in a thread
(`asyncio.to_thread` inside their workers), never on the event loop. The last few frames shown
are kept, so stepping back and forth does not decode them again.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from typing import Final

from api.models import FrameInfo
from tui.widgets.display import frame_time

#: Decoded frames kept per video (PNG bytes of at most 1024 pixels a side: tens of kB each).
KEEP_FRAMES: Final = 16


class VideoFrames:
    """One video's bytes, and its frames as PNG by time (thread-safe)."""

    def __init__(self, input_id: str, data: bytes, *, keep: int = KEEP_FRAMES) -> None:
        self.input_id = input_id
        self.data = data
        self._keep = keep
        self._pngs: OrderedDict[int, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def png(self, time_ms: int) -> bytes:
        """The frame at ``time_ms`` (the first at or after it) as PNG. Blocks: call it in a
        thread. Raises ``api.video.VideoRejected`` when the video cannot be decoded."""
        with self._lock:
            cached = self._pngs.get(time_ms)
            if cached is not None:
                self._pngs.move_to_end(time_ms)
                return cached
        from api.video import frame_at

        image = frame_at(self.data, time_ms)
        out = io.BytesIO()
        image.save(out, format="PNG")
        png = out.getvalue()
        with self._lock:
            self._pngs[time_ms] = png
            while len(self._pngs) > self._keep:
                self._pngs.popitem(last=False)
        return png


def frame_label(frame: FrameInfo, total: int | None = None) -> str:
    """`frame 2 of 4 at 0:01.0` (frames counted from 1; the platform's index is 0-based)."""
    of = f" of {total}" if total else ""
    return f"frame {frame.index + 1}{of} at {frame_time(frame.time_ms)}"
