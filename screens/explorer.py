"""The Explorer area: every input with its annotations and statuses, paged from the server.

The pages, filters and rows come from `api.explore` (see its docstring for who does the
work for each filter); this module shows them: the table, the status lines, the prompts,
the live refresh and the detail screen.

One module on purpose (issue #23): the query work already lives in `api.explore`; what is
left is one screen whose table, status lines, prompts, live refresh and page cache share the
current page and cursor, and two small widgets (`PromptInput`, `PageTable`) that exist only
for it.
"""

from __future__ import annotations

import gc
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, ClassVar, Final

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.geometry import Region
from textual.strip import Strip
from textual.timer import Timer
from textual.widgets import DataTable, Static
from textual.widgets import Input as TextInput

from api.client import ClarifaiClient
from api.errors import ApiError
from api.explore import (
    JUMP_SCAN_LIMIT,
    Filters,
    InputPager,
    PageData,
    Row,
    file_name,
)
from api.models import (
    INPUT_PROCESSING_CODES,
    AnnotationStatus,
    InputCounts,
    InputStatus,
)
from tui.widgets.area import AreaScreen
from tui.widgets.bindings import area_keys
from tui.widgets.display import (
    describe_filters,
    format_time,
    input_status_name,
    video_summary,
)
from tui.widgets.registry import make_screen
from tui.widgets.tables import HomeEndTable

CACHE_PAGES: Final = 5
#: Longest the cyclic garbage collector is held off for one page swap (seconds); see
#: `ExplorerScreen._hold_gc`.
GC_HOLD_SECONDS: Final = 0.5

INPUT_STATUS_CYCLE: Final[tuple[int | None, ...]] = (
    None,
    InputStatus.SUCCESS,
    InputStatus.PENDING,
    InputStatus.IN_PROGRESS,
    InputStatus.FAILED,
)
ANNOTATION_STATUS_CYCLE: Final[tuple[int | None, ...]] = (
    None,
    AnnotationStatus.SUCCESS,
    AnnotationStatus.PENDING,
    AnnotationStatus.REVIEW_DENIED,
    AnnotationStatus.FAILED,
)
#: Annotation statuses shown as columns, with their headers.
COUNT_COLUMNS: Final = (
    (AnnotationStatus.SUCCESS, "ok"),
    (AnnotationStatus.PENDING, "pnd"),
    (AnnotationStatus.REVIEW_DENIED, "rej"),
    (AnnotationStatus.FAILED, "err"),
)
CONCEPTS_WIDTH: Final = 16
#: A video's row is two lines tall: its second line says it is a video, how long it is and
#: how many frames the platform samples (the columns are full at 80 terminal columns).
VIDEO_ROW_HEIGHT: Final = 2
# ------------------------------------------------------------------------------------------
# Widgets


class PromptInput(TextInput):
    """The one-line prompt for `/`, `c`, `w`, `g` and `j`; escape closes it."""

    DEFAULT_CSS = """
    PromptInput { display: none; height: 1; border: none; padding: 0 1; }
    /* Input's own :focus rule draws a tall border, which leaves a 1-row input no room for
       its text (issue #30: the typed text and the hint were invisible). */
    PromptInput:focus { border: none; }
    PromptInput.-open { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close", show=False)]

    def __init__(self) -> None:
        super().__init__(id="explorer-prompt")
        self.kind = ""
        self.disabled = True

    def open(self, kind: str, placeholder: str, value: str = "") -> None:
        self.kind = kind
        self.placeholder = placeholder
        self.disabled = False
        self.value = value
        self.add_class("-open")
        self.focus()

    def action_close(self) -> None:
        self.remove_class("-open")
        self.disabled = True
        self.kind = ""
        self.screen.query_one(DataTable).focus()


class PageTable(HomeEndTable[Any]):
    """The explorer's table: a DataTable that can run callbacks once it has painted."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._after_paint: list[Callable[[], object]] = []

    def after_paint(self, callback: Callable[[], object]) -> None:
        """Run `callback` once, just after the table next paints (not before: unlike
        `call_after_refresh`, which may run before a changed table has been redrawn)."""
        if callback not in self._after_paint:
            self._after_paint.append(callback)

    def render_lines(self, crop: Region) -> list[Strip]:
        lines = super().render_lines(crop)
        if self._after_paint:
            callbacks, self._after_paint = self._after_paint, []
            for callback in callbacks:
                self.call_later(callback)
        return lines


_PRIORITY = frozenset({"explorer.next_page", "explorer.prev_page"})


def _bindings() -> list[BindingType]:
    """The area's keys; page keys are priority bindings, so the table does not eat them."""
    return [
        Binding(k.key, k.action, k.description, show=k.show, id=k.id, priority=k.id in _PRIORITY)
        for k in area_keys()["explorer"]
    ]


#: Shorter words for the summary line when the terminal is narrow (60 columns).
_SHORT: Final = {
    "page": "p.",
    "shown": "rows",
    "filtered": "match",
    "processing": "proc.",
    "oldest": "old",
    "newest": "new",
}

PROMPTS: Final = {
    "text": "filter: input id or file name contains...  (enter applies, empty clears)",
    "concept": "concept id or name (empty clears)",
    "worker": "annotated by: user id, or model: + a model's id, name or version id",
    "page": "go to page number",
    "input": "jump to input id",
}


class ExplorerScreen(AreaScreen):
    AREA: ClassVar[str] = "explorer"
    BINDINGS: ClassVar = _bindings()
    #: Seconds between live refreshes of processing inputs and of the counts.
    POLL_SECONDS: ClassVar[float] = 2.0

    DEFAULT_CSS = """
    ExplorerScreen #explorer-table { height: 1fr; }
    /* Two lines that never wrap: a long summary ends in "…" rather than pushing the
       filter line off (issue #30); the filter line comes first on the second. */
    ExplorerScreen #explorer-status {
        height: auto; max-height: 2; background: $panel; padding: 0 1;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.filters = Filters()
        self.pager: InputPager | None = None
        self.page_number = 1
        self.data: PageData | None = None
        self.counts: InputCounts | None = None
        self._cache: OrderedDict[int, PageData] = OrderedDict()
        self._generation = 0
        self._poll_timer: Timer | None = None
        self._new_inputs = 0
        self._loading = False
        self._want_cursor: str | None = None
        self._gc_held = False
        self._gc_timer: Timer | None = None
        #: `_generation` of the page last shown.
        self._shown_generation = 0

    def compose_body(self) -> ComposeResult:
        table = PageTable(id="explorer-table", cursor_type="row")
        yield table
        yield PromptInput()
        yield Static("", id="explorer-status")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("file or id", width=14, key="id")
        table.add_column("status", width=7, key="status")
        for status, label in COUNT_COLUMNS:
            table.add_column(label, width=3, key=str(int(status)))
        table.add_column("concepts", width=CONCEPTS_WIDTH, key="concepts")
        table.add_column("created", width=11, key="created")
        table.focus()
        self._poll_timer = self.set_interval(self.POLL_SECONDS, self._poll, pause=False)
        self.reload()

    def on_unmount(self) -> None:
        self._release_gc()

    def on_session_changed(self) -> None:
        super().on_session_changed()
        self.reload()

    # -- loading ---------------------------------------------------------------------------

    @property
    def table(self) -> PageTable:
        return self.query_one("#explorer-table", PageTable)

    def _client(self) -> ClarifaiClient | None:
        session = self.session
        if session.client is None or not session.app_id:
            return None
        return session.app_client()

    def reload(self, *, page: int | None = None, keep_cursor: bool = False) -> None:
        """Start over with the current filters (new pager, fresh counts)."""
        client = self._client()
        self._generation += 1
        self._cache.clear()
        self.workers.cancel_group(self, "explorer-prefetch")  # for the old filters
        self._release_gc()
        if client is None:
            self.pager = None
            self.data = None
            self.table.clear()
            self._status_text()
            return
        if keep_cursor:
            self._want_cursor = self._cursor_id()
        self.pager = InputPager(
            client, self.filters, per_page=self.session.per_page, counts=self.counts
        )
        self.page_number = page or 1
        self.run_worker(
            self._load(self.pager, self.page_number, self._generation, refresh_counts=True),
            group="explorer-load",
            exclusive=True,
            exit_on_error=False,
        )

    async def _load(
        self, pager: InputPager, number: int, generation: int, *, refresh_counts: bool = False
    ) -> None:
        self._loading = True
        self._status_text()
        try:
            if refresh_counts or pager.counts is None:
                self.counts = pager.counts = await pager.client.get_input_count()
                self._new_inputs = 0
            data = await pager.page(number)
        finally:
            self._loading = False
        if generation != self._generation:
            return
        self._cache[number] = data
        self._show(data)

    def _prefetch(self) -> bool:
        """Fetch the page after the one shown, in the background, into the cache; the
        garbage collector, if held for the page swap, is let go when that fetch ends.
        False if there is nothing to fetch."""
        pager, data = self.pager, self.data
        if pager is None or data is None or not data.has_next:
            return False
        number = data.page + 1
        if number in self._cache:
            return False
        if pager.filters.scanning:
            return False  # a walk may be slow: walk only when asked
        generation = self._generation

        async def fetch() -> None:
            try:
                page = await pager.page(number)
            finally:
                self._release_gc()
            if generation == self._generation:
                self._cache[number] = page
                while len(self._cache) > CACHE_PAGES:
                    self._cache.popitem(last=False)

        self.run_worker(fetch(), group="explorer-prefetch", exclusive=True, exit_on_error=False)
        return True

    def _hold_gc(self) -> None:
        """Keep the cyclic garbage collector out of a page swap: from the swap until the page
        has been painted and the next page pre-fetched (`GC_HOLD_SECONDS` at most).

        Painting a page allocates thousands of render objects (cells, segments, strips) that
        live until the next page; every ~15 pages that churn triggers a full (generation 2)
        collection of the whole TUI heap, a 70-100 ms pause. Landing inside the swap, it made
        page-down's p95 several times its median. Held, that pause comes once the page is on
        screen and the pre-fetch has finished, while the user reads. Nothing is skipped, only
        moved; Textual does the same while scrolling (`App.PAUSE_GC_ON_SCROLL`).
        """
        if self._gc_held or not gc.isenabled():
            return  # already held, or someone else has paused collection: leave it to them
        gc.disable()
        self._gc_held = True
        self._gc_timer = self.set_timer(GC_HOLD_SECONDS, self._release_gc)

    def _release_gc(self) -> None:
        if self._gc_timer is not None:
            self._gc_timer.stop()
            self._gc_timer = None
        if self._gc_held:
            self._gc_held = False
            gc.enable()

    def _page_painted(self) -> None:
        """The new page is on screen: fetch the next one, then let the collector run."""
        current = self._shown_generation == self._generation and not self._loading
        if not (current and self._prefetch()):
            self._release_gc()

    def _show(self, data: PageData) -> None:
        self._hold_gc()
        self._shown_generation = self._generation
        self.data = data
        self.page_number = data.page
        table = self.table
        wanted = self._want_cursor
        self._want_cursor = None
        table.clear()
        for row in data.rows:
            height = VIDEO_ROW_HEIGHT if row.input.is_video else 1
            table.add_row(*self._cells(row), key=row.id, height=height)
        if wanted is not None:
            try:
                table.move_cursor(row=table.get_row_index(wanted), animate=False)
            except Exception:
                table.move_cursor(row=0, animate=False)
        else:
            table.move_cursor(row=0, animate=False)
        self._status_text()
        table.after_paint(self._page_painted)

    @staticmethod
    def _cells(row: Row) -> list[Any]:
        status = row.input.status_code
        style = (
            "yellow"
            if status in INPUT_PROCESSING_CODES
            else "red"
            if status not in (InputStatus.SUCCESS, 0)
            else ""
        )
        # Text, not str: DataTable reads a str cell as markup ("[/]" in a concept name would
        # raise MarkupError while painting)
        # the file an input came from, when the uploader recorded it; else its id
        cells: list[Any] = [
            Text(file_name(row.input) or row.id),
            Text(input_status_name(status), style=style),
        ]
        for code, _ in COUNT_COLUMNS:
            count = row.count(code)
            cells.append(Text(str(count) if count else "·", justify="right"))
        cells.append(Text(row.top_concepts()))
        cells.append(Text(format_time(row.input.created_at)))
        if row.input.is_video:
            # A video's frame annotations count above like any others (one per frame); the
            # second line: what the video is.
            cells[0].append("\nvideo", style="dim")
            cells[-2].append("\n" + ExplorerScreen._video_text(row), style="dim")
            for text in cells:  # each line cut at the column, as one-line rows are
                text.no_wrap, text.overflow = True, "ellipsis"
        return cells

    @staticmethod
    def _video_text(row: Row) -> str:
        frames, info = row.sampled_frames, row.input.video
        if frames is None or info is None:
            return "not sampled yet"
        return video_summary(info.duration_seconds, frames, CONCEPTS_WIDTH)

    def _status_text(self) -> None:
        parts: list[str] = []
        data, counts = self.data, self.counts
        if self._client() is None:
            parts.append(self.session.error or "no app selected: ctrl+o picks one")
        elif data is None:
            parts.append("loading...")
        else:
            parts.append(f"page {data.page}")
            parts.append(f"shown {len(data.rows)}")
            if self.filters.active:
                if data.matched is not None:
                    parts.append(f"filtered {data.matched:,}")
                else:
                    parts.append(f"filtered {data.matched_at_least:,}+")
        if counts is not None:
            parts.append(f"total {counts.total:,}")
            parts.append(f"processing {counts.processing + counts.to_process:,}")
        parts.append("oldest first" if self.filters.oldest_first else "newest first")
        line = " · ".join(parts)
        width = self.query_one("#explorer-status", Static).content_region.width
        if width and len(line) > width:  # narrow: the short words
            line = " · ".join(
                _SHORT.get(p.split()[0], p.split()[0]) + p[len(p.split()[0]) :] for p in parts
            )
        extra: list[str] = []
        if self.filters.active:
            extra.append(f"filters: {describe_filters(self.filters)}")
        if data is not None and data.scanned:
            scanned = f"scanned {data.scanned:,}"
            if data.partial:
                scanned += " (stopped at the scan limit: pgdn scans on)"
            extra.append(scanned)
        if self._new_inputs > 0:
            extra.append(f"{self._new_inputs:,} new inputs: r refreshes")
        if self._loading:
            extra.append("loading...")
        text = line + ("\n" + " · ".join(extra) if extra else "")
        self.query_one("#explorer-status", Static).update(text)

    # -- live updates ----------------------------------------------------------------------

    def _poll(self) -> None:
        if self.app.screen is not self or self.pager is None or self._loading:
            return
        self.run_worker(
            self._refresh_live(), group="explorer-poll", exclusive=True, exit_on_error=False
        )

    async def _refresh_live(self) -> None:
        pager, data, generation = self.pager, self.data, self._generation
        if pager is None or data is None:
            return
        counts = await pager.client.get_input_count()
        if generation != self._generation:
            return
        if self.counts is not None and counts.total > self.counts.total:
            self._new_inputs += counts.total - self.counts.total
        self.counts = counts
        processing = [r.id for r in data.rows if r.input.processing]
        if processing:
            rows = await pager.rows_for_ids(processing)
            if generation != self._generation or self.data is not data:
                return
            self._update_rows(rows)
        self._status_text()

    def _update_rows(self, rows: Iterable[Row]) -> None:
        """Replace rows in place (cells only: the cursor, page and filters stay)."""
        data = self.data
        if data is None:
            return
        by_id = {r.id: r for r in rows}
        table = self.table
        keys = [str(k) for k in ("id", "status", *(int(s) for s, _ in COUNT_COLUMNS))]
        keys += ["concepts", "created"]
        for row in by_id.values():
            if row.id not in table.rows:
                continue
            for key, value in zip(keys, self._cells(row), strict=True):
                table.update_cell(row.id, key, value)
        self.data = replace(data, rows=tuple(by_id.get(r.id, r) for r in data.rows))
        self._cache[data.page] = self.data

    # -- actions ---------------------------------------------------------------------------

    def _cursor_id(self) -> str | None:
        table = self.table
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:
            return None
        return str(key.value) if key.value is not None else None

    def action_page(self, delta: int) -> None:
        data, pager = self.data, self.pager
        if pager is None or data is None or self._loading:
            return
        if delta > 0 and data.partial:
            number = data.page  # scan on for this page
        elif delta > 0 and not data.has_next:
            self.notify("this is the last page")
            return
        else:
            number = max(1, data.page + delta)
            if number == data.page:
                return
        self._goto(number)

    def _goto(self, number: int) -> None:
        pager = self.pager
        if pager is None:
            return
        cached = self._cache.get(number)
        if cached is not None and not (self.data is not None and self.data.partial):
            self._cache.move_to_end(number)
            self._show(cached)  # the next page is pre-fetched once this one is painted
            return
        self.run_worker(
            self._load(pager, number, self._generation),
            group="explorer-load",
            exclusive=True,
            exit_on_error=False,
        )

    def action_reload(self) -> None:
        self.reload(page=self.page_number, keep_cursor=True)

    def _set_filters(self, filters: Filters) -> None:
        self.filters = filters
        self.reload()

    def action_cycle_input_status(self) -> None:
        cycle = INPUT_STATUS_CYCLE
        index = cycle.index(self.filters.input_status) if self.filters.input_status in cycle else 0
        self._set_filters(replace(self.filters, input_status=cycle[(index + 1) % len(cycle)]))

    def action_cycle_annotation_status(self) -> None:
        cycle = ANNOTATION_STATUS_CYCLE
        current = self.filters.annotation_status
        index = cycle.index(current) if current in cycle else 0
        self._set_filters(replace(self.filters, annotation_status=cycle[(index + 1) % len(cycle)]))

    def action_clear_filters(self) -> None:
        self._set_filters(Filters(oldest_first=self.filters.oldest_first))

    def action_toggle_sort(self) -> None:
        if self.filters.annotation_driven:
            self.notify(
                "with annotation filters the rows follow their newest matching annotation",
                severity="warning",
            )
            return
        self._set_filters(replace(self.filters, oldest_first=not self.filters.oldest_first))

    def action_prompt(self, kind: str) -> None:
        value = {
            "text": self.filters.text,
            "concept": self.filters.concept,
            "worker": self.filters.worker,
        }.get(kind, "")
        self.query_one(PromptInput).open(kind, PROMPTS[kind], value)

    @on(TextInput.Submitted, "#explorer-prompt")
    def _prompt_submitted(self, event: TextInput.Submitted) -> None:
        event.stop()
        prompt = self.query_one(PromptInput)
        kind, value = prompt.kind, event.value.strip()
        prompt.action_close()
        if kind == "text":
            self._set_filters(replace(self.filters, text=value))
        elif kind == "concept":
            self._set_filters(replace(self.filters, concept=value))
        elif kind == "worker":
            self._set_filters(replace(self.filters, worker=value))
        elif kind == "page":
            if not value.isdigit() or int(value) < 1:
                self.notify(f"not a page number: {value!r}", severity="warning")
                return
            self._jump_page(int(value))
        elif kind == "input" and value:
            self.run_worker(
                self._jump_input(value), group="explorer-load", exclusive=True, exit_on_error=False
            )

    def _jump_page(self, number: int) -> None:
        data = self.data
        if data is not None and data.matched is not None:
            last = max(1, -(-data.matched // self.session.per_page))
            if number > last:
                self.notify(f"there are {last} pages; showing the last", severity="warning")
                number = last
        self._goto(number)

    async def _jump_input(self, input_id: str) -> None:
        pager = self.pager
        if pager is None:
            return
        if input_id in self.table.rows:
            self.table.move_cursor(row=self.table.get_row_index(input_id), animate=False)
            return
        generation = self._generation
        number = await pager.locate(input_id)
        if generation != self._generation:
            return
        if number is not None:
            self._want_cursor = input_id
            data = await pager.page(number)
            self._want_cursor = input_id
            self._cache[number] = data
            self._show(data)
            return
        try:
            found = await pager.client.get_input(input_id)
        except ApiError:
            self.notify(f"no input {input_id!r} in this app", severity="warning")
            return
        self.notify(
            f"input {input_id} is not among the first {JUMP_SCAN_LIMIT:,} listed here: "
            "showing its detail"
        )
        self._open_detail(found.id)

    def action_open_input(self) -> None:
        input_id = self._cursor_id()
        if input_id is not None:
            self._open_detail(input_id)

    @on(DataTable.RowSelected, "#explorer-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self._open_detail(str(event.row_key.value))

    def _open_detail(self, input_id: str) -> None:
        client = self._client()
        if client is None:
            return
        self.app.push_screen(make_screen("input_detail", client, input_id))
