"""The resumable upload engine behind `clarifai-tui upload` and the TUI's Uploads area.

    sources, problems = collect_sources(["photos/"], recursive=True, url_files=["urls.txt"])
    uploader = Uploader(client, state_dir=state_dir, concepts=["cat"], on_event=print)
    summary = await uploader.run(sources + problems)

How it stays correct when killed at any moment (SIGKILL included):
- Every input id is chosen here, from the content (`content_input_id`) or the URL, so a
  re-sent input can never become a second copy: the server answers INPUT_DUPLICATE.
- A journal (SQLite, one per app, under `state_dir/uploads/`) records each source, keyed by
  path + size + mtime_ns (or by URL), with its input id and state. A state is written
  *before* the step it announces (`uploading` before the PostInputs call), so on resume:
  `queued`/`uploading` are (re)posted (a duplicate answer for an `uploading` item means
  the killed run had sent it: counted as uploaded); `acknowledged` items are not re-sent but
  followed; settled items are checked on the server (one ListInputs per 128 ids) and
  re-sent if they are gone. Only `uploading` has to be on disk before the call; a later
  state lost to a kill leaves the item `uploading`, which a resumed run re-posts and counts
  as its own. So journal writes run on a thread of their own, never stalling the calls in
  flight, and whatever piles up meanwhile goes into one transaction (fsync).
- Batches are read and journalled ahead of the free call slots, so an answered call is
  followed at once by the next one, as in a bare loop of prepared requests.
- Processing is followed (ListInputs by ids) until each input is 30000 (done) or failed,
  whose reason (status description and details) is reported with the path.

Videos (files and URLs named .mp4, .mov, .webm, .mkv, .avi, ...) go the same way as
``data.video``, each alone in its PostInputs (the platform takes one video a request), with
the same ids, journal and resume. A video file is checked here first against the platform's
limits (size, a readable container with a video stream, length; `scan.video_problem`): one
that fails is reported with the reason and never sent.

Concepts given for the batch are sent as `data.concepts` (value 1) on each input; Clarifai
turns the data of a PostInputs call into an input-level annotation of the app owner
(docs: "Create Annotations"), so they count as labels. Concepts are created first when
missing. An input that is already present keeps its concepts (the batch's are not added).

The package, by job:
- `scan`: collecting sources from files, folders, URL files and URLs (`collect_sources`), and
  the checks of a file before it is sent (`image_problem`, `video_problem`);
- `events`: item states, the events and summary a run reports, and `UploadController`;
- `journal`: the on-disk journal (`Journal`) and the thread that writes it;
- `engine`: `Uploader` and `UploadOptions`, the batching, posting, retries and following.
"""

from __future__ import annotations

from api.models import VIDEO_EXTENSIONS
from api.upload.engine import Uploader, UploadOptions
from api.upload.events import (
    EventCallback,
    ItemEvent,
    ItemReport,
    ItemState,
    ProgressEvent,
    UploadController,
    UploadEvent,
    UploadSummary,
)
from api.upload.journal import Journal
from api.upload.scan import IMAGE_EXTENSIONS, UploadSource, collect_sources, read_url_file

__all__ = [
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "EventCallback",
    "ItemEvent",
    "ItemReport",
    "ItemState",
    "Journal",
    "ProgressEvent",
    "UploadController",
    "UploadEvent",
    "UploadOptions",
    "UploadSource",
    "UploadSummary",
    "Uploader",
    "collect_sources",
    "read_url_file",
]
