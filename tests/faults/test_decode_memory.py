"""Bounded decode memory for PostModelOutputs and PostWorkflowResults (issue 25, item 1).

The attack: a body of many copies of a tiny, highly compressible PNG with huge dimensions.
Decoded in full and kept for the whole request, 40 copies of a 60 KB 7000x7000 PNG took the
server to 7.7 GB. Now each input is checked from its header (over IngestLimits.max_pixels: its
own 30002 naming the limit, no pixel decoded), decoded inside the backend's pixel budget, and
kept as a vector, not as pixels. The peak RSS is measured by benchmarks/decode_memory_bench.py;
here the budget's own peak (pixels decoded at once) is checked.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from api.local.backend import LocalBackend
from api.local.budget import PixelBudget
from api.local.imaging import (
    DRAFT_ABOVE_PIXELS,
    ImageRejected,
    IngestLimits,
    decode,
    probe,
    to_rgb,
)
from api.local.nodes.embedder import get_embedder
from tests.faults.support import _rgb_png, b64, png_without_pixels

KEY = "decode-memory-key"
MAX_PIXELS = 4_000_000
EMBEDDER = "/v2/users/clarifai/apps/main/models/general-image-embedding/outputs"
UNIVERSAL = "/v2/users/clarifai/apps/main/workflows/Universal/results"


def flat_png(size: int) -> bytes:
    """A ``size`` x ``size`` RGB PNG of one colour: ~13 KB for 1900x1900 (10.8 MB decoded)."""
    row = b"\x00" + b"\x40\x80\xc0" * size
    return _rgb_png(size, row * size, 9)


#: Just under the test's pixel limit (3.61 million pixels) and just over it (4.41 million).
FITS = flat_png(1900)
TOO_BIG = flat_png(2100)


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[LocalBackend]:
    limits = IngestLimits(max_bytes=2_000_000, max_pixels=MAX_PIXELS, url_timeout=2.0)
    b = LocalBackend(tmp_path / "data", api_key=KEY, limits=limits, ingest_processes=0)
    await b.start()
    try:
        yield b
    finally:
        await b.stop()


def client(backend: LocalBackend) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=backend.app),
        base_url="http://local",
        headers={"Authorization": f"Key {KEY}"},
        timeout=300,
    )


def inputs(count: int) -> list[dict[str, Any]]:
    """Alternately an image over the limit and one under it."""
    return [
        {"id": f"in-{i}", "data": {"image": {"base64": b64(TOO_BIG if i % 2 == 0 else FITS)}}}
        for i in range(count)
    ]


def expected_vector() -> list[float]:
    image = to_rgb(decode(FITS, IngestLimits(max_pixels=MAX_PIXELS)).image)
    return [float(v) for v in get_embedder().embed(image)]


def check_over_limit(status: dict[str, Any]) -> None:
    assert status["code"] == 30002, status
    assert status["description"] == (
        f"too large: 2100x2100 is 4,410,000 pixels; the limit is {MAX_PIXELS:,}"
    ), status


async def test_predict_many_huge_compressible_pngs(backend: LocalBackend) -> None:
    async with client(backend) as c:
        r = await c.post(EMBEDDER, json={"inputs": inputs(64)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"]["code"] == 10010, body["status"]
    outputs = body["outputs"]
    assert [o["input"]["id"] for o in outputs] == [f"in-{i}" for i in range(64)]
    want = expected_vector()
    for i, out in enumerate(outputs):
        if i % 2 == 0:
            check_over_limit(out["status"])
            assert out["data"] == {}
        else:
            assert out["status"]["code"] == 10000, out["status"]
            got = out["data"]["embeddings"][0]["vector"]
            assert np.allclose(got, want, atol=1e-6)
    # At most one 3.6-million-pixel image was decoded at a time, and nothing is held after.
    assert 0 < backend.decode_budget.peak <= MAX_PIXELS
    assert backend.decode_budget.used == 0


async def test_workflow_results_many_huge_compressible_pngs(backend: LocalBackend) -> None:
    async with client(backend) as c:
        r = await c.post(UNIVERSAL, json={"inputs": inputs(32)})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert len(results) == 32
    want = expected_vector()
    for i, result in enumerate(results):
        if i % 2 == 0:
            check_over_limit(result["status"])
            assert result["outputs"] == []
        else:
            assert result["status"]["code"] == 10000, result["status"]
            (embedding,) = result["outputs"][0]["data"]["embeddings"]
            assert np.allclose(embedding["vector"], want, atol=1e-6)
    assert 0 < backend.decode_budget.peak <= MAX_PIXELS
    assert backend.decode_budget.used == 0


async def test_parallel_requests_share_one_budget(backend: LocalBackend) -> None:
    async with client(backend) as c:
        answers = await asyncio.gather(
            *(c.post(EMBEDDER, json={"inputs": inputs(16)}) for _ in range(4))
        )
    assert all(a.status_code == 200 for a in answers)
    assert all(a.json()["status"]["code"] == 10010 for a in answers)
    assert 0 < backend.decode_budget.peak <= MAX_PIXELS
    assert backend.decode_budget.used == 0


def test_pixel_limit_is_read_from_the_header() -> None:
    """The over-limit image is refused by ``probe`` (which decodes nothing): a PNG whose
    header claims a huge size but carries no pixel data at all is refused the same way."""
    limits = IngestLimits(max_pixels=MAX_PIXELS)
    with pytest.raises(ImageRejected, match="2100x2100 is 4,410,000 pixels; the limit is 4,0"):
        probe(png_without_pixels(2100), limits)


def test_a_huge_jpeg_is_decoded_at_a_reduced_scale() -> None:
    """``draft``: a JPEG over DRAFT_ABOVE_PIXELS decodes to far fewer pixels; the header's
    size is still what is reported, and the budget is taken for the reduced size."""
    out = io.BytesIO()
    Image.new("RGB", (6000, 4000), (200, 30, 30)).save(out, "JPEG")
    assert DRAFT_ABOVE_PIXELS < 6000 * 4000
    limits = IngestLimits(max_pixels=50_000_000)
    header = probe(out.getvalue(), limits)
    decoded = decode(out.getvalue(), limits)
    assert (decoded.width, decoded.height) == (6000, 4000)
    assert decoded.image.size == (3000, 2000)
    assert header.decode_pixels == 3000 * 2000


async def test_budget_serves_waiters_in_order_and_survives_cancellation() -> None:
    budget = PixelBudget(10)
    order: list[str] = []
    release = asyncio.Event()

    async def take(name: str, pixels: int) -> None:
        async with budget.hold(pixels):
            order.append(name)
            await release.wait()

    first = asyncio.create_task(take("first", 8))
    await asyncio.sleep(0)
    big = asyncio.create_task(take("big", 10))
    small = asyncio.create_task(take("small", 1))  # fits now, but waits behind "big"
    cancelled = asyncio.create_task(take("cancelled", 5))
    for _ in range(5):
        await asyncio.sleep(0)
    assert order == ["first"]
    cancelled.cancel()
    release.set()
    await asyncio.gather(first, big, small, return_exceptions=True)
    assert order == ["first", "big", "small"]
    assert cancelled.cancelled()
    assert budget.used == 0
    assert budget.peak == 10
