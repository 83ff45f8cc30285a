"""The Explorer area: every input with its annotations and statuses, paged from the server.

Paging. Only one page of inputs (the config's ``ui.per_page`` rows) is ever held, plus a few
pages cached for instant page-down; the page's annotations come from ONE ListAnnotations call
(``input_ids=...``, ``list_all_annotations=true``).

Filters, and who does the work:
- input status (``i``): the server (ListInputs ``status.code``); its count comes from
  GetInputCount, so "filtered" is exact;
- annotating user or model (``w``): the server filters annotations (ListAnnotations
  ``user_ids`` / ``model_version_ids``); annotation status (``a``): the explorer keeps the
  annotations of that status (the REST gateway cannot take ``statuses``); it walks those
  annotations newest first and shows each input once (so rows are ordered by their newest
  matching annotation);
- concept (``c``): the same walk over annotations, keeping those whose concepts include the
  concept (id or name); Clarifai's ListAnnotations has no concept filter;
- id text (``/``): a walk over the (status-filtered) input listing keeping ids that contain
  the text.
A walk is bounded: one page request reads at most ``SCAN_BUDGET`` server pages of
``SCAN_PER_PAGE`` items, then shows what it found and says how far it got (page down to scan
on). Only the matching ids found so far are remembered, never the inputs themselves.
Sort (``o``) is by created time, newest first (the server's order) or oldest first (the
explorer reads the server's pages from the end); annotation-driven filters keep newest first.
"""

from __future__ import annotations

import asyncio
import gc
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
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
from api.models import (
    INPUT_PROCESSING_CODES,
    Annotation,
    AnnotationStatus,
    Input,
    InputCounts,
    InputStatus,
)
from tui.widgets.area import AreaScreen
from tui.widgets.bindings import area_keys
from tui.widgets.tables import HomeEndTable

PER_PAGE: Final = 30
SCAN_PER_PAGE: Final = 200
SCAN_BUDGET: Final = 20
ANNOTATIONS_PER_PAGE: Final = 1000
#: How far `j` (jump to id) looks for an input's page: this many inputs.
JUMP_SCAN_LIMIT: Final = 10_000
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
INPUT_STATUS_NAMES: Final[dict[int, str]] = {
    InputStatus.SUCCESS: "ok",
    InputStatus.PENDING: "pending",
    InputStatus.IN_PROGRESS: "working",
    InputStatus.FAILED: "failed",
    InputStatus.DUPLICATE: "dup",
    InputStatus.UNSUPPORTED_FORMAT: "format",
}
ANNOTATION_STATUS_NAMES: Final[dict[int, str]] = {
    AnnotationStatus.SUCCESS: "SUCCESS",
    AnnotationStatus.PENDING: "PENDING",
    AnnotationStatus.FAILED: "FAILED",
    AnnotationStatus.AWAITING_REVIEW: "AWAITING_REVIEW",
    AnnotationStatus.REVIEW_DENIED: "REVIEW_DENIED",
}


def input_status_name(code: int) -> str:
    return INPUT_STATUS_NAMES.get(code, str(code))


def annotation_status_name(code: int) -> str:
    return ANNOTATION_STATUS_NAMES.get(code, str(code))


def format_time(when: datetime | None) -> str:
    """Created time as shown in the table (local time, minutes)."""
    if when is None:
        return ""
    return when.astimezone().strftime("%m-%d %H:%M")


def format_full_time(when: datetime | None) -> str:
    if when is None:
        return "-"
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S")


# ------------------------------------------------------------------------------------------
# The data side (no widgets): filters, rows and the pager


@dataclass(frozen=True)
class Filters:
    text: str = ""
    input_status: int | None = None
    annotation_status: int | None = None
    concept: str = ""
    #: An annotating user id, or `model:<model or model version id>`.
    worker: str = ""
    oldest_first: bool = False

    @property
    def annotation_driven(self) -> bool:
        return bool(self.annotation_status is not None or self.concept or self.worker)

    @property
    def scanning(self) -> bool:
        return self.annotation_driven or bool(self.text)

    @property
    def active(self) -> bool:
        return self.scanning or self.input_status is not None

    def describe(self) -> str:
        parts = []
        if self.text:
            parts.append(f"id~{self.text}")
        if self.input_status is not None:
            parts.append(f"input={input_status_name(self.input_status)}")
        if self.annotation_status is not None:
            parts.append(f"ann={annotation_status_name(self.annotation_status)}")
        if self.concept:
            parts.append(f"concept={self.concept}")
        if self.worker:
            parts.append(f"by={self.worker}")
        return " ".join(parts)

    def matches_annotation(self, annotation: Annotation) -> bool:
        """The annotation's status and concept filters (ListAnnotations cannot filter by
        status through the REST gateway: ``statuses`` is a repeated message)."""
        if self.annotation_status is not None and annotation.status_code != self.annotation_status:
            return False
        return self.matches_concept(annotation)

    def matches_concept(self, annotation: Annotation) -> bool:
        if not self.concept:
            return True
        wanted = self.concept.casefold()
        return any(wanted in (c.id.casefold(), c.name.casefold()) for c in annotation.concepts)

    def matches_text(self, input_id: str) -> bool:
        return not self.text or self.text.casefold() in input_id.casefold()


@dataclass(frozen=True)
class Row:
    input: Input
    annotations: tuple[Annotation, ...] = ()

    @property
    def id(self) -> str:
        return self.input.id

    def count(self, status: int) -> int:
        return sum(1 for a in self.annotations if a.status_code == status)

    def top_concepts(self, n: int = 3) -> str:
        best: dict[str, float] = {}
        for annotation in self.annotations:
            for concept in annotation.concepts:
                name = concept.name or concept.id
                best[name] = max(best.get(name, 0.0), concept.value)
        ranked = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
        return " ".join(f"{name}:{value:.2f}" for name, value in ranked)


@dataclass(frozen=True)
class PageData:
    page: int
    rows: tuple[Row, ...]
    #: Exact number of inputs that pass the filters, when known.
    matched: int | None
    #: Inputs known to pass the filters so far (a walk that has not finished).
    matched_at_least: int
    has_next: bool
    #: Server items read by the walk so far (annotations or inputs); 0 when not walking.
    scanned: int = 0
    #: The walk stopped at its budget before this page was full.
    partial: bool = False


@dataclass
class _Walk:
    ids: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    next_page: int = 1
    exhausted: bool = False
    scanned: int = 0


def _counted(counts: InputCounts | None, status: int | None) -> int | None:
    if counts is None:
        return None
    if status is None:
        return counts.total
    by_status: dict[int, int] = {
        InputStatus.SUCCESS: counts.processed,
        InputStatus.PENDING: counts.to_process,
        InputStatus.IN_PROGRESS: counts.processing,
        InputStatus.FAILED: counts.errors,
    }
    return by_status.get(status)


class InputPager:
    """Explorer pages for one set of filters (see the module docstring)."""

    def __init__(
        self,
        client: ClarifaiClient,
        filters: Filters,
        *,
        per_page: int = PER_PAGE,
        counts: InputCounts | None = None,
    ) -> None:
        self.client = client
        self.filters = filters
        self.per_page = per_page
        self.counts = counts
        self._walk = _Walk()
        self._model_versions: list[str] | None = None
        self._walk_lock = asyncio.Lock()

    # -- rows ------------------------------------------------------------------------------

    async def annotations_for(self, input_ids: Sequence[str]) -> dict[str, list[Annotation]]:
        """Every annotation of these inputs: one ListAnnotations call (more only if > 1000)."""
        out: dict[str, list[Annotation]] = {i: [] for i in input_ids}
        if not input_ids:
            return out
        page_no = 1
        while True:
            page = await self.client.list_annotations(
                input_ids=list(input_ids),
                list_all_annotations=True,
                page=page_no,
                per_page=ANNOTATIONS_PER_PAGE,
            )
            for annotation in page:
                out.setdefault(annotation.input_id, []).append(annotation)
            if not page.has_more:
                return out
            page_no += 1

    async def rows_for_inputs(self, inputs: Sequence[Input]) -> list[Row]:
        annotations = await self.annotations_for([i.id for i in inputs])
        return [Row(i, tuple(annotations.get(i.id, ()))) for i in inputs]

    async def rows_for_ids(self, ids: Sequence[str]) -> list[Row]:
        if not ids:
            return []
        found: dict[str, Input] = {}
        for start in range(0, len(ids), 128):
            chunk = list(ids[start : start + 128])
            page = await self.client.list_inputs(ids=chunk, per_page=len(chunk))
            found.update((i.id, i) for i in page)
        return await self.rows_for_inputs([found[i] for i in ids if i in found])

    # -- pages -----------------------------------------------------------------------------

    @property
    def total_matched(self) -> int | None:
        if self.filters.scanning:
            return len(self._walk.ids) if self._walk.exhausted else None
        return _counted(self.counts, self.filters.input_status)

    async def page(self, number: int) -> PageData:
        number = max(1, number)
        if self.filters.scanning:
            return await self._walk_page(number)
        return await self._plain_page(number)

    async def _plain_page(self, number: int) -> PageData:
        per_page, status = self.per_page, self.filters.input_status
        total = _counted(self.counts, status)
        if self.filters.oldest_first and total is not None:
            inputs = await self._oldest_first(number, total)
        else:
            listed = await self.client.list_inputs(page=number, per_page=per_page, status=status)
            inputs = list(listed)
        rows = await self.rows_for_inputs(inputs)
        has_next = number * per_page < total if total is not None else len(inputs) >= per_page
        known = total if total is not None else (number - 1) * per_page + len(rows)
        return PageData(number, tuple(rows), total, known, has_next)

    async def _oldest_first(self, number: int, total: int) -> list[Input]:
        """Page `number` counted from the oldest: the server's newest-first pages, from the end."""
        per_page = self.per_page
        high = total - (number - 1) * per_page  # exclusive, in newest-first positions
        low = max(0, high - per_page)
        if high <= 0:
            return []
        items: list[Input] = []
        first, last = low // per_page + 1, (high - 1) // per_page + 1
        for server_page in range(first, last + 1):
            listed = await self.client.list_inputs(
                page=server_page, per_page=per_page, status=self.filters.input_status
            )
            base = (server_page - 1) * per_page
            items.extend(i for n, i in enumerate(listed) if low <= base + n < high)
        items.reverse()
        return items

    async def _walk_page(self, number: int) -> PageData:
        want = number * self.per_page + 1  # one more, to know if a next page exists
        async with self._walk_lock:
            budget_hit = await self._walk_until(want)
        walk = self._walk
        start = (number - 1) * self.per_page
        ids = walk.ids[start : start + self.per_page]
        rows = await self.rows_for_ids(ids)
        has_next = len(walk.ids) > start + self.per_page or not walk.exhausted
        partial = budget_hit and len(ids) < self.per_page
        return PageData(
            number,
            tuple(rows),
            len(walk.ids) if walk.exhausted else None,
            len(walk.ids),
            has_next,
            walk.scanned,
            partial,
        )

    async def _walk_until(self, want: int) -> bool:
        """Walk on until `want` matches are known or the walk ends; True if the budget ran out."""
        walk = self._walk
        budget = SCAN_BUDGET
        while len(walk.ids) < want and not walk.exhausted:
            if budget <= 0:
                return True
            budget -= 1
            if self.filters.annotation_driven:
                await self._walk_annotations()
            else:
                await self._walk_inputs()
        return False

    async def _versions(self) -> tuple[list[str], list[str]]:
        """(user_ids, model_version_ids) for the worker filter."""
        worker = self.filters.worker.strip()
        if not worker:
            return [], []
        if not worker.startswith("model:"):
            return [worker], []
        model = worker.removeprefix("model:").strip()
        if self._model_versions is None:
            versions: list[str] = []
            try:
                listed = await self.client.list_model_versions(model, per_page=100)
                versions = [v.id for v in listed]
            except ApiError:  # not a model id: a model's name, or a version id
                named = await self._model_named(model)
                if named:
                    listed = await self.client.list_model_versions(named, per_page=100)
                    versions = [v.id for v in listed]
            self._model_versions = versions or [model]
        return [], self._model_versions

    async def _model_named(self, name: str) -> str:
        """The id of the app's model called `name` (case-insensitive), or ""."""
        wanted = name.casefold()
        async for model in self.client.iter_models():
            if (model.name or "").casefold() == wanted:
                return model.id
        return ""

    async def _walk_annotations(self) -> None:
        walk, flt = self._walk, self.filters
        user_ids, version_ids = await self._versions()
        page = await self.client.list_annotations(
            page=walk.next_page,
            per_page=SCAN_PER_PAGE,
            user_ids=user_ids or None,
            model_version_ids=version_ids or None,
            list_all_annotations=True,
        )
        walk.next_page += 1
        walk.scanned += len(page)
        if not page.has_more:
            walk.exhausted = True
        candidates: list[str] = []
        for annotation in page:
            input_id = annotation.input_id
            if input_id in walk.seen or not flt.matches_annotation(annotation):
                continue
            walk.seen.add(input_id)
            if flt.matches_text(input_id):
                candidates.append(input_id)
        if flt.input_status is not None and candidates:
            keep: set[str] = set()
            for start in range(0, len(candidates), 128):
                chunk = candidates[start : start + 128]
                listed = await self.client.list_inputs(
                    ids=chunk, status=flt.input_status, per_page=len(chunk)
                )
                keep.update(i.id for i in listed)
            candidates = [c for c in candidates if c in keep]
        walk.ids.extend(candidates)

    async def _walk_inputs(self) -> None:
        walk, flt = self._walk, self.filters
        total = _counted(self.counts, flt.input_status)
        if flt.oldest_first and total is not None:
            last = max(1, -(-total // SCAN_PER_PAGE))
            server_page = last - (walk.next_page - 1)
            if server_page < 1:
                walk.exhausted = True
                return
            listed = await self.client.list_inputs(
                page=server_page, per_page=SCAN_PER_PAGE, status=flt.input_status
            )
            items = list(reversed(listed))
            walk.exhausted = server_page == 1
        else:
            listed = await self.client.list_inputs(
                page=walk.next_page, per_page=SCAN_PER_PAGE, status=flt.input_status
            )
            items = list(listed)
            walk.exhausted = not listed.has_more
        walk.next_page += 1
        walk.scanned += len(items)
        for item in items:
            if item.id not in walk.seen and flt.matches_text(item.id):
                walk.seen.add(item.id)
                walk.ids.append(item.id)

    async def locate(self, input_id: str) -> int | None:
        """The page (under these filters) that holds `input_id`, looking at most
        JUMP_SCAN_LIMIT inputs deep; None if not found there."""
        if self.filters.scanning:
            async with self._walk_lock:
                while input_id not in self._walk.seen and not self._walk.exhausted:
                    if self._walk.scanned >= JUMP_SCAN_LIMIT:
                        break
                    await self._walk_until(len(self._walk.ids) + 1)
            if input_id in self._walk.ids:
                return self._walk.ids.index(input_id) // self.per_page + 1
            return None
        step = 1000
        total = _counted(self.counts, self.filters.input_status)
        for server_page in range(1, JUMP_SCAN_LIMIT // step + 1):
            listed = await self.client.list_inputs(
                page=server_page, per_page=step, status=self.filters.input_status
            )
            for n, item in enumerate(listed):
                if item.id == input_id:
                    position = (server_page - 1) * step + n
                    if self.filters.oldest_first and total is not None:
                        position = total - 1 - position
                    return position // self.per_page + 1
            if not listed.has_more:
                break
        return None


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
    "text": "filter: input id contains...  (enter applies, empty clears, esc cancels)",
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
        table.add_column("input id", width=14, key="id")
        table.add_column("status", width=7, key="status")
        for status, label in COUNT_COLUMNS:
            table.add_column(label, width=3, key=str(int(status)))
        table.add_column("concepts", width=16, key="concepts")
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
            table.add_row(*self._cells(row), key=row.id)
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
        cells: list[Any] = [Text(row.id), Text(input_status_name(status), style=style)]
        for code, _ in COUNT_COLUMNS:
            count = row.count(code)
            cells.append(Text(str(count) if count else "·", justify="right"))
        cells.append(Text(row.top_concepts()))
        cells.append(Text(format_time(row.input.created_at)))
        return cells

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
            extra.append(f"filters: {self.filters.describe()}")
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
        from screens.input_detail import InputDetailScreen

        self.app.push_screen(InputDetailScreen(client, input_id))
