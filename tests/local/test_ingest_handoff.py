"""The in-memory handoff of fresh image bytes from PostInputs to the ingest worker: shared bytes
stay until their last input is read, the budget evicts oldest first, and anything not handed
over is read from the blob file; a long queue goes to the worker processes in full chunks, and
a chunk is loaded in groups bounded by bytes, a few at a time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

import api.local.ingest as ingest_module
from api.local.analysis import Analysis
from api.local.backend import LocalBackend
from api.local.ingest import IngestWorker, ProcessedInput
from api.local.rows import Job, JobResult
from api.local.store import Store
from tests.local.conftest import APP, client_for, image_bytes, image_input


@pytest.fixture
def worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[IngestWorker, list[str]]:
    store = Store(tmp_path / "data")
    store.open()
    disk_reads: list[str] = []
    real = store.read_blob

    def read_blob(sha: str) -> bytes:
        disk_reads.append(sha)
        return real(sha)

    monkeypatch.setattr(store, "read_blob", read_blob)
    return IngestWorker(store), disk_reads


def test_shared_bytes_stay_until_the_last_input_reads_them(
    worker: tuple[IngestWorker, list[str]],
) -> None:
    w, disk_reads = worker
    data = b"same bytes for two inputs"
    (sha,) = w.store.put_blobs([data])
    w.offer([(sha, data), (sha, data)])
    assert w._read(sha) == data and w._read(sha) == data
    assert disk_reads == []
    # Both inputs read it: it is gone from memory, and a third read goes to the file.
    assert w._read(sha) == data and disk_reads == [sha]


def test_budget_evicts_oldest_first(
    worker: tuple[IngestWorker, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    w, disk_reads = worker
    monkeypatch.setattr(ingest_module, "_FRESH_BUDGET", 25)
    blobs = [bytes([n]) * 10 for n in range(3)]
    shas = w.store.put_blobs(blobs)
    w.offer(zip(shas, blobs, strict=True))  # 30 bytes: the first is evicted
    assert [w._read(sha) for sha in shas] == blobs
    assert disk_reads == [shas[0]]
    # Larger than the whole budget: never kept.
    big = b"x" * 26
    (big_sha,) = w.store.put_blobs([big])
    w.offer([(big_sha, big)])
    assert w._read(big_sha) == big and disk_reads[-1] == big_sha


async def _queue_then_process(
    backend: LocalBackend, monkeypatch: pytest.MonkeyPatch, batches: list[list[dict[str, Any]]]
) -> None:
    """Create the app, post every batch with the worker asleep (the whole queue is there before
    it claims anything), then wake it and wait until all of it is processed."""
    worker = backend.ingest
    wake = worker.wake
    monkeypatch.setattr(worker, "wake", lambda: None)
    async with client_for(backend) as client:
        r = await client.post("/v2/users/me/apps", json={"apps": [{"id": "app"}]})
        assert r.status_code == 200, r.text
        for inputs in batches:
            r = await client.post(f"{APP}/inputs", json={"inputs": inputs})
            assert r.status_code == 200, r.text
    wake()
    await backend.wait_idle(120)


async def test_a_long_queue_goes_to_the_worker_processes_in_full_chunks(
    backend_factory: Callable[..., LocalBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A queue longer than the jobs in flight: claiming the few slots each commit frees made
    # chunks of a handful of inputs (and as many commits), far more overhead per input.
    monkeypatch.setattr(ingest_module, "_MIN_CLAIM", 64)
    backend = backend_factory(ingest_concurrency=2)
    await backend.start()
    try:
        worker = backend.ingest
        worker._max_active = 96
        sizes: list[int] = []
        analyse = worker._analyse

        async def counted(datas: list[bytes]) -> list[Analysis]:
            sizes.append(len(datas))
            return await analyse(datas)

        monkeypatch.setattr(worker, "_analyse", counted)
        batches = [
            [
                image_input(f"in{batch}-{n}", image_bytes(size=(8, 8), color=(batch, n, 7)))
                for n in range(128)
            ]
            for batch in range(3)
        ]
        await _queue_then_process(backend, monkeypatch, batches)
        async with client_for(backend) as client:
            r = await client.get(f"{APP}/inputs/status")
        assert r.json()["counts"]["processed"] == 384
        assert sum(sizes) == 384
        assert sum(sizes) / len(sizes) >= 24, sizes
    finally:
        await backend.stop()


async def test_a_chunk_is_loaded_and_analysed_in_groups_bounded_by_bytes(
    backend_factory: Callable[..., LocalBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    # However many jobs are claimed, the worker holds only a few groups of image bytes at once
    # (large photos would otherwise fill the memory): each group is at most _GROUP_BYTES (an
    # image larger than that alone), and at most _group_slots groups are loaded at a time.
    images = [image_bytes(size=(40 + n, 30), color=(n, 9, 9)) for n in range(23)]
    largest = max(map(len, images))
    monkeypatch.setattr(ingest_module, "_GROUP_BYTES", 3 * largest)
    monkeypatch.setattr(ingest_module, "_FRESH_BUDGET", 5 * largest)  # the rest is read back
    backend = backend_factory(ingest_concurrency=2)
    backend.ingest._group_slots = 2
    await backend.start()
    try:
        worker = backend.ingest
        groups: list[int] = []
        held = [0, 0]  # bytes of the groups being analysed now, and the most at once
        analysed = worker._analysed

        async def counted(
            jobs: list[Job], loaded: Sequence[bytes | Exception | None]
        ) -> list[tuple[JobResult, ProcessedInput | None]]:
            size = sum(len(d) for d in loaded if isinstance(d, bytes))
            groups.append(size)
            held[0] += size
            held[1] = max(held[1], held[0])
            try:
                return await analysed(jobs, loaded)
            finally:
                held[0] -= size

        monkeypatch.setattr(worker, "_analysed", counted)
        inputs = [image_input(f"in{n}", data) for n, data in enumerate(images)]
        inputs.insert(5, image_input("junk", b"not an image"))
        await _queue_then_process(backend, monkeypatch, [inputs])
        async with client_for(backend) as client:
            r = await client.get(f"{APP}/inputs", params={"per_page": 100})
        rows = {i["id"]: i for i in r.json()["inputs"]}
        assert {i: rows[f"in{i}"]["status"]["code"] for i in range(23)} == dict.fromkeys(
            range(23), 30000
        )
        assert rows["junk"]["status"]["code"] == 30002
        assert sum(groups) == sum(map(len, images)) + len(b"not an image")
        # Two chunks (12 jobs each), each cut into groups of 3 images' worth of bytes or a little
        # more (a group takes one more image until it holds _GROUP_BYTES).
        assert len(groups) >= 5 and all(g <= 4 * largest for g in groups), groups
        assert held[1] <= 2 * 4 * largest, held
    finally:
        await backend.stop()
