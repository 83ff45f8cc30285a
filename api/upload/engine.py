"""The batching engine: `Uploader` posts the queued sources in batches (a video in a batch of
its own), several calls in flight, with files read and journalled ahead, follows processing
until each input is done or failed, and sums the run up; `UploadOptions` tunes it.

One module on purpose (issue #23): `Uploader` is one state machine whose posting,
following and summary share the item list, the journal writer and the pause accounting;
split across modules its steps would have to reach into each other's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

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
from api.upload.events import (
    _ACCEPTED_STATES,
    SETTLED_STATES,
    EventCallback,
    ItemEvent,
    ItemReport,
    ItemState,
    Outcome,
    ProgressEvent,
    UploadController,
    UploadEvent,
    UploadSummary,
)
from api.upload.journal import Journal, _Item, _JournalWriter
from api.upload.scan import UploadSource, image_problem, video_problem, video_size_problem
from api.video import VIDEOS_PER_REQUEST

MISSING_POLLS_BEFORE_FAILING: Final = 3
#: How much file data may be read ahead of the calls in flight (at least one batch).
PREPARE_AHEAD_BYTES: Final = 64 * 1024 * 1024


@dataclass(frozen=True)
class _Prepared:
    """A batch ready to post: its items, the inputs to send (failures and copies out), and
    the journal write of their `uploading` states, to wait for before posting."""

    batch: list[_Item]
    pairs: list[tuple[_Item, NewInput]]
    durable: asyncio.Future[None]
    weight: int = 1
    """Places it takes among the batches prepared ahead (a video takes them all)."""


def _batches(queue: list[_Item], size: int) -> list[list[_Item]]:
    """The queue in batches of `size`; a video goes in a batch of its own (the platform takes
    VIDEOS_PER_REQUEST video per PostInputs), where it comes, while the images around it fill
    their batches as before."""
    if not any(item.source.video for item in queue):
        return [queue[start : start + size] for start in range(0, len(queue), size)]
    batches: list[list[_Item]] = []
    images: list[_Item] = []
    for item in queue:
        if item.source.video:
            batches.append([item])
            continue
        images.append(item)
        if len(images) == size:
            batches.append(images)
            images = []
    if images:
        batches.append(images)
    assert VIDEOS_PER_REQUEST == 1  # one a batch, as above
    return batches


def _is_fatal(error: ApiError) -> bool:
    """Errors that concern the whole run, not the batch: stop (the journal resumes)."""
    return (
        isinstance(error, ApiConnectionError)
        or error.is_auth
        or error.code in (11101, 11005, 10030)
        or error.http_status in (404, 429)
    )


#: What an item not settled at the end of a run had come to.
_PENDING: Final = {
    ItemState.QUEUED: "not sent",
    ItemState.UPLOADING: "sent, no answer received",
    ItemState.ACKNOWLEDGED: "accepted, still processing",
    ItemState.PROCESSING: "still processing",
}


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
        app); the journal keeps what was done, so running again resumes, and `summary()`
        says what was done before it stopped.
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
            if not self.options.follow_processing:
                # Not following processing: acknowledged is as far as this run goes, as it is
                # for the items it sends itself (a second --no-wait run said "not finished").
                item.state = ItemState.DONE
                item.verify_only = False
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
        batches = _batches(queue, size)
        concurrency = max(1, self.options.concurrency)
        # Read-ahead is sized by the image batches; a video (up to 128 MB) is prepared only
        # when nothing else is waiting (it takes every place), so one large video does not
        # slow the images of the same run down to one batch ahead.
        batch_bytes = max(
            (sum(i.source.size for i in b) for b in batches if not b[0].source.video),
            default=0,
        )
        ahead = max(1, min(concurrency, PREPARE_AHEAD_BYTES // max(1, batch_bytes)))
        room = asyncio.Semaphore(ahead)  # places for prepared batches not yet sent
        ready: asyncio.Queue[_Prepared | None] = asyncio.Queue()
        gate = asyncio.Semaphore(concurrency)  # calls in flight
        tasks: set[asyncio.Task[None]] = set()

        async def prepare_all() -> None:
            try:
                for batch in batches:
                    weight = ahead if batch[0].source.video else 1
                    for _ in range(weight):
                        await room.acquire()
                    if not await self._wait_running():
                        break
                    prepared = await self._prepare(batch, weight)
                    if prepared:
                        ready.put_nowait(prepared)
                    else:
                        for _ in range(weight):
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
                for _ in range(prepared.weight):
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
                if source.video and (problem := video_size_problem(source.size)):
                    loaded.append((item, None, problem))  # too large: not even read
                    continue
                try:
                    data = source.path.read_bytes()
                except OSError as exc:
                    loaded.append((item, None, f"cannot read: {exc.strerror or exc}"))
                    continue
                # The platform's limits, checked here: a video it refuses is never sent.
                problem = video_problem(data) if source.video else image_problem(data[:16])
                if problem:  # never sent: on the platform each would be a paid junk input
                    loaded.append((item, None, problem))
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
                # The file's name, for people (the Explorer shows it; `/` filters on it).
                name = item.source.path.name if item.source.path is not None else ""
                meta = {"filename": name} if name else None
                new = NewInput(
                    data=data, id=text, concepts=concepts, metadata=meta, video=item.source.video
                )
            else:
                new = NewInput(
                    url=item.source.url,
                    id=item.source.input_id,
                    concepts=concepts,
                    video=item.source.video,
                )
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

    async def _prepare(self, batch: list[_Item], weight: int = 1) -> _Prepared | None:
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
        return _Prepared(batch, pairs, writer.durable(), weight)

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

    def summary(self) -> UploadSummary:
        """What the run has done so far: after `run` raised, what it had done when it stopped
        (each item it did not settle is `pending`, with how far it got)."""
        return self._summary(self.controller.cancelled)

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
                pending.append(replace(report, reason=item.reason or _PENDING[item.state]))
        return UploadSummary(
            uploaded=tuple(uploaded),
            already_present=tuple(already),
            failed=tuple(failed),
            pending=tuple(pending),
            cancelled=cancelled,
            elapsed=max(self._clock() - self._started, 0.0),
        )
