"""The Review area: PENDING annotations one at a time: accept, reject, toggle, skip, undo.

Each annotation is claimed with a short lease before it is shown (see `api.review`), so two
reviewers on one server never review the same one; decisions are written at once. Keys
pressed while a decision is being written are queued and carried out in order, never
dropped. The number keys switch areas here as everywhere: a concept is toggled by moving to
it (j/k) and pressing space.

A video's frame annotation (issue #27) says which frame it labels ("frame 2 at 0:01.0") and
previews that frame: the video's bytes are fetched once for its annotations in a row, and the
frame is decoded in a thread (tui.widgets.frames).
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Static

from api.models import Annotation, FrameInfo
from api.review import ReviewQueue
from api.video import MAX_VIDEO_URL_BYTES, VideoRejected
from tui.widgets.area import AreaScreen, bindings_for
from tui.widgets.display import author_text
from tui.widgets.frames import VideoFrames, frame_label
from tui.widgets.preview import ImagePreview
from tui.widgets.text import safe

HINT = "a accept · r reject · j/k pick a concept, space toggles it · s skip · u undo"


class ReviewScreen(AreaScreen):
    AREA: ClassVar[str] = "review"
    BINDINGS: ClassVar = bindings_for("review")
    #: Renew the lease this often (a third of its lifetime).
    LEASE_TTL: ClassVar[float] = 120.0

    DEFAULT_CSS = """
    ReviewScreen #review-counter { height: 1; background: $panel; padding: 0 1; }
    ReviewScreen #review-body { height: 1fr; }
    ReviewScreen #review-preview { width: 1fr; height: 1fr; }
    ReviewScreen #review-side { width: 1fr; height: 1fr; padding: 0 1; }
    ReviewScreen #review-meta { height: auto; }
    ReviewScreen #review-concepts { height: 1fr; margin-top: 1; }
    ReviewScreen #review-hint { height: auto; color: $text-muted; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.queue: ReviewQueue | None = None
        self.current: Annotation | None = None
        #: Concept ids switched off for the current annotation (dropped on accept).
        self.off: set[str] = set()
        self.busy = False
        #: The concept row the toggle key acts on (0-based).
        self.cursor = 0
        #: Decisions pressed while another was being written, carried out in order.
        self.pending: list[str] = []
        self._draining = False
        self._renew_timer: Timer | None = None
        self._app_id = ""
        #: Model version id -> model name, for who wrote the annotation shown.
        self.model_names: dict[str, str] = {}
        #: The last video previewed (its frame annotations often come one after another).
        self.video: VideoFrames | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("", id="review-counter")
        with Horizontal(id="review-body"):
            yield ImagePreview(id="review-preview")
            with Vertical(id="review-side"):
                yield Static("", id="review-meta")
                yield Static("", id="review-concepts")
                yield Static(HINT, id="review-hint")

    def on_mount(self) -> None:
        self._renew_timer = self.set_interval(self.LEASE_TTL / 3, self._renew)
        self.start()

    def on_session_changed(self) -> None:
        super().on_session_changed()
        if self.session.app_id != self._app_id:
            self.start()

    def on_screen_resume(self) -> None:
        if self.queue is not None and self.current is None and not self.busy:
            self._run(self._next())

    def on_screen_suspend(self) -> None:
        queue = self.queue
        if queue is not None and queue.current is not None:
            self.current = None
            self.run_worker(queue.release(), group="review-release", exit_on_error=False)

    # -- plumbing --------------------------------------------------------------------------

    def start(self) -> None:
        """A fresh queue on the current app."""
        session = self.session
        old = self.queue
        if old is not None and old.current is not None:
            self.run_worker(old.release(), group="review-release", exit_on_error=False)
        self.queue = None
        self.current = None
        self.pending.clear()
        self._app_id = session.app_id
        if session.client is None or not session.app_id:
            self._counter(session.error or "no app selected: ctrl+o picks one")
            self._show(None)
            return
        self.queue = ReviewQueue(session.app_client(), ttl=self.LEASE_TTL)
        self.model_names = {}
        self._counter("loading the queue...")
        self._run(self._next())

    def _run(self, work: object) -> None:
        self.run_worker(work, group="review", exclusive=False, exit_on_error=False)  # type: ignore[arg-type]

    async def _next(self) -> None:
        queue = self.queue
        if queue is None:
            return
        self.busy = True
        try:
            annotation = await queue.next()
            if annotation is not None and annotation.model_version_id:
                names = self.session.model_names(self._app_id)
                versions = [annotation.model_version_id]
                self.model_names = await names.for_versions(queue.client, versions)
        finally:
            self.busy = False
        if queue is self.queue:
            self._show(annotation)
            self._drain()
            await self._preview(annotation)

    def _drain(self) -> None:
        """Carry out the next queued key, if any (each one's work calls this again)."""
        if not self.pending or self.busy:
            return
        if self.current is None:
            dropped = len(self.pending)
            self.pending.clear()
            self.notify(f"nothing left to review: {dropped} queued key(s) not used")
            return
        self._draining = True
        try:
            getattr(self, f"action_{self.pending.pop(0)}")()
        finally:
            self._draining = False

    def _counter(self, text: str) -> None:
        self.query_one("#review-counter", Static).update(text)

    def _counter_text(self) -> str:
        queue = self.queue
        if queue is None:
            return ""
        counts = queue.counts
        parts: list[str] = []
        if counts is not None:
            left = counts.available
            parts.append(f"{counts.text(left)} left to review")
            others = counts.pending - counts.available
            if others > 0:
                parts.append(f"{others} with other reviewers")
        parts.append(f"{queue.reviewed} reviewed")
        if queue.skipped:
            parts.append(f"{len(queue.skipped)} skipped")
        if queue.decisions:
            last = queue.decisions[-1]
            parts.append(f"last: {last.action} (u undoes)")
        if self.pending:
            parts.append(f"{len(self.pending)} queued")
        return " · ".join(parts)

    def _show(self, annotation: Annotation | None) -> None:
        self.current = annotation
        self.off = set()
        self.cursor = 0
        meta = self.query_one("#review-meta", Static)
        if annotation is None:
            meta.update(
                "Nothing to review: no PENDING annotation is free."
                if self.queue is not None
                else ""
            )
            self.query_one("#review-concepts", Static).update("")
            self.query_one(ImagePreview).set_image(None)
        else:
            by = author_text(annotation, self.model_names)
            text = f"input {annotation.input_id}\nannotation {annotation.id}\nby {by}"
            if annotation.frame is not None:
                text += f"\n{frame_label(annotation.frame)}"
            meta.update(escape(safe(text)))
            self._show_concepts()
        if self.queue is not None:
            self._counter(self._counter_text())

    def _show_concepts(self) -> None:
        annotation = self.current
        if annotation is None:
            return
        lines = []
        for n, concept in enumerate(annotation.concepts):
            on = concept.id not in self.off
            # The state is a word as well as a mark: no colour needed to read it (NO_COLOR).
            mark = r"\[x] keep" if on else r"\[ ] drop"
            pointer = ">" if n == self.cursor else " "
            name = escape(safe(concept.name or concept.id, one_line=True, limit=60))
            text = f"{pointer} {mark} {name} {concept.value:.2f}"
            lines.append(text if on else f"[dim]{text}[/]")
        if not lines:
            lines.append("(no concepts)")
        self.query_one("#review-concepts", Static).update("\n".join(lines))

    async def _preview(self, annotation: Annotation | None) -> None:
        preview = self.query_one(ImagePreview)
        queue = self.queue
        if annotation is None or queue is None:
            return
        client = queue.client
        try:
            item = await client.get_input(annotation.input_id)
            if item.is_video and item.url:
                await self._preview_frame(annotation, item.id, item.url)
                return
            data = await client.fetch_image(item) if item.url else None
        except Exception as exc:
            preview.set_image(None, label=f"no preview: {exc}")
            return
        if self.current is annotation:
            preview.set_image(data)

    async def _preview_frame(self, annotation: Annotation, input_id: str, url: str) -> None:
        """The frame a video's annotation labels (the first frame for a whole-video one)."""
        queue = self.queue
        video = self.video
        if video is None or video.input_id != input_id:
            if queue is None:
                return
            data = await queue.client.fetch_image(url, max_bytes=MAX_VIDEO_URL_BYTES)
            self.video = video = VideoFrames(input_id, data)
        frame = annotation.frame or FrameInfo(0, 0)
        preview = self.query_one(ImagePreview)
        try:
            png = await asyncio.to_thread(video.png, frame.time_ms)
        except VideoRejected as exc:
            if self.current is annotation:
                preview.set_image(None, label=f"no preview: {safe(exc.description, one_line=True)}")
            return
        if self.current is annotation:
            preview.set_image(png, label=frame_label(frame) if annotation.frame else "video")

    def _renew(self) -> None:
        queue = self.queue
        if queue is not None and queue.current is not None and not self.busy:
            self.run_worker(queue.renew(), group="review-renew", exit_on_error=False)

    # -- actions ---------------------------------------------------------------------------

    def _ready(self, action: str) -> ReviewQueue | None:
        """The queue, when `action` can run now; while another decision is being written the
        key is queued instead (never dropped)."""
        if self.queue is None:
            return None
        if self.busy or (self.pending and not self._draining):
            self.pending.append(action)
            self._counter(self._counter_text())
            return None
        return self.queue

    def action_accept(self) -> None:
        self._decide(accept=True)

    def action_reject(self) -> None:
        self._decide(accept=False)

    def _decide(self, *, accept: bool) -> None:
        queue = self._ready("accept" if accept else "reject")
        annotation = self.current
        if queue is None or annotation is None:
            return
        keep = [c.id for c in annotation.concepts if c.id not in self.off] if accept else None
        if accept and self.off and not keep:
            self.notify("every concept is switched off: reject instead (r)", severity="warning")
            return
        self.busy = True

        async def work() -> None:
            try:
                await queue.decide(accept, keep if self.off else None)
            finally:
                self.busy = False
            await self._next()

        self._run(work())

    def action_skip(self) -> None:
        queue = self._ready("skip")
        if queue is None or self.current is None:
            return
        self.busy = True

        async def work() -> None:
            try:
                await queue.skip()
            finally:
                self.busy = False
            await self._next()

        self._run(work())

    def action_undo(self) -> None:
        queue = self._ready("undo")
        if queue is None:
            return
        if not queue.decisions:
            self.notify("nothing to undo")
            return
        self.busy = True

        async def work() -> None:
            try:
                restored = await queue.undo()
                await queue.refresh_counts()
            finally:
                self.busy = False
            self._show(restored)
            self._drain()
            await self._preview(restored)

        self._run(work())

    def action_concept_cursor(self, step: int) -> None:
        annotation = self.current
        if annotation is None or not annotation.concepts:
            return
        self.cursor = (self.cursor + step) % len(annotation.concepts)
        self._show_concepts()

    def action_toggle_concept(self) -> None:
        """Keep or drop the concept under the cursor (dropped ones are left out on accept)."""
        annotation = self.current
        if annotation is None or not 0 <= self.cursor < len(annotation.concepts):
            return
        concept_id = annotation.concepts[self.cursor].id
        self.off.symmetric_difference_update({concept_id})
        self._show_concepts()

    def action_reload(self) -> None:
        self.start()
