"""The handcrafted embedder: shape, normalisation, determinism, image modes, registry."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from api.local.nodes.embedder import (
    DEFAULT_EMBEDDER,
    Embedder,
    HandcraftedEmbedder,
    embedder_names,
    get_embedder,
    register_embedder,
)

from .conftest import ImageFactory, png_roundtrip


def test_vector_is_float32_unit_length(embedder: Embedder, make_park_image: ImageFactory) -> None:
    v = embedder.embed(make_park_image("walker", 1))
    assert v.dtype == np.float32
    assert v.shape == (embedder.dim,)
    assert np.linalg.norm(v) == pytest.approx(1.0, abs=1e-5)
    assert np.isfinite(v).all()


def test_deterministic_across_calls_instances_and_decodes(make_park_image: ImageFactory) -> None:
    image = make_park_image("runner", 2)
    a = HandcraftedEmbedder().embed(image)
    b = HandcraftedEmbedder().embed(png_roundtrip(image))
    assert a.tobytes() == b.tobytes()
    batch = HandcraftedEmbedder().embed_many([image, image])
    assert batch.shape == (2, a.shape[0])
    assert batch[0].tobytes() == a.tobytes() == batch[1].tobytes()


def test_different_images_differ(embedder: Embedder, make_park_image: ImageFactory) -> None:
    a = embedder.embed(make_park_image("walker", 3))
    b = embedder.embed(make_park_image("bike_rider", 3))
    assert float(a @ b) < 0.99


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "LA", "I;16", "CMYK", "1"])
def test_any_mode_and_size_embeds(
    embedder: Embedder, make_park_image: ImageFactory, mode: str
) -> None:
    base = make_park_image("stroller", 4).resize((173, 91))
    v = embedder.embed(base.convert(mode))
    assert v.shape == (embedder.dim,)
    assert np.linalg.norm(v) == pytest.approx(1.0, abs=1e-5)


def test_transparency_is_composited_on_white(embedder: Embedder) -> None:
    clear = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    white = Image.new("RGB", (32, 32), (255, 255, 255))
    assert np.allclose(embedder.embed(clear), embedder.embed(white))


def test_blank_image_still_embeds(embedder: Embedder) -> None:
    v = embedder.embed(Image.new("RGB", (10, 10), (0, 0, 0)))
    assert np.isfinite(v).all() and np.linalg.norm(v) > 0.5


def test_empty_batch(embedder: Embedder) -> None:
    assert embedder.embed_many([]).shape == (0, embedder.dim)


def test_registry() -> None:
    assert DEFAULT_EMBEDDER == "handcrafted-v1"
    assert get_embedder() is get_embedder("handcrafted-v1")
    assert isinstance(get_embedder(), Embedder)
    with pytest.raises(ValueError, match=r"unknown embedder 'onnx:clip'.*'handcrafted-v1'"):
        get_embedder("onnx:clip")


def test_register_a_plug_in() -> None:
    class Tiny:
        id = "tiny-test"
        dim = 3

        def embed(self, image: Image.Image) -> np.ndarray:
            return np.array([1.0, 0.0, 0.0], dtype=np.float32)

        def embed_many(self, images: list[Image.Image]) -> np.ndarray:
            return np.stack([self.embed(i) for i in images])

    register_embedder("tiny-test", Tiny)
    assert "tiny-test" in embedder_names()
    assert get_embedder("tiny-test").dim == 3
    with pytest.raises(ValueError, match="non-empty"):
        register_embedder("", Tiny)


def test_throughput_is_well_above_200_per_second(
    embedder: Embedder, make_park_image: ImageFactory
) -> None:
    images = [make_park_image("walker", s) for s in range(100)]
    embedder.embed(images[0])
    start = time.perf_counter()
    embedder.embed_many(images)
    rate = len(images) / (time.perf_counter() - start)
    assert rate > 200, f"{rate:.0f} images/s"
