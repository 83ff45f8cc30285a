"""2,000 files through the real Uploader while 10% of the calls fail in every way a network
can fail; every file must land exactly once and the summary must say so."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.client import ClarifaiClient
from api.local.backend import LocalBackend
from api.retry import RetryPolicy
from api.upload import Uploader, UploadOptions, collect_sources
from tests.faults.faulty import KINDS, FaultyTransport, LoseResponses
from tests.faults.support import tiny_png

KEY = "flaky-key"
APP = "flaky"
FILES = 2000


async def no_sleep(_: float) -> None:
    await asyncio.sleep(0)


async def short_sleep(_: float) -> None:
    """The uploader's poll interval: let the in-process ingest run, but never really wait."""
    await asyncio.sleep(0.005)


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[LocalBackend]:
    b = LocalBackend(tmp_path / "data", api_key=KEY)
    await b.start()
    try:
        yield b
    finally:
        await b.stop()


def direct(backend: LocalBackend) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=backend.app),
        base_url="http://local",
        headers={"Authorization": f"Key {KEY}"},
    )


async def server_inputs(backend: LocalBackend) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    async with direct(backend) as http:
        page = 1
        while True:
            r = await http.get(
                f"/v2/users/me/apps/{APP}/inputs", params={"page": page, "per_page": 1000}
            )
            assert r.status_code == 200, r.text
            items = r.json()["inputs"]
            out.extend(items)
            if len(items) < 1000:
                return out
            page += 1


def faulty_client(backend: LocalBackend, faults: FaultyTransport) -> ClarifaiClient:
    return ClarifaiClient(
        base_url="http://embedded",
        api_key=KEY,
        user_id="me",
        app_id=APP,
        transport=faults,
        retry=RetryPolicy(sleep=no_sleep, jitter=False),
    )


async def test_upload_of_2000_files_through_a_flaky_network(
    tmp_path: Path, backend: LocalBackend
) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(FILES):
        (folder / f"{i:04d}.png").write_bytes(tiny_png(i))
    async with direct(backend) as http:
        r = await http.post("/v2/users/me/apps", json={"apps": [{"id": APP}]})
        assert r.status_code == 200, r.text

    faults = FaultyTransport(httpx.ASGITransport(app=backend.app), seed=10, rate=0.10)
    sources = collect_sources([folder])
    assert len(sources) == FILES
    async with faulty_client(backend, faults) as client:
        uploader = Uploader(
            client,
            state_dir=tmp_path / "state",
            options=UploadOptions(
                concepts=("park",), batch_size=32, concurrency=4, poll_interval=0.0
            ),
            sleep=short_sleep,
        )
        summary = await uploader.run(sources)

    # The faults really happened, every kind of them, at about the rate asked for.
    assert set(faults.injected) == set(KINDS), faults.injected
    injected = sum(faults.injected.values())
    assert 0.05 * faults.calls <= injected <= 0.15 * faults.calls, (injected, faults.calls)
    assert faults.by_route[("POST", "reset_after")] >= 1, faults.by_route

    # Server side: every file exactly once, processed, labelled.
    listed = await server_inputs(backend)
    ids = [str(i["id"]) for i in listed]
    assert len(ids) == FILES and len(set(ids)) == FILES
    assert {i["status"]["code"] for i in listed} == {30000}  # type: ignore[index]

    # Client side: the summary tells the truth.
    assert summary.ok, (summary.failed[:3], summary.pending[:3])
    assert len(summary.failed) == 0 and len(summary.pending) == 0
    assert {r.label for r in summary.uploaded + summary.already_present} == {
        str(folder / f"{i:04d}.png") for i in range(FILES)
    }
    assert {r.input_id for r in summary.uploaded + summary.already_present} == set(ids)
    # A fresh app: nothing was there before this run, so nothing is "already present" — an
    # INPUT_DUPLICATE answer to a retry of a request whose response was lost is our own upload.
    assert len(summary.already_present) == 0, (
        f"{len(summary.already_present)} files uploaded by this run reported as already present, "
        f"e.g. {summary.already_present[:2]}"
    )
    assert len(summary.uploaded) == FILES


async def test_lost_response_to_concept_creation_does_not_break_the_upload(
    tmp_path: Path, backend: LocalBackend
) -> None:
    """PostConcepts succeeded but its response was lost: the retry must not turn into a failed
    upload ("concept already exists" means the work is done)."""
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(5):
        (folder / f"{i}.png").write_bytes(tiny_png(i))
    async with direct(backend) as http:
        assert (
            await http.post("/v2/users/me/apps", json={"apps": [{"id": APP}]})
        ).status_code == 200
    lossy = LoseResponses(httpx.ASGITransport(app=backend.app), "POST", "/concepts")
    client = ClarifaiClient(
        base_url="http://embedded",
        api_key=KEY,
        user_id="me",
        app_id=APP,
        transport=lossy,
        retry=RetryPolicy(sleep=no_sleep, jitter=False),
    )
    async with client:
        uploader = Uploader(
            client,
            state_dir=tmp_path / "state",
            options=UploadOptions(concepts=("park",), poll_interval=0.0),
            sleep=short_sleep,
        )
        summary = await uploader.run(collect_sources([folder]))
    assert lossy.dropped == 1
    assert summary.ok and len(summary.uploaded) == 5, summary
    assert len(await server_inputs(backend)) == 5
