"""The adapter and upload engine against the embedded backend (ASGI, in-process).

Skipped until api/local/backend.py exists.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.client import ClarifaiClient
from api.models import (
    AnnotationFilter,
    AnnotationStatus,
    Concept,
    InputFilter,
    NewAnnotation,
    NewInput,
)
from api.retry import RetryPolicy
from api.upload import Uploader, UploadOptions, collect_sources
from tests.client.conftest import Sleeps

backend_module = pytest.importorskip("api.local.backend")


def png(i: int) -> bytes:
    from PIL import Image

    image = Image.new("RGB", (12, 12), ((i * 53) % 256, (i * 17) % 256, 99))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
async def local(tmp_path: Path) -> AsyncIterator[tuple[ClarifaiClient, object]]:
    backend = backend_module.LocalBackend(tmp_path / "data")
    await backend.start()
    client = ClarifaiClient(
        base_url="http://embedded",
        api_key=backend.api_key,
        user_id="me",
        transport=httpx.ASGITransport(app=backend.app),
        retry=RetryPolicy(sleep=Sleeps()),
    )
    try:
        await client.create_app("t", name="Test")
        yield client.with_app("t"), backend
    finally:
        await client.aclose()
        await backend.stop()


async def test_upload_folder_with_broken_file_then_again(
    local: tuple[ClarifaiClient, object], tmp_path: Path
) -> None:
    client, _backend = local
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(6):
        (folder / f"{i}.png").write_bytes(png(i))
    (folder / "broken.png").write_bytes(b"definitely not a png")
    options = UploadOptions(batch_size=4, poll_interval=0.05, processing_timeout=60)
    first = await Uploader(client, state_dir=tmp_path / "s", options=options).run(
        collect_sources([folder])
    )
    assert len(first.uploaded) == 6
    assert [r.label.rsplit("/", 1)[-1] for r in first.failed] == ["broken.png"]
    assert first.failed[0].reason
    again = await Uploader(client, state_dir=tmp_path / "fresh", options=options).run(
        collect_sources([folder])
    )
    assert len(again.already_present) == 6 and len(again.failed) == 1
    ids = [i.id async for i in client.iter_inputs()]
    assert len(set(ids)) == len(ids) and len(ids) >= 6
    uploaded = await client.get_input(first.uploaded[0].input_id)
    image = await client.fetch_image(uploaded)
    assert image.startswith(b"\x89PNG")
    # the file's name is recorded for people (issue #26: the Explorer shows it)
    assert uploaded.metadata.get("filename") == first.uploaded[0].label.rsplit("/", 1)[-1]


async def test_concepts_annotations_and_status_filter(
    local: tuple[ClarifaiClient, object], tmp_path: Path
) -> None:
    client, _backend = local
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "a.png").write_bytes(png(1))
    summary = await Uploader(
        client, state_dir=tmp_path / "s", options=UploadOptions(poll_interval=0.05)
    ).run(collect_sources([folder]))
    input_id = summary.uploaded[0].input_id
    await client.create_concepts([Concept("cat", "Cat"), Concept("dog", "Dog")])
    assert {c.id async for c in client.iter_concepts()} >= {"cat", "dog"}
    [result] = await client.post_annotations(
        [NewAnnotation(input_id, (Concept("cat"),), status_code=AnnotationStatus.PENDING)]
    )
    assert result.outcome == "created"
    pending_filter = [AnnotationFilter(status=AnnotationStatus.PENDING)]
    pending = [h.annotation for h in await client.search_annotations(pending_filter)]
    assert [a.id for a in pending if a] == [result.id]
    [accepted] = await client.set_annotation_status(
        [a for a in pending if a], AnnotationStatus.SUCCESS
    )
    assert accepted.status_code == AnnotationStatus.SUCCESS
    assert not await client.search_annotations(pending_filter)


async def test_search_filters_the_same_way_through_the_adapter(
    local: tuple[ClarifaiClient, object],
) -> None:
    client, backend = local
    results = await client.post_inputs([NewInput(data=png(i), id=f"in-{i}") for i in range(5)])
    assert all(r.ok for r in results)
    await backend.wait_idle(30)  # type: ignore[attr-defined]
    labels = [
        NewAnnotation(f"in-{i}", (Concept("walker"),), status_code=status, id=f"a-{i}")
        for i, status in enumerate(
            [AnnotationStatus.SUCCESS, AnnotationStatus.PENDING, AnnotationStatus.PENDING]
        )
    ]
    assert all(r.ok for r in await client.post_annotations(labels))
    pending = [AnnotationFilter(status=AnnotationStatus.PENDING, concepts=(Concept("walker"),))]
    hits = [h async for h in client.iter_search_inputs(pending, per_page=1)]
    assert [h.input.id for h in hits] == ["in-2", "in-1"]
    assert all(h.annotation is None for h in hits)
    page = await client.search_annotations(pending, per_page=10)
    assert [(h.annotation.id if h.annotation else "", h.input.id) for h in page] == [
        ("a-2", "in-2"),
        ("a-1", "in-1"),
    ]
    unlabelled = [AnnotationFilter(status=AnnotationStatus.SUCCESS, negate=True)]
    found = {h.input.id async for h in client.iter_search_inputs(unlabelled)}
    assert found == {"in-1", "in-2", "in-3", "in-4"}
    ready = [InputFilter(status=30000)]
    assert len([h async for h in client.iter_search_inputs(ready)]) == 5
