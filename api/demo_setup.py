"""Build the demo app from scikit-learn's handwritten digits, through any ClarifaiClient.

    result = await setup_demo(client, new_images_dir=data_dir / "demo-new-images")

Shared by `clarifai-tui demo` and the app picker's "create the demo" offer. It:
1. creates the app `digits-demo` (kept if it exists) and the concepts zero..nine;
2. uploads the first `count` digits (500 by default) as PNG inputs; input ids come from the
   content, so a second run sends nothing twice (the server answers "already present");
3. labels `labels_per_concept` (20) uploaded digits of each concept with one SUCCESS
   annotation by the caller (value 1 for its digit; annotation ids derived from the input, so
   a second run writes no second label);
4. writes every remaining digit (1,297 of 1,797) as `NNNN-<concept>.png` into
   `new_images_dir`, the "new images" a user uploads later to watch them being
   auto-annotated (the true digit is in the file name, to check the result by eye), and
   beside them a few short videos of those digits, one a second (`video-0-1-2-3-4.mp4`,
   `api.demo.iter_videos`), to see a video input's frames annotated the same way;
5. optionally waits until the server has processed the inputs.

Running it twice changes nothing the first run did: it is idempotent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from api.client import BATCH_SIZE, ClarifaiClient
from api.demo import (
    DEMO_APP_ID,
    DEMO_APP_NAME,
    DIGIT_CONCEPTS,
    DemoImage,
    DemoVideo,
    iter_digits,
    iter_videos,
)
from api.errors import ApiError
from api.models import AnnotationStatus, Concept, NewAnnotation, NewInput, derived_id

DEFAULT_UPLOADS: Final = 500
LABELS_PER_CONCEPT: Final = 20
NEW_IMAGES_DIRNAME: Final = "demo-new-images"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DemoResult:
    app_id: str
    app_created: bool
    uploaded: int
    already_present: int
    failed: tuple[str, ...]
    labelled: int
    labels_already_there: int
    new_images_dir: Path | None
    new_images_written: int
    processed: bool
    new_videos: int = 0
    new_videos_written: int = 0

    def summary(self) -> str:
        lines = [
            f"app {self.app_id}: " + ("created" if self.app_created else "already there"),
            f"inputs: {self.uploaded} uploaded, {self.already_present} already present"
            + (f", {len(self.failed)} failed" if self.failed else ""),
            f"labels: {self.labelled} written, {self.labels_already_there} already there "
            f"(SUCCESS annotations, {len(DIGIT_CONCEPTS)} concepts)",
        ]
        if self.new_images_dir is not None:
            lines.append(
                f"new images for later: {self.new_images_dir} "
                f"({self.new_images_written} written now)"
            )
            if self.new_videos:
                lines.append(
                    f"new videos for later: {self.new_videos} in the same folder "
                    f"({self.new_videos_written} written now)"
                )
        if not self.processed:
            lines.append("the server is still processing some inputs")
        return "\n".join(lines)


def label_annotation_id(input_id: str) -> str:
    """The demo label's annotation id for an input (stable: a re-run finds it)."""
    return derived_id("clarifai-tui-demo-label", input_id)


def _say(progress: Progress | None, text: str) -> None:
    if progress is not None:
        progress(text)


async def _ensure_app(client: ClarifaiClient, app_id: str) -> bool:
    try:
        await client.get_app(app_id)
    except ApiError as exc:
        if not exc.is_not_found:
            raise
        await client.create_app(app_id, name=DEMO_APP_NAME)
        return True
    return False


async def _ensure_concepts(client: ClarifaiClient) -> None:
    have = {c.id async for c in client.iter_concepts()}
    missing = [Concept(c, name=c) for c in DIGIT_CONCEPTS if c not in have]
    if missing:
        await client.create_concepts(missing)


def _pick_labels(images: Sequence[DemoImage], per_concept: int) -> list[DemoImage]:
    taken = dict.fromkeys(DIGIT_CONCEPTS, 0)
    out: list[DemoImage] = []
    for image in images:
        if taken[image.concept] < per_concept:
            taken[image.concept] += 1
            out.append(image)
    return out


def _write_new_images(folder: Path, images: Sequence[DemoImage]) -> int:
    return _write_files(
        folder, ((f"{image.index:04d}-{image.concept}.png", image.png) for image in images)
    )


def _write_new_videos(folder: Path, videos: Sequence[DemoVideo]) -> int:
    return _write_files(folder, ((video.name, video.mp4) for video in videos))


def _write_files(folder: Path, files: Iterable[tuple[str, bytes]]) -> int:
    """Write each (name, content) not already there with that content; how many were."""
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for name, content in files:
        path = folder / name
        if path.exists() and path.read_bytes() == content:
            continue
        tmp = path.with_name(name + ".tmp")
        tmp.write_bytes(content)
        tmp.replace(path)
        written += 1
    return written


async def wait_processed(client: ClarifaiClient, timeout: float) -> bool:
    """Poll GetInputCount until nothing is left to process, or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        counts = await client.get_input_count()
        if counts.settled:
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.25)


async def setup_demo(
    client: ClarifaiClient,
    *,
    app_id: str = DEMO_APP_ID,
    count: int | None = None,
    labels_per_concept: int | None = None,
    new_images_dir: Path | None = None,
    wait: float = 300.0,
    progress: Progress | None = None,
) -> DemoResult:
    """Create (or complete) the demo app; see the module docstring. `client` may be bound to
    any app or none: the demo app is addressed by `app_id`. `wait=0` does not wait for
    processing."""
    count = DEFAULT_UPLOADS if count is None else max(0, count)
    per_concept = LABELS_PER_CONCEPT if labels_per_concept is None else max(0, labels_per_concept)
    created = await _ensure_app(client, app_id)
    _say(progress, f"app {app_id}: " + ("created" if created else "already there"))
    app = client.with_app(app_id)
    await _ensure_concepts(app)

    _say(progress, "reading the digits")
    images = await asyncio.to_thread(lambda: list(iter_digits()))
    chosen, rest = images[:count], images[count:]

    uploaded = present = 0
    failed: list[str] = []
    for start in range(0, len(chosen), BATCH_SIZE):
        batch = chosen[start : start + BATCH_SIZE]
        results = await app.post_inputs_batch([NewInput(data=i.png) for i in batch])
        outcomes = {"created": 0, "duplicate": 0, "failed": 0}
        for image, result in zip(batch, results, strict=True):
            if result.outcome == "created":
                uploaded += 1
            elif result.outcome == "duplicate":
                present += 1
            else:
                failed.append(f"digit {image.index}: {result.reason}")
            outcomes[result.outcome if result.outcome in outcomes else "failed"] += 1
        _say(
            progress,
            f"digits {start + 1}-{start + len(batch)} of {len(chosen)}: "
            + ", ".join(
                f"{n} {word}"
                for word, n in (
                    ("uploaded", outcomes["created"]),
                    ("already present", outcomes["duplicate"]),
                    ("failed", outcomes["failed"]),
                )
                if n
            ),
        )

    to_label = _pick_labels(chosen, per_concept)
    wanted = {label_annotation_id(NewInput(data=i.png).input_id): i for i in to_label}
    existing: set[str] = set()
    ids = list(wanted)
    for start in range(0, len(ids), BATCH_SIZE):
        chunk = ids[start : start + BATCH_SIZE]
        inputs = [NewInput(data=wanted[i].png).input_id for i in chunk]
        page = await app.list_annotations(ids=chunk, input_ids=inputs, per_page=len(chunk))
        existing.update(a.id for a in page)
    new_labels = [
        NewAnnotation(
            input_id=NewInput(data=image.png).input_id,
            concepts=(Concept(image.concept, name=image.concept, value=1.0),),
            status_code=AnnotationStatus.SUCCESS,
            id=annotation_id,
        )
        for annotation_id, image in wanted.items()
        if annotation_id not in existing
    ]
    if new_labels:
        written_labels = await app.post_annotations(new_labels)
        _say(progress, f"labels: {sum(1 for r in written_labels if r.ok)} written")
        bad = [r.reason for r in written_labels if not r.ok]
        if bad:
            failed.extend(f"label: {reason}" for reason in bad)

    written = videos_written = 0
    videos: list[DemoVideo] = []
    if new_images_dir is not None:
        written = await asyncio.to_thread(_write_new_images, new_images_dir, rest)
        if written:
            _say(progress, f"new images for later: {written} written to {new_images_dir}")
        else:
            _say(progress, f"new images for later: all {len(rest)} already in {new_images_dir}")
        videos = await asyncio.to_thread(lambda: list(iter_videos(rest)))
        videos_written = await asyncio.to_thread(_write_new_videos, new_images_dir, videos)
        if videos_written:
            _say(progress, f"new videos for later: {videos_written} written beside them")
        elif videos:
            _say(progress, f"new videos for later: all {len(videos)} already there")

    processed = True
    if wait > 0:
        _say(progress, "waiting for the server to process the inputs")
        processed = await wait_processed(app, wait)
    return DemoResult(
        app_id=app_id,
        app_created=created,
        uploaded=uploaded,
        already_present=present,
        failed=tuple(failed),
        labelled=len(new_labels) - sum(1 for f in failed if f.startswith("label: ")),
        labels_already_there=len(existing),
        new_images_dir=new_images_dir,
        new_images_written=written,
        processed=processed,
        new_videos=len(videos),
        new_videos_written=videos_written,
    )


__all__ = [
    "DEFAULT_UPLOADS",
    "LABELS_PER_CONCEPT",
    "NEW_IMAGES_DIRNAME",
    "DemoResult",
    "label_annotation_id",
    "setup_demo",
    "wait_processed",
]
