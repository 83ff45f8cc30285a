"""Ingest analysis (decode, check, thumbnail, embed) in worker processes: the same results as in a
thread, byte for byte; a worker that dies fails exactly the input that killed it; ``serve``
starts the processes ahead of the first upload."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image

from api.local import analysis
from api.local.analysis import CRASHED, Analysis, analyse_many
from api.local.backend import LocalBackend
from api.local.imaging import IngestLimits, decode
from api.local.nodes.embedder import DEFAULT_EMBEDDER
from tests.faults.support import png_without_pixels
from tests.local.conftest import KEY, image_bytes

LIMITS = IngestLimits(max_bytes=2_000_000, max_pixels=4_000_000)


def samples() -> list[bytes]:
    rgba = io.BytesIO()
    Image.new("RGBA", (300, 200), (10, 200, 30, 128)).save(rgba, "PNG")
    return [
        image_bytes("PNG", color=(1, 2, 3)),
        image_bytes("JPEG", size=(400, 300), color=(250, 10, 90)),  # gets a thumbnail
        image_bytes("GIF"),
        rgba.getvalue(),
        b"definitely not an image",
        image_bytes("PNG")[:60],  # truncated
        image_bytes("BMP", color=(0, 0, 0)),
    ]


def test_processes_and_threads_give_the_same_results() -> None:
    data = samples()
    here = analyse_many(data, LIMITS, DEFAULT_EMBEDDER)
    there = analysis.pool(2).submit(analyse_many, data, LIMITS, DEFAULT_EMBEDDER).result(60)
    assert there == here
    ok = [a for a in here if a.ok]
    assert len(ok) == 5 and all(a.vector is not None and len(a.vector) == 329 * 4 for a in ok)
    assert here[1].thumbnail is not None and here[0].thumbnail is None
    assert "not an image" in here[4].error and here[5].error
    assert analyse_many(data[:1], LIMITS, None)[0].vector is None


def test_embedding_in_groups_bounded_by_pixels_gives_the_same_results(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A chunk of large photos must not be held decoded all at once: it is embedded in groups.
    data = samples()
    whole = analyse_many(data, LIMITS, DEFAULT_EMBEDDER)
    groups: list[int] = []
    embed = analysis._embed

    def counted(name: str, images: Sequence[Image.Image]) -> list[bytes | Exception]:
        groups.append(len(images))
        return embed(name, images)

    monkeypatch.setattr(analysis, "_embed", counted)
    monkeypatch.setattr(analysis, "EMBED_PIXELS", 100_000)  # the 400x300 JPEG fills a group
    assert analyse_many(data, LIMITS, DEFAULT_EMBEDDER) == whole
    assert groups == [2, 3]  # PNG + JPEG, then GIF + RGBA + BMP (the rest fail to decode)


class Poison(bytes):
    """Bytes that kill the worker process which unpickles them, as a crashing decoder would."""

    def __reduce__(self) -> tuple[object, tuple[int]]:
        return (os._exit, (70,))


async def test_a_worker_that_dies_fails_only_the_input_that_killed_it(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "data", api_key=KEY, limits=LIMITS, ingest_processes=2)
    await backend.start()
    try:
        good = samples()[0]
        results = await backend.ingest._analyse([good, Poison(b"boom"), good])
        assert [r.error for r in results] == ["", CRASHED, ""]
        assert results[0].vector == results[2].vector is not None
        # The pool was replaced: the next chunk goes through the worker processes again.
        again = await backend.ingest._analyse([good])
        assert again == [results[0]]
    finally:
        await backend.stop()


def _die_the_first_time(marker: str, payload: bytes) -> bytes:
    """Unpickled in a worker: kill it if ``marker`` does not exist yet (making it), else give
    ``payload``: a worker that dies of something other than its input, once."""
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return payload
    os._exit(70)


class DiesOnce(bytes):
    def __new__(cls, marker: Path, payload: bytes) -> DiesOnce:
        made = super().__new__(cls, payload)
        made.marker = str(marker)  # type: ignore[attr-defined]
        return made

    def __reduce__(self) -> tuple[object, tuple[str, bytes]]:
        return (_die_the_first_time, (self.marker, bytes(self)))  # type: ignore[attr-defined]


def test_a_quarantine_worker_killed_once_does_not_fail_a_valid_image(tmp_path: Path) -> None:
    # A quarantine worker can die of something else (OOM killer, an operator's kill): the
    # image gets a fresh worker before its crash is blamed on it (it once failed for good).
    good = samples()[0]
    alone = analysis.analyse_quarantined(DiesOnce(tmp_path / "died", good), LIMITS, None)
    assert (tmp_path / "died").exists()  # the first worker did die
    assert alone.ok, alone.error
    assert alone == analyse_many([good], LIMITS, None)[0]
    assert analysis.analyse_quarantined(Poison(b"boom"), LIMITS, None).error == CRASHED


async def test_threads_when_asked(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "data", api_key=KEY, limits=LIMITS, ingest_processes=0)
    await backend.start()
    try:
        before = analysis.existing_pool(2)
        results = await backend.ingest._analyse([samples()[0]])
        assert isinstance(results[0], Analysis) and results[0].ok
        assert analysis.existing_pool(2) is before  # no process pool was made for it
    finally:
        await backend.stop()


async def test_warm_up_starts_the_worker_processes_before_the_first_upload(tmp_path: Path) -> None:
    # Three processes: a pool size no other test uses, so this one is started here.
    assert analysis.existing_pool(3) is None
    backend = LocalBackend(
        tmp_path / "data", api_key=KEY, limits=LIMITS, ingest_processes=3, warm_ingest=True
    )
    await backend.start()
    try:
        deadline = asyncio.get_running_loop().time() + 60
        executor = analysis.existing_pool(3)
        while executor is None or len(executor._processes) < 3:
            assert asyncio.get_running_loop().time() < deadline, "no worker processes started"
            await asyncio.sleep(0.05)
            executor = analysis.existing_pool(3)
        assert all(p.is_alive() for p in executor._processes.values())
        # Nothing was uploaded, and the warm-up left nothing behind in the store.
        assert backend.store.job_count() == 0
        results = await backend.ingest._analyse([samples()[0]])
        assert results[0].ok and results[0].vector is not None
        assert analysis.existing_pool(3) is executor
    finally:
        await backend.stop()
        found = analysis.existing_pool(3)
        if found is not None:
            analysis.discard(found)


def test_naming_the_embedder_does_not_import_numpy(tmp_path: Path) -> None:
    # The ingest worker asks the pipeline for the embedder's name on the event loop: importing
    # numpy there would stall every request for a moment at the first upload.
    code = (
        "import sys; from pathlib import Path; from api.local.backend import LocalBackend; "
        f"b = LocalBackend(Path({str(tmp_path)!r}), api_key='k'); "
        "assert b.ingest.pipeline is not None; "
        "print(b.ingest.pipeline.embedder_name, 'numpy' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == [DEFAULT_EMBEDDER, "False"]


def test_worker_processes_run_at_a_lower_priority_than_the_server() -> None:
    workers = analysis.pool(2)
    niceness = {workers.submit(os.nice, 0).result(60) for _ in range(4)}
    assert niceness == {min(os.nice(0) + analysis.WORKER_NICENESS, 19)}


def test_decoding_in_many_threads_leaves_the_warning_filters_as_they_were() -> None:
    # decode() turns Pillow's bomb warning into an error with warnings.catch_warnings(), which
    # swaps the process-wide filter list: threads overlapping in it used to leave the error
    # filter installed for the whole process.
    data = image_bytes("PNG")
    before = list(warnings.filters)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:

        def work() -> None:
            for _ in range(300):
                decode(data, LIMITS)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert warnings.filters == before


def test_a_decompression_bomb_is_refused_by_pillows_guard_in_a_thread_and_in_a_worker() -> None:
    # 144 million pixels: past Pillow's MAX_IMAGE_PIXELS, so Image.open warns. decode() makes
    # that warning an error: per call in a thread, for good in a worker process (which then
    # skips the per-call catch_warnings). Either way the same 30002 reason.
    bomb = png_without_pixels(12_000)
    assert (Image.MAX_IMAGE_PIXELS or 0) < 12_000 * 12_000
    before = list(warnings.filters)
    (in_thread,) = analyse_many([bomb], IngestLimits(), None)
    (in_worker,) = analysis.pool(2).submit(analyse_many, [bomb], IngestLimits(), None).result(60)
    assert in_thread == in_worker
    assert in_worker.error == "too large: more than 50,000,000 pixels (decompression bomb guard)"
    assert warnings.filters == before
