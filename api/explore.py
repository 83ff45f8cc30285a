"""The Explorer's query layer: filters, rows and pages of inputs with their annotations,
read from the server (no Textual: the Explorer screen shows what this module answers).

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

One module on purpose (issue #23): one `InputPager` and the small types it answers with
(`Filters`, `Row`, `PageData`); every way of filling a page (search, the plain listing, the
two walks) shares its filters, its walk state and the scan budget described above.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from api.client import ClarifaiClient
from api.errors import ApiError
from api.models import (
    DEFAULT_SAMPLE_MS,
    Annotation,
    AnnotationFilter,
    Concept,
    Input,
    InputCounts,
    InputFilter,
    InputStatus,
    SearchFilter,
)
from api.video import sample_times

#: Rows per page unless the caller says (the TUI passes the config's ``ui.per_page``).
PER_PAGE: Final = 30
SCAN_PER_PAGE: Final = 200
SCAN_BUDGET: Final = 20
ANNOTATIONS_PER_PAGE: Final = 1000
#: How far `j` (jump to id) looks for an input's page: this many inputs.
JUMP_SCAN_LIMIT: Final = 10_000


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

    def matches_text(self, input_id: str, filename: str = "") -> bool:
        """The id text filter: part of the input's id or of its file name."""
        if not self.text:
            return True
        needle = self.text.casefold()
        return needle in input_id.casefold() or needle in filename.casefold()


def sampled_frame_count(item: Input, frame_ms: int = DEFAULT_SAMPLE_MS) -> int | None:
    """How many frames of a video the platform samples (one every ``frame_ms`` from the
    start: ``api.video.sample_times``); None for an image or a video not processed yet."""
    if item.video is None:
        return None
    return len(sample_times(round(item.video.duration_seconds * 1000), frame_ms))


@dataclass(frozen=True)
class Row:
    input: Input
    annotations: tuple[Annotation, ...] = ()
    #: The app's milliseconds between sampled video frames (what a video row counts by).
    frame_ms: int = DEFAULT_SAMPLE_MS

    @property
    def id(self) -> str:
        return self.input.id

    @property
    def sampled_frames(self) -> int | None:
        """A processed video's sampled frames; None for an image or an unprocessed video."""
        return sampled_frame_count(self.input, self.frame_ms)

    @property
    def annotated_frames(self) -> int:
        """How many distinct frames of a video its annotations label."""
        return len({a.frame.index for a in self.annotations if a.frame is not None})

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


def file_name(item: Input) -> str:
    """The file an input was uploaded from (``metadata.filename``, as the uploader records
    it), or ""."""
    name = item.metadata.get("filename") if item.metadata else None
    return name if isinstance(name, str) else ""


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
        self._frame_ms: int | None = None

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

    async def frame_ms(self) -> int:
        """The app's milliseconds between sampled video frames: one GetApp, the first time a
        page holds a video (a page of images costs no extra call)."""
        if self._frame_ms is None:
            try:
                self._frame_ms = (await self.client.get_app()).frame_ms
            except ApiError:
                self._frame_ms = DEFAULT_SAMPLE_MS
        return self._frame_ms

    async def rows_for_inputs(self, inputs: Sequence[Input]) -> list[Row]:
        annotations = await self.annotations_for([i.id for i in inputs])
        frame_ms = await self.frame_ms() if any(i.is_video for i in inputs) else DEFAULT_SAMPLE_MS
        return [Row(i, tuple(annotations.get(i.id, ())), frame_ms) for i in inputs]

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
        if await self.searching():
            return await self._search_page(number)
        if self.filters.scanning:
            return await self._walk_page(number)
        return await self._plain_page(number)

    async def searching(self) -> bool:
        """Whether the server's search answers these filters (PostInputsSearches): the
        annotation filters without an id text, and a worker that is one user or one model
        version. Otherwise the bounded walk does."""
        flt = self.filters
        if not flt.annotation_driven or flt.text:
            return False
        user_ids, version_ids = await self._versions()
        return len(user_ids) + len(version_ids) <= 1

    async def search_filters(self) -> list[SearchFilter]:
        """The filters as one search query: one annotation filter (status, concept, user or
        model version must hold on one annotation, as the walk asks) and the input status."""
        flt = self.filters
        user_ids, version_ids = await self._versions()
        out: list[SearchFilter] = [
            AnnotationFilter(
                status=flt.annotation_status,
                concepts=(Concept(flt.concept, value=1.0),) if flt.concept else (),
                user_id=user_ids[0] if user_ids else "",
                model_version_id=version_ids[0] if version_ids else "",
            )
        ]
        if flt.input_status is not None:
            out.append(InputFilter(status=flt.input_status))
        return out

    async def _search_page(self, number: int) -> PageData:
        """One PostInputsSearches page and one ListAnnotations for its rows: 2 calls."""
        hits = await self.client.search_inputs(
            await self.search_filters(), page=number, per_page=self.per_page
        )
        rows = await self.rows_for_inputs([h.input for h in hits])
        known = (number - 1) * self.per_page + len(rows)
        has_next = hits.has_more
        return PageData(number, tuple(rows), None if has_next else known, known, has_next)

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
            if item.id not in walk.seen and flt.matches_text(item.id, file_name(item)):
                walk.seen.add(item.id)
                walk.ids.append(item.id)

    async def locate(self, input_id: str) -> int | None:
        """The page (under these filters) that holds `input_id`, looking at most
        JUMP_SCAN_LIMIT inputs deep; None if not found there."""
        if await self.searching():
            filters = await self.search_filters()
            for number in range(1, JUMP_SCAN_LIMIT // self.per_page + 1):
                hits = await self.client.search_inputs(filters, page=number, per_page=self.per_page)
                if any(h.input.id == input_id for h in hits):
                    return number
                if not hits.has_more:
                    break
            return None
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


async def model_version_names(client: ClarifaiClient, limit: int = 50) -> dict[str, str]:
    """Model version id -> the name a person knows it by (the model's name, or its id), for
    the app's models (at most `limit` of them): ListModels, then ListModelVersions of each.
    Annotations carry only a version id; the Explorer, detail and review show this instead."""
    names: dict[str, str] = {}
    models = []
    async for model in client.iter_models():
        models.append(model)
        if len(models) >= limit:
            break
    for model in models:
        try:
            versions = await client.list_model_versions(model.id, per_page=100)
        except ApiError:
            continue
        for version in versions:
            names[version.id] = model.name or model.id
    return names


class ModelNames:
    """Model version id -> name for one app, read once (``model_version_names``) and read
    again only when asked for a version it does not know (a model trained or made since):
    opening an input's detail or the review no longer lists every model each time."""

    def __init__(self) -> None:
        self._names: dict[str, str] | None = None

    async def for_versions(
        self, client: ClarifaiClient, version_ids: Iterable[str]
    ) -> dict[str, str]:
        wanted = {v for v in version_ids if v}
        if self._names is None or not wanted <= self._names.keys():
            self._names = await model_version_names(client)
        return self._names
