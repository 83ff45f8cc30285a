"""The in-memory handoff of fresh image bytes from PostInputs to the ingest worker: shared bytes
stay until their last input is read, the budget evicts oldest first, and anything not handed
over is read from the blob file; a long queue goes to the worker processes in full chunks, and
a chunk of many bytes in several calls."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import api.local.ingest as ingest_module
from api.local.analysis import Analysis
from api.local.backend import LocalBackend
from api.local.ingest import IngestWorker
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


def _record_call_sizes(
    monkeypatch: pytest.MonkeyPatch, worker: IngestWorker, name: str
) -> list[int]:
    """Patch the worker's analysis method ``name`` to record how many images each call gets."""
    sizes: list[int] = []
    real = getattr(worker, name)

    async def counted(datas: list[bytes]) -> list[Analysis]:
        sizes.append(len(datas))
        result: list[Analysis] = await real(datas)
        return result

    monkeypatch.setattr(worker, name, counted)
    return sizes


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
        sizes = _record_call_sizes(monkeypatch, worker, "_analyse")
        wake = worker.wake
        monkeypatch.setattr(worker, "wake", lambda: None)  # queue everything first
        async with client_for(backend) as client:
            r = await client.post("/v2/users/me/apps", json={"apps": [{"id": "app"}]})
            assert r.status_code == 200, r.text
            for batch in range(3):
                inputs = [
                    image_input(f"in{batch}-{n}", image_bytes(size=(8, 8), color=(batch, n, 7)))
                    for n in range(128)
                ]
                r = await client.post(f"{APP}/inputs", json={"inputs": inputs})
                assert r.status_code == 200, r.text
            wake()
            await backend.wait_idle(120)
            r = await client.get(f"{APP}/inputs/status")
        assert r.json()["counts"]["processed"] == 384
        assert sum(sizes) == 384
        assert sum(sizes) / len(sizes) >= 24, sizes
    finally:
        await backend.stop()


def test_byte_groups_cut_in_order_and_keep_a_large_item_alone() -> None:
    items = [b"a" * 4, b"b" * 4, b"c" * 9, b"d" * 2, b"e" * 3, b"f"]
    assert ingest_module._byte_groups(items, 8) == [
        [b"a" * 4, b"b" * 4],
        [b"c" * 9],
        [b"d" * 2, b"e" * 3, b"f"],
    ]
    assert ingest_module._byte_groups(items, 100) == [items]
    assert ingest_module._byte_groups([], 8) == [[]]


async def test_a_chunk_of_many_bytes_is_analysed_in_several_calls(
    backend_factory: Callable[..., LocalBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    # No single message to a worker process is huge, and the processes share a big chunk.
    backend = backend_factory(ingest_concurrency=2)
    await backend.start()
    try:
        worker = backend.ingest
        datas = [image_bytes(size=(40 + n, 30), color=(n, 9, 9)) for n in range(6)]
        datas.insert(3, b"not an image")
        whole = await worker._analyse(datas)
        calls = _record_call_sizes(monkeypatch, worker, "_analyse_group")
        monkeypatch.setattr(ingest_module, "_ANALYSIS_BYTES", 2 * max(map(len, datas)))
        assert await worker._analyse(datas) == whole
        assert len(calls) >= 3 and sum(calls) == len(datas)
        assert [a.width for a in whole] == [40, 41, 42, 0, 43, 44, 45]
    finally:
        await backend.stop()
