"""Input detail, opened from the Explorer with enter: preview, metadata, every annotation.

A video (issue #27) lists its sampled frames instead, each with its time and the concepts,
status and writer of its frame annotations (a frame with none shows "-"); left/right (or
moving the cursor onto a frame's row) chooses the frame the preview shows. The video's bytes
are fetched once per screen; the chosen frame is decoded in a thread (tui.widgets.frames).

`c` copies the input id and `y` the highlighted annotation's id (OSC 52, works over SSH);
`o` shows and copies the image URL; `b` shows and copies the path of a local file with the image
(embedded backend: the content-addressed blob file under the data dir; small images live inside
the database, so `b` writes a copy to the data dir's ``exports/`` first), `escape` goes back.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, cast

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker, WorkerState

from api.client import ClarifaiClient
from api.errors import ApiError
from api.explore import sampled_frame_count
from api.models import DEFAULT_SAMPLE_MS, Annotation, FrameInfo, Input
from api.review import history_of
from api.video import MAX_VIDEO_URL_BYTES, VideoRejected, sample_times, sniff
from tui.widgets.area import bindings_for
from tui.widgets.display import (
    annotation_status_name,
    author_text,
    format_full_time,
    frame_time,
    input_status_name,
    short_duration,
)
from tui.widgets.frames import VideoFrames, frame_label
from tui.widgets.preview import ImagePreview
from tui.widgets.session import Host
from tui.widgets.tables import RowTable
from tui.widgets.text import safe


def blob_sha(data: bytes) -> str:
    """The content address the embedded backend stores image bytes under (SHA-256)."""
    return hashlib.sha256(data).hexdigest()


_SUFFIXES = {b"\xff\xd8": ".jpg", b"\x89PNG": ".png", b"GIF8": ".gif", b"BM": ".bmp"}


def _local_data_dir(app: object) -> Path | None:
    profile = getattr(app, "profile", None)
    if profile is None or not getattr(profile, "is_local", False):
        return None
    try:
        return Path(profile.resolved_data_dir())
    except Exception:
        return None


def local_blob_path(app: object, data: bytes) -> Path | None:
    """Where the embedded backend keeps these bytes as a file, if the profile is local and it
    does (large images; small ones are kept inside its database)."""
    data_dir = _local_data_dir(app)
    if data_dir is None:
        return None
    sha = blob_sha(data)
    path = data_dir / "blobs" / sha[:2] / sha
    return path if path.exists() else None


def export_image(app: object, data: bytes) -> Path | None:
    """A file with these bytes under the local data dir's ``exports/`` (written once, whole:
    a temp file renamed into place). None when the profile is not local."""
    data_dir = _local_data_dir(app)
    if data_dir is None:
        return None
    suffix = next((s for head, s in _SUFFIXES.items() if data.startswith(head)), "")
    if not suffix and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        suffix = ".webp"
    if not suffix:
        container = sniff(data[:64])
        suffix = f".{container}" if container else ""
    path = data_dir / "exports" / f"{blob_sha(data)}{suffix}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def shown(text: str) -> str:
    """Server text for a markup Static: through the sanitiser, then markup-escaped."""
    return escape(safe(text))


def concepts_text(annotation: Annotation) -> str:
    return ", ".join(f"{c.name or c.id} {c.value:.2f}" for c in annotation.concepts) or "-"


@dataclass(frozen=True)
class DetailRow:
    """One row of the annotation table: an annotation, and for a video the frame it labels
    (a sampled frame with no annotation is a row with only its frame)."""

    annotation: Annotation | None
    frame: FrameInfo | None = None

    @property
    def key(self) -> str:
        if self.annotation is not None:
            return self.annotation.id
        return f"frame-{self.frame.index if self.frame else 0}"


def video_rows(
    annotations: list[Annotation], frames: list[FrameInfo]
) -> tuple[list[DetailRow], list[FrameInfo]]:
    """A video's table rows: its whole-input annotations first, then every frame in time
    order with its annotations (or alone); and the frames, sampled or annotated, in order."""
    by_index: dict[int, list[Annotation]] = {}
    known = {f.index: f for f in frames}
    rows = [DetailRow(a) for a in annotations if a.frame is None]
    for annotation in annotations:
        if annotation.frame is not None:
            by_index.setdefault(annotation.frame.index, []).append(annotation)
            known.setdefault(annotation.frame.index, annotation.frame)
    ordered = sorted(known.values(), key=lambda f: (f.time_ms, f.index))
    for frame in ordered:
        labelled = by_index.get(frame.index)
        if labelled:
            rows.extend(DetailRow(a, frame) for a in labelled)
        else:
            rows.append(DetailRow(None, frame))
    return rows, ordered


class InputDetailScreen(Screen[None]):
    """One input: preview on the left, metadata and annotations on the right."""

    BINDINGS: ClassVar = bindings_for("input_detail")
    DEFAULT_CSS = """
    InputDetailScreen #detail-title { height: 1; background: $panel; padding: 0 1; }
    InputDetailScreen #detail-body { height: 1fr; }
    InputDetailScreen #detail-preview { width: 2fr; height: 1fr; }
    InputDetailScreen #detail-side { width: 3fr; height: 1fr; padding: 0 1; }
    InputDetailScreen #detail-meta { height: auto; max-height: 6; }
    InputDetailScreen #detail-annotations { height: 1fr; min-height: 4; }
    InputDetailScreen #detail-annotation { height: auto; max-height: 8; color: $text-muted; }
    InputDetailScreen #detail-message { height: auto; max-height: 3; background: $panel;
        padding: 0 1; }
    """

    def __init__(self, client: ClarifaiClient, input_id: str) -> None:
        super().__init__()
        self.client = client
        self.input_id = input_id
        self.input: Input | None = None
        self.annotations: list[Annotation] = []
        self.image: bytes | None = None
        self.blob_path: Path | None = None
        #: Model version id -> model name, for who wrote each annotation.
        self.model_names: dict[str, str] = {}
        #: The table's rows (one per annotation; for a video, per frame as well).
        self.rows: list[DetailRow] = []
        #: A video's frames in time order, the one the preview shows, and its bytes.
        self.frames: list[FrameInfo] = []
        self.chosen: FrameInfo | None = None
        self.video: VideoFrames | None = None
        self.frame_ms = DEFAULT_SAMPLE_MS

    def compose(self) -> ComposeResult:
        yield Static(f"[b]Input[/b] {shown(self.input_id)}", id="detail-title")
        with Horizontal(id="detail-body"):
            yield ImagePreview(id="detail-preview", label="")
            with Vertical(id="detail-side"):
                yield Static("loading...", id="detail-meta")
                table: DataTable[Any] = RowTable(id="detail-annotations", cursor_type="row")
                yield table
                yield Static("", id="detail-annotation")
        yield Static("", id="detail-message")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#detail-annotations", DataTable)
        self._columns(video=False)
        table.focus()
        self.run_worker(self._load(), group="detail", exit_on_error=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Left/right (frames) are a video's keys: hidden from the footer for an image."""
        if action == "frame":
            return self.input is not None and self.input.is_video
        return True

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            cast(Host, self.app).report_error(event.worker.error, context=event.worker.name)

    async def _load(self) -> None:
        self.input = item = await self.client.get_input(self.input_id)
        annotations: list[Annotation] = []
        page_no = 1
        while True:
            page = await self.client.list_annotations(
                input_ids=[item.id], list_all_annotations=True, page=page_no, per_page=1000
            )
            annotations.extend(page)
            if not page.has_more:
                break
            page_no += 1
        self.annotations = annotations
        versions = [a.model_version_id for a in annotations if a.model_version_id]
        if versions:
            names = cast(Host, self.app).session.model_names(self.client.app_id or "")
            self.model_names = await names.for_versions(self.client, versions)
        if item.is_video:
            await self._load_frames(item)
            self.refresh_bindings()
        self._show_input(item)
        self._show_annotations()
        preview = self.query_one(ImagePreview)
        if not item.url:
            preview.set_image(None)
            return
        try:
            if item.is_video:
                data = await self.client.fetch_image(item, max_bytes=MAX_VIDEO_URL_BYTES)
            else:
                data = await self.client.fetch_image(item)
        except Exception as exc:
            preview.set_image(None)
            self._message(f"no preview: {exc}")
            return
        self.image = data
        self.blob_path = local_blob_path(self.app, data)
        if item.is_video:
            self.video = VideoFrames(item.id, data)
            self._choose(self.chosen or FrameInfo(0, 0), force=True)
        else:
            preview.set_image(data, label=f"{len(data):,} bytes")

    async def _load_frames(self, item: Input) -> None:
        """A video's sampled frames, at the app's sample_ms (one GetApp)."""
        try:
            self.frame_ms = (await self.client.get_app()).frame_ms
        except ApiError:
            self.frame_ms = DEFAULT_SAMPLE_MS
        sampled: list[FrameInfo] = []
        if item.video is not None:
            duration_ms = round(item.video.duration_seconds * 1000)
            sampled = [
                FrameInfo(n, t) for n, t in enumerate(sample_times(duration_ms, self.frame_ms))
            ]
        self.rows, self.frames = video_rows(self.annotations, sampled)

    def _video_line(self, item: Input) -> str:
        info = item.video
        if info is None:
            return "video   not processed yet: its frames are listed once it is"
        frames = sampled_frame_count(item, self.frame_ms) or 0
        # What matters first (the line wraps in a narrow pane): length and frames.
        parts = [
            short_duration(info.duration_seconds),
            f"{frames} frames, 1 every {self.frame_ms / 1000:g} s",
        ]
        if info.width and info.height:
            parts.append(f"{info.width}x{info.height}")
        if info.fps:
            parts.append(f"{info.fps:g} fps")
        if info.video_format:
            parts.append(shown(info.video_format))
        return "video   " + " · ".join(parts)

    def _show_input(self, item: Input) -> None:
        lines = [
            f"status  {input_status_name(item.status_code)} ({item.status_code})"
            + (f" {shown(item.status_description)}" if item.status_description else ""),
        ]
        if item.is_video:
            lines.append(self._video_line(item))
        lines += [
            f"created {format_full_time(item.created_at)}",
            f"url     {shown(item.url) or '-'}",
        ]
        if item.concepts:
            labels = ", ".join(f"{c.name or c.id} {c.value:.2f}" for c in item.concepts)
            lines.append(f"labels  {shown(labels)}")
        if item.metadata:
            lines.append(f"meta    {shown(json.dumps(dict(item.metadata), sort_keys=True))}")
        if item.status_details:
            lines.append(f"details {shown(item.status_details)}")
        self.query_one("#detail-meta", Static).update("\n".join(lines))

    def _columns(self, *, video: bool) -> None:
        table = self.query_one("#detail-annotations", DataTable)
        table.clear(columns=True)
        if video:
            table.add_column("time", key="time")
        table.add_column("status", key="status")
        table.add_column("concepts", key="concepts")
        table.add_column("by", key="by")

    def _show_annotations(self) -> None:
        table = self.query_one("#detail-annotations", DataTable)
        video = self.input is not None and self.input.is_video
        if not video:
            self.rows = [DetailRow(a) for a in self.annotations]
        self._columns(video=video)
        for row in self.rows:
            annotation = row.annotation
            cells = [
                annotation_status_name(annotation.status_code) if annotation else "-",
                concepts_text(annotation) if annotation else "-",
                author_text(annotation, self.model_names) if annotation else "",
            ]
            if video:
                cells.insert(0, frame_time(row.frame.time_ms) if row.frame else "whole")
            table.add_row(*cells, key=row.key)
        if not self.rows:
            self.query_one("#detail-annotation", Static).update("no annotations")
        else:
            table.move_cursor(row=0)
            self._show_row(self.rows[0])

    def _show_row(self, row: DetailRow) -> None:
        if row.frame is not None:
            self._choose(row.frame)
        if row.annotation is not None:
            self._show_annotation(row.annotation)
        elif row.frame is not None:
            self.query_one("#detail-annotation", Static).update(
                f"{frame_label(row.frame, len(self.frames))}: no annotation"
            )

    def _show_annotation(self, annotation: Annotation) -> None:
        by = author_text(annotation, self.model_names)
        lines = [
            f"annotation {annotation.id}",
            f"{annotation_status_name(annotation.status_code)} · {by}"
            f" · created {format_full_time(annotation.created_at)}",
        ]
        for entry in history_of(annotation):
            lines.append(
                f"  {entry.get('at', '?')} {entry.get('action', '?')} by {entry.get('by', '?')}"
                + (
                    f" (removed {', '.join(map(str, entry['removed_concepts']))})"
                    if entry.get("removed_concepts")
                    else ""
                )
            )
        self.query_one("#detail-annotation", Static).update(shown("\n".join(lines)))

    @property
    def highlighted_row(self) -> DetailRow | None:
        table = self.query_one("#detail-annotations", DataTable)
        if not self.rows or table.row_count == 0:
            return None
        return self.rows[min(max(table.cursor_row, 0), len(self.rows) - 1)]

    @property
    def highlighted(self) -> Annotation | None:
        row = self.highlighted_row
        return row.annotation if row is not None else None

    @on(DataTable.RowHighlighted, "#detail-annotations")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        row = self.highlighted_row
        if row is not None:
            self._show_row(row)

    # -- a video's frames ------------------------------------------------------------------

    def _choose(self, frame: FrameInfo, *, force: bool = False) -> None:
        """Show `frame` in the preview (decoded in a thread; the latest choice wins)."""
        if frame == self.chosen and not force:
            return
        self.chosen = frame
        if self.video is not None:
            self.run_worker(
                self._show_frame(self.video, frame),
                group="detail-frame",
                exclusive=True,
                exit_on_error=False,
            )

    async def _show_frame(self, video: VideoFrames, frame: FrameInfo) -> None:
        preview = self.query_one(ImagePreview)
        try:
            png = await asyncio.to_thread(video.png, frame.time_ms)
        except VideoRejected as exc:
            if self.chosen == frame:
                preview.set_image(None, label=f"no preview: {safe(exc.description, one_line=True)}")
            return
        if self.chosen != frame:
            return
        label = frame_label(frame, len(self.frames) or None)
        if self.input is not None and self.input.video is None:
            label += " · not processed yet"
        preview.set_image(png, label=label)

    def _message(self, text: str) -> None:
        self.query_one("#detail-message", Static).update(shown(text))

    def _copy(self, what: str, text: str) -> None:
        self.app.copy_to_clipboard(text)
        self._message(f"copied {what}: {text}")

    # -- actions ---------------------------------------------------------------------------

    def action_back(self) -> None:
        self.dismiss(None)

    def action_copy_input(self) -> None:
        self._copy("input id", self.input_id)

    def action_copy_annotation(self) -> None:
        annotation = self.highlighted
        if annotation is None:
            self._message("no annotation to copy")
            return
        self._copy("annotation id", annotation.id)

    def action_frame(self, step: int) -> None:
        """Choose the previous or next frame of a video (the cursor moves to its row)."""
        if self.input is None or not self.input.is_video:
            self._message("left/right choose a video's frame: this input is an image")
            return
        if not self.frames:
            self._message("no frames yet: the video is not processed")
            return
        current = self.chosen or self.frames[0]
        position = next((n for n, f in enumerate(self.frames) if f.index == current.index), 0)
        target = self.frames[min(max(position + step, 0), len(self.frames) - 1)]
        if target == current and self.chosen is not None:
            self._message("first frame" if step < 0 else "last frame")
            return
        row = next((n for n, r in enumerate(self.rows) if r.frame == target), None)
        if row is not None:
            self.query_one("#detail-annotations", DataTable).move_cursor(row=row)
        self._choose(target)

    def action_open_url(self) -> None:
        url = self.input.url if self.input is not None else ""
        what = "video URL" if self.input is not None and self.input.is_video else "image URL"
        if not url:
            self._message(f"this input has no {what}")
            return
        self._copy(what, url)

    def action_blob_path(self) -> None:
        if self.blob_path is None and self.image is not None:
            try:
                self.blob_path = export_image(self.app, self.image)
            except OSError as exc:
                self._message(f"could not write a copy of the image: {exc}")
                return
        if self.blob_path is None:
            self._message(
                "no local image file: the image is not stored by the embedded backend here"
            )
            return
        self._copy("image file", str(self.blob_path))
