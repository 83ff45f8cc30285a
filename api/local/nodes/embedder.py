"""Visual embedders: image -> fixed-length, L2-normalised float32 vector.

Public API
----------
- ``Embedder``: the protocol every embedder follows (``id``, ``dim``, ``embed``,
  ``embed_many``). Embeddings are float32, shape ``(dim,)`` (``(n, dim)`` for
  ``embed_many``), L2-normalised, and deterministic: the same pixels always give the
  same bytes.
- ``HandcraftedEmbedder``: the default, offline embedder (id ``handcrafted-v1``), built
  from numpy and Pillow only.
- ``get_embedder(name)``: the registry; ``DEFAULT_EMBEDDER`` names the default.
  ``register_embedder(name, factory)`` adds another (for example a user's ONNX model,
  wired by config later). Unknown names raise ``ValueError`` listing the known ones.

The handcrafted features (``dim == 329``), each block L2-normalised and weighted, then the
whole vector L2-normalised:

- colour: a joint RGB histogram (4x4x4 bins, square-rooted: Hellinger) and the mean
  colour of each cell of a 4x4 grid (layout);
- shape: gradient-orientation histograms (9 unsigned orientations, magnitude-weighted,
  HOG-like) over a 4x4 grid, each 2x2 block normalised, plus one global orientation
  histogram;
- appearance: the grey image downscaled to 8x8, mean-centred.

Images are first made RGB (transparency composited onto white) and resized to 64x64, so
cost does not depend on the source size beyond that one resize. EXIF orientation is not
applied here: decoding (ingest) is the place for that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from PIL import Image

Vector = npt.NDArray[np.float32]

DEFAULT_EMBEDDER: Final = "handcrafted-v1"


@runtime_checkable
class Embedder(Protocol):
    """Turns images into L2-normalised float32 vectors of length ``dim``."""

    @property
    def id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, image: Image.Image) -> Vector:
        """One image -> shape ``(dim,)`` float32 with L2 norm 1."""
        ...

    def embed_many(self, images: Sequence[Image.Image]) -> Vector:
        """Several images -> shape ``(len(images), dim)`` float32."""
        ...


_SIZE: Final = 64  # working resolution
_GRID: Final = 4  # cells per side for the layout and HOG features
_BINS: Final = 9  # unsigned orientation bins
_THUMB: Final = 8  # side of the grey thumbnail
# Block weights after per-block L2 normalisation (shape matters most, then appearance).
_W_HIST: Final = 0.8
_W_LAYOUT: Final = 0.6
_W_HOG: Final = 1.0
_W_GHOG: Final = 0.4
_W_THUMB: Final = 0.8


def _unit(v: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    n = float(np.sqrt(np.dot(v, v)))
    return v / n if n > 1e-12 else v


def _cell_index(size: int, grid: int) -> npt.NDArray[np.intp]:
    """For each pixel of a size x size image, the index of its grid cell (row-major)."""
    band = np.arange(size) * grid // size
    return (band[:, None] * grid + band[None, :]).ravel()


_CELLS: Final = _cell_index(_SIZE, _GRID)


class HandcraftedEmbedder:
    """Offline colour + gradient-orientation + thumbnail features (see module docstring)."""

    id: str = "handcrafted-v1"
    dim: int = 64 + _GRID * _GRID * 3 + _GRID * _GRID * _BINS + _BINS + _THUMB * _THUMB

    def _prepare(self, image: Image.Image) -> npt.NDArray[np.float64]:
        from PIL import Image as PILImage

        img = image
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            rgba = img.convert("RGBA")
            background = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
            img = PILImage.alpha_composite(background, rgba)
        if img.mode != "RGB":
            img = img.convert("RGB")
        if img.size != (_SIZE, _SIZE):
            img = img.resize((_SIZE, _SIZE), PILImage.Resampling.BILINEAR, reducing_gap=3.0)
        return np.asarray(img, dtype=np.float64) / 255.0

    def embed(self, image: Image.Image) -> Vector:
        rgb = self._prepare(image)  # (64, 64, 3) in [0, 1]
        n_cells = _GRID * _GRID

        # Colour: joint RGB histogram (Hellinger) and 4x4 mean-colour layout.
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

        # Shape: HOG-like orientation histograms on the grey image.
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
        # 2x2 block energy normalisation: each cell divided by the mean norm of its blocks.
        energy = np.sqrt((cells**2).sum(axis=2) + 1e-6)
        padded = np.pad(energy, 1, mode="edge")
        block = (padded[:-1, :-1] + padded[1:, :-1] + padded[:-1, 1:] + padded[1:, 1:]) / 4
        local = (block[:-1, :-1] + block[1:, 1:] + block[:-1, 1:] + block[1:, :-1]) / 4
        hog = np.sqrt(cells / (local[..., None] + 1e-3)).ravel()
        ghog = np.sqrt(cells.sum(axis=(0, 1)))

        # Appearance: 8x8 grey thumbnail (block means), mean-centred.
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

    def embed_many(self, images: Sequence[Image.Image]) -> Vector:
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.embed(im) for im in images])


_REGISTRY: dict[str, Callable[[], Embedder]] = {DEFAULT_EMBEDDER: HandcraftedEmbedder}
_CACHE: dict[str, Embedder] = {}


def register_embedder(name: str, factory: Callable[[], Embedder]) -> None:
    """Make ``get_embedder(name)`` build (once) and return ``factory()``."""
    if not name:
        raise ValueError("an embedder needs a non-empty name")
    _REGISTRY[name] = factory
    _CACHE.pop(name, None)


def embedder_names() -> list[str]:
    """The registered embedder names, sorted."""
    return sorted(_REGISTRY)


def get_embedder(name: str = DEFAULT_EMBEDDER) -> Embedder:
    """The embedder registered as ``name`` (built once, then shared)."""
    if name not in _REGISTRY:
        known = ", ".join(repr(n) for n in embedder_names())
        raise ValueError(f"unknown embedder {name!r}: known embedders are {known}")
    if name not in _CACHE:
        _CACHE[name] = _REGISTRY[name]()
    return _CACHE[name]
