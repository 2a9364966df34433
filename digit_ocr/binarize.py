"""Binarize stage: a photo or scan to an ink mask, robust to uneven light, grey paper and polarity."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class Binarized:
    """The ink mask (uint8, 255 = ink) and the grayscale image it came from (ink made dark)."""

    ink: np.ndarray
    gray: np.ndarray
    inverted: bool
    #: The page with its background divided out (:func:`flattened`), as thresholded.
    flat: np.ndarray | None = None
    #: The threshold ``flat`` was cut at (None: no ink, too little contrast).
    level: float | None = None


def to_gray(img: np.ndarray) -> np.ndarray:
    """8-bit grayscale: the luminance of a colour image (as a JPEG is decoded straight to gray).

    A page's darkest channel would show light-coloured ink better, but picking it by the
    contrast of the whole page picks it for coloured clutter and tinted paper, where it reads
    worse: on the batch benchmark's 1,000 photos luminance alone reads 947 exactly against 928,
    and the real photos as well or better.
    """
    return img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


def percentiles_u8(values: np.ndarray, qs: tuple[float, ...], dtype: type = np.float64) -> list[float]:
    """``np.percentile(values.astype(dtype), qs)`` (its default, linear method) of 8-bit
    values, from a 256-bin histogram instead of a partial sort: the same numbers, several
    times faster. ``dtype``: the float type of the array numpy would be given."""
    if values.size < 1 << 24:  # float32 counts are exact: OpenCV's histogram is the quicker
        plane = values if values.ndim == 2 else values.reshape(-1, 1)
        counts = cv2.calcHist([plane], [0], None, [256], [0, 256]).ravel().astype(np.int64)
    else:
        counts = np.bincount(values.ravel(), minlength=256)
    cum = np.cumsum(counts)
    n = int(cum[-1])
    out = []
    for q in qs:
        virtual = (n - 1) * (q / 100)
        lo = min(max(math.floor(virtual), 0), n - 1)
        hi = min(lo + 1, n - 1)
        a, b = (dtype(v) for v in np.searchsorted(cum, [lo, hi], side="right"))
        t = virtual - lo
        out.append(float(b - (b - a) * dtype(1 - t) if t >= 0.5 else a + (b - a) * dtype(t)))
    return out


#: Departures from the local background weaker than this share of the strongest are ignored.
POLARITY_STRONG = 0.4
#: Both polarities are tried when dark and light departures are within this factor of each other.
POLARITY_BAND = 2.0
#: A polarity guess is overruled when its ink covers this many times as much of the image and
#: of its border as the other polarity's, and at least SURROUNDING_INK of the border.
POLARITY_OVERRULE = 1.5
SURROUNDING_INK = 0.3
#: Pages whose ink spans fewer grey levels than this are stretched to full range first.
LOW_SPREAD = 128.0
#: ... and those whose ink and paper are fewer grey levels apart than this hold no ink at all.
MIN_SPREAD = 40.0
#: The background is never taken for darker than this share of the page's paper level.
PAPER_FLOOR = 0.8


def _reduced(gray: np.ndarray) -> tuple[np.ndarray, int]:
    """A copy of at most 256 pixels a side, and the size of the median that gives its background."""
    h, w = gray.shape
    scale = max(1.0, max(h, w) / 256.0)
    small = cv2.resize(gray, (max(1, int(w / scale)), max(1, int(h / scale))), interpolation=cv2.INTER_AREA)
    return small, min(255, max(5, int(max(small.shape) / 5) | 1))


@dataclass
class Background:
    """A page's paper level, worked out once and shared by :func:`polarities` and every
    :func:`binarize` of the page (at any scale, either polarity): ``small`` is a copy of the
    page of at most 256 pixels a side, ``level`` its large median (None for a strip or a
    tight crop, where :func:`flatten` follows the paper level column by column instead)."""

    small: np.ndarray
    level: np.ndarray | None


def background(gray: np.ndarray) -> Background:
    """The :class:`Background` of a grayscale page (or of a reduced copy of it)."""
    small, k = _reduced(gray)
    return Background(small, cv2.medianBlur(small, k) if k < min(small.shape) else None)


def polarities(gray: np.ndarray, bg: Background | None = None) -> list[bool]:
    """The polarities worth trying, most likely first (True: light ink on a dark background).

    Ink departs from the local background level in one direction: compare how much
    of the image is darker than its neighbourhood's median with how much is lighter.
    When the two are close (a light display panel on a dark surround, a dark frame),
    both polarities are returned and the reader keeps whichever reads better.
    ``bg``: the page's :class:`Background`, when already worked out.
    """
    bg = bg or background(gray)
    small = bg.small
    level = bg.level if bg.level is not None else np.full_like(small, int(np.median(small)))
    darker, lighter = _departures(small, level)
    ratio = (darker + 1.0) / (lighter + 1.0)
    guess = ratio < 1.0
    if 1 / POLARITY_BAND < ratio < POLARITY_BAND:
        return [guess, not guess]
    # Glare or a bright patch can outweigh the ink's departures. Ink is a minority of the image
    # that does not surround it: a guess whose "ink" covers much of the border, and more of both
    # the image and its border than the other polarity's ink does, took the paper for ink.
    coarse = small[::2, ::2] if min(small.shape) >= 64 else small  # shares need few pixels
    ours = _ink_cover(binarize(coarse, guess, bg).ink)
    if ours[1] < SURROUNDING_INK:
        return [guess]
    theirs = _ink_cover(binarize(coarse, not guess, bg).ink)
    if ours[0] > POLARITY_OVERRULE * theirs[0] > 0 and ours[1] > POLARITY_OVERRULE * theirs[1]:
        return [not guess]
    return [guess]


def _departures(small: np.ndarray, level: np.ndarray) -> tuple[float, float]:
    """How far, in all, the pixels of ``small`` are darker and lighter than their ``level``,
    counting only strong departures: strokes depart far, uneven light and paper texture little."""
    d = cv2.subtract(small, level, dtype=cv2.CV_32F)  # small - level, exact in float32
    t = np.float32(POLARITY_STRONG * percentiles_u8(cv2.absdiff(small, level), (99.9,), np.float32)[0])
    # The sums of max(-d - t, 0) and max(d - t, 0), made in one buffer and summed as numpy
    # sums the plain expressions (the same float32 values in the same order): 0.136 -> 0.121 ms.
    part = np.subtract(-t, d)
    darker = float(np.maximum(part, 0, out=part).sum())
    np.subtract(d, t, out=part)
    return darker, float(np.maximum(part, 0, out=part).sum())


def _ink_cover(ink: np.ndarray) -> tuple[float, float]:
    """The share of an image that is ink, and of its border."""
    border = np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]])
    return float(np.count_nonzero(ink)) / ink.size, float(np.count_nonzero(border)) / border.size


def light_on_dark(gray: np.ndarray) -> bool:
    """The most likely polarity: True when the background is darker than the ink."""
    return polarities(gray)[0]


def _level(gray: np.ndarray) -> np.ndarray:
    """The background of ``gray`` on a copy of at most 256 pixels a side."""
    small, k = _reduced(gray)
    if k < min(small.shape):
        return cv2.medianBlur(small, k)
    # A strip or a tight crop: the paper level of each column (its bright part),
    # smoothed along the long side, follows light falloff across a display.
    transpose = small.shape[0] > small.shape[1]
    strip = small.T if transpose else small
    col = np.percentile(strip, 80, axis=0).astype(np.float32)
    width = max(3, strip.shape[0] | 1)
    col = cv2.blur(col.reshape(1, -1), (width, 1), borderType=cv2.BORDER_REFLECT).ravel()
    bg = np.repeat(col.reshape(1, -1), strip.shape[0], axis=0).clip(0, 255).astype(np.uint8)
    return bg.T if transpose else bg


def flatten(gray: np.ndarray, level: np.ndarray | None = None) -> np.ndarray:
    """Divide out the background (light falloff, shadows, grey or tinted paper); ink stays dark.

    The background is a large median of a shrunken copy: robust to ink (a minority of
    any window) and to thin bright or dark rulings, unlike a max filter. ``level``: that
    median when already worked out (:class:`Background`, ink made dark), at any size.
    """
    h, w = gray.shape
    bg = level if level is not None else _level(gray)
    if bg.shape != (h, w):  # a region's background comes at its size (resizing would copy it)
        bg = cv2.resize(bg, (w, h), interpolation=cv2.INTER_LINEAR)
    if gray.dtype == np.uint8 and bg.dtype == np.uint8:
        # Each output pixel depends only on its (background, gray) pair: one table look-up
        # instead of five passes of float arithmetic over the page, with the same values. The
        # index ``background << 8 | gray`` is the two bytes interleaved, read as little-endian
        # 16-bit numbers (one pass instead of three). Every 16-bit index is in the table:
        # mode="wrap" only skips the bounds check (a fifth of the look-up's time).
        index = cv2.merge([gray, bg]).view("<u2").reshape(h, w)
        return np.take(_FLAT_LUT, index, mode="wrap")
    return _flat_values(gray.astype(np.float32), bg.astype(np.float32))


def _flat_values(gray: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """``gray / bg`` scaled to 0..255 and cut to 8 bits (float32 arrays, broadcast together)."""
    flat = gray / np.maximum(bg, 1.0)
    return np.clip(flat * 255.0, 0, 255).astype(np.uint8)


#: :func:`_flat_values` of every (background, gray) pair of 8-bit values, indexed
#: ``background << 8 | gray``.
_FLAT_LUT = _flat_values(
    np.arange(256, dtype=np.float32)[None, :], np.arange(256, dtype=np.float32)[:, None]
).ravel()


def binarize(
    img: np.ndarray,
    inverted: bool | None = None,
    bg: Background | None = None,
    crop: bool = False,
) -> Binarized:
    """Threshold an 8-bit image into an ink mask (255 = ink); ``inverted`` forces the polarity.

    ``bg``: the page's :class:`Background` when already worked out (on this image or on a
    copy of the same page at another scale). ``crop``: the image is a small crop (enlarged
    to be worked on), not a page: thick digits filling most of it fill the median's window
    too, where the median is ink, not paper; a crop is too small for deep shadows, so no
    background is taken for much darker than its paper (:data:`PAPER_FLOOR`). The grid stage
    raises the threshold for faint rulings (:func:`faint`).
    """
    gray, flat, inverted = flattened(img, inverted, bg, crop)
    lo, hi = ink_range(flat[::3, ::3])
    spread = float(hi - lo)
    if spread < MIN_SPREAD:
        return Binarized(np.zeros_like(flat), gray, inverted, flat)
    if spread < LOW_SPREAD:  # low contrast (a faint LCD, a washed-out photo): stretch the ink's range
        flat = stretched(flat, lo)
    thr = edge_otsu(flat)
    return Binarized(threshold(flat, thr), gray, inverted, flat, thr)


def faint(b: Binarized) -> Binarized:
    """``b`` cut again for a grid's rulings: the same flattened page, its threshold kept at least
    midway between the paper and the typical dark pixel, for a grid's thin grey rulings and faint
    print beside its heavy rulings, where Otsu splits the heavy rulings from everything else
    (``b`` itself when the threshold is that high already). Only the grid stage: on a page of
    text this takes a light printed background (a cheque's pattern, graph paper's squares) for
    ink."""
    if b.level is None or b.flat is None:
        return b
    hist = _dark_levels(b.flat, 230)
    if hist is None or hist.sum() <= 50:
        return b
    thr = min(max(b.level, 0.5 * (255.0 + _median(hist))), 222.0)
    if thr == b.level:
        return b
    return Binarized(threshold(b.flat, thr), b.gray, b.inverted, b.flat, thr)


def flattened(
    img: np.ndarray, inverted: bool | None = None, bg: Background | None = None, crop: bool = False
) -> tuple[np.ndarray, np.ndarray, bool]:
    """The first steps of :func:`binarize`: the grayscale image with its ink made dark and
    smoothed, the same with the background divided out (:func:`flatten`), and the polarity."""
    gray = to_gray(img)
    if inverted is None:
        inverted = polarities(gray, bg)[0]
    if inverted:
        gray = 255 - gray
    gray = cv2.GaussianBlur(gray, (3, 3), 0) if min(gray.shape) > 64 else gray
    level = None
    if bg is not None and bg.level is not None:
        level = 255 - bg.level if inverted else bg.level
    if crop:
        paper = percentiles_u8(gray[::2, ::2], (90,))[0]
        level = np.maximum(level if level is not None else _level(gray), np.uint8(int(PAPER_FLOOR * paper)))
    return gray, flatten(gray, level), inverted


def stretched(flat: np.ndarray, lo: float) -> np.ndarray:
    """A flattened page of low contrast (a faint LCD, a washed-out photo) with its ink's level
    ``lo`` made black: the ink's range stretched to the full range."""
    return np.clip((flat.astype(np.float32) - lo) * (255.0 / (255.0 - lo)), 0, 255).astype(np.uint8)


def threshold(flat: np.ndarray, thr: float, block: int | None = None) -> np.ndarray:
    """The ink mask (255 = ink) of a flattened page: pixels under the page-wide threshold
    ``thr`` that are darker than their surroundings (a window of ``block`` pixels a side, by
    default a tenth of the image's shorter side), or far under ``thr``. The local test keeps
    paper texture near the threshold out."""
    block = block or local_block(flat.shape)
    top = math.ceil(thr) - 1  # ink is at most ``top``, and at most ``top - 30`` or local
    if not 30 <= top <= 255:
        return _threshold_plain(flat, thr, block)
    # ``adaptiveThreshold`` marks ``flat <= mean - 10`` (its window's mean, by the same box
    # filter), so the three tests are one: ``flat <= min(top, max(mean - 10, top - 30))``. The
    # subtraction saturates at 0, which ``max`` with ``top - 30 >= 0`` makes harmless. Four
    # vector passes instead of the mask's table look-up (a scalar loop) and four: 0.09 -> 0.066
    # ms on a probe.
    limit = cv2.boxFilter(flat, -1, (block, block), borderType=cv2.BORDER_REPLICATE | cv2.BORDER_ISOLATED)
    cv2.subtract(limit, 10, dst=limit)
    cv2.max(limit, top - 30, dst=limit)
    cv2.min(limit, top, dst=limit)
    return cv2.compare(flat, limit, cv2.CMP_LE)


def _threshold_plain(flat: np.ndarray, thr: float, block: int) -> np.ndarray:
    """:func:`threshold` test by test (any ``thr``)."""
    local = cv2.adaptiveThreshold(flat, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 10)
    return cv2.bitwise_and(_below(flat, thr), cv2.bitwise_or(local, _below(flat, thr - 30)))


def local_block(shape: tuple[int, ...]) -> int:
    """The window of :func:`threshold`'s local test for a page of this shape (odd, at least 15)."""
    return max(15, int(min(shape[:2]) / 10) | 1)


#: The ink's level is the darkest that at least this share of the pixels reach, and at least
#: SPARSE_INK_PIXELS of them: a line of small digits on a blank page is a few hundredths of a percent.
SPARSE_INK = 0.005
SPARSE_INK_PIXELS = 20


def ink_range(flat: np.ndarray) -> tuple[float, float]:
    """The ink's and the paper's levels of a flattened page: the 0.5th and 99.5th percentiles;
    for a page nearly all paper (the two levels close), the darkest level reached by a few
    dozen pixels (a speck or two of noise does not reach it) stands for the ink."""
    lo, hi = percentiles_u8(flat, (0.5, 99.5))
    if hi - lo >= MIN_SPREAD:
        return lo, hi
    counts = np.cumsum(np.bincount(flat.ravel(), minlength=256))
    need = max(SPARSE_INK_PIXELS, int(SPARSE_INK / 100 * flat.size))
    return min(lo, float(np.searchsorted(counts, need))), hi


def _below(img: np.ndarray, t: float) -> np.ndarray:
    """255 where the 8-bit ``img`` is below ``t``, else 0 (``img < t`` is ``img <= ceil(t) - 1``)."""
    return cv2.threshold(img, math.ceil(t) - 1, 255, cv2.THRESH_BINARY_INV)[1]


def _median(hist: np.ndarray) -> float:
    """The median of the values counted in ``hist`` (``hist[v]``: how many are ``v``), as
    ``np.median`` gives it: the middle value, or the mean of the two middle ones."""
    n = int(hist.sum())
    cum = np.cumsum(hist)
    lo, hi = np.searchsorted(cum, [(n - 1) // 2, n // 2], side="right")
    return (float(lo) + float(hi)) / 2.0


def _dark_levels(img: np.ndarray, top: int) -> np.ndarray:
    """How many pixels of the 8-bit ``img`` are at each level under ``top`` (``top`` counts).

    A histogram masked to those levels: it skips the paper (most of a flattened page, at or
    near 255), whose long runs of one level make a plain histogram slow (each count waits for
    the last): 3 to 4 times as fast on a page, the same counts."""
    return cv2.calcHist([img], [0], _below(img, top), [top], [0, top]).ravel().astype(np.int64)


def edge_otsu(flat: np.ndarray) -> float:
    """Otsu's threshold over the pixels near edges only.

    On a page that is mostly paper, Otsu over all pixels drifts towards the paper
    level and fills the holes of blurred digits; near the edges ink and paper are
    about equally represented, so the split lands midway between them.
    """
    grad = cv2.morphologyEx(flat, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    gthr, _ = cv2.threshold(grad, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # An integer bound (the same test on 8-bit levels): a float one makes numpy compare in
    # float64, twice as slow.
    near = flat[grad > math.floor(max(gthr, 12))]
    if near.size < 50:
        near = flat.ravel()
    thr, _ = cv2.threshold(near.reshape(1, -1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return min(float(thr), 222.0)
