"""Input detail, opened from the Explorer with enter: preview, metadata, every annotation.

`c` copies the input id and `y` the highlighted annotation's id (OSC 52, works over SSH);
`o` shows and copies the image URL; `b` shows and copies the path of a local file with the image
(embedded backend: the content-addressed blob file under the data dir; small images live inside
the database, so `b` writes a copy to the data dir's ``exports/`` first), `escape` goes back.
"""

from __future__ import annotations

import hashlib
import json
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
from api.explore import model_version_names
from api.models import Annotation, Input
from api.review import history_of
from tui.widgets.area import bindings_for
from tui.widgets.display import (
    annotation_status_name,
    author_text,
    format_full_time,
    input_status_name,
)
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
        table.add_column("status", key="status")
        table.add_column("concepts", key="concepts")
        table.add_column("by", key="by")
        table.focus()
        self.run_worker(self._load(), group="detail", exit_on_error=False)

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
        if any(a.model_version_id for a in annotations):
            self.model_names = await model_version_names(self.client)
        self._show_input(item)
        self._show_annotations()
        preview = self.query_one(ImagePreview)
        if not item.url:
            preview.set_image(None)
            return
        try:
            data = await self.client.fetch_image(item)
        except Exception as exc:
            preview.set_image(None)
            self._message(f"no preview: {exc}")
            return
        self.image = data
        self.blob_path = local_blob_path(self.app, data)
        preview.set_image(data, label=f"{len(data):,} bytes")

    def _show_input(self, item: Input) -> None:
        lines = [
            f"status  {input_status_name(item.status_code)} ({item.status_code})"
            + (f" {shown(item.status_description)}" if item.status_description else ""),
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

    def _show_annotations(self) -> None:
        table = self.query_one("#detail-annotations", DataTable)
        table.clear()
        for annotation in self.annotations:
            table.add_row(
                annotation_status_name(annotation.status_code),
                concepts_text(annotation),
                author_text(annotation, self.model_names),
                key=annotation.id,
            )
        if not self.annotations:
            self.query_one("#detail-annotation", Static).update("no annotations")
        else:
            table.move_cursor(row=0)
            self._show_annotation(self.annotations[0])

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
    def highlighted(self) -> Annotation | None:
        table = self.query_one("#detail-annotations", DataTable)
        if not self.annotations or table.row_count == 0:
            return None
        row = min(max(table.cursor_row, 0), len(self.annotations) - 1)
        return self.annotations[row]

    @on(DataTable.RowHighlighted, "#detail-annotations")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        annotation = self.highlighted
        if annotation is not None:
            self._show_annotation(annotation)

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

    def action_open_url(self) -> None:
        url = self.input.url if self.input is not None else ""
        if not url:
            self._message("this input has no image URL")
            return
        self._copy("image URL", url)

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
