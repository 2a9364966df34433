"""Normalize stage: one digit's ink bitmap to its features.

The steps follow the NIST form-processing system that produced the UCI optdigits
data behind scikit-learn's ``load_digits``: crop to the bounding box, optionally
de-slant by moments, scale width and height independently into a 20x32 box centred
in a 32x32 canvas, even out the stroke width by the ink count. From that canvas come
the features, in named blocks (:data:`BLOCKS`):

- ``counts8``: the ink pixels of each 4x4 block, the 64 values 0..16 of ``load_digits``;
- ``hog``: histograms of gradient orientations (HOG-style) of the canvas, smoothed:
  4x4 cells of 8x8 pixels, 9 unsigned orientations each, 144 values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

#: Bumped whenever the features change meaning; a model records the version it was trained on.
FEATURE_VERSION = 2
#: The feature blocks and their widths; a model names the blocks it reads (``counts8`` first).
BLOCKS: dict[str, int] = {"counts8": 64, "hog": 144}
#: The blocks of the default model and of the classic one (``load_digits`` alone).
DEFAULT_BLOCKS = ("counts8", "hog")
CLASSIC_BLOCKS = ("counts8",)
CANVAS = 32
BOX_W, BOX_H = 20, 32
#: Digits narrower than this fraction of their height (a bare "1") keep their aspect ratio
#: instead of being stretched into a solid block.
NARROW = 0.35
_KERNEL = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def _u8(ink: np.ndarray) -> np.ndarray:
    """The bitmap as 8-bit (a bool one is viewed, not copied)."""
    if ink.dtype == np.uint8:
        return ink
    return ink.view(np.uint8) if ink.dtype == np.bool_ else (ink != 0).view(np.uint8)


def crop(ink: np.ndarray) -> np.ndarray:
    """Crop a binary bitmap (nonzero = ink) to the bounding box of its ink."""
    x, y, w, h = cv2.boundingRect(_u8(ink))
    if w == 0:
        return np.zeros((1, 1), np.uint8)
    return (ink[y : y + h, x : x + w] > 0).view(np.uint8)


def deslant(ink: np.ndarray) -> np.ndarray:
    """Shear a 0/1 bitmap (as :func:`crop` gives) so that the principal vertical axis of its ink
    is upright (moments-based)."""
    m00, m01, mu11, mu02 = _binary_moments(_u8(ink))
    if mu02 < 1e-6:
        return ink
    skew = mu11 / mu02
    skew = min(max(float(skew), -0.7), 0.7)
    if abs(skew) < 0.05:
        return ink
    h, w = ink.shape
    pad = math.ceil(abs(skew) * h) + 1
    yc = m01 / m00
    # x' = x - skew * (y - yc), shifted right by pad so nothing falls off.
    mat = np.array([[1, -skew, skew * yc + pad], [0, 1, 0]], np.float32)
    out = cv2.warpAffine(_u8(ink) * np.uint8(255), mat, (w + 2 * pad, h), flags=cv2.INTER_LINEAR)
    # crop(out > 127), without its copies: the 0/1 mask of the pixels over 127, cut to their box.
    kept = cv2.threshold(out, 127, 1, cv2.THRESH_BINARY)[1]
    x, y, w, h = cv2.boundingRect(kept)
    return kept[y : y + h, x : x + w] if w else np.zeros((1, 1), np.uint8)


#: Bitmaps up to this many pixels high and wide have their moments taken by :func:`_binary_moments`.
_MOMENT_SIDE = 2048
#: Rows 1, y, y**2 and columns 1, x: ``_ROW_POWERS[:, :h] @ ink @ _COL_POWERS[:w]`` holds the raw
#: moments m00, m10 / m01, m11 / m02, m12 of an h x w bitmap.
_ROW_POWERS = np.arange(_MOMENT_SIDE, dtype=np.float64) ** np.arange(3, dtype=np.float64)[:, None]
_COL_POWERS = np.ascontiguousarray(_ROW_POWERS[:2].T)


def _binary_moments(ink: np.ndarray) -> tuple[float, float, float, float]:
    """m00, m01, mu11 and mu02 of a 0/1 bitmap, bit for bit those of ``cv2.moments(ink,
    binaryImage=True)``, in about half its time (two small matrix products).

    Why they are the same: OpenCV sums each 32x32 tile's moments of 0/255 pixels in integers,
    scales them by 1/255 (which gives the integer sums of 0/1 pixels back exactly: checked for
    all sums below 2**27, far above a tile's) and adds the tiles up, all in whole numbers below
    2**53, so its raw moments are the exact integer sums; so are these (float64 products of whole
    numbers, every partial sum below 2**53 for sides up to _MOMENT_SIDE). The central moments
    then follow OpenCV's ``completeMomentState``, operation for operation.
    """
    h, w = ink.shape
    if h > _MOMENT_SIDE or w > _MOMENT_SIDE:
        m = cv2.moments(ink, binaryImage=True)
        return m["m00"], m["m01"], m["mu11"], m["mu02"]
    raw = _ROW_POWERS[:, :h] @ ink.astype(np.float64) @ _COL_POWERS[:w]
    (m00, m10), (m01, m11), (m02, _) = raw.tolist()
    inv_m00 = 1.0 / m00 if m00 > 2.220446049250313e-16 else 0.0  # DBL_EPSILON
    cy = m01 * inv_m00
    return m00, m01, m11 - m10 * cy, m02 - m01 * cy


def to_canvas(ink: np.ndarray) -> np.ndarray:
    """Scale a cropped bitmap into the 20x32 box, centred in a 32x32 canvas (values 0/1)."""
    h, w = ink.shape
    tw = BOX_W
    if w < NARROW * h:
        tw = max(1, min(BOX_W, int(round(w * BOX_H / h))))
    src = ink.astype(np.float32)
    interp = cv2.INTER_AREA if (w > tw and h > BOX_H) else cv2.INTER_LINEAR
    scaled = cv2.resize(src, (tw, BOX_H), interpolation=interp)
    canvas = np.zeros((CANVAS, CANVAS), np.uint8)
    x0 = (CANVAS - tw) // 2
    canvas[:, x0 : x0 + tw] = scaled >= 0.5
    return canvas


def normalize_stroke(canvas: np.ndarray) -> np.ndarray:
    """Thin or thicken the strokes by the ink count, as the NIST system did."""
    n = cv2.countNonZero(canvas)
    if n > 560:
        return cv2.erode(canvas, _KERNEL, iterations=2)
    if n > 412:
        return cv2.erode(canvas, _KERNEL, iterations=1)
    if n >= 256:
        return canvas
    if n >= 108:
        return cv2.dilate(canvas, _KERNEL, iterations=1)
    return cv2.dilate(canvas, _KERNEL, iterations=2)


def reduce(canvas: np.ndarray) -> np.ndarray:
    """Count the ink pixels of each 4x4 block: 32x32 of 0/1 to 64 values of 0..16 (float32)."""
    blocks = canvas.reshape(8, 4, 8, 4).sum(axis=(1, 3))
    return blocks.astype(np.float32).ravel()


#: Row k of this matrix adds up the pixels k*4 to k*4+3 of a canvas row or column: ``_BLOCKS @ c @
#: _BLOCKS.T`` holds the ink counts of the 4x4 blocks of a canvas ``c``.
_BLOCKS = np.repeat(np.eye(CANVAS // 4, dtype=np.float32), 4, axis=1)


def reduce_many(canvases: np.ndarray) -> np.ndarray:
    """:func:`reduce` of a stack of canvases (n, 32, 32), as an (n, 64) array: two matrix products
    for them all instead of a sum over small blocks of each (the counts are whole numbers up to
    16, exact in float32 whatever order they are added in)."""
    blocks = _BLOCKS @ canvases.astype(np.float32) @ _BLOCKS.T
    return blocks.reshape(len(canvases), 64)


def canvas_of(ink: np.ndarray, *, slant: bool = True) -> np.ndarray:
    """The 32x32 canvas of one digit bitmap (any size, nonzero = ink), before stroke normalization."""
    c = crop(ink)
    if slant:
        c = deslant(c)
    return to_canvas(c)


def features(ink: np.ndarray, *, slant: bool = True) -> np.ndarray:
    """The 64 ``load_digits``-style features (8x8 counts, 0..16) of one digit bitmap."""
    return reduce(normalize_stroke(canvas_of(ink, slant=slant)))


def stroked(canvases: np.ndarray) -> np.ndarray:
    """:func:`normalize_stroke` of each canvas of a stack (n, 32, 32) of 0/1 canvases."""
    return np.stack([normalize_stroke(c) for c in canvases]) if len(canvases) else canvases


def canvases_of(inks: Sequence[np.ndarray], *, slant: bool = True) -> np.ndarray:
    """The stroke-normalized 32x32 canvases (n, 32, 32) of several digit bitmaps, 0/1 uint8."""
    if not inks:
        return np.zeros((0, CANVAS, CANVAS), np.uint8)
    return np.stack([normalize_stroke(canvas_of(ink, slant=slant)) for ink in inks])


def features_of(
    inks: Sequence[np.ndarray], blocks: Sequence[str] = DEFAULT_BLOCKS, *, slant: bool = True
) -> np.ndarray:
    """The features (``blocks``) of several digit bitmaps, one row each."""
    return describe(canvases_of(inks, slant=slant), blocks)


def describe(canvases: np.ndarray, blocks: Sequence[str] = DEFAULT_BLOCKS) -> np.ndarray:
    """The feature ``blocks`` of stroke-normalized canvases (n, 32, 32), side by side (float32)."""
    parts = []
    for name in blocks:
        if name == "counts8":
            parts.append(reduce_many(canvases))
        elif name == "hog":
            parts.append(hog(canvases))
        else:
            raise ValueError(f"unknown feature block {name!r}")
    return np.hstack(parts) if len(parts) > 1 else parts[0]


def width(blocks: Sequence[str]) -> int:
    """How many values the feature ``blocks`` make together."""
    return sum(BLOCKS[b] for b in blocks)


def features_from_canvas(canvas: np.ndarray) -> np.ndarray:
    """The 8x8 counts of an already-built 32x32 canvas (before stroke normalization)."""
    return reduce(normalize_stroke((canvas > 0).astype(np.uint8)))


# --------------------------------------------------------------------------- HOG

HOG_CELLS = 4
HOG_BINS = 9
#: Gradients are taken on the canvas reduced to this many pixels a side (2x2 means), smoothed by a
#: Gaussian of HOG_SIGMA of those pixels: a 0/1 bitmap's staircase edges alone give only
#: orientations of 0, 45 and 90 degrees.
HOG_GRID = 16
HOG_SIGMA = 0.5


def _blur_matrix(n: int, sigma: float) -> np.ndarray:
    """``B @ x`` smooths a length-``n`` signal with a Gaussian (zeros beyond its ends)."""
    r = max(1, int(math.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    m = np.zeros((n, n), np.float64)
    for i in range(n):
        for j, v in zip(range(i - r, i + r + 1), k):
            if 0 <= j < n:
                m[i, j] = v
    return m


def _hog_matrices(grid: int, sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """As matrices on a canvas ``c``: ``S @ c @ S.T`` is it reduced to ``grid`` pixels a side and
    smoothed, ``D @ c @ S.T`` and ``S @ c @ D.T`` the vertical and horizontal derivatives of that
    (central differences), and ``C @ g @ C.T`` sums a grid-sized array over the HOG cells."""
    k = CANVAS // grid
    reduce_ = np.repeat(np.eye(grid), k, axis=1) / k
    smooth = _blur_matrix(grid, sigma) @ reduce_
    diff = np.eye(grid, k=1) - np.eye(grid, k=-1)  # (diff @ x)[i] = x[i + 1] - x[i - 1]
    cells = np.repeat(np.eye(HOG_CELLS), grid // HOG_CELLS, axis=1)
    return smooth.astype(np.float32), (diff @ smooth).astype(np.float32), cells.astype(np.float32)


_SMOOTH, _DIFF, _CELLS = _hog_matrices(HOG_GRID, HOG_SIGMA)
_BINS = np.arange(HOG_BINS, dtype=np.float32)[:, None, None]


def hog(canvases: np.ndarray) -> np.ndarray:
    """Histograms of gradient orientations of 0/1 canvases (n, 32, 32): the smoothed canvas's
    gradient magnitudes, each shared between its two nearest of :data:`HOG_BINS` unsigned
    orientations, summed over :data:`HOG_CELLS` x :data:`HOG_CELLS` cells; the whole
    descriptor scaled to unit length, then square-rooted (Hellinger), (n, 144) float32."""
    n = len(canvases)
    if n == 0:
        return np.zeros((0, HOG_CELLS * HOG_CELLS * HOG_BINS), np.float32)
    c = canvases.astype(np.float32)
    gy = _DIFF @ c @ _SMOOTH.T
    gx = _SMOOTH @ c @ _DIFF.T
    mag = np.sqrt(gx * gx + gy * gy)
    ang = np.arctan2(gy, gx)
    ang = np.where(ang < 0, ang + np.float32(math.pi), ang)  # unsigned: 0..pi
    pos = ang * np.float32(HOG_BINS / math.pi) - np.float32(0.5)  # bin centres at whole numbers
    # Each pixel's share of bin b: 1 - its circular distance to b, where under 1 (two bins).
    dist = np.abs(pos[:, None] - _BINS)
    np.minimum(dist, np.float32(HOG_BINS) - dist, out=dist)
    np.subtract(np.float32(1), dist, out=dist)
    np.maximum(dist, 0, out=dist)
    weights = dist
    weights *= mag[:, None]
    cells = _CELLS @ weights @ _CELLS.T  # (n, bins, cells, cells)
    h = cells.transpose(0, 2, 3, 1).reshape(n, -1)
    h /= np.linalg.norm(h, axis=1, keepdims=True) + np.float32(1e-6)
    return np.sqrt(h)
