"""The Uploads area's screen: the browser and the queue side by side, the engine run in a
worker, and the keys (the area itself is described in `screens.uploads`).

One module on purpose (issue #23): it is one class whose methods all share the queue, its
rows and the running controller; what stands apart from that state (the pickers, what the
rows and lines say, the saved queue) is beside it in this package.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable, ProgressBar, Static

from api.concepts import parse_concepts
from api.demo_setup import NEW_IMAGES_DIRNAME
from api.upload import (
    ItemEvent,
    ProgressEvent,
    UploadController,
    Uploader,
    UploadEvent,
    UploadOptions,
    UploadSource,
    UploadSummary,
    collect_sources,
)
from screens.uploads.pickers import MarkingTree, UrlPasteScreen
from screens.uploads.progress import (
    EMPTY_QUEUE,
    STATE_STYLES,
    cancelled_detail,
    counts_line,
    detail_line,
    finished_line,
    item_row,
    row_label,
    settings_line,
)
from screens.uploads.saved_queue import Batch, load_queue, queue_path, save_queue
from tui.widgets.area import AreaScreen, bindings_for
from tui.widgets.folders import FolderPrompt, load_recent, remember_folder
from tui.widgets.forms import ConfirmScreen, PromptScreen
from tui.widgets.quit import Pending
from tui.widgets.tables import RowTable
from tui.widgets.text import safe

if TYPE_CHECKING:
    from api.client import ClarifaiClient
    from tui.config import Profile, UploadConfig


class UploadsScreen(AreaScreen):
    AREA: ClassVar[str] = "uploads"
    BINDINGS: ClassVar = bindings_for("uploads")
    AUTO_FOCUS = "#uploads-tree"
    #: Where the browser starts (default: the working directory). Tests set it.
    START_DIR: ClassVar[Path | None] = None
    #: Engine options: None takes `[upload]` of the config; tests make them smaller.
    BATCH_SIZE: ClassVar[int | None] = None
    CONCURRENCY: ClassVar[int | None] = None
    POLL_INTERVAL: ClassVar[float] = 1.0

    DEFAULT_CSS = """
    UploadsScreen #uploads-status { height: 1; background: $panel; padding: 0 1; }
    UploadsScreen #uploads-main { height: 1fr; }
    UploadsScreen #uploads-tree { width: 30; height: 1fr; border-right: solid $panel-lighten-2; }
    UploadsScreen #uploads-queue { width: 1fr; height: 1fr; }
    UploadsScreen #uploads-detail { height: auto; max-height: 2; padding: 0 1; color: $text-muted; }
    UploadsScreen #uploads-progress-row { height: 1; padding: 0 1; }
    UploadsScreen #uploads-progress { width: 24; }
    UploadsScreen #uploads-counts { width: 1fr; padding: 0 0 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.recursive = False
        self.concepts: tuple[str, ...] = ()
        self.batches: list[Batch] = []
        self.controller: UploadController | None = None
        self.running = False
        self.last_summary: UploadSummary | None = None
        self.states: dict[str, str] = {}
        self.reasons: dict[str, str] = {}
        self.progress: ProgressEvent | None = None
        self._queue_app = ""
        #: The app the batch concepts (and the last message) were set in: they do not carry
        #: over to another app (issue #30).
        self._settings_app: str | None = None
        self._queue_file: Path | None = None
        self._restored_for: str | None = None
        self._message = ""
        self._detail_key = ""

    # -- layout ----------------------------------------------------------------------------

    def compose_body(self) -> ComposeResult:
        yield Static("", id="uploads-status")
        with Horizontal(id="uploads-main"):
            yield MarkingTree(self.START_DIR or Path.cwd(), id="uploads-tree")
            table: DataTable[Text | str] = RowTable(
                id="uploads-queue", cursor_type="row", zebra_stripes=False
            )
            yield table
        yield Static("", id="uploads-detail")
        with Horizontal(id="uploads-progress-row"):
            yield ProgressBar(total=1, show_eta=False, show_percentage=True, id="uploads-progress")
            yield Static("", id="uploads-counts")

    def on_mount(self) -> None:
        self.recursive = self._upload_config().recursive
        table = self.query_one("#uploads-queue", DataTable)
        table.add_column("item", key="item", width=18)
        table.add_column("state", key="state", width=12)
        table.add_column("id / reason", key="detail", width=60)
        self.query_one(MarkingTree).focus()
        self._settings_app = self.session.app_id
        self._status()
        self._counts()
        self._restore()

    def on_session_changed(self) -> None:
        super().on_session_changed()
        app_id = self.session.app_id
        if self._settings_app is not None and self._settings_app != app_id:
            if self.concepts:
                self.notify(f"batch concepts cleared: they were for {self._settings_app}")
            self.concepts = ()
            self._message = ""
        self._settings_app = app_id
        self._restore()

    # -- profile and state -----------------------------------------------------------------

    def _profile(self) -> Profile | None:
        """The shell's profile (for the state dir), if the app has one."""
        from tui.config import Profile

        profile = getattr(self.app, "profile", None)
        return profile if isinstance(profile, Profile) else None

    def _state_dir(self) -> Path:
        from tui.connect import state_dir

        profile = self._profile()
        if profile is None:
            raise RuntimeError("no profile: uploads need the application shell")
        return state_dir(profile)

    def _upload_config(self) -> UploadConfig:
        from tui.config import Config, UploadConfig

        config = getattr(self.app, "config", None)
        return config.upload if isinstance(config, Config) else UploadConfig()

    def _client(self) -> ClarifaiClient:
        return self.session.app_client()

    def _save(self) -> None:
        if self._queue_file is not None:
            save_queue(self._queue_file, self.batches)

    def _restore(self) -> None:
        """Once per app: resume the batches a previous session left unfinished."""
        session = self.session
        if session.client is None or not session.app_id or self.running:
            self._status()
            return
        if self._restored_for == session.app_id:
            return
        self._restored_for = session.app_id
        client = self._client()
        self._queue_app = session.app_id
        self._queue_file = queue_path(self._state_dir(), client)
        saved = load_queue(self._queue_file)
        self.batches = saved
        if saved:
            count = sum(len(b.sources) for b in saved)
            self._message = f"resuming {count} unfinished items from the last session"
            self.notify(self._message)
            for batch in saved:
                self._add_rows(batch.sources)
            self._start()
        self._status()

    # -- status lines ----------------------------------------------------------------------

    def _status(self) -> None:
        session = self.session
        if session.client is None:
            text = session.waiting_text
        elif not session.app_id:
            text = "no app selected: ctrl+o picks or creates one (d there makes the demo app)"
        else:
            marked = len(self.query_one(MarkingTree).marked) if self.is_mounted else 0
            text = settings_line(self.recursive, self.concepts, marked, self._message)
        self.query_one("#uploads-status", Static).update(Text(text, no_wrap=True))

    def _counts(self) -> None:
        p = self.progress
        bar = self.query_one(ProgressBar)
        label = self.query_one("#uploads-counts", Static)
        if p is None:
            # never total=None: the indeterminate bar animates forever
            bar.update(total=1, progress=0)
            label.update(EMPTY_QUEUE)
            return
        bar.update(total=max(p.total, 1), progress=p.settled if p.total else 1)
        paused = self.controller is not None and self.controller.paused
        line = counts_line(p, running=self.running, paused=paused, unfinished=bool(self.batches))
        label.update(Text(line, no_wrap=True))

    # -- the queue table -------------------------------------------------------------------

    def _add_rows(self, sources: Iterable[UploadSource]) -> None:
        table = self.query_one("#uploads-queue", DataTable)
        for source in sources:
            key = source.key
            state = "failed" if source.kind == "error" else "queued"
            reason = source.error
            if key in table.rows:
                self._set_row(key, state, reason)
                continue
            self.states[key] = state
            self.reasons[key] = reason
            table.add_row(
                Text(row_label(source), no_wrap=True, overflow="ellipsis"),
                Text(state, style=STATE_STYLES[state]),
                Text(reason, no_wrap=True),
                key=key,
            )

    def _highlighted(self, table: DataTable[Any]) -> str:
        if not table.has_focus or table.row_count == 0:
            return ""
        try:
            return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        except Exception:
            return ""

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.has_focus:
            self._detail_key = str(event.row_key.value or "")
            self._show_detail(self._detail_key)

    def _show_detail(self, key: str) -> None:
        """The highlighted item in full (the table cuts long reasons)."""
        state = self.states.get(key)
        if state is None:
            self.query_one("#uploads-detail", Static).update("")
            return
        text = detail_line(key, state, self.reasons.get(key, ""))
        self.query_one("#uploads-detail", Static).update(Text(text))

    def _set_row(self, key: str, state: str, detail: str) -> None:
        table = self.query_one("#uploads-queue", DataTable)
        self.states[key] = state
        self.reasons[key] = detail
        if key not in table.rows:
            return
        table.update_cell(key, "state", Text(state, style=STATE_STYLES.get(state, "")))
        table.update_cell(key, "detail", Text(detail, no_wrap=True))
        if state == "failed" and not self._detail_key:
            self._detail_key = key  # the first failure is shown in full until one is picked
        if key == self._detail_key or key == self._highlighted(table):
            self._show_detail(key)

    def on_upload_event(self, event: UploadEvent) -> None:
        if isinstance(event, ProgressEvent):
            self.progress = event
            self._counts()
            return
        assert isinstance(event, ItemEvent)
        self._set_row(event.key, *item_row(event))

    def _cancel_rows(self, batches: Iterable[Batch]) -> None:
        for batch in batches:
            for source in batch.sources:
                why = cancelled_detail(self.states.get(source.key))
                if why is not None:
                    self._set_row(source.key, "cancelled", why)

    # -- running ---------------------------------------------------------------------------

    def _enqueue(self, batch: Batch) -> None:
        if not batch.sources:
            self.notify("nothing to upload there (image files only)", severity="warning")
            return
        self.batches.append(batch)
        # A new batch starts with a clean detail line: the first failure of an earlier one
        # is still in its row, but no longer under the table (issue #30).
        if self._detail_key and self.states.get(self._detail_key) == "failed":
            self._detail_key = ""
            self.query_one("#uploads-detail", Static).update("")
        self._save()  # before anything is sent: a quit from here on resumes the batch
        self._add_rows(batch.sources)
        self._start()

    def _start(self) -> None:
        if self.running or not self.batches:
            return
        self.running = True
        self.run_worker(self._run_batches(), group="uploads", exit_on_error=False)

    async def _app_exists(self, client: ClarifaiClient) -> bool:
        """True when the upload's app exists, or was just made because the user said so (as
        `clarifai-tui upload --create-app`); else say that nothing was sent."""
        if await client.app_exists():
            return True
        app_id = client.app_id or ""
        question = ConfirmScreen(
            f"App {safe(app_id, one_line=True)} does not exist. Create it?",
            "It is created on the base workflow Universal of clarifai/main (its embedder "
            "indexes the uploads), then the upload starts. n keeps the queue and sends nothing.",
        )
        if not await self.app.push_screen(question, wait_for_dismiss=True):
            self._message = (
                f"app {safe(app_id, one_line=True)} does not exist: nothing sent "
                "(ctrl+o picks another app; a restarts the queue)"
            )
            return False
        await client.create_app(app_id)
        self.notify(f"created app {safe(app_id, one_line=True)}")
        return True

    async def _run_batches(self) -> None:
        try:
            client = self._client()
            state_dir = self._state_dir()
            if not await self._app_exists(client):
                return
            while self.batches:
                batch = self.batches[0]
                self.controller = UploadController()
                settings = self._upload_config()
                options = UploadOptions(
                    concepts=batch.concepts,
                    batch_size=self.BATCH_SIZE or settings.batch_size,
                    concurrency=self.CONCURRENCY or settings.concurrency,
                    poll_interval=self.POLL_INTERVAL,
                )
                uploader = Uploader(
                    client,
                    state_dir=state_dir,
                    options=options,
                    on_event=self.on_upload_event,
                    controller=self.controller,
                )
                summary = await uploader.run(batch.sources)
                self.last_summary = summary
                if summary.cancelled:
                    self._cancel_rows(self.batches)
                    self.batches.clear()
                    self._message = "cancelled: what the server accepted stays in the app"
                elif summary.pending:
                    # processing outlasted the engine's timeout: keep it for the next run
                    self._message = f"{len(summary.pending)} still processing: p checks again"
                    break
                else:
                    self.batches.pop(0)
                    self._message = finished_line(summary)
                self._save()
        finally:
            self.running = False
            self.controller = None
            if self.is_mounted:
                self._counts()
                self._status()

    # -- actions ---------------------------------------------------------------------------

    def _ready(self) -> bool:
        try:
            self._client()
        except RuntimeError as exc:
            self.notify(str(exc), severity="warning")
            return False
        if self.running and self._queue_app != self.session.app_id:
            self.notify(
                f"still uploading into {self._queue_app}: wait, or cancel (x) first",
                severity="warning",
            )
            return False
        if not self.running and self._queue_app != self.session.app_id:
            self._restore()
        return True

    def action_mark(self) -> None:
        self.query_one(MarkingTree).action_mark()

    def on_marking_tree_marks_changed(self, _event: MarkingTree.MarksChanged) -> None:
        self._status()

    def pending_work(self) -> list[Pending]:
        if not self.running:
            return []
        return [
            Pending(
                f"an upload into {self.session.app_id} is running: what the server "
                "acknowledged is kept, and the rest resumes when you open Uploads again"
            )
        ]

    def action_clear_marks(self) -> None:
        """escape clears the marks; with none, it goes back to the previous area."""
        tree = self.query_one(MarkingTree)
        if not tree.marked:
            raise SkipAction()
        tree.clear_marks()
        self._status()

    def action_add_marked(self) -> None:
        if not self._ready():
            return
        tree = self.query_one(MarkingTree)
        paths = list(tree.marked)
        if not paths:
            node = tree.cursor_node
            if node is None or node.data is None:
                return
            paths = [node.data.path]
        sources = collect_sources(
            paths, recursive=self.recursive, extensions=self._upload_config().extensions
        )
        tree.clear_marks()
        self._message = ""
        self._enqueue(Batch(sources, self.concepts))
        self._status()

    def action_toggle_recursive(self) -> None:
        self.recursive = not self.recursive
        self._status()

    def action_paste_urls(self) -> None:
        if not self._ready():
            return

        def pasted(urls: list[str] | None) -> None:
            if urls:
                self._enqueue(Batch(collect_sources(urls=urls), self.concepts))
                self._status()

        self.app.push_screen(UrlPasteScreen(), pasted)

    def action_batch_concepts(self) -> None:
        def chosen(text: str | None) -> None:
            if text is not None:
                self.concepts = parse_concepts(text)
                self._status()

        self.app.push_screen(
            PromptScreen(
                "Concepts for the next batch (comma-separated; blank for none)",
                value=", ".join(self.concepts),
                hint="each added input is labelled with them (created when missing)",
            ),
            chosen,
        )

    def action_pause(self) -> None:
        controller = self.controller
        if controller is None:
            if self.batches and self._ready():
                self._message = ""
                self._start()
            return
        if controller.paused:
            controller.resume()
            self._message = ""
        else:
            controller.pause()
            self._message = "pausing: batches in flight finish first"
        self._status()
        self._counts()

    def action_cancel(self) -> None:
        if self.controller is not None:
            self.controller.cancel()
        elif self.batches:
            self._cancel_rows(self.batches)
            self.batches.clear()
            self._save()
            self._message = "queue cleared"
            self._status()
            self._counts()

    def action_parent_folder(self) -> None:
        tree = self.query_one(MarkingTree)
        current = Path(tree.path).resolve()
        if current.parent != current:
            tree.path = current.parent

    def offered_folders(self) -> list[tuple[Path, str]]:
        """What the Go-to-folder prompt offers: the demo's new images, then recent folders."""
        offered: list[tuple[Path, str]] = []
        profile = self._profile()
        if profile is not None and profile.is_local:
            demo = profile.resolved_data_dir() / NEW_IMAGES_DIRNAME
            offered.append((demo, "the demo's new images and videos"))
        with contextlib.suppress(RuntimeError):
            offered += [(p, "recent") for p in load_recent(self._state_dir())]
        unique: dict[Path, str] = {}
        for path, why in offered:
            unique.setdefault(path, why)
        return list(unique.items())

    def action_goto_folder(self) -> None:
        tree = self.query_one(MarkingTree)

        def go(text: str | None) -> None:
            if not text:
                return
            path = Path(text).expanduser()
            if not path.is_dir():
                self.notify(f"not a folder: {safe(path, one_line=True)}", severity="warning")
                return
            tree.path = path.resolve()
            tree.focus()
            with contextlib.suppress(RuntimeError):
                remember_folder(self._state_dir(), path.resolve())

        start = str(Path(tree.path))
        self.app.push_screen(FolderPrompt(start + os.sep, self.offered_folders()), go)

    def action_clear_settled(self) -> None:
        table = self.query_one("#uploads-queue", DataTable)
        for key, state in list(self.states.items()):
            if state in ("done", "failed", "cancelled"):
                if key in table.rows:
                    table.remove_row(key)
                del self.states[key]
                self.reasons.pop(key, None)
