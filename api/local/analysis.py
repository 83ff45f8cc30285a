"""The CPU half of ingest: decode, check, thumbnail and embed image bytes.

``analyse_many`` is a pure function of its arguments (bytes in, plain values out), so the
ingest worker can run it in worker processes, several cores at once and out of reach of the
server's GIL (the default when the machine has more than one core), or in a thread (``processes
= 0``). Both give the same results, byte for byte.

The worker processes are shared by every ingest worker of this process (the test suite starts
many backends; each spawning its own processes would cost more than the work), start at the first
ingest, not at import (``serve`` starts them as it starts, with ``warm``; the TUI waits for its
first upload), and are forked from a small fork server (``forkserver`` where the platform has
it, else ``spawn``), never from the multi-threaded server itself.

The worker processes run at a lower priority than the server (``WORKER_NICENESS``).

A decoder that crashes its process (a segfault on a hostile file) breaks the pool; the chunk is
then analysed again image by image in a one-worker quarantine pool, so exactly the image that
crashes it fails (30002), its neighbours go through, and the server lives on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import forkserver, resource_tracker
from typing import TYPE_CHECKING

from api.local.imaging import (
    ImageRejected,
    IngestLimits,
    bomb_warnings_are_errors,
    decode,
    to_rgb,
)

if TYPE_CHECKING:
    from PIL import Image

#: Worker processes at most, whatever the core count: the server's own process (HTTP, SQLite)
#: becomes the limit well before that.
MAX_PROCESSES = 8

#: Added to the worker processes' niceness. The server's own process (HTTP, SQLite, the TUI's
#: interface when embedded) is what every request waits on; at equal priority the workers' share
#: of the cores starved it, so that uploads were acknowledged (and then processed) more slowly,
#: with cores left idle. The workers take what the server leaves.
WORKER_NICENESS = 5

#: Decoded pixels held at once for embedding together. A batch embeds faster than one image at
#: a time (and gives the same bytes), but a chunk of large photos must not be held decoded all at
#: once: 16 million pixels are ~48 MB of RGB.
EMBED_PIXELS = 16_000_000


@dataclass(frozen=True, slots=True)
class Analysis:
    """What ingest learns from one input's bytes: its properties, or why it is unusable."""

    width: int = 0
    height: int = 0
    format: str = ""
    color_mode: str = ""
    #: Encoded thumbnail, or None when the original is small enough to serve as one.
    thumbnail: bytes | None = None
    #: The default embedder's vector as float32 bytes (None when no embedding was asked for).
    vector: bytes | None = None
    #: Why the image cannot be used (the input's 30002 description); "" when it can.
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    def __reduce__(self) -> tuple[type[Analysis], tuple[object, ...]]:
        # Results cross from the worker processes: a plain tuple of fields unpickles several
        # times faster than the generic slots-dataclass state.
        return (
            Analysis,
            (
                self.width,
                self.height,
                self.format,
                self.color_mode,
                self.thumbnail,
                self.vector,
                self.error,
            ),
        )


def default_processes() -> int:
    """Worker processes to use by default: one per core up to MAX_PROCESSES; none (threads)
    on a single core, where a process would only add copying."""
    cores = os.cpu_count() or 1
    return 0 if cores < 2 else min(cores, MAX_PROCESSES)


def analyse_many(
    datas: Sequence[bytes], limits: IngestLimits, embedder: str | None
) -> list[Analysis]:
    """Decode and check each image; embed the good ones together with ``embedder`` (a name
    from the embedder registry, or None for no embedding), in groups of at most
    EMBED_PIXELS decoded pixels. One result per input, in order."""
    out: list[Analysis] = []
    images: list[Image.Image] = []
    good: list[int] = []
    held = 0
    for data in datas:
        try:
            decoded = decode(data, limits)
        except ImageRejected as exc:
            out.append(Analysis(error=exc.description))
            continue
        except Exception as exc:  # a decoder bug must fail this input, not its neighbours
            out.append(Analysis(error=f"cannot decode the image: {type(exc).__name__}: {exc}"))
            continue
        out.append(
            Analysis(
                decoded.width,
                decoded.height,
                decoded.format,
                decoded.color_mode,
                decoded.thumbnail,
            )
        )
        if embedder is not None:
            good.append(len(out) - 1)
            images.append(to_rgb(decoded.image))
            held += decoded.width * decoded.height
            if held >= EMBED_PIXELS:
                _embed_into(out, good, images, embedder)
                held = 0
    if embedder is not None and good:
        _embed_into(out, good, images, embedder)
    return out


def _embed_into(
    out: list[Analysis], good: list[int], images: list[Image.Image], embedder: str
) -> None:
    """Embed ``images`` (those of the inputs at positions ``good`` of ``out``) and record each
    one's vector, or why it failed, in ``out``; empties ``good`` and ``images``."""
    for index, vector in zip(good, _embed(embedder, images), strict=True):
        if isinstance(vector, Exception):
            error = f"processing failed: {type(vector).__name__}: {vector}"
            out[index] = Analysis(error=error)
        else:
            out[index] = dataclasses.replace(out[index], vector=vector)
    good.clear()
    images.clear()


def _embed(name: str, images: Sequence[Image.Image]) -> list[bytes | Exception]:
    """float32 bytes per image; one bad image must not fail its neighbours."""
    import numpy as np

    from api.local.nodes.embedder import get_embedder

    embedder = get_embedder(name)
    try:
        vectors = embedder.embed_many(images)
    except Exception:
        one_by_one: list[bytes | Exception] = []
        for image in images:
            try:
                one_by_one.append(np.asarray(embedder.embed(image), np.float32).tobytes())
            except Exception as exc:
                one_by_one.append(exc)
        return one_by_one
    return [np.asarray(v, np.float32).tobytes() for v in vectors]


# -- the shared worker processes ---------------------------------------------------------------

_lock = threading.Lock()
_pools: dict[int, ProcessPoolExecutor] = {}
_quarantine: ProcessPoolExecutor | None = None
_quarantine_lock = threading.Lock()

#: What a crashed worker process means for the one input that crashed it.
CRASHED = (
    "the image crashed the decoder (its worker process died); the file is probably corrupt "
    "or hostile: re-encode it (for example as PNG) and upload it again"
)


def _context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        # The fork server imports what the workers need once; each worker is a fork of it.
        ctx.set_forkserver_preload(["api.local.analysis", "api.local.nodes.embedder"])
        return ctx
    return multiprocessing.get_context("spawn")


def _new_pool(workers: int) -> ProcessPoolExecutor:
    ctx = _context()
    with _real_stderr():
        # Helper processes started now pass on sys.stderr's file descriptor; a TUI (Textual)
        # replaces sys.stderr with an object whose descriptor is not a real one.
        resource_tracker.ensure_running()
        if ctx.get_start_method() == "forkserver":
            forkserver.ensure_running()
        return ProcessPoolExecutor(workers, mp_context=ctx, initializer=_start_worker)


def _start_worker() -> None:
    """In a new worker process: a lower priority, decompression bomb warnings as errors for good
    (see imaging.bomb_warnings_are_errors), and an exit when the server goes."""
    if hasattr(os, "nice"):  # not on Windows
        with contextlib.suppress(OSError):
            os.nice(WORKER_NICENESS)
    bomb_warnings_are_errors()
    _watch_parent()


def _watch_parent() -> None:
    """In a worker: exit as soon as the server that started it is gone.

    A ProcessPoolExecutor worker waits for work on a pipe it holds both ends of, so it would
    wait for ever once its server is killed (kill -9, a crash), and keep the fork server
    alive too. The parent's sentinel pipe closes when the parent dies, however it dies."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(0)

    threading.Thread(target=watch, name="clarifai-parent-watch", daemon=True).start()


@contextlib.contextmanager
def _real_stderr() -> Iterator[None]:
    """sys.stderr as a real file while helper processes start (None if there is none)."""
    saved = sys.stderr
    if _has_fd(saved):
        yield
        return
    sys.stderr = sys.__stderr__ if _has_fd(sys.__stderr__) else None
    try:
        yield
    finally:
        sys.stderr = saved


def _has_fd(stream: object) -> bool:
    try:
        fd = stream.fileno()  # type: ignore[attr-defined]
        os.fstat(fd)
    except (AttributeError, OSError, ValueError, TypeError):
        return False
    return isinstance(fd, int) and fd >= 0


def existing_pool(workers: int) -> ProcessPoolExecutor | None:
    """The shared pool of ``workers`` processes if it was made already (cheap, no blocking)."""
    with _lock:
        return _pools.get(workers)


def pool(workers: int) -> ProcessPoolExecutor:
    """The shared pool of ``workers`` processes (made at first use, remade once broken)."""
    with _lock:
        found = _pools.get(workers)
        if found is None:
            found = _pools[workers] = _new_pool(workers)
        return found


def warm(workers: int, limits: IngestLimits, embedder: str | None) -> None:
    """Get ready for the first upload ahead of time (blocking: call it from a thread).

    Imports the embedder here (the ingest pipeline uses it in this process too), then starts
    the shared pool of ``workers`` processes (none for 0) and has each of them analyse a tiny
    image, so that the decoders and the embedder are loaded in every one of them."""
    import io

    from PIL import Image

    if embedder is not None:
        from api.local.nodes.embedder import get_embedder

        get_embedder(embedder)
    if not workers:
        return
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (128, 128, 128)).save(buffer, "PNG")
    tiny = [buffer.getvalue()]
    executor = pool(workers)
    # A pool starts one more process per submission while none is idle: one task each.
    futures = [executor.submit(analyse_many, tiny, limits, embedder) for _ in range(workers)]
    for future in futures:
        future.result()


def discard(executor: Executor) -> None:
    """Forget a broken pool, so the next ``pool()`` call makes a new one."""
    with _lock:
        for workers, found in list(_pools.items()):
            if found is executor:
                del _pools[workers]
    executor.shutdown(wait=False, cancel_futures=True)


#: How many fresh quarantine workers an input gets before its crash is blamed on it: a worker
#: can die of something else (the OOM killer, an operator's kill), and one such death once
#: failed a valid image for good as "hostile".
QUARANTINE_ATTEMPTS = 2


def analyse_quarantined(data: bytes, limits: IngestLimits, embedder: str | None) -> Analysis:
    """Analyse one input alone in a one-worker pool (blocking: call it from a thread). If the
    worker dies on it QUARANTINE_ATTEMPTS times, each time a fresh one, this input kills it."""
    global _quarantine
    with _quarantine_lock:
        for _ in range(QUARANTINE_ATTEMPTS):
            if _quarantine is None:
                _quarantine = _new_pool(1)
            try:
                return _quarantine.submit(analyse_many, [data], limits, embedder).result()[0]
            except BrokenProcessPool:
                _quarantine.shutdown(wait=False, cancel_futures=True)
                _quarantine = None
        return Analysis(error=CRASHED)
