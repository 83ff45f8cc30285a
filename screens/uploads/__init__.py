"""The Uploads area: upload image files, folders and URLs into the current app.

Left, a file browser (`space` marks files and folders, `a` adds the marked ones, or the
highlighted one, to the queue; `r` toggles whether folders are read recursively); `u` pastes
URLs, one a line; `c` sets concepts for the next batch. Right, the queue: one row per item
with its state (queued, uploading, acknowledged, processing, done, failed with the reason),
under it a progress bar with counts, rate and ETA. `p` pauses and resumes, `x` cancels.

It runs the engine of `clarifai-tui upload` (`api.upload.Uploader`): input ids come from the
content, and the engine's journal (under the profile's state dir) records every item, so
nothing is sent twice. The queue itself (what was added and not yet settled) is kept in a
small file beside the journal, written before anything is sent: quit in the middle, start
again, and the unfinished batches resume by themselves. Server-side processing (30001 ->
30000/30002) is followed until every item is settled.

Cancel (`x`) stops the running batch and drops the rest of the queue; what the server has
already accepted stays in the app (the journal knows it, so adding the same files again
sends nothing twice).

The package (issue #23): `screen.py` is the area (`UploadsScreen`), `pickers.py` what adds
to its queue (`MarkingTree`, `UrlPasteScreen`), `progress.py` what its rows and lines say,
and `saved_queue.py` the queue kept on disk between sessions.
"""

from screens.uploads.pickers import MarkingTree, UrlPasteScreen
from screens.uploads.progress import STATE_STYLES, duration
from screens.uploads.saved_queue import QUEUE_VERSION, Batch, load_queue, queue_path, save_queue
from screens.uploads.screen import UploadsScreen

__all__ = [
    "QUEUE_VERSION",
    "STATE_STYLES",
    "Batch",
    "MarkingTree",
    "UploadsScreen",
    "UrlPasteScreen",
    "duration",
    "load_queue",
    "queue_path",
    "save_queue",
]
