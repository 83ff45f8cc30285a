"""The demo data set: scikit-learn's handwritten digits as PNG images with their concepts.

The digits (1,797 images of 8x8 pixels, 16 grey levels) ship inside scikit-learn, so a
newcomer gets real images to label, train on and auto-annotate without any files of their
own and without a network. Each image is written as a 32x32 PNG (nearest-neighbour upscale,
dark ink on white, as people draw digits) so it previews crisply in half-block characters.

Imports of numpy, scikit-learn and Pillow happen inside the functions: this module is safe
to import from anywhere.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
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
