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

Concepts given for the batch are sent as `data.concepts` (value 1) on each input; Clarifai
turns the data of a PostInputs call into an input-level annotation of the app owner
(docs: "Create Annotations"), so they count as labels. Concepts are created first when
missing. An input that is already present keeps its concepts (the batch's are not added).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Final, Literal

from api.client import BATCH_SIZE, ClarifaiClient
from api.errors import ApiConnectionError, ApiError
from api.models import (
    INPUT_PROCESSING_CODES,
    Concept,
    InputStatus,
    NewInput,
    content_input_id,
    url_input_id,
)

IMAGE_EXTENSIONS: Final = frozenset(
    {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".jfif"}
)
MISSING_POLLS_BEFORE_FAILING: Final = 3
#: How much file data may be read ahead of the calls in flight (at least one batch).
PREPARE_AHEAD_BYTES: Final = 64 * 1024 * 1024


# ---------------------------------------------------------------------------------------
# Sources


@dataclass(frozen=True)
class UploadSource:
    """One thing to upload: a file, a URL, or a problem found while collecting."""

    kind: Literal["file", "url", "error"]
    label: str
    """What the user sees: the path as given/walked, or the URL."""
    path: Path | None = None
    url: str | None = None
    size: int = 0
    mtime_ns: int = 0
    error: str = ""
    input_id: str | None = None
    """An explicit input id (default: derived from the content or the URL)."""

    key: str = field(init=False, repr=False, compare=False)
    """The journal's key: path + size + mtime_ns, or the URL."""

    def __post_init__(self) -> None:
        # Set once here rather than a cached_property: every source's key is read while
        # collecting, and Python 3.11's cached_property takes a lock on each first read.
        if self.kind == "file":
            key = f"file:{self.path}:{self.size}:{self.mtime_ns}"
        elif self.kind == "url":
            key = f"url:{self.url}"
        else:
            key = f"error:{self.label}"
        object.__setattr__(self, "key", key)

    @classmethod
    def for_file(cls, path: Path, label: str | None = None) -> UploadSource:
        stat = path.stat()
        return cls(
            kind="file",
            label=label or str(path),
            path=path.resolve(),
            size=stat.st_size,
            mtime_ns=stat.st_mtime_ns,
        )

    @classmethod
    def for_url(cls, url: str) -> UploadSource:
        url = url.strip()
        if not url.lower().startswith(("http://", "https://")):
            return cls(kind="error", label=url, error="not an http(s) URL")
        return cls(kind="url", label=url, url=url)


def _walk(
    folder: Path, recursive: bool, extensions: frozenset[str] = IMAGE_EXTENSIONS
) -> Iterable[UploadSource]:
    """Sources for the image files in `folder` (by name; hidden entries skipped).

    One `scandir` per folder and one `stat` per file: the entry types come with the listing
    and the folder is resolved once, so thousands of files cost no per-file `resolve()`.
    """
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda e: e.name)
        resolved = folder.resolve()
    except OSError:
        return
    # Labels read as str(folder / name), joined as strings: a pathlib join costs ~3 us a file.
    prefix = "" if str(folder) == "." else os.path.join(str(folder), "")
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_dir():
                if recursive:
                    yield from _walk(folder / entry.name, recursive, extensions)
                continue
            if not entry.is_file() or os.path.splitext(entry.name)[1].lower() not in extensions:
                continue
        except OSError:
            continue  # gone while walking: as if it had not been there
        label = prefix + entry.name
        try:
            if entry.is_symlink():
                yield UploadSource.for_file(folder / entry.name)
                continue
            stat = entry.stat()
        except OSError as exc:
            yield UploadSource(kind="error", label=label, error=exc.strerror or str(exc))
            continue
        yield UploadSource(
            kind="file",
            label=label,
            path=resolved / entry.name,
            size=stat.st_size,
            mtime_ns=stat.st_mtime_ns,
        )


def read_url_file(path: Path) -> list[str]:
    """URLs from a text file: one a line; blank lines and `#` comments skipped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [s for s in (line.strip() for line in lines) if s and not s.startswith("#")]


def collect_sources(
    paths: Sequence[str | Path] = (),
    *,
    recursive: bool = False,
    url_files: Sequence[str | Path] = (),
    urls: Sequence[str] = (),
    extensions: Iterable[str] | None = None,
) -> list[UploadSource]:
    """Files named and found in folders (image extensions, hidden entries skipped; into
    sub-folders only with `recursive`), URLs from `url_files` and `urls`, in that order.
    `extensions` ("png" or ".png") narrows or widens what counts as an image in folders
    (default IMAGE_EXTENSIONS); a file named explicitly is always taken.

    Problems (a missing path, an unreadable URL file, a bad URL) come back as sources of
    kind "error", which the uploader reports as failed with the reason.
    """
    out: list[UploadSource] = []
    seen: set[str] = set()
    wanted = (
        IMAGE_EXTENSIONS
        if extensions is None
        else frozenset("." + e.lower().lstrip(".") for e in extensions)
    )

    def add(source: UploadSource) -> None:
        if source.key not in seen:
            seen.add(source.key)
            out.append(source)

    for given in paths:
        path = Path(given).expanduser()
        try:
            if path.is_dir():
                for found in _walk(path, recursive, wanted):
                    add(found)
            elif path.is_file():
                add(UploadSource.for_file(path, str(given)))
            else:
                add(UploadSource(kind="error", label=str(given), error="no such file or folder"))
        except OSError as exc:
            add(UploadSource(kind="error", label=str(given), error=exc.strerror or str(exc)))
    for url_file in url_files:
        try:
            for url in read_url_file(Path(url_file).expanduser()):
                add(UploadSource.for_url(url))
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            add(UploadSource(kind="error", label=str(url_file), error=f"cannot read: {reason}"))
    for url in urls:
        if url.strip():
            add(UploadSource.for_url(url))
    return out


# ---------------------------------------------------------------------------------------
# States, events, summary


class ItemState(StrEnum):
    QUEUED = "queued"
    UPLOADING = "uploading"
    ACKNOWLEDGED = "acknowledged"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"


SETTLED_STATES: Final = frozenset({ItemState.DONE, ItemState.FAILED})
_ACCEPTED_STATES: Final = frozenset({ItemState.ACKNOWLEDGED, ItemState.PROCESSING, *SETTLED_STATES})
Outcome = Literal["uploaded", "already_present", "failed", ""]


@dataclass(frozen=True)
class ItemEvent:
    """An item changed state. `outcome` is set once it is settled."""

    key: str
    label: str
    state: ItemState
    input_id: str = ""
    outcome: Outcome = ""
    reason: str = ""


@dataclass(frozen=True)
class ProgressEvent:
    total: int
    queued: int
    uploading: int
    processing: int
    """Acknowledged or processing on the server."""
    uploaded: int
    already_present: int
    failed: int
    rate: float
    """Items per second (acknowledged or settled) since the run started, pauses excluded."""
    eta: float | None
    elapsed: float
    paused: bool = False

    @property
    def settled(self) -> int:
        return self.uploaded + self.already_present + self.failed


@dataclass(frozen=True)
class ItemReport:
    label: str
    input_id: str
    reason: str = ""


@dataclass(frozen=True)
class UploadSummary:
    uploaded: tuple[ItemReport, ...] = ()
    already_present: tuple[ItemReport, ...] = ()
    failed: tuple[ItemReport, ...] = ()
    pending: tuple[ItemReport, ...] = ()
    """Not settled: the run was cancelled, or processing outlasted the timeout."""
    cancelled: bool = False
    elapsed: float = 0.0

    @property
    def total(self) -> int:
        return len(self.uploaded) + len(self.already_present) + len(self.failed) + len(self.pending)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.pending and not self.cancelled


UploadEvent = ItemEvent | ProgressEvent
EventCallback = Callable[[UploadEvent], None]


class UploadController:
    """Pause, resume and cancel a running upload (from any task on the same loop)."""

    def __init__(self) -> None:
        self._running = asyncio.Event()
        self._running.set()
        self._cancelled = False

    @property
    def paused(self) -> bool:
        return not self._running.is_set() and not self._cancelled

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def pause(self) -> None:
        if not self._cancelled:
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def cancel(self) -> None:
        self._cancelled = True
        self._running.set()

    async def wait_running(self) -> bool:
        """Wait while paused; False once cancelled."""
        await self._running.wait()
        return not self._cancelled


# ---------------------------------------------------------------------------------------
# Journal


@dataclass
class _Item:
    source: UploadSource
    state: ItemState = ItemState.QUEUED
    input_id: str = ""
    outcome: Outcome = ""
    reason: str = ""
    sent_before: bool = False
    """A previous (killed) run may have sent it: a duplicate answer means it was ours."""
    missing_polls: int = 0
    verify_only: bool = False
    """Settled in a previous run; only checked on the server."""


_Row = tuple[str, str, str, str, str, str, float]


class Journal:
    """SQLite (WAL, synchronous=FULL) record of each source's input id and state.

    Used from one thread at a time: the event loop's while loading and closing, the
    `_JournalWriter`'s thread in between.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS items (key TEXT PRIMARY KEY, label TEXT NOT NULL, "
            "input_id TEXT NOT NULL DEFAULT '', state TEXT NOT NULL, "
            "outcome TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '', "
            "updated REAL NOT NULL)"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")

    @classmethod
    def for_app(cls, state_dir: Path, client: ClarifaiClient) -> Journal:
        scope = f"{client.base_url}\n{client.user_id}\n{client.app_id}"
        digest = hashlib.sha256(scope.encode()).hexdigest()[:12]
        safe_app = "".join(c if c.isalnum() or c in "-_" else "_" for c in client.app_id or "")
        return cls(state_dir / "uploads" / f"{safe_app}-{digest}.sqlite")

    def close(self) -> None:
        self._db.close()

    def load(self) -> dict[str, tuple[str, str, str, str]]:
        rows = self._db.execute("SELECT key, input_id, state, outcome, reason FROM items")
        return {k: (i, s, o, r) for k, i, s, o, r in rows}

    def run_open(self) -> bool:
        row = self._db.execute("SELECT value FROM meta WHERE name='run'").fetchone()
        return bool(row and row[0] == "open")

    def set_run(self, state: Literal["open", "closed"]) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('run', ?)", (state,))

    @staticmethod
    def rows(items: Iterable[_Item], state: ItemState | None = None) -> list[_Row]:
        """The items' current states (or `state`) as rows, taken on the event loop."""
        now = time.time()
        return [
            (
                i.source.key,
                i.source.label,
                i.input_id,
                (state or i.state).value,
                i.outcome,
                i.reason,
                now,
            )
            for i in items
        ]

    def write(self, rows: Sequence[_Row], meta: Sequence[tuple[str, str]] = ()) -> None:
        """Write `rows` (and `meta` values) in one transaction; on disk when this returns."""
        if not rows and not meta:
            return
        self._db.execute("BEGIN")
        try:
            self._db.executemany(
                "INSERT OR REPLACE INTO items (key, label, input_id, state, outcome, reason, "
                "updated) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            self._db.executemany("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", meta)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def save(self, items: Iterable[_Item]) -> None:
        self.write(self.rows(items))


class _JournalWriter:
    """Writes journal rows on a thread of its own, so that an fsync never stalls the event
    loop (which meanwhile sends and receives the other batches in flight).

    Group commit: whatever is put while a transaction is being written goes into the next
    one, the newest state of an item replacing an older one not yet written. `put` returns
    at once (for states whose loss a resume repairs: see the module docstring); `durable()`
    is a future that is done once everything put so far is on disk (`uploading` must be,
    before the PostInputs call). The first failure to write fails every later `durable()`
    and `close()`.
    """

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="upload-journal")
        self._pending: dict[str, _Row] = {}
        self._meta: dict[str, str] = {}
        self._waiters: list[asyncio.Future[None]] = []
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None

    def put(self, items: Iterable[_Item], state: ItemState | None = None) -> None:
        for row in Journal.rows(items, state):
            self._pending[row[0]] = row
        self._kick()

    def put_meta(self, name: str, value: str) -> None:
        self._meta[name] = value
        self._kick()

    def durable(self) -> asyncio.Future[None]:
        """Done once everything put so far is on disk."""
        waiter = asyncio.get_running_loop().create_future()
        waiter.add_done_callback(_retrieve)  # its awaiter may be gone (a cancelled run)
        if self._error is not None:
            waiter.set_exception(self._error)
        elif not self._pending and not self._meta and self._task is None:
            waiter.set_result(None)
        else:
            self._waiters.append(waiter)
            self._kick()
        return waiter

    def _kick(self) -> None:
        if self._task is None and self._error is None and (self._pending or self._meta):
            self._task = asyncio.get_running_loop().create_task(self._drain())

    def _take(self) -> tuple[list[_Row], list[tuple[str, str]]]:
        rows, meta = list(self._pending.values()), list(self._meta.items())
        self._pending, self._meta = {}, {}
        return rows, meta

    async def _drain(self) -> None:
        try:
            while self._pending or self._meta or self._waiters:
                waiters, self._waiters = self._waiters, []
                # Submitted in the same step as taken, and shielded: a cancellation cannot
                # lose them, and `close` waits for the thread.
                writing = asyncio.wrap_future(
                    self._executor.submit(self.journal.write, *self._take())
                )
                writing.add_done_callback(_retrieve)
                try:
                    await asyncio.shield(writing)
                except asyncio.CancelledError:
                    for waiter in waiters:
                        waiter.cancel()
                    raise
                except Exception as exc:
                    self._error = exc
                    for waiter in [*waiters, *self._waiters]:
                        if not waiter.done():
                            waiter.set_exception(exc)
                    self._waiters = []
                    return
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)
        finally:
            self._task = None

    def close(self) -> None:
        """Stop the writer and write what is left, here and now (also after a cancel)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._executor.shutdown(wait=True)  # the transaction in progress, if any
        for waiter in self._waiters:
            waiter.cancel()
        self._waiters = []
        if self._error is not None:
            raise self._error
        self.journal.write(*self._take())


def _retrieve(future: asyncio.Future[None]) -> None:
    """Mark a shielded future's outcome as seen (its awaiter may have been cancelled)."""
    if not future.cancelled():
        future.exception()


# ---------------------------------------------------------------------------------------
# The engine


@dataclass(frozen=True)
class _Prepared:
    """A batch ready to post: its items, the inputs to send (failures and copies out), and
    the journal write of their `uploading` states, to wait for before posting."""

    batch: list[_Item]
    pairs: list[tuple[_Item, NewInput]]
    durable: asyncio.Future[None]


def _is_fatal(error: ApiError) -> bool:
    """Errors that concern the whole run, not the batch: stop (the journal resumes)."""
    return (
        isinstance(error, ApiConnectionError)
        or error.is_auth
        or error.code in (11101, 11005, 10030)
        or error.http_status in (404, 429)
    )


@dataclass(frozen=True)
class UploadOptions:
    concepts: tuple[str, ...] = ()
    batch_size: int = BATCH_SIZE
    concurrency: int = 4
    follow_processing: bool = True
    poll_interval: float = 1.0
    processing_timeout: float | None = 1800.0
    progress_interval: float = 0.25


class Uploader:
    """Uploads sources into the client's app, resumably. One `run` at a time."""

    def __init__(
        self,
        client: ClarifaiClient,
        *,
        state_dir: Path,
        options: UploadOptions | None = None,
        on_event: EventCallback | None = None,
        controller: UploadController | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not client.app_id:
            raise ValueError("the upload client needs an app: use client.with_app(app_id)")
        self.client = client
        self.state_dir = state_dir
        self.options = options or UploadOptions()
        self.on_event = on_event
        self.controller = controller or UploadController()
        self._sleep = sleep
        self._clock = clock
        self._items: list[_Item] = []
        self._by_input: dict[str, _Item] = {}
        self._writer: _JournalWriter | None = None
        self._started = 0.0
        self._paused_time = 0.0
        self._pausers = 0
        self._pause_began = 0.0
        self._progressed = 0
        self._last_progress = -1.0e9
        self._wake = asyncio.Event()

    # -- events --------------------------------------------------------------------------

    def _emit(self, event: UploadEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def _set(
        self,
        item: _Item,
        state: ItemState,
        *,
        outcome: Outcome = "",
        reason: str = "",
    ) -> None:
        if (
            state in _ACCEPTED_STATES
            and state is not ItemState.PROCESSING
            and item.state not in _ACCEPTED_STATES
        ):
            self._progressed += 1
        item.state = state
        if state is ItemState.ACKNOWLEDGED:
            self._wake.set()
        if outcome:
            item.outcome = outcome
        if reason or state is not ItemState.FAILED:
            item.reason = reason
        if self.on_event is None:
            return
        self.on_event(
            ItemEvent(
                key=item.source.key,
                label=item.source.label,
                state=state,
                input_id=item.input_id,
                outcome=item.outcome if state in SETTLED_STATES else "",
                reason=item.reason,
            )
        )

    def progress(self) -> ProgressEvent:
        counts = {state: 0 for state in ItemState}
        uploaded = already = failed = 0
        for item in self._items:
            counts[item.state] += 1
            if item.state is ItemState.DONE:
                if item.outcome == "already_present":
                    already += 1
                else:
                    uploaded += 1
            elif item.state is ItemState.FAILED:
                failed += 1
        elapsed = max(self._clock() - self._started - self._paused_time, 0.0)
        rate = self._progressed / elapsed if elapsed > 0 else 0.0
        remaining = len(self._items) - sum(
            counts[s]
            for s in (
                ItemState.ACKNOWLEDGED,
                ItemState.PROCESSING,
                ItemState.DONE,
                ItemState.FAILED,
            )
        )
        eta = remaining / rate if rate > 0 else (0.0 if remaining == 0 else None)
        return ProgressEvent(
            total=len(self._items),
            queued=counts[ItemState.QUEUED],
            uploading=counts[ItemState.UPLOADING],
            processing=counts[ItemState.ACKNOWLEDGED] + counts[ItemState.PROCESSING],
            uploaded=uploaded,
            already_present=already,
            failed=failed,
            rate=rate,
            eta=eta,
            elapsed=elapsed,
            paused=self.controller.paused,
        )

    def _tick(self, force: bool = False) -> None:
        now = self._clock()
        if force or now - self._last_progress >= self.options.progress_interval:
            self._last_progress = now
            if self.on_event is not None:
                self.on_event(self.progress())

    async def _wait_running(self) -> bool:
        """Wait while paused (the preparer and the poster may both wait: the pause is
        counted and announced once); False once cancelled."""
        if not self.controller.paused:
            return not self.controller.cancelled
        self._pausers += 1
        if self._pausers == 1:
            self._pause_began = self._clock()
            self._tick(force=True)
        try:
            return await self.controller.wait_running()
        finally:
            self._pausers -= 1
            if self._pausers == 0:
                self._paused_time += self._clock() - self._pause_began
                self._tick(force=True)

    # -- run -----------------------------------------------------------------------------

    async def run(self, sources: Sequence[UploadSource]) -> UploadSummary:
        """Upload `sources`; returns when every item is settled, or cancelled.

        Raises ApiError for failures of the whole run (auth, unreachable server, no such
        app); the journal keeps what was done, so running again resumes.
        """
        self._started = self._clock()
        journal = Journal.for_app(self.state_dir, self.client)
        writer = _JournalWriter(journal)
        self._writer = writer
        try:
            self._load(sources, journal)
            # written with this run's first states (before anything is sent)
            writer.put_meta("run", "open")
            self._tick(force=True)
            cancelled = await self._run_all()
            writer.close()
            if not cancelled and all(i.state in SETTLED_STATES for i in self._items):
                journal.set_run("closed")
        except BaseException:
            with contextlib.suppress(Exception):
                writer.close()  # best effort: an item not written keeps its last durable state
            raise
        finally:
            journal.close()
            self._writer = None
        self._tick(force=True)
        return self._summary(cancelled)

    def _load(self, sources: Sequence[UploadSource], journal: Journal) -> None:
        known = journal.load()
        resumed = journal.run_open()
        self._items = []
        self._by_input = {}
        for source in sources:
            item = _Item(source)
            self._items.append(item)
            if source.kind == "error":
                item.state = ItemState.FAILED
                item.outcome = "failed"
                item.reason = source.error
                continue
            if source.kind == "url":
                item.input_id = source.input_id or url_input_id(source.url or "")
            elif source.input_id:
                item.input_id = source.input_id
            row = known.get(source.key)
            if row is None:
                continue
            input_id, state, outcome, _reason = row
            item.input_id = item.input_id or input_id
            if state in (ItemState.QUEUED, ItemState.FAILED):
                continue  # (re)post; failures are retried and re-reported
            if state == ItemState.UPLOADING:
                item.sent_before = True
                continue
            item.state = ItemState.ACKNOWLEDGED
            if state == ItemState.DONE:
                item.verify_only = True
                item.outcome = (
                    "uploaded" if resumed and outcome == "uploaded" else "already_present"
                )
            else:
                item.outcome = "already_present" if outcome == "already_present" else "uploaded"
            if item.input_id:
                self._by_input.setdefault(item.input_id, item)
        for item in self._items:
            self._emit(
                ItemEvent(
                    item.source.key,
                    item.source.label,
                    item.state,
                    item.input_id,
                    item.outcome if item.state in SETTLED_STATES else "",
                    item.reason,
                )
            )

    async def _run_all(self) -> bool:
        if self.options.concepts and any(i.state is ItemState.QUEUED for i in self._items):
            await self._ensure_concepts()
        posting_done = asyncio.Event()
        poster = asyncio.create_task(self._post_all(posting_done))
        follower = asyncio.create_task(self._follow(posting_done))
        try:
            done, _ = await asyncio.wait({poster, follower}, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # raise the first failure
            await asyncio.gather(poster, follower)
        finally:
            for task in (poster, follower):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        return self.controller.cancelled

    async def _ensure_concepts(self) -> None:
        missing = []
        for concept_id in self.options.concepts:
            try:
                await self.client.get_concept(concept_id)
            except ApiError as exc:
                if not exc.is_not_found:
                    raise
                missing.append(Concept(concept_id, name=concept_id))
        if not missing:
            return
        try:
            await self.client.create_concepts(missing)
        except ApiError as exc:
            # A lost answer to an earlier attempt makes the retry say "already exist": check
            # what is there now rather than failing the whole upload.
            for concept in missing:
                try:
                    await self.client.get_concept(concept.id)
                except ApiError:
                    raise exc from None

    # -- posting -------------------------------------------------------------------------

    async def _post_all(self, posting_done: asyncio.Event) -> None:
        """Post the queued items in batches, `concurrency` calls in flight.

        Batches are prepared (files read and hashed, `uploading` on disk) ahead of the free
        call slots, up to `concurrency` batches and about PREPARE_AHEAD_BYTES: when a call
        is answered the next one goes out at once, as a bare loop of prepared requests would.
        """
        queue = [i for i in self._items if i.state is ItemState.QUEUED]
        size = max(1, min(self.options.batch_size, BATCH_SIZE))
        batches = [queue[start : start + size] for start in range(0, len(queue), size)]
        concurrency = max(1, self.options.concurrency)
        batch_bytes = max((sum(i.source.size for i in b) for b in batches), default=0)
        ahead = max(1, min(concurrency, PREPARE_AHEAD_BYTES // max(1, batch_bytes)))
        room = asyncio.Semaphore(ahead)  # prepared batches not yet sent
        ready: asyncio.Queue[_Prepared | None] = asyncio.Queue()
        gate = asyncio.Semaphore(concurrency)  # calls in flight
        tasks: set[asyncio.Task[None]] = set()

        async def prepare_all() -> None:
            try:
                for batch in batches:
                    await room.acquire()
                    if not await self._wait_running():
                        break
                    prepared = await self._prepare(batch)
                    if prepared:
                        ready.put_nowait(prepared)
                    else:
                        room.release()
            finally:
                ready.put_nowait(None)

        # A send that fails is taken out of `tasks` as it ends; its exception is kept here,
        # read in the callback (so asyncio never reports it as "never retrieved", as it did
        # for every batch but the first when an app did not exist) and raised by the loop.
        failures: list[BaseException] = []

        def sent(task: asyncio.Task[None]) -> None:
            gate.release()
            tasks.discard(task)
            if not task.cancelled() and (error := task.exception()) is not None:
                failures.append(error)

        preparer = asyncio.create_task(prepare_all())
        try:
            while (prepared := await ready.get()) is not None:
                if failures:
                    raise failures[0]  # surface a fatal error promptly
                if not await self._wait_running():
                    break
                await gate.acquire()
                room.release()
                if self.controller.cancelled or failures:
                    gate.release()
                    break
                task = asyncio.create_task(self._send(prepared))
                tasks.add(task)
                task.add_done_callback(sent)
            if preparer.done():
                preparer.result()  # a failure to prepare (the journal) stops the run
            while tasks and not failures:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if failures:
                raise failures[0]
        finally:
            for task in (preparer, *tasks):
                task.cancel()
            await asyncio.gather(preparer, *tasks, return_exceptions=True)
            posting_done.set()
            self._wake.set()

    async def _read(self, batch: list[_Item]) -> list[tuple[_Item, NewInput]]:
        concepts = tuple(Concept(c, value=1.0) for c in self.options.concepts)

        def load() -> list[tuple[_Item, bytes | None, str]]:
            """(item, bytes, content id) or (item, None, problem); hashed here, off the loop."""
            loaded: list[tuple[_Item, bytes | None, str]] = []
            for item in batch:
                source = item.source
                if source.kind != "file":
                    loaded.append((item, None, ""))
                    continue
                assert source.path is not None
                try:
                    data = source.path.read_bytes()
                except OSError as exc:
                    loaded.append((item, None, f"cannot read: {exc.strerror or exc}"))
                    continue
                if not data:
                    loaded.append((item, None, "empty file"))
                    continue
                loaded.append((item, data, source.input_id or content_input_id(data)))
            return loaded

        out: list[tuple[_Item, NewInput]] = []
        for item, data, text in await asyncio.to_thread(load):
            if item.source.kind == "file" and data is None:
                item.outcome = "failed"
                self._set(item, ItemState.FAILED, outcome="failed", reason=text)
                continue
            if data is not None:
                new = NewInput(data=data, id=text, concepts=concepts)
            else:
                new = NewInput(url=item.source.url, id=item.source.input_id, concepts=concepts)
            item.input_id = new.input_id
            other = self._by_input.get(item.input_id)
            if other is not None and other is not item:
                reason_label = other.source.label
                self._set(
                    item,
                    ItemState.DONE,
                    outcome="already_present",
                    reason=f"same content as {reason_label}",
                )
                continue
            self._by_input[item.input_id] = item
            out.append((item, new))
        return out

    async def _prepare(self, batch: list[_Item]) -> _Prepared | None:
        """Read the batch and queue the journal write of its `uploading` states (which
        `_send` waits for); None if nothing is left to send.

        The items are shown as uploading only once sent: until then a batch read ahead is
        `uploading` in the journal alone, which a resumed run takes as "may have been sent"
        and re-posts, counting a duplicate answer as its own.
        """
        pairs = await self._read(batch)
        writer = self._writer
        assert writer is not None
        sending = {id(item) for item, _ in pairs}
        writer.put([i for i in batch if id(i) not in sending])  # failed to read, or copies
        if not pairs:
            return None
        writer.put([item for item, _ in pairs], state=ItemState.UPLOADING)
        return _Prepared(batch, pairs, writer.durable())

    async def _post_batch(self, batch: list[_Item]) -> None:
        prepared = await self._prepare(batch)
        if prepared:
            await self._send(prepared)

    async def _send(self, prepared: _Prepared) -> None:
        batch, pairs = prepared.batch, prepared.pairs
        writer = self._writer
        assert writer is not None
        for item, _ in pairs:
            self._set(item, ItemState.UPLOADING)
        self._tick()
        # `uploading` on disk before the call: a kill from here on resumes safely. Later
        # states need not wait (a kill before they are written leaves `uploading`: the
        # resumed run re-posts those items and counts the duplicate answer as its own).
        await prepared.durable
        try:
            results = await self.client.post_inputs_batch(
                [new for _, new in pairs], keep_inputs=False
            )
        except ApiError as exc:
            if _is_fatal(exc):
                raise
            for item, _ in pairs:
                self._set(item, ItemState.FAILED, outcome="failed", reason=str(exc))
            writer.put(batch)
            self._tick()
            return
        for (item, _), result in zip(pairs, results, strict=True):
            if result.outcome == "failed":
                self._set(item, ItemState.FAILED, outcome="failed", reason=result.reason)
                continue
            ours = (
                result.outcome == "created"
                or item.sent_before  # sent by an earlier, killed run of this upload
                or (result.outcome == "duplicate" and result.after_lost_answer)
            )
            self._set(
                item,
                ItemState.ACKNOWLEDGED,
                outcome="uploaded" if ours else "already_present",
            )
            if not self.options.follow_processing:
                self._set(item, ItemState.DONE)
        writer.put(batch)
        self._tick()

    # -- following processing ------------------------------------------------------------

    async def _follow(self, posting_done: asyncio.Event) -> None:
        if not self.options.follow_processing:
            await posting_done.wait()
            return
        began: float | None = None
        while True:
            if self.controller.cancelled:
                return
            waiting = [
                i for i in self._items if i.state in (ItemState.ACKNOWLEDGED, ItemState.PROCESSING)
            ]
            if not waiting:
                if posting_done.is_set():
                    return
            else:
                began = began if began is not None else self._clock()
                await self._poll(waiting)
                timeout = self.options.processing_timeout
                if (
                    timeout is not None
                    and self._clock() - began > timeout
                    and posting_done.is_set()
                ):
                    return  # left pending; the next run picks them up
            if posting_done.is_set() and not any(
                i.state in (ItemState.ACKNOWLEDGED, ItemState.PROCESSING) for i in self._items
            ):
                return
            await self._sleep_or_posting(posting_done)

    async def _sleep_or_posting(self, posting_done: asyncio.Event) -> None:
        """Sleep one poll interval while inputs are processing; else wait for work."""
        if any(i.state in (ItemState.ACKNOWLEDGED, ItemState.PROCESSING) for i in self._items):
            await self._sleep(self.options.poll_interval)
            return
        if not posting_done.is_set():
            await self._wake.wait()
            self._wake.clear()

    async def _poll(self, waiting: list[_Item]) -> None:
        writer = self._writer
        assert writer is not None
        for start in range(0, len(waiting), BATCH_SIZE):
            chunk = waiting[start : start + BATCH_SIZE]
            ids = [i.input_id for i in chunk]
            page = await self.client.list_inputs(ids=ids, per_page=len(ids))
            found = {i.id: i for i in page}
            changed: list[_Item] = []
            for item in chunk:
                remote = found.get(item.input_id)
                if remote is None:
                    item.missing_polls += 1
                    if item.missing_polls >= MISSING_POLLS_BEFORE_FAILING:
                        if item.verify_only:
                            # gone since the last run: send it again
                            item.verify_only = False
                            item.missing_polls = 0
                            item.outcome = ""
                            self._set(item, ItemState.QUEUED)
                            changed.append(item)
                            await self._post_batch([item])
                        else:
                            self._set(
                                item,
                                ItemState.FAILED,
                                outcome="failed",
                                reason="accepted, but the input is no longer in the app",
                            )
                            changed.append(item)
                    continue
                item.missing_polls = 0
                if remote.status_code in INPUT_PROCESSING_CODES:
                    if item.state is not ItemState.PROCESSING:
                        self._set(item, ItemState.PROCESSING)
                        changed.append(item)
                elif remote.status_code == InputStatus.SUCCESS or remote.status_code == 0:
                    self._set(item, ItemState.DONE, outcome=item.outcome or "uploaded")
                    changed.append(item)
                else:
                    reason = remote.status_description or f"status {remote.status_code}"
                    if remote.status_details and remote.status_details != reason:
                        reason = f"{reason}: {remote.status_details}"
                    self._set(item, ItemState.FAILED, outcome="failed", reason=reason)
                    changed.append(item)
            writer.put(changed)
            self._tick()

    # -- summary -------------------------------------------------------------------------

    def _summary(self, cancelled: bool) -> UploadSummary:
        uploaded: list[ItemReport] = []
        already: list[ItemReport] = []
        failed: list[ItemReport] = []
        pending: list[ItemReport] = []
        for item in self._items:
            report = ItemReport(item.source.label, item.input_id, item.reason)
            if item.state is ItemState.FAILED:
                failed.append(report)
            elif item.state is ItemState.DONE:
                (already if item.outcome == "already_present" else uploaded).append(report)
            else:
                state = item.state.value
                pending.append(replace(report, reason=item.reason or f"still {state}"))
        return UploadSummary(
            uploaded=tuple(uploaded),
            already_present=tuple(already),
            failed=tuple(failed),
            pending=tuple(pending),
            cancelled=cancelled,
            elapsed=max(self._clock() - self._started, 0.0),
        )


__all__ = [
    "IMAGE_EXTENSIONS",
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
