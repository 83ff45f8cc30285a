"""The vectorised HandcraftedEmbedder against a copy of the original per-image algorithm."""

from __future__ import annotations

import threading

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageDraw

from api.local.nodes import embedder as embedder_module
from api.local.nodes.embedder import HandcraftedEmbedder

from .conftest import PARK, ImageFactory, png_roundtrip

# --- Reference: the per-image implementation the vectorised one replaced (kept verbatim). ---

_SIZE = 64
_GRID = 4
_BINS = 9
_THUMB = 8
_W_HIST = 0.8
_W_LAYOUT = 0.6
_W_HOG = 1.0
_W_GHOG = 0.4
_W_THUMB = 0.8


def _unit(v: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    n = float(np.sqrt(np.dot(v, v)))
    return v / n if n > 1e-12 else v


def _cell_index(size: int, grid: int) -> npt.NDArray[np.intp]:
    band = np.arange(size) * grid // size
    return (band[:, None] * grid + band[None, :]).ravel()


_CELLS = _cell_index(_SIZE, _GRID)


def _reference_prepare(image: Image.Image) -> npt.NDArray[np.float64]:
    img = image
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    if img.mode != "RGB":
        img = img.convert("RGB")
    if img.size != (_SIZE, _SIZE):
        img = img.resize((_SIZE, _SIZE), Image.Resampling.BILINEAR, reducing_gap=3.0)
    return np.asarray(img, dtype=np.float64) / 255.0


def reference_embed(image: Image.Image) -> npt.NDArray[np.float32]:
    rgb = _reference_prepare(image)
    n_cells = _GRID * _GRID

    q = np.minimum((rgb * 4).astype(np.intp), 3)
    codes = (q[..., 0] * 16 + q[..., 1] * 4 + q[..., 2]).ravel()
    hist = np.sqrt(np.bincount(codes, minlength=64) / codes.size)
    flat = rgb.reshape(-1, 3)
    counts = np.bincount(_CELLS, minlength=n_cells).astype(np.float64)
    layout = (
        np.stack(
            [np.bincount(_CELLS, weights=flat[:, c], minlength=n_cells) for c in range(3)],
            axis=1,
        )
        / counts[:, None]
    )

    grey = rgb @ np.array([0.299, 0.587, 0.114])
    gx = np.zeros_like(grey)
    gy = np.zeros_like(grey)
    gx[:, 1:-1] = grey[:, 2:] - grey[:, :-2]
    gy[1:-1, :] = grey[2:, :] - grey[:-2, :]
    mag = np.hypot(gx, gy).ravel()
    ang = np.arctan2(gy, gx).ravel() % np.pi
    obin = np.minimum((ang * (_BINS / np.pi)).astype(np.intp), _BINS - 1)
    cells = np.bincount(_CELLS * _BINS + obin, weights=mag, minlength=n_cells * _BINS)
    cells = cells.reshape(_GRID, _GRID, _BINS)
    energy = np.sqrt((cells**2).sum(axis=2) + 1e-6)
    padded = np.pad(energy, 1, mode="edge")
    block = (padded[:-1, :-1] + padded[1:, :-1] + padded[:-1, 1:] + padded[1:, 1:]) / 4
    local = (block[:-1, :-1] + block[1:, 1:] + block[:-1, 1:] + block[1:, :-1]) / 4
    hog = np.sqrt(cells / (local[..., None] + 1e-3)).ravel()
    ghog = np.sqrt(cells.sum(axis=(0, 1)))

    k = _SIZE // _THUMB
    thumb = grey.reshape(_THUMB, k, _THUMB, k).mean(axis=(1, 3)).ravel()
    thumb = thumb - thumb.mean()

    vec = np.concatenate(
        [
            _W_HIST * _unit(hist),
            _W_LAYOUT * _unit(layout.ravel() - 0.5),
            _W_HOG * _unit(hog),
            _W_GHOG * _unit(ghog),
            _W_THUMB * _unit(thumb),
        ]
    )
    return _unit(vec).astype(np.float32)


# --- Test images. ---


def _noise(rng: np.random.Generator, h: int, w: int, channels: int = 3) -> Image.Image:
    shape = (h, w, channels) if channels > 1 else (h, w)
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))


def _same_grey_pair() -> Image.Image:
    """Vertical neighbours two apart with equal true grey from different colours.

    299*dr + 587*dg + 114*db == 0 for (dr, dg, db) = (-15, 9, -7), but in float
    (rgb / 255 @ luma) the two greys differ by one ulp: the vertical gradient is a tiny
    non-zero whose sign puts a strong horizontal gradient in orientation bin 8 instead of 0.
    """
    c1, c2 = (217, 163, 130), (202, 172, 123)  # grey(c2) - grey(c1) == +1 ulp
    a = np.full((64, 64, 3), 90, dtype=np.uint8)
    a[:, 24:48] = 200  # rising edge at columns 23-24 (gx > 0), falling at 47-48 (gx < 0)
    for y in range(4, 60, 6):
        for x in (23, 24):  # gy = -ulp, gx > 0: angle ~ -0, bin 8
            a[y - 1, x], a[y + 1, x] = c2, c1
        for x in (47, 48):  # gy = +ulp, gx < 0: angle ~ pi - tiny, bin 8
            a[y - 1, x], a[y + 1, x] = c1, c2
    return Image.fromarray(a)


def _varied_images() -> list[Image.Image]:
    rng = np.random.default_rng(1234)
    images: list[Image.Image] = [
        _noise(rng, 64, 64),
        _noise(rng, 64, 64),
        Image.new("RGB", (64, 64), (10, 200, 30)),  # flat: zero gradients
        Image.new("RGB", (64, 64), (0, 0, 0)),
        Image.new("RGB", (64, 64), (255, 255, 255)),
        Image.new("RGB", (64, 64), (127, 128, 128)),  # layout - 0.5 ~ 0
        Image.new("RGB", (1, 1), (200, 50, 25)),
        _noise(rng, 1, 1),
        _noise(rng, 91, 173),  # non-square, resized
        _noise(rng, 480, 640),  # large, resized
        _noise(rng, 64, 64, channels=4).convert("RGBA"),  # RGBA with transparency
        Image.new("RGBA", (32, 32), (0, 0, 0, 0)),
        _noise(rng, 64, 64, channels=1).convert("L"),
        _noise(rng, 50, 70).convert("P"),
        _noise(rng, 64, 64).quantize(16),  # palette image
        _same_grey_pair(),
    ]
    # A palette image with a transparent colour.
    pal = _noise(rng, 64, 64).quantize(8)
    pal.info["transparency"] = 3
    images.append(pal)
    # Drawn shapes: flat regions with sharp vertical / horizontal / diagonal edges.
    drawn = Image.new("RGB", (64, 64), (240, 240, 240))
    d = ImageDraw.Draw(drawn)
    d.rectangle([8, 8, 30, 50], fill=(200, 30, 30))
    d.line([0, 63, 63, 0], fill=(20, 20, 200), width=3)
    d.ellipse([35, 10, 60, 35], outline=(0, 120, 0), width=2)
    images.append(drawn)
    # A smooth ramp (many small, equal gradients).
    ramp = np.zeros((64, 64, 3), dtype=np.uint8)
    ramp[..., 0] = np.arange(64)[None, :] * 4
    ramp[..., 1] = np.arange(64)[:, None] * 2
    ramp[..., 2] = 77
    images.append(Image.fromarray(ramp))
    return images


@pytest.fixture(scope="module")
def varied() -> list[Image.Image]:
    return _varied_images()


def _images_for_batch(varied: list[Image.Image], n: int, seed: int) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [varied[int(i)] for i in rng.integers(0, len(varied), n)]


def test_matches_reference_per_image(varied: list[Image.Image]) -> None:
    embedder = HandcraftedEmbedder()
    for i, image in enumerate(varied):
        got = embedder.embed(image)
        assert got.dtype == np.float32 and got.shape == (embedder.dim,)
        np.testing.assert_allclose(got, reference_embed(image), atol=1e-5, err_msg=f"image {i}")


@pytest.mark.parametrize("n", [1, 3, 32])
def test_batch_matches_reference_and_embed(varied: list[Image.Image], n: int) -> None:
    embedder = HandcraftedEmbedder()
    images = varied[:n] if n <= len(varied) else _images_for_batch(varied, n, seed=n)
    batch = embedder.embed_many(images)
    assert batch.dtype == np.float32 and batch.shape == (n, embedder.dim)
    expected = np.stack([reference_embed(im) for im in images])
    np.testing.assert_allclose(batch, expected, atol=1e-5)
    for i, image in enumerate(images):
        assert batch[i].tobytes() == embedder.embed(image).tobytes(), i


def test_all_varied_images_in_one_batch(varied: list[Image.Image]) -> None:
    batch = HandcraftedEmbedder().embed_many(varied)
    expected = np.stack([reference_embed(im) for im in varied])
    np.testing.assert_allclose(batch, expected, atol=1e-5)


def test_park_images_match_reference(make_park_image: ImageFactory) -> None:
    images = [png_roundtrip(make_park_image(PARK[i % 5], i)) for i in range(40)]
    batch = HandcraftedEmbedder().embed_many(images)  # more than one pass of 32
    expected = np.stack([reference_embed(im) for im in images])
    np.testing.assert_allclose(batch, expected, atol=1e-5)


def test_same_grey_pair_needs_the_float_bins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ulp-sized vertical gradients change bins in the reference; the embedder follows."""
    image = _same_grey_pair()
    expected = reference_embed(image)
    np.testing.assert_allclose(HandcraftedEmbedder().embed(image), expected, atol=1e-5)

    # With exact integer grey only (no float fix-up), these pixels would land in bin 0.
    def bin_zero(pixels: object, im: npt.NDArray[np.intp], *_: object) -> npt.NDArray[np.intp]:
        return np.zeros(len(im), dtype=np.intp)

    monkeypatch.setattr(embedder_module, "_float_bins", bin_zero)
    assert np.abs(HandcraftedEmbedder().embed(image) - expected).max() > 1e-3


def test_long_batch_spans_several_passes(varied: list[Image.Image]) -> None:
    images = _images_for_batch(varied, 150, seed=7)
    batch = HandcraftedEmbedder().embed_many(images)
    assert batch.shape == (150, HandcraftedEmbedder.dim)
    cache = {id(im): reference_embed(im) for im in images}
    np.testing.assert_allclose(batch, np.stack([cache[id(im)] for im in images]), atol=1e-5)


def test_empty_batch() -> None:
    out = HandcraftedEmbedder().embed_many([])
    assert out.shape == (0, HandcraftedEmbedder.dim) and out.dtype == np.float32


def test_threads_get_the_same_results(varied: list[Image.Image]) -> None:
    embedder = HandcraftedEmbedder()
    images = _images_for_batch(varied, 32, seed=3)
    expected = embedder.embed_many(images)
    results: list[npt.NDArray[np.float32]] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(5):
            got = embedder.embed_many(images)
            with lock:
                results.append(got)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 15
    for got in results:
        assert got.tobytes() == expected.tobytes()


def test_input_images_are_not_modified(varied: list[Image.Image]) -> None:
    image = varied[10]  # RGBA
    before = image.tobytes()
    HandcraftedEmbedder().embed(image)
    assert image.tobytes() == before and image.mode == "RGBA"


def test_orientation_slots_match_arctan2_for_every_gradient_next_to_a_bin_edge() -> None:
    """``_orientation_slots`` finds ``floor(arctan2(gy, gx) * 9 / pi + 9)`` by comparisons.

    Gradients are differences of ``299 r + 587 g + 114 b``: integers of at most 255,000 in
    magnitude. Away from a bin edge any method gives the same slot; so every such gradient on
    either side of every edge (the lines at multiples of 20 degrees, and the axes) is checked
    against arctan2 itself, as the code before it computed the slot.
    """
    limit = 255_000
    scratch = embedder_module._Scratch(64)
    per_pass = scratch.gx.size
    span = np.arange(-limit, limit + 1, dtype=np.float64)
    lines: list[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]] = [
        (span, np.zeros_like(span)),
        (np.zeros_like(span), span),
    ]
    for k in range(1, 9):
        tan = np.tan(k * np.pi / 9)
        for offset in (-1, 0, 1, 2):  # the lattice points on both sides of the line
            if abs(tan) <= 1:
                lines.append((span, np.floor(span * tan) + offset))
            else:
                lines.append((np.floor(span / tan) + offset, span))
    checked = 0
    for xs, ys in lines:
        keep = (np.abs(xs) <= limit) & (np.abs(ys) <= limit)
        xs, ys = xs[keep], ys[keep]
        for start in range(0, xs.size, per_pass):
            gx, gy = xs[start : start + per_pass], ys[start : start + per_pass]
            m = gx.size
            scratch.gx.reshape(-1)[:m], scratch.gy.reshape(-1)[:m] = gx, gy
            scratch.gx.reshape(-1)[m:] = scratch.gy.reshape(-1)[m:] = 0.0
            got = embedder_module._orientation_slots(scratch, 64).reshape(-1)[:m]
            want = np.add(np.arctan2(gy, gx) * (9 / np.pi), 9).astype(np.intp)
            wrong = np.flatnonzero(got != want)
            assert wrong.size == 0, [(gx[i], gy[i], got[i], want[i]) for i in wrong[:5]]
            checked += m
    assert checked > 16_000_000
