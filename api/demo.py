"""The demo data set: scikit-learn's handwritten digits as PNG images with their concepts.

The digits (1,797 images of 8x8 pixels, 16 grey levels) ship inside scikit-learn, so a
newcomer gets real images to label, train on and auto-annotate without any files of their
own and without a network. Each image is written as a 32x32 PNG (nearest-neighbour upscale,
dark ink on white, as people draw digits) so it previews crisply in half-block characters.

A few short videos come with them (`iter_videos`): the same digits, one a second (the
platform samples a frame a second), 96x96, a thin bar filling up under each digit as its
second passes; the true digits are in the file name, as for the images.

Imports of numpy, scikit-learn, Pillow and PyAV happen inside the functions: this module is
safe to import from anywhere.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

DIGIT_CONCEPTS: Final = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
)
DEMO_APP_ID: Final = "digits-demo"
DEMO_APP_NAME: Final = "Handwritten digits (demo)"
SCALE: Final = 4
#: The demo's videos: the digits each shows, one a second.
DEMO_VIDEOS: Final = ((0, 1, 2, 3, 4), (5, 6, 7, 8, 9), (3, 1, 4, 1, 5))
VIDEO_SIDE: Final = 96
VIDEO_FPS: Final = 5


@dataclass(frozen=True)
class DemoImage:
    index: int
    concept: str
    png: bytes


def digit_png(pixels: object) -> bytes:
    """One 8x8 digit (values 0-16) as a 32x32 grey PNG, dark ink on white."""
    import numpy as np
    from PIL import Image

    array = np.asarray(pixels, dtype=np.float64)
    grey = (255 - np.clip(array, 0, 16) * (255 / 16)).round().astype(np.uint8)
    image = Image.fromarray(grey, mode="L").resize(
        (grey.shape[1] * SCALE, grey.shape[0] * SCALE), Image.Resampling.NEAREST
    )
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def iter_digits(limit: int | None = None) -> Iterator[DemoImage]:
    """The digits in the data set's own order (well mixed across classes)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    count = len(data.images) if limit is None else min(limit, len(data.images))
    for index in range(count):
        yield DemoImage(
            index, DIGIT_CONCEPTS[int(data.target[index])], digit_png(data.images[index])
        )


@dataclass(frozen=True)
class DemoVideo:
    name: str
    """``video-0-1-2-3-4.mp4``: the digits it shows, in order."""
    digits: tuple[int, ...]
    mp4: bytes


def digit_video(pngs: Sequence[bytes]) -> bytes:
    """A video (MP4) showing each digit PNG for one second, upscaled to VIDEO_SIDE, with a
    bar drawn under it that fills as the second passes."""
    from PIL import Image, ImageDraw

    from api.video import encode

    def frames() -> Iterator[Image.Image]:
        for png in pngs:
            digit = Image.open(io.BytesIO(png)).convert("RGB")
            digit = digit.resize((VIDEO_SIDE, VIDEO_SIDE), Image.Resampling.NEAREST)
            for tick in range(VIDEO_FPS):
                frame = digit.copy()
                width = (tick + 1) * VIDEO_SIDE // VIDEO_FPS
                ImageDraw.Draw(frame).rectangle(
                    (0, VIDEO_SIDE - 3, width - 1, VIDEO_SIDE - 1), fill=(160, 160, 160)
                )
                yield frame

    return encode(frames(), fps=VIDEO_FPS)


def iter_videos(images: Sequence[DemoImage]) -> Iterator[DemoVideo]:
    """The DEMO_VIDEOS, each digit taken from `images` (the first unused one of its concept,
    so a digit shown twice is written by two hands)."""
    by_concept: dict[str, list[DemoImage]] = {}
    for image in images:
        by_concept.setdefault(image.concept, []).append(image)
    for digits in DEMO_VIDEOS:
        used: dict[int, int] = {}
        pngs = []
        for digit in digits:
            pool = by_concept.get(DIGIT_CONCEPTS[digit], [])
            if not pool:
                break
            pngs.append(pool[used.get(digit, 0) % len(pool)].png)
            used[digit] = used.get(digit, 0) + 1
        else:
            name = "video-" + "-".join(str(d) for d in digits) + ".mp4"
            yield DemoVideo(name, digits, digit_video(pngs))
