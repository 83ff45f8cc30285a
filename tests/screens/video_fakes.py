"""Video inputs with frame annotations for screen tests (issue #27).

:func:`seed_video` posts a real small mp4 as a video input (the embedded backend samples it and
reports its video_info) and stores frame-level annotations as a default workflow's writer
would (each with its frame's index and time), without training a model first.

Two states the embedded backend does not leave a video in are faked: a video still being
processed on a platform, and a processed video this machine cannot decode (a codec its FFmpeg
lacks). For those the mp4 goes in as an image input whose metadata carries :data:`VIDEO_KEY`,
and :func:`install` has the wire parser read it back as a video. :func:`install` also records
every AnnotationUpdate sent (the review test checks its ``frame``); updates go out unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest

from api import wire
from api.local.rows import ConceptValue
from api.local.rows import NewAnnotation as StoredAnnotation
from api.models import (
    Annotation,
    AnnotationStatus,
    AnnotationUpdate,
    FrameInfo,
    Input,
    InputStatus,
    NewInput,
    VideoInfo,
)
from api.video import encode
from tests.screens.test_explorer import APP, backend_client

VIDEO_KEY = "test_video"
FRAME_KEY = "test_frame"
#: The colours of the test video's seconds: frame k (at k * 1000 ms) is COLOURS[k].
COLOURS = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0))
INFO = VideoInfo(
    width=32, height=32, fps=10.0, video_format="mp4/mpeg4", frame_count=40, duration_seconds=4.0
)
WRITER_VERSION = "mv-writer"


def video_bytes() -> bytes:
    """Four seconds at 10 fps, one colour a second (see COLOURS)."""
    from PIL import Image

    return encode([Image.new("RGB", (32, 32), c) for c in COLOURS for _ in range(10)], fps=10)


def install(monkeypatch: pytest.MonkeyPatch) -> list[AnnotationUpdate]:
    """Read VIDEO_KEY / FRAME_KEY back as videos and frames; returns the list every
    AnnotationUpdate sent is recorded in."""
    real_input, real_annotation = wire.input_from, wire.annotation_from
    real_patch = wire.patch_annotations_body
    sent: list[AnnotationUpdate] = []

    def input_from(d: Mapping[str, Any]) -> Input:
        item = real_input(d)
        spec = item.metadata.get(VIDEO_KEY) if item.metadata else None
        if not isinstance(spec, Mapping):
            return item
        info = VideoInfo(**spec) if spec else None
        status = InputStatus.SUCCESS if info else InputStatus.PENDING
        return replace(item, kind="video", video=info, status_code=status, status_description="")

    def annotation_from(d: Mapping[str, Any]) -> Annotation:
        annotation = real_annotation(d)
        frame = annotation.annotation_info.get(FRAME_KEY)
        if isinstance(frame, Mapping):
            annotation = replace(annotation, frame=FrameInfo(frame["index"], frame["time"]))
        return annotation

    def patch_annotations_body(updates: Sequence[AnnotationUpdate], action: str) -> Any:
        sent.extend(updates)
        return real_patch(updates, action)

    monkeypatch.setattr(wire, "input_from", input_from)
    monkeypatch.setattr(wire, "annotation_from", annotation_from)
    monkeypatch.setattr(wire, "patch_annotations_body", patch_annotations_body)
    return sent


def frame_annotation(
    input_id: str,
    index: int,
    concepts: Sequence[tuple[str, float]],
    *,
    status: int,
    ann_id: str,
    user_id: str,
) -> StoredAnnotation:
    """What the default workflow's writer writes for one sampled frame (1 s apart)."""
    return StoredAnnotation(
        id=ann_id,
        input_id=input_id,
        user_id=user_id,
        concepts=[ConceptValue(name, name, value) for name, value in concepts],
        model_version_id=WRITER_VERSION,
        status_code=status,
        frame=(index, index * 1000),
    )


async def seed_video(
    tmp_path: Path,
    *,
    images: int = 0,
    processed: bool = True,
    data: bytes | None = None,
    frames: Sequence[tuple[int, Sequence[tuple[str, float]], int]] = (
        (0, (("red", 0.91),), AnnotationStatus.SUCCESS),
        (1, (("green", 0.82), ("leaf", 0.4)), AnnotationStatus.PENDING),
        (3, (("yellow", 0.77),), AnnotationStatus.PENDING),
    ),
) -> None:
    """App APP with `images` PNG inputs img-N, then video `vid-1` (clip.mp4: 4 s, see
    COLOURS, unless `data` is given) with writer annotations fa-<index> on the given frames.
    A real video input, processed by the backend, unless `processed` is False or `data` is
    given (then faked: see the module docstring; needs :func:`install`)."""
    from tests.tui_helpers import png_bytes

    async with backend_client(tmp_path) as (backend, client):
        await client.create_app(APP)
        if images:
            await client.post_inputs(
                [NewInput(data=png_bytes((20 * i, 90, 90)), id=f"img-{i}") for i in range(images)]
            )
            await backend.wait_idle()
        real = processed and data is None
        metadata: dict[str, Any] = {"filename": "clip.mp4"}
        if not real:
            metadata[VIDEO_KEY] = asdict(INFO) if processed else {}
        (posted,) = await client.post_inputs(
            [
                NewInput(
                    data=video_bytes() if data is None else data,
                    id="vid-1",
                    metadata=metadata,
                    video=real,
                )
            ]
        )
        assert posted.ok, posted.reason
        await backend.wait_idle()
        if real:
            (stored,) = await client.list_inputs(ids=["vid-1"])
            assert stored.video == replace(
                INFO, bit_rate=stored.video.bit_rate if stored.video else 0
            )
        app = backend.store.get_app(backend.user_id, APP)
        assert app is not None
        backend.store.add_annotations(
            app.pk,
            [
                frame_annotation(
                    "vid-1",
                    index,
                    concepts,
                    status=status,
                    ann_id=f"fa-{index}",
                    user_id=backend.user_id,
                )
                for index, concepts, status in frames
            ],
        )
