"""The durable input-processing queue.

One module on purpose (issue #23): claiming, loading, analysing, committing and retrying are
the states of one worker sharing its in-flight table, cursors and budgets; split apart they
would reach into each other's state.

PostInputs commits each input with status 30001 and a row in ``ingest_jobs`` in one transaction,
then wakes this worker. The worker claims jobs in id order, downloads URL inputs (async I/O),
has each chunk analysed (decoded, checked, thumbnailed and embedded: api.local.analysis) in
worker processes, or in a thread with ``processes=0``, then runs the registered *processors* and
the pipeline in a thread of this process, and commits outcomes in batches: 30000, or 30002 with
a specific description. Jobs live in SQLite, so work pending at shutdown or after a crash resumes
at the next start.

Extension points (issue 6 plugs in here):

- ``IngestWorker.processors``: ``(InputRef, PIL.Image.Image) -> None``, called in the worker
  thread on the decoded RGB image *before* the input is marked 30000 (the image is decoded
  again in this process for them). Raising fails the input with 30002 and the error as the
  reason.
- ``IngestWorker.pipeline``: an :class:`IngestPipeline` (the models/workflows half sets it):
  called in the worker thread after the processors with each input's vector from the
  analysis (embedded with ``pipeline.embedder_name``); it returns the input's embeddings, the
  annotations its app's default workflow writes and that workflow's status, all committed in
  the same transaction as the 30000 status (a crash never leaves an input processed without
  its annotations, nor annotates it twice). Raising fails the input like a processor; a
  failing *workflow* must be reported in ``PipelineResult.workflow_status`` instead.
- ``IngestWorker.post_success_hooks``: ``(ProcessedInput) -> None``, called in a worker thread
  *after* the input is committed as 30000 (for example: run the app's default workflow). A hook
  that raises never fails the input: the error is recorded as the input's workflow status.

Videos (``data.video``) take their own path, one job each: ``api.local.video_analysis`` samples
the frames at the app's ``sample_ms`` and embeds them in a worker process (from the blob's file
when it has one, so the video is streamed, not held), then ``IngestPipeline.finish_video`` runs
the default workflow on every sampled frame. At most VIDEO_SLOTS videos are analysed at once, so
a queue of videos never holds back the images behind it. Processors and post-success hooks take
images and are not called for videos.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import httpx
from PIL import Image

from api.local import analysis
from api.local.analysis import Analysis, analyse_many, default_processes
from api.local.fetch import Resolver, download, resolve
from api.local.imaging import ImageRejected, IngestLimits, decode, to_rgb
from api.local.rows import EmbeddingRow, Job, JobResult, WorkflowWrite
from api.local.status import FAILURE
from api.local.store import Store
from api.local.video_analysis import SampledVector, VideoAnalysis, analyse_video
from api.models import DEFAULT_SAMPLE_MS

log = logging.getLogger(__name__)

#: Back-off between attempts to record results that could not be committed (seconds).
_RETRY_MIN = 0.05
_RETRY_MAX = 2.0
#: Image bytes kept in memory between PostInputs and the worker (see IngestWorker.offer).
_FRESH_BUDGET = 64 * 1024 * 1024
_MAX_DOWNLOADS = 64
#: While jobs are in flight, claim more only once this many slots are free (see _feed).
_MIN_CLAIM = 256
#: Stored inputs analysed per chunk at most. Each chunk costs the server a round trip to a worker
#: process, a pipeline call and a share of a commit: with chunks of 32, processing 64x64 PNGs
#: cost the server's process 118-145 us of CPU per input; with chunks of 128-256, 78-91 us
#: (ingest_bench's images, processing alone). What a chunk holds in memory at once is bounded
#: by _GROUP_BYTES (its image bytes) and EMBED_PIXELS (decoded, in the worker process).
_CHUNK = 256
#: A chunk is loaded, analysed and finished in groups of at most this many image bytes (an image
#: larger than that is a group of its own), and only a few groups are in flight at once (see
#: IngestWorker._groups): what the worker holds in memory is bounded by size, not by the number
#: of jobs claimed, even when they are all large photos.
_GROUP_BYTES = 16 * 1024 * 1024
#: Videos analysed at once at most (each in one worker process; the rest wait their turn).
VIDEO_SLOTS = 2


@dataclass(frozen=True, slots=True)
class InputRef:
    app_pk: int
    app_id: str
    input_pk: int
    input_id: str


@dataclass(frozen=True, slots=True)
class ProcessedInput:
    ref: InputRef
    #: The decoded RGB image (only kept when post-success hooks are registered).
    image: Image.Image


@dataclass(slots=True)
class _Fresh:
    """Image bytes handed from PostInputs to the worker, and how many queued inputs use them."""

    data: bytes
    readers: int = 1


class _Staged(NamedTuple):
    """An input of a chunk that analysis accepted, on its way to an outcome."""

    at: int  # position in the chunk
    job: Job
    ref: InputRef
    data: bytes
    analysis: Analysis


Processor = Callable[[InputRef, Image.Image], None]
PostSuccessHook = Callable[[ProcessedInput], None]


@dataclass(slots=True)
class PipelineResult:
    embeddings: list[EmbeddingRow] = field(default_factory=list)
    annotations: list[WorkflowWrite] = field(default_factory=list)
    workflow_status: tuple[int, str] | None = None


class IngestPipeline(Protocol):
    @property
    def embedder_name(self) -> str | None:
        """The embedder (a registry name) every ingested input is embedded with during
        analysis, possibly in another process; None for no embedding."""
        ...

    def finish_many(
        self,
        refs: Sequence[InputRef],
        vectors: Sequence[bytes | None],
        image: Callable[[int], Image.Image],
    ) -> list[PipelineResult | Exception]:
        """After analysis (worker thread): each input's embedding rows and its app's default
        workflow run, from its vector (float32 bytes). ``image(i)`` decodes input ``i`` again in
        this process, for a workflow that needs more than the embedding. A result or the error
        per input."""
        ...

    def finish_video(self, ref: InputRef, frames: Sequence[SampledVector]) -> PipelineResult:
        """After a video's analysis (worker thread): its app's default workflow on each sampled
        frame (frame-level annotations), from the frames' vectors."""
        ...


class IngestWorker:
    """Runs the ingest queue on the current event loop (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        *,
        limits: IngestLimits | None = None,
        allow_private_urls: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver = resolve,
        concurrency: int | None = None,
        processes: int | None = None,
        warm_up: bool = False,
    ) -> None:
        self.store = store
        self.limits = limits or IngestLimits()
        self.allow_private_urls = allow_private_urls
        self.processors: list[Processor] = []
        self.post_success_hooks: list[PostSuccessHook] = []
        self.pipeline: IngestPipeline | None = None
        self._transport = transport
        self._resolver = resolver
        self.concurrency = max(1, concurrency or os.cpu_count() or 1)
        #: Worker processes that decode and embed (api.local.analysis); 0: threads of this one.
        self.processes = default_processes() if processes is None else max(0, processes)
        #: Start the worker processes at start(), not at the first upload (``serve`` does:
        #: a server is started to take uploads; the TUI starts them when first needed).
        self.warm_up = warm_up
        #: Jobs claimed at once: enough to keep the analysis processes and the commits busy
        #: while PostInputs competes for the same cores (a claimed job holds no image bytes until
        #: its group is loaded; see _groups).
        self._max_active = max(1024, self.concurrency * 256)
        #: URL jobs are claimed apart, up to this many at once: 3,000 hanging URLs used to
        #: hold every slot, and inputs with their bytes already here waited 340 s behind them
        #: (issue #25). Stored inputs and URLs each have their own cursor and budget.
        self._max_url_active = max(4 * _MAX_DOWNLOADS, 256)
        #: Groups of a chunk loaded and not yet finished, at most (each of at most _GROUP_BYTES):
        #: enough to keep every analysis process busy while others load and finish.
        self._group_slots = 2 * (self.processes or self.concurrency) + 2
        self._groups = asyncio.Semaphore(self._group_slots)
        #: URL downloads in flight at once, whatever the number of jobs claimed.
        self._downloads = asyncio.Semaphore(_MAX_DOWNLOADS)
        self._videos = asyncio.Semaphore(VIDEO_SLOTS)
        self._pool: ThreadPoolExecutor | None = None
        self._client: httpx.AsyncClient | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._running: set[asyncio.Task[None]] = set()
        #: Outcomes of a chunk (or a URL input) at a time, for the commit task.
        self._results: asyncio.Queue[list[tuple[JobResult, ProcessedInput | None]]] = (
            asyncio.Queue()
        )
        self._wake = asyncio.Event()
        self._slot = asyncio.Event()
        self._idle = asyncio.Event()
        #: The last job id claimed, per kind: stored bytes (False) and URLs (True).
        self._cursors = {False: 0, True: 0}
        #: job id -> app pk, for every job claimed and not yet committed.
        self._active: dict[int, int] = {}
        #: The URL jobs among them.
        self._url_active: set[int] = set()
        #: Whether URL jobs may be queued past the URL cursor: set by every wake, cleared when
        #: a look finds fewer than it could take (so a queue of stored inputs is claimed
        #: without a URL query between its claims).
        self._look_for_urls = True
        self._wakes = 0
        self._hooks_running = 0
        self._stopping = False
        #: Jobs whose results could not be committed (a full disk) are claimed again from this
        #: job id on, after a back-off; ``None`` when nothing waits for a retry.
        self._retry_floor: int | None = None
        self._retry_delay = _RETRY_MIN
        self._retry_timer: asyncio.TimerHandle | None = None
        self.processed = 0
        #: Bytes PostInputs just wrote, handed to the worker so it need not read them back from
        #: disk (bounded; the blob files stay the source of truth).
        self._fresh: OrderedDict[str, _Fresh] = OrderedDict()
        self._fresh_bytes = 0
        self._fresh_lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        self._stopping = False
        self._cursors = {False: 0, True: 0}
        self._active = {}
        self._url_active = set()
        self._look_for_urls = True
        self._hooks_running = 0
        self._retry_floor = None
        self._retry_delay = _RETRY_MIN
        self._retry_timer = None
        self._results = asyncio.Queue()
        self._downloads = asyncio.Semaphore(_MAX_DOWNLOADS)
        self._videos = asyncio.Semaphore(VIDEO_SLOTS)
        self._groups = asyncio.Semaphore(self._group_slots)
        self._wake = asyncio.Event()
        self._slot = asyncio.Event()
        self._idle = asyncio.Event()
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="clarifai-ingest")
        self._client = httpx.AsyncClient(
            transport=self._transport,
            timeout=httpx.Timeout(self.limits.url_timeout),
            follow_redirects=False,
            headers={"User-Agent": "clarifai-tui-local/1"},
        )
        self._wake.set()
        self._tasks = [
            asyncio.create_task(self._feed(), name="ingest-feed"),
            asyncio.create_task(self._commit(), name="ingest-commit"),
        ]
        if self.warm_up:
            self._spawn(self._warm())

    async def stop(self, grace: float = 5.0) -> None:
        """Stop claiming work; give in-flight jobs ``grace`` seconds to finish and commit.

        Jobs not finished by then stay queued in the database and resume at the next start.
        """
        self._stopping = True
        if self._retry_timer is not None:
            self._retry_timer.cancel()
            self._retry_timer = None
        feed = self._tasks[0] if self._tasks else None
        if feed is not None:
            feed.cancel()
            await asyncio.gather(feed, return_exceptions=True)
        if self._running:
            await asyncio.wait(set(self._running), timeout=grace)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while (self._active or self._hooks_running) and loop.time() < deadline:
            await asyncio.sleep(0.01)
        for task in [*self._tasks, *self._running]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._running, return_exceptions=True)
        self._tasks = []
        self._running.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    @property
    def _embedder_name(self) -> str | None:
        """The embedder analysis uses (the pipeline's), or None for no embedding."""
        return self.pipeline.embedder_name if self.pipeline is not None else None

    async def _warm(self) -> None:
        """Start the analysis processes and load the embedder before the first upload, off the
        event loop: the first chunk would otherwise wait for them (and for numpy's import)."""
        embedder = self._embedder_name
        try:
            await asyncio.to_thread(analysis.warm, self.processes, self.limits, embedder)
        except Exception:  # the first upload starts them again, and reports what fails then
            log.warning("could not start the ingest worker processes ahead of time", exc_info=True)

    def wake(self) -> None:
        """New jobs were committed: claim them."""
        self._look_for_urls = True
        self._wakes += 1
        self._idle.clear()
        self._wake.set()

    def offer(self, blobs: Iterable[tuple[str, bytes]]) -> None:
        """Keep freshly stored image bytes in memory for the worker (up to a budget): one
        ``(sha, bytes)`` pair per queued input, so bytes shared by several inputs stay until
        the last of them is read."""
        with self._fresh_lock:
            for sha, data in blobs:
                entry = self._fresh.get(sha)
                if entry is not None:
                    entry.readers += 1
                    continue
                if len(data) > _FRESH_BUDGET:
                    continue
                # Oldest first out: an entry nobody read (the input was deleted, or claimed
                # before it was offered) must not hold the budget for ever.
                while self._fresh and self._fresh_bytes + len(data) > _FRESH_BUDGET:
                    _, old = self._fresh.popitem(last=False)
                    self._fresh_bytes -= len(old.data)
                self._fresh[sha] = _Fresh(data)
                self._fresh_bytes += len(data)

    def _take_fresh(self, sha: str) -> bytes | None:
        """The bytes PostInputs handed over for ``sha`` (None if they are not in memory)."""
        with self._fresh_lock:
            entry = self._fresh.get(sha)
            if entry is None:
                return None
            entry.readers -= 1
            if entry.readers <= 0:
                del self._fresh[sha]
                self._fresh_bytes -= len(entry.data)
            return entry.data

    def _read(self, sha: str) -> bytes:
        """A stored input's bytes (blocking: may read the store)."""
        data = self._take_fresh(sha)
        if data is not None:
            return data
        try:
            return self.store.read_blob(sha)
        except FileNotFoundError:
            raise ImageRejected(
                f"the stored image bytes are missing ({self.store.blob_location(sha)}); "
                "upload the input again"
            ) from None

    @property
    def active(self) -> int:
        """Jobs claimed and not yet committed."""
        return len(self._active)

    def active_in_app(self, app_pk: int) -> int:
        return sum(1 for pk in self._active.values() if pk == app_pk)

    async def fetch(self, url: str, *, video: bool = False) -> bytes:
        """Download an image (or video) URL with the ingest limits and URL policy
        (ImageRejected)."""
        if self._client is None:
            raise ImageRejected("the server is not running")
        limits = self.limits
        if video:
            limits = dataclasses.replace(limits, max_bytes=limits.max_video_url_bytes)
        return await download(
            self._client,
            url,
            limits,
            allow_private=self.allow_private_urls,
            resolver=self._resolver,
        )

    async def wait_idle(self, timeout: float = 30) -> None:
        """Until no job is queued or running (raises TimeoutError after ``timeout`` s)."""
        async with asyncio.timeout(timeout):
            while True:
                await self._idle.wait()
                if not self._active and self._hooks_running == 0:
                    if await asyncio.to_thread(self.store.job_count) == 0:
                        return
                    self.wake()
                await asyncio.sleep(0.01)

    # -- the pipeline --------------------------------------------------------------------------

    async def _feed(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while not self._stopping:
                claimed = False
                for urls in (False, True):
                    claimed |= await self._claim(urls)
                if not claimed:
                    if self._has_room():
                        break  # nothing queued
                    # Wait for a batch's worth of free slots: claiming the few freed by each
                    # commit made chunks of a handful of jobs, and as many round trips to the
                    # worker processes and commits (each with its sync) as there were chunks.
                    # New work (wake) is claimed at once too: a kind with room never waits
                    # for the other kind's slots (hanging downloads must not hold back bytes).
                    self._slot.clear()
                    waits = [
                        asyncio.ensure_future(self._slot.wait()),
                        asyncio.ensure_future(self._wake.wait()),
                    ]
                    try:
                        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        for waiter in waits:
                            waiter.cancel()
                    self._wake.clear()
            self._check_idle()

    def _room(self, urls: bool) -> int:
        """Jobs of that kind that may be claimed now (0 while a batch's worth is not free)."""
        if urls:
            return self._max_url_active - len(self._url_active)
        stored = len(self._active) - len(self._url_active)
        free = self._max_active - stored
        return 0 if free < _MIN_CLAIM and stored else max(0, free)

    def _has_room(self) -> bool:
        return self._room(False) > 0 and self._room(True) > 0

    async def _claim(self, urls: bool) -> bool:
        """Claim the next queued jobs of one kind; True if any was claimed."""
        room = self._room(urls)
        if room <= 0 or (urls and not self._look_for_urls):
            return False
        wakes = self._wakes
        jobs = await asyncio.to_thread(
            self.store.pending_jobs, self._cursors[urls], room, urls=urls
        )
        if urls and len(jobs) < room and wakes == self._wakes:
            self._look_for_urls = False  # none left (a wake during the look says otherwise)
        stored: list[Job] = []
        for job in jobs:
            self._cursors[urls] = max(self._cursors[urls], job.job_id)
            if job.job_id in self._active:
                continue  # still in flight (the cursor went back for a retry)
            self._active[job.job_id] = job.app_pk
            if urls:
                self._url_active.add(job.job_id)
                self._spawn(self._run(job))
            elif job.kind == "video":
                self._spawn(self._run_video(job))
            else:
                stored.append(job)
        # Jobs with bytes on disk go to the pool in chunks: far less per-job overhead.
        size = max(1, min(_CHUNK, -(-len(stored) // self.concurrency)))
        for start in range(0, len(stored), size):
            self._spawn(self._run_chunk(stored[start : start + size]))
        return bool(jobs)

    def _check_idle(self) -> None:
        if (
            not self._active
            and self._hooks_running == 0
            and self._retry_timer is None
            and not self._wake.is_set()
        ):
            self._idle.set()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _analyse(self, datas: list[bytes]) -> list[Analysis]:
        """Decode, check, thumbnail and embed, in the worker processes (or a thread)."""
        embedder = self._embedder_name
        loop = asyncio.get_running_loop()
        if not self.processes:
            return await loop.run_in_executor(
                self._pool, analyse_many, datas, self.limits, embedder
            )
        executor = analysis.existing_pool(self.processes)
        if executor is None:  # the first time: starting processes blocks for a moment
            executor = await asyncio.to_thread(analysis.pool, self.processes)
        try:
            return await loop.run_in_executor(executor, analyse_many, datas, self.limits, embedder)
        except BrokenProcessPool:
            # Some image crashed a worker (this chunk's or another's): find out which, alone.
            analysis.discard(executor)
            log.warning("an ingest worker process died; analysing %d inputs alone", len(datas))
            return [
                await loop.run_in_executor(
                    self._pool, analysis.analyse_quarantined, data, self.limits, embedder
                )
                for data in datas
            ]

    async def _run_chunk(self, jobs: list[Job]) -> None:
        """Stored inputs, a group of at most _GROUP_BYTES at a time: bytes (handed over in
        memory, else read back), analysis, then the pipeline and the outcome in a thread."""
        loop = asyncio.get_running_loop()
        start = 0
        while start < len(jobs):
            async with self._groups:
                group = jobs[start:]
                try:
                    loaded, size = self._take_group(group)
                    if len(loaded) < len(group) and size < _GROUP_BYTES:
                        loaded = await loop.run_in_executor(
                            self._pool, self._load_group, group, loaded, size
                        )
                    group = group[: len(loaded)]
                    outcomes = await self._analysed(group, loaded)
                except Exception as exc:  # CancelledError is a BaseException: it goes through
                    outcomes = [(_failed(job, exc), None) for job in group]
                start += len(group)
            self._results.put_nowait(outcomes)

    async def _run(self, job: Job) -> None:
        """A URL input: download (async I/O), then as a stored input."""
        try:
            if not job.source_url:
                raise ImageRejected("the input has neither image bytes nor a URL")
            video = job.kind == "video"
            async with self._downloads:
                downloaded = await self.fetch(job.source_url, video=video)
            if video:
                await self._run_video(job, downloaded)
                return
            outcomes = await self._analysed([job], [downloaded])
        except Exception as exc:
            outcomes = [(_failed(job, exc), None)]
        self._results.put_nowait(outcomes)

    async def _analysed(
        self, jobs: list[Job], loaded: Sequence[bytes | Exception | None]
    ) -> list[tuple[JobResult, ProcessedInput | None]]:
        datas = [data for data in loaded if isinstance(data, bytes)]
        analyses = await self._analyse(datas) if datas else []
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._finish_many, jobs, loaded, analyses)

    async def _run_video(self, job: Job, downloaded: bytes | None = None) -> None:
        """A video: its frames sampled and embedded in a worker process, then the default
        workflow on each frame, then its outcome to the commit task."""
        loop = asyncio.get_running_loop()
        try:
            async with self._videos:
                source: str | bytes
                if downloaded is not None:
                    source = downloaded
                else:
                    source = await loop.run_in_executor(self._pool, self._video_source, job)
                analysed = await self._analyse_video(source, job.sample_ms or DEFAULT_SAMPLE_MS)
                outcome = await loop.run_in_executor(
                    self._pool, self._finish_video, job, analysed, downloaded
                )
        except Exception as exc:  # CancelledError is a BaseException: it goes through
            outcome = (_failed(job, exc), None)
        self._results.put_nowait([outcome])

    def _video_source(self, job: Job) -> str | bytes:
        """Worker thread: a stored video's bytes as handed over, else its blob file's path (the
        worker process streams it from there), else its bytes from the database."""
        sha = job.blob_sha or ""
        data = self._take_fresh(sha)
        if data is not None:
            return data
        try:
            return self.store.blob_source(sha)
        except FileNotFoundError:
            raise ImageRejected(
                f"the stored video bytes are missing ({self.store.blob_location(sha)}); "
                "upload the input again"
            ) from None

    async def _analyse_video(self, source: str | bytes, sample_ms: int) -> VideoAnalysis:
        embedder = self._embedder_name
        loop = asyncio.get_running_loop()
        if not self.processes:
            return await loop.run_in_executor(
                self._pool, analyse_video, source, self.limits, embedder, sample_ms
            )
        executor = analysis.existing_pool(self.processes)
        if executor is None:
            executor = await asyncio.to_thread(analysis.pool, self.processes)
        try:
            return await loop.run_in_executor(
                executor, analyse_video, source, self.limits, embedder, sample_ms
            )
        except BrokenProcessPool:
            analysis.discard(executor)
            log.warning("an ingest worker process died on a video")
            return VideoAnalysis(error=VIDEO_CRASHED)

    def _finish_video(
        self, job: Job, analysed: VideoAnalysis, downloaded: bytes | None
    ) -> tuple[JobResult, ProcessedInput | None]:
        """Worker thread: the default workflow on the sampled frames, the thumbnail (and a
        downloaded video's bytes) staged, the outcome."""
        if not analysed.ok:
            return _failed(job, ImageRejected(analysed.error)), None
        ref = InputRef(job.app_pk, job.app_id, job.input_pk, job.input_id)
        piped = PipelineResult()
        if self.pipeline is not None:
            try:
                piped = self.pipeline.finish_video(ref, analysed.frames)
            except Exception as exc:
                return _failed(job, _pipeline_error(exc)), None
        try:
            thumb_sha = None
            if analysed.thumbnail:
                (thumb_sha,) = self.store.stage_blobs([analysed.thumbnail])
            blob_sha = None
            if downloaded is not None:
                (blob_sha,) = self.store.stage_blobs([downloaded])
        except Exception as exc:  # a full disk, say
            return _failed(job, exc), None
        return _success(job, analysed, blob_sha, downloaded, thumb_sha, piped), None

    def _take_group(self, jobs: Sequence[Job]) -> tuple[list[bytes | Exception | None], int]:
        """The first jobs' bytes as handed over in memory, up to _GROUP_BYTES or the first
        job whose bytes are not (no I/O: on the event loop); and their size."""
        loaded: list[bytes | Exception | None] = []
        size = 0
        for job in jobs:
            if size >= _GROUP_BYTES:
                break
            data = self._take_fresh(job.blob_sha or "")
            if data is None:
                break
            loaded.append(data)
            size += len(data)
        return loaded, size

    def _load_group(
        self, jobs: Sequence[Job], loaded: list[bytes | Exception | None], size: int
    ) -> list[bytes | Exception | None]:
        """Worker thread: go on from ``loaded`` (the first jobs' bytes, ``size`` bytes in all),
        in memory or read back, until the group holds _GROUP_BYTES; a job whose bytes cannot
        be read gets the error instead."""
        for job in jobs[len(loaded) :]:
            if size >= _GROUP_BYTES:
                break
            data: bytes | Exception
            try:
                data = self._read(job.blob_sha or "")
            except Exception as exc:
                data = exc
            else:
                size += len(data)
            loaded.append(data)
        return loaded

    def _finish_many(
        self,
        jobs: Sequence[Job],
        loaded: Sequence[bytes | Exception | None],
        analyses: Sequence[Analysis],
    ) -> list[tuple[JobResult, ProcessedInput | None]]:
        """Worker thread, after analysis: processors, the pipeline (embedding rows, default
        workflow) on the whole chunk, large thumbnails and downloads written, outcomes."""
        outcomes: list[tuple[JobResult, ProcessedInput | None] | None] = [None] * len(jobs)
        staged: list[_Staged] = []
        results = iter(analyses)
        for index, (job, data) in enumerate(zip(jobs, loaded, strict=True)):
            if not isinstance(data, bytes):
                outcomes[index] = (_failed(job, data or ImageRejected("no image bytes")), None)
                continue
            result = next(results)
            if not result.ok:
                outcomes[index] = (_failed(job, ImageRejected(result.error)), None)
                continue
            ref = InputRef(job.app_pk, job.app_id, job.input_pk, job.input_id)
            staged.append(_Staged(index, job, ref, data, result))
        # Processors, hooks and some workflows need pixels here: decode again, once, in this
        # process (the analysis may have happened in another).
        pixels: dict[int, Image.Image] = {}

        def image_of(item: _Staged) -> Image.Image:
            if item.at not in pixels:
                pixels[item.at] = to_rgb(decode(item.data, self.limits).image)
            return pixels[item.at]

        if self.processors:
            kept = []
            for item in staged:
                try:
                    self._run_processors(item.ref, image_of(item))
                    kept.append(item)
                except Exception as exc:
                    outcomes[item.at] = (_failed(item.job, exc), None)
            staged = kept
        piped: list[PipelineResult | Exception] = [PipelineResult() for _ in staged]
        if self.pipeline is not None and staged:
            try:
                piped = self.pipeline.finish_many(
                    [item.ref for item in staged],
                    [item.analysis.vector for item in staged],
                    lambda k: image_of(staged[k]),
                )
            except Exception as exc:
                piped = [exc for _ in staged]
        try:
            # Only large blobs are written here; small ones go in with the status (finish_jobs).
            thumb_shas = iter(
                self.store.stage_blobs(
                    [i.analysis.thumbnail for i in staged if i.analysis.thumbnail]
                )
            )
            thumbs = [next(thumb_shas) if i.analysis.thumbnail else None for i in staged]
            downloads = [item for item in staged if not item.job.blob_sha]
            download_shas = self.store.stage_blobs([item.data for item in downloads])
        except Exception as exc:  # a full disk, say: these inputs fail with that reason
            for item in staged:
                outcomes[item.at] = (_failed(item.job, exc), None)
            staged, piped, thumbs, downloads, download_shas = [], [], [], [], []
        downloaded = {i.at: sha for i, sha in zip(downloads, download_shas, strict=True)}
        for item, outcome, thumb_sha in zip(staged, piped, thumbs, strict=True):
            if isinstance(outcome, Exception):
                outcomes[item.at] = (_failed(item.job, _pipeline_error(outcome)), None)
                continue
            blob_sha = downloaded.get(item.at)
            job_result = _success(
                item.job,
                item.analysis,
                blob_sha,
                item.data if blob_sha else None,
                thumb_sha,
                outcome,
            )
            processed = None
            if self.post_success_hooks:
                processed = ProcessedInput(item.ref, image_of(item))
            outcomes[item.at] = (job_result, processed)
        return [o for o in outcomes if o is not None]

    def _run_processors(self, ref: InputRef, rgb: Image.Image) -> None:
        for processor in self.processors:
            name = getattr(processor, "__name__", type(processor).__name__)
            try:
                processor(ref, rgb)
            except ImageRejected:
                raise
            except Exception as exc:
                raise ImageRejected(f"processing step {name} failed: {exc}") from exc

    async def _commit(self) -> None:
        while True:
            batch = list(await self._results.get())
            while len(batch) < 512:
                try:
                    batch.extend(self._results.get_nowait())
                except asyncio.QueueEmpty:
                    break
            try:
                await asyncio.to_thread(self.store.finish_jobs, [r for r, _ in batch])
            except asyncio.CancelledError:
                raise
            except Exception:
                # Not committed (e.g. the disk is full): the jobs are still queued in the
                # database. Claim them again after a back-off, so they finish once the cause is
                # gone, without waiting for a restart.
                log.exception(
                    "could not record %d ingest results; retrying in %.2f s",
                    len(batch),
                    self._retry_delay,
                )
                for result, _ in batch:
                    self._active.pop(result.job_id, None)
                    self._url_active.discard(result.job_id)
                self._schedule_retry(min(result.job_id for result, _ in batch) - 1)
                self._slot.set()
                self._check_idle()
                continue
            self._retry_delay = _RETRY_MIN
            for result, _ in batch:
                self._active.pop(result.job_id, None)
                self._url_active.discard(result.job_id)
            self.processed += len(batch)
            self._slot.set()
            for result, processed in batch:
                if result.ok and processed is not None:
                    self._hooks_running += 1
                    self._spawn(self._run_hooks(processed))
            self._check_idle()

    def _schedule_retry(self, floor: int) -> None:
        """Move the claim cursor back to ``floor`` (and wake the feed) after the back-off."""
        self._retry_floor = floor if self._retry_floor is None else min(self._retry_floor, floor)
        if self._retry_timer is not None or self._stopping:
            return
        delay = self._retry_delay
        self._retry_delay = min(_RETRY_MAX, delay * 2)
        self._retry_timer = asyncio.get_running_loop().call_later(delay, self._retry)

    def _retry(self) -> None:
        self._retry_timer = None
        if self._retry_floor is not None:
            for urls in (False, True):
                self._cursors[urls] = min(self._cursors[urls], self._retry_floor)
            self._retry_floor = None
        if not self._stopping:
            self.wake()

    async def _run_hooks(self, processed: ProcessedInput) -> None:
        try:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._pool, self._hooks_sync, processed)
        except Exception:
            log.exception("post-success hooks failed for input %s", processed.ref.input_id)
        finally:
            self._hooks_running -= 1
            self._check_idle()

    def _hooks_sync(self, processed: ProcessedInput) -> None:
        for hook in self.post_success_hooks:
            name = getattr(hook, "__name__", type(hook).__name__)
            try:
                hook(processed)
            except Exception as exc:
                log.warning("hook %s failed on input %s: %s", name, processed.ref.input_id, exc)
                self.store.set_workflow_status(
                    processed.ref.input_pk, FAILURE, f"{name} failed: {exc}"
                )


#: What a crashed worker process means for the video that crashed it.
VIDEO_CRASHED = (
    "the video crashed the decoder (its worker process died); the file is probably corrupt "
    "or hostile: re-encode it (for example with ffmpeg to H.264 MP4) and upload it again"
)


def _pipeline_error(exc: Exception) -> ImageRejected:
    if isinstance(exc, ImageRejected):
        return exc
    return ImageRejected(f"processing failed: {type(exc).__name__}: {exc}")


def _failed(job: Job, exc: Exception) -> JobResult:
    if isinstance(exc, ImageRejected):
        description = exc.description
    else:
        log.error("ingest of input %s failed unexpectedly", job.input_id, exc_info=exc)
        description = f"internal error while processing: {type(exc).__name__}: {exc}"
    return JobResult(job.job_id, job.input_pk, ok=False, description=description)


def _success(
    job: Job,
    analysed: Analysis | VideoAnalysis,
    blob_sha: str | None,
    downloaded: bytes | None,
    thumb_sha: str | None,
    piped: PipelineResult,
) -> JobResult:
    return JobResult(
        job.job_id,
        job.input_pk,
        ok=True,
        description="Download complete",
        blob_sha=blob_sha if downloaded is not None else None,
        blob=downloaded,
        # None when the original is small enough to be its own thumbnail (the hosted "thumb"
        # size then serves the original).
        thumb_sha=thumb_sha,
        thumb=analysed.thumbnail,
        width=analysed.width,
        height=analysed.height,
        format=analysed.video_format if isinstance(analysed, VideoAnalysis) else analysed.format,
        color_mode="" if isinstance(analysed, VideoAnalysis) else analysed.color_mode,
        embeddings=piped.embeddings,
        annotations=piped.annotations,
        workflow_status=piped.workflow_status,
        video_info=analysed.info if isinstance(analysed, VideoAnalysis) else None,
    )
