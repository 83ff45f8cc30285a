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

import functools
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from api.local.nodes.types import DEFAULT_EMBEDDER as DEFAULT_EMBEDDER

if TYPE_CHECKING:
    from PIL import Image

Vector = npt.NDArray[np.float32]


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

# How ``_features`` computes the above for a whole batch at once (same results as a
# per-image loop in float64, to ~1e-10):
# - Every image goes through the same whole-batch numpy operations, so a row never depends
#   on the other rows: ``embed(im)`` and ``embed_many([..., im, ...])`` give the same bytes.
# - Pixels are read as uint32 words r | g << 8 | b << 16 (from RGBX bytes, X zeroed).
#   Pixel values stay integers as long as possible:
#   r, g and b are packed into 20-bit fields of a uint64, so one pyramid of pairwise sums
#   gives the exact 8x8 block sums of all three (layout, thumbnail), and one multiply
#   extracts ``299 r + 587 g + 114 b`` = grey * 255000, so gradients are exact integers.
# - Histogram codes: ``floor(v / 255 * 4)`` capped at 3 is ``v >> 6``, and one multiply
#   gathers the three 2-bit fields into a 6-bit code.
# - The orientation slot is ``floor(arctan2(gy, gx) * 9 / pi + 9)``, in [0, 18]: 19 slots per
#   cell (slot s >= 9 is bin s - 9, a slot below 9 is bin s, slot 18 (``ang == pi``) is bin
#   0), folded to 9 bins after ``bincount``. ``_orientation_slots`` finds it without arctan2:
#   numpy's arctan2 is a scalar libm call per pixel (~35 ns) on CPUs without AVX-512, which
#   made it 40% of the embedding. Folded into the upper right quadrant, a gradient lies past
#   the edge at k * 20 degrees exactly when ``|gy| > |gx| * tan(k * 20 deg)``, k = 1..4;
#   the gradients are integers below 2^18 in magnitude, never that close to an irrational
#   edge, so the comparisons give arctan2's slot for every possible gradient (a test checks
#   each integer gradient next to an edge), and the same bits on every CPU.
# - ``bincount`` spreads consecutive pixels over 4 lanes (separate histograms, summed
#   after): flat areas would otherwise hit one counter back to back and serialise.
# - Two different colours can have exactly the same true grey (RGB deltas of (15, -9, 7),
#   common in noisy photos); the float grey ``rgb / 255 @ luma`` then differs by one ulp,
#   and the sign of that tiny vertical gradient picks bin 0 or 8. Such pixels get their bin
#   from the float formula (``_float_bins``), as the per-image code did.
_PIX: Final = _SIZE * _SIZE
_N_CELLS: Final = _GRID * _GRID
_SLOTS: Final = 2 * _BINS + 1  # unfolded orientation slots per cell, see above
_LANES: Final = 4
_LUMA: Final = np.array([0.299, 0.587, 0.114])
_GREY_SCALE: Final = 255_000.0  # grey * 255000 == 299 r + 587 g + 114 b
# (r + g X + b X^2) * (114 + 587 X + 299 X^2) with X = 2^20 has 299 r + 587 g + 114 b at X^2,
# below it fields < 2^20 (no carries), above it only bits >= 60.
_GREY_MUL: Final = 114 + (587 << 20) + (299 << 40)
_FIELD: Final = (1 << 20) - 1
_CODE_MUL: Final = (1 << 20) + (1 << 10) + 1  # r'@0, g'@8, b'@16 -> 16 r' + 4 g' + b' @16
#: tan(20, 40, 60, 80 degrees): the bin edges in the upper right quadrant (_orientation_slots).
_EDGE_TANS: Final = tuple(float(t) for t in np.tan(np.arange(1, 5) * np.pi / _BINS))
_CHUNK: Final = 32  # images per vectorised pass: bounds the per-thread scratch memory
_PAD: Final = np.array([0, 0, 1, 2, 3, 3])  # edge padding of the 4x4 cell grid
# Feature blocks, each L2-normalised, then weighted.
_BLOCK_SIZES: Final = (64, _N_CELLS * 3, _N_CELLS * _BINS, _BINS, _THUMB * _THUMB)
_BLOCK_STARTS: Final = np.cumsum((0, *_BLOCK_SIZES[:-1]))
_BLOCK_WEIGHTS: Final = np.repeat([_W_HIST, _W_LAYOUT, _W_HOG, _W_GHOG, _W_THUMB], _BLOCK_SIZES)


def _cell_index(size: int, grid: int) -> npt.NDArray[np.intp]:
    """For each pixel of a size x size image, the index of its grid cell (row-major)."""
    band = np.arange(size) * grid // size
    return (band[:, None] * grid + band[None, :]).ravel()


_CELLS: Final = _cell_index(_SIZE, _GRID)


@functools.cache
def _bin_bases(capacity: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Per-pixel ``bincount`` offsets for batches of up to ``capacity`` images.

    Shapes ``(capacity, 4096)``: histogram bin 0 and orientation slot 0 of the pixel's image,
    lane and (orientation) cell. Read-only, shared by all threads.
    """
    images = np.arange(capacity, dtype=np.intp)[:, None]
    lanes = np.arange(_PIX, dtype=np.intp) % _LANES
    hist = lanes * (capacity * 64) + images * 64
    slot = lanes * (capacity * _N_CELLS * _SLOTS) + images * (_N_CELLS * _SLOTS)
    slot += _CELLS * _SLOTS
    hist.setflags(write=False)
    slot.setflags(write=False)
    return hist, slot


class _Scratch:
    """Work arrays for up to ``capacity`` images, reused by one thread from call to call.

    Allocating these (about 250 KB per image) afresh per batch costs more than the
    arithmetic: the memory goes back to the OS and is page-faulted in again every time.
    """

    def __init__(self, capacity: int) -> None:
        c = capacity
        self.capacity = c
        img = (c, _SIZE, _SIZE)
        self.rgbx = np.zeros((*img, 4), np.uint8)
        self.words = self.rgbx.view(np.uint32).reshape(img)  # little-endian: r | g << 8 | ...
        self.code = np.empty(img, np.uint32)
        # Four 8-byte-per-pixel buffers, reused under several dtypes along the way.
        self.buf = [np.empty(img, np.uint64) for _ in range(4)]
        self.sum_x = [np.empty((c, _SIZE, _SIZE >> k), np.uint64) for k in (1, 2, 3)]
        self.sum_y = [np.empty((c, _SIZE >> k, _THUMB), np.uint64) for k in (1, 2, 3)]
        self.gx = np.zeros(img, np.float64)
        self.gy = np.zeros(img, np.float64)  # border rows stay 0
        # One byte per pixel: the orientation slot and the masks it is made from.
        self.slot = np.empty(img, np.uint8)
        self.small = [np.empty(img, np.uint8) for _ in range(4)]
        self.flat = np.empty((c, _SIZE - 2, _SIZE), np.bool_)
        self.differs = np.empty((c, _SIZE - 2, _SIZE), np.bool_)
        self.hist_base, self.slot_base = _bin_bases(c)


_local = threading.local()


def _scratch(n: int) -> _Scratch:
    """This thread's work arrays, grown to hold at least ``n`` images."""
    scratch: _Scratch | None = getattr(_local, "scratch", None)
    if scratch is None or scratch.capacity < n:
        scratch = _Scratch(n)
        _local.scratch = scratch
    return scratch


def _orientation_slots(s: _Scratch, n: int) -> npt.NDArray[np.uint8]:
    """``floor(arctan2(gy, gx) * 9 / pi + 9)`` of each pixel of the first ``n`` images'
    gradients ``s.gx``, ``s.gy`` (integers as float64), computed without arctan2 (see the notes
    above ``_PIX``), into ``s.slot``. Overwrites ``s.buf[1:]`` and ``s.small``."""
    gx, gy = s.gx[:n], s.gy[:n]
    ax, ay, tmp = (b[:n].view(np.float64) for b in s.buf[1:])
    lower, mirrored, past, work = (m[:n] for m in s.small)
    half = s.slot[:n]
    np.abs(gx, out=ax)
    np.abs(gy, out=ay)
    # Edges passed in the upper right quadrant (the gradient's half-plane folded there): 0-4.
    for k, tan in enumerate(_EDGE_TANS):
        np.multiply(ax, tan, out=tmp)
        if k == 0:
            np.greater(ay, tmp, out=half.view(np.bool_))
        else:
            np.greater(ay, tmp, out=past.view(np.bool_))
            np.add(half, past, out=half)
    # Pointing down (gy < 0): slots 0-8 (the angle + pi), else 9-18.
    np.less(gy, 0, out=lower.view(np.bool_))
    # Folded up, pointing left: the bin is 8 - h, or 9 for exactly pi (gy == 0, gx < 0).
    np.less(gx, 0, out=mirrored.view(np.bool_))
    np.not_equal(mirrored, lower, out=mirrored)
    np.equal(ay, 0, out=past.view(np.bool_))
    # bin = h + mirrored * (8 + [gy == 0] - 2 h), in bytes (modulo 256: no branches).
    np.left_shift(half, 1, out=work)
    np.subtract(past, work, out=work)
    np.add(work, 8, out=work)
    np.negative(mirrored, out=mirrored)  # 0 or 0xFF
    np.bitwise_and(work, mirrored, out=work)
    np.add(half, work, out=half)
    # slot = bin + 9 - 9 * lower
    np.multiply(lower, _BINS, out=work)
    np.subtract(half, work, out=half)
    np.add(half, _BINS, out=half)
    return half


def _float_bins(
    rgbx: npt.NDArray[np.uint8],
    im: npt.NDArray[np.intp],
    y: npt.NDArray[np.intp],
    x: npt.NDArray[np.intp],
) -> npt.NDArray[np.intp]:
    """Orientation bins of the given pixels from float grey (``rgb / 255 @ luma``), exactly."""
    last = _SIZE - 1
    xl = np.maximum(x - 1, 0)
    xr = np.minimum(x + 1, last)
    colours = np.concatenate(
        [rgbx[im, y + 1, x, :3], rgbx[im, y - 1, x, :3], rgbx[im, y, xr, :3], rgbx[im, y, xl, :3]]
    )
    grey = (colours / 255.0) @ _LUMA  # the same BLAS call as the per-image code: same bits
    down, up, right, left = grey.reshape(4, -1)
    gy = down - up
    gx = np.where((x > 0) & (x < last), right - left, 0.0)
    ang = np.arctan2(gy, gx) % np.pi
    bins: npt.NDArray[np.intp] = np.minimum((ang * (_BINS / np.pi)).astype(np.intp), _BINS - 1)
    return bins


def _features(scratch: _Scratch, n: int) -> npt.NDArray[np.float64]:
    """Embeddings of the ``n`` images in ``scratch.rgbx[:n]``, shape ``(n, dim)``."""
    s = scratch
    c = s.capacity
    s.rgbx[:n, :, :, 3] = 0  # Pillow's pad byte is 255 or 0
    words = s.words[:n]
    b0, b1, b2, b3 = (b[:n] for b in s.buf)

    # Colour: joint RGB histogram (4x4x4 bins), Hellinger.
    code = s.code[:n]
    np.right_shift(words, 6, out=code)
    np.bitwise_and(code, 0x030303, out=code)
    np.multiply(code, _CODE_MUL, out=code)
    np.right_shift(code, 16, out=code)
    np.bitwise_and(code, 63, out=code)
    codes = b0.view(np.intp).reshape(n, _PIX)
    np.add(code.reshape(n, _PIX), s.hist_base[:n], out=codes)
    counts = np.bincount(codes.ravel(), minlength=_LANES * c * 64)
    counts = counts.reshape(_LANES, c, 64)[:, :n].sum(axis=0)
    hist = np.sqrt(counts / _PIX)

    # r, g, b in 20-bit fields of one uint64: r | g << 20 | b << 40.
    packed, tmp = b1, b2
    np.bitwise_and(words, 0x00FF00FF, out=tmp, dtype=np.uint64)
    np.multiply(tmp, 1 + (1 << 24), out=tmp)
    np.bitwise_and(tmp, 0xFF | (0xFF << 40), out=packed)
    np.bitwise_and(words, 0xFF00, out=tmp, dtype=np.uint64)
    np.left_shift(tmp, 12, out=tmp)
    np.bitwise_or(packed, tmp, out=packed)
    # Exact 8x8 block sums (a 16x16 cell sums to at most 65280: fields never carry).
    level = packed
    for out in s.sum_x:
        np.add(level[..., 0::2], level[..., 1::2], out=out[:n])
        level = out[:n]
    for out in s.sum_y:
        np.add(level[:, 0::2], level[:, 1::2], out=out[:n])
        level = out[:n]
    shifts = np.array([0, 20, 40], dtype=np.uint64)
    block8 = (level.reshape(n, _THUMB * _THUMB, 1) >> shifts) & np.uint64(_FIELD)
    # Layout: mean colour of each 16x16 cell (2x2 blocks of 8x8), minus 0.5.
    cell = level[:, :, 0::2] + level[:, :, 1::2]
    cell = (cell[:, 0::2] + cell[:, 1::2]).reshape(n, _N_CELLS, 1)
    rgb_sums = (cell >> shifts) & np.uint64(_FIELD)  # (n, 16, 3)
    layout = rgb_sums / 255.0 / ((_SIZE // _GRID) ** 2) - 0.5
    # Appearance: 8x8 grey thumbnail (block means), mean-centred.
    n_blocks = _THUMB * _THUMB
    grey_sums = block8.view(np.int64) @ np.array([299, 587, 114])  # exact, < 2^24
    centred = grey_sums * n_blocks - grey_sums.sum(axis=1, keepdims=True)
    thumb = centred / (_GREY_SCALE * (_SIZE // _THUMB) ** 2 * n_blocks)

    # Shape: HOG-like orientation histograms on the grey image (grey * 255000 here).
    grey_int, grey = b2, b3.view(np.float64)
    np.multiply(packed, _GREY_MUL, out=grey_int)
    np.right_shift(grey_int, 40, out=grey_int)
    np.bitwise_and(grey_int, _FIELD, out=grey_int)
    np.copyto(grey, grey_int)
    gx, gy = s.gx[:n], s.gy[:n]
    # x: one contiguous pass over the whole batch, then the border columns back to 0.
    np.subtract(grey.reshape(-1)[2:], grey.reshape(-1)[:-2], out=gx.reshape(-1)[1:-1])
    gx[:, :, 0] = gx[:, :, -1] = 0.0
    np.subtract(grey[:, 2:], grey[:, :-2], out=gy[:, 1:-1])
    mag, tmp64 = b0.view(np.float64), b1.view(np.float64)
    np.multiply(gx, gx, out=mag)
    np.multiply(gy, gy, out=tmp64)
    np.add(mag, tmp64, out=mag)
    np.sqrt(mag, out=mag)
    slot = _orientation_slots(s, n)  # uses b1-b3 as work space
    slots = b3.view(np.intp).reshape(n, _PIX)
    np.add(slot.reshape(n, _PIX), s.slot_base[:n], out=slots)
    # Same true grey above and below, different colours: the float grey decides the bin.
    flat, differs = s.flat[:n], s.differs[:n]
    np.equal(gy[:, 1:-1], 0, out=flat)
    np.not_equal(words[:, 2:], words[:, :-2], out=differs)
    np.logical_and(flat, differs, out=flat)
    if flat.any():
        im, pos = np.divmod(np.flatnonzero(flat), (_SIZE - 2) * _SIZE)
        pos += _SIZE  # flat starts at row 1
        bins = _float_bins(s.rgbx, im, pos // _SIZE, pos % _SIZE)
        slots[im, pos] = s.slot_base[im, pos] + _BINS + bins

    unfolded = np.bincount(
        slots.ravel(), weights=mag.ravel(), minlength=_LANES * c * _N_CELLS * _SLOTS
    )
    unfolded = unfolded.reshape(_LANES, c, _N_CELLS, _SLOTS)[:, :n].sum(axis=0)
    cells = unfolded[..., _BINS : 2 * _BINS] + unfolded[..., :_BINS]
    cells[..., 0] += unfolded[..., 2 * _BINS]
    cells /= _GREY_SCALE  # (n, 16, 9)
    # 2x2 block energy normalisation: each cell divided by the mean norm of its blocks.
    energy = np.sqrt((cells * cells).sum(axis=2) + 1e-6).reshape(n, _GRID, _GRID)
    padded = energy[:, _PAD][:, :, _PAD]  # (n, 6, 6), edge mode
    block = padded[:, :-1] + padded[:, 1:]
    block = block[:, :, :-1] + block[:, :, 1:]  # (n, 5, 5): 4 x the mean of each 2x2 block
    local = block[:, :-1] + block[:, 1:]
    local = local[:, :, :-1] + local[:, :, 1:]  # (n, 4, 4): 16 x the mean of its 4 blocks
    hog = np.sqrt(cells / (local.reshape(n, _N_CELLS, 1) / 16 + 1e-3))
    ghog = np.sqrt(cells.sum(axis=1))

    raw = np.concatenate([hist, layout.reshape(n, -1), hog.reshape(n, -1), ghog, thumb], axis=1)
    norms = np.sqrt(np.add.reduceat(raw * raw, _BLOCK_STARTS, axis=1))
    vec = raw / np.repeat(np.where(norms > 1e-12, norms, 1.0), _BLOCK_SIZES, axis=1)
    vec *= _BLOCK_WEIGHTS
    norm = np.sqrt(np.einsum("ij,ij->i", vec, vec))[:, None]
    unit: npt.NDArray[np.float64] = vec / np.where(norm > 1e-12, norm, 1.0)
    return unit


class HandcraftedEmbedder:
    """Offline colour + gradient-orientation + thumbnail features (see module docstring)."""

    id: str = "handcrafted-v1"
    dim: int = 64 + _GRID * _GRID * 3 + _GRID * _GRID * _BINS + _BINS + _THUMB * _THUMB

    def _prepare(self, image: Image.Image) -> Image.Image:
        """``image`` as RGB (transparency composited onto white), resized to 64x64."""
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
        return img

    def embed(self, image: Image.Image) -> Vector:
        # The batch code with one image: the same bytes as within any batch.
        return self.embed_many([image]).reshape(self.dim)

    def embed_many(self, images: Sequence[Image.Image]) -> Vector:
        out = np.empty((len(images), self.dim), dtype=np.float32)
        for start in range(0, len(images), _CHUNK):
            chunk = images[start : start + _CHUNK]
            scratch = _scratch(len(chunk))
            rows = scratch.rgbx.reshape(scratch.capacity, -1)
            for i, image in enumerate(chunk):  # only the Pillow part is per image
                rows[i] = np.frombuffer(self._prepare(image).tobytes("raw", "RGBX"), np.uint8)
            out[start : start + len(chunk)] = _features(scratch, len(chunk))
        return out


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
