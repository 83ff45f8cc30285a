"""Fixtures: real images drawn with Pillow (five "park" concepts) and sklearn's digits.

Every image goes through PNG bytes and back, as uploads do.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image, ImageDraw

from api.local.nodes.classifier import TrainedClassifier, train
from api.local.nodes.embedder import Embedder, get_embedder

PARK = ("walker", "runner", "bike_rider", "rollerblader", "stroller")


def png_roundtrip(image: Image.Image) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    out = Image.open(io.BytesIO(buf.getvalue()))
    out.load()
    return out


def _jitter(rng: random.Random, colour: tuple[int, int, int], amount: int = 30) -> tuple[int, ...]:
    return tuple(max(0, min(255, c + rng.randint(-amount, amount))) for c in colour)


def _figure(
    draw: ImageDraw.ImageDraw,
    x: float,
    y: float,
    s: float,
    colour: tuple[int, ...],
    lean: float,
    stride: float,
) -> None:
    """A stick figure: head, body leaning by `lean`, legs apart by `stride`."""
    hx, hy = x + lean * s, y - s
    draw.ellipse([hx - 0.18 * s, hy - 0.18 * s, hx + 0.18 * s, hy + 0.18 * s], fill=colour)
    draw.line([hx, hy + 0.18 * s, x, y], fill=colour, width=max(2, int(s / 8)))
    draw.line([x, y, x - stride * s, y + 0.8 * s], fill=colour, width=max(2, int(s / 10)))
    draw.line([x, y, x + stride * s, y + 0.8 * s], fill=colour, width=max(2, int(s / 10)))


def _wheel(
    draw: ImageDraw.ImageDraw, x: float, y: float, r: float, colour: tuple[int, ...]
) -> None:
    draw.ellipse([x - r, y - r, x + r, y + r], outline=colour, width=max(2, int(r / 4)))


def park_image(concept: str, rng: random.Random, size: int = 64) -> Image.Image:
    """One drawn scene of `concept`, with random placement, scale, colours and noise."""
    grass = _jitter(rng, (70, 150, 60), 25)
    sky = _jitter(rng, (150, 200, 240), 20)
    img = Image.new("RGB", (size, size), sky)
    draw = ImageDraw.Draw(img)
    horizon = size * rng.uniform(0.35, 0.5)
    draw.rectangle([0, horizon, size, size], fill=grass)
    s = size * rng.uniform(0.22, 0.3)
    x = size * rng.uniform(0.3, 0.7)
    y = size * rng.uniform(0.5, 0.6)
    person = _jitter(rng, (40, 40, 120), 40)
    if concept == "walker":
        _figure(draw, x, y, s, person, lean=0.0, stride=0.15)
    elif concept == "runner":
        _figure(draw, x, y, s, _jitter(rng, (200, 40, 40), 40), lean=0.45, stride=0.6)
    elif concept == "bike_rider":
        r = s * 0.45
        _wheel(draw, x - s * 0.7, y + s * 0.6, r, (20, 20, 20))
        _wheel(draw, x + s * 0.7, y + s * 0.6, r, (20, 20, 20))
        draw.line(
            [x - s * 0.7, y + s * 0.6, x, y, x + s * 0.7, y + s * 0.6], fill=(200, 200, 0), width=3
        )
        _figure(draw, x, y - s * 0.2, s * 0.8, person, lean=0.3, stride=0.2)
    elif concept == "rollerblader":
        _figure(draw, x, y, s, _jitter(rng, (230, 120, 20), 30), lean=0.25, stride=0.45)
        for dx in (-0.45, 0.45):
            for k in range(3):
                cx = x + dx * s + (k - 1) * s * 0.12
                draw.ellipse([cx - 2, y + 0.8 * s, cx + 2, y + 0.8 * s + 4], fill=(250, 250, 250))
    elif concept == "stroller":
        _figure(draw, x - s * 0.6, y, s, person, lean=0.1, stride=0.2)
        bx = x + s * 0.4
        draw.rectangle([bx, y, bx + s * 0.9, y + s * 0.5], fill=_jitter(rng, (160, 60, 160), 30))
        _wheel(draw, bx + s * 0.15, y + s * 0.7, s * 0.18, (30, 30, 30))
        _wheel(draw, bx + s * 0.75, y + s * 0.7, s * 0.18, (30, 30, 30))
        draw.line([x - s * 0.5, y - s * 0.2, bx, y], fill=(30, 30, 30), width=2)
    else:  # pragma: no cover
        raise ValueError(concept)
    # Sensor-like noise, so no two images share pixels.
    arr = np.asarray(img, dtype=np.int16)
    noise = np.random.default_rng(rng.randrange(2**32)).integers(-12, 13, arr.shape)
    img = Image.fromarray(np.clip(arr + noise, 0, 255).astype(np.uint8), "RGB")
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return png_roundtrip(img)


@dataclass(frozen=True)
class LabelledSet:
    images: list[Image.Image]
    concepts: list[str]  # one positive concept per image

    def labels(self) -> list[dict[str, float]]:
        return [{c: 1.0} for c in self.concepts]


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return get_embedder("handcrafted-v1")


@pytest.fixture(scope="session")
def park_sets() -> tuple[LabelledSet, LabelledSet]:
    """(train, test): 24 and 16 drawn images per park concept."""
    rng = random.Random(1234)
    train_set: list[tuple[Image.Image, str]] = []
    test_set: list[tuple[Image.Image, str]] = []
    for concept in PARK:
        for n in range(40):
            (train_set if n < 24 else test_set).append((park_image(concept, rng), concept))
    return (
        LabelledSet([i for i, _ in train_set], [c for _, c in train_set]),
        LabelledSet([i for i, _ in test_set], [c for _, c in test_set]),
    )


@pytest.fixture(scope="session")
def park_classifier(
    park_sets: tuple[LabelledSet, LabelledSet], embedder: Embedder
) -> TrainedClassifier:
    train_set, _ = park_sets
    x = embedder.embed_many(train_set.images)
    return train(x, train_set.labels(), list(PARK), embedder_id=embedder.id)


def digit_png(pixels: np.ndarray, size: int = 64) -> bytes:
    """An 8x8 sklearn digit (0..16, ink high) as a dark-on-white PNG of size x size."""
    grey = (255 - pixels * (255 / 16)).astype(np.uint8)
    img = Image.fromarray(grey, "L").resize((size, size), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="session")
def digits() -> tuple[list[Image.Image], np.ndarray]:
    """All 1797 digits decoded from PNG bytes, and their labels 0..9."""
    from sklearn.datasets import load_digits

    data = load_digits()
    images = []
    for pixels in data.images:
        img = Image.open(io.BytesIO(digit_png(pixels)))
        img.load()
        images.append(img)
    return images, np.asarray(data.target)


@pytest.fixture(scope="session")
def digit_embeddings(
    digits: tuple[list[Image.Image], np.ndarray], embedder: Embedder
) -> np.ndarray:
    return embedder.embed_many(digits[0])


ImageFactory = Callable[[str, int], Image.Image]


@pytest.fixture()
def make_park_image() -> ImageFactory:
    def make(concept: str, seed: int) -> Image.Image:
        return park_image(concept, random.Random(seed))

    return make
