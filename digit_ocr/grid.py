"""Grid stage: find a table or a sudoku-like grid of rulings, and the marks in each of its cells.

A grid is read cell by cell, row by row, one value per cell; its rulings are never read. It is
found on the page's ink mask from its rulings: the pieces of ink that stay after an opening with
a long horizontal (vertical) kernel, gathered into rulings along the page's tilt (a ruling of a
photographed page may be tilted, bent or broken; each is a smooth curve fitted through its
pieces). Rulings that cross each other form a lattice; at least :data:`MIN_CELLS` rows and
columns of cells make a grid. Graph paper, whose small squares the writing runs across, is not a
table: the marks there cross the rulings, while a table's entries stand inside its cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .binarize import Binarized, percentiles_u8
from .segment import MIN_CHAR_PX, Candidate, SegmentLine, label, segment

#: A grid has at least this many rows and columns of cells.
MIN_CELLS = 3
#: A page whose ink (dark on light) covers more than this share of it holds no grid: its paper
#: was taken for ink.
MAX_INK = 0.5
#: Rulings are found from straight pieces at least this many character heights long (no
#: character is that wide), or this share of the page's shorter side where no character height
#: can be told; never shorter than MIN_RULING pixels.
RULING_CHARS = 1.5
RULING_SHARE = 1 / 24
MIN_RULING = 12
#: A ruling is at most this share of its least length thick (3/4 of a character height): the
#: straight edge of a dark area is no ruling.
THICKEST = 1 / 2
#: The page's tilt is looked for this far (dy/dx) around the median slope of the rulings'
#: pieces, on at most TILT_PIXELS of their pixels.
TILT_SEARCH = 0.02
TILT_PIXELS = 4000
#: A ruling crosses another when their intersection lies within this share of the spacing of
#: the rulings it ends among of its ends: a line that fades or stops just short of the frame.
CROSS_REACH = 0.5
#: A ruling belongs to the lattice when it crosses at least this share of the other direction's
#: rulings (and at least MIN_CELLS + 1 of them).
CROSS_SHARE = 0.5
#: A ruling's pixels lie within this many pixels of its fitted course, beyond half its thickness
#: (a ruling of a photographed page is not exactly a parabola).
ON_COURSE = 2.0
#: Thin rulings too faint for the ink mask: lines at most FAINT_WIDTH - 1 pixels thick, darker
#: than the paper on both sides by at least FAINT of the ink's contrast.
FAINT = 0.2
FAINT_WIDTH = 7
#: ... and, between a lattice's rulings, lines running with them the whole way whose typical
#: darkness (the median along their course: a digit's bar does not count) is this share of it.
FAINT_COURSE = 0.05
#: Cells are at least this many times as large as their rulings are thick (a row of bars is not
#: a table), and at least MIN_CHAR_PX pixels.
CELL_OVER_RULING = 3.0
#: A table's entries stand inside its cells; on graph paper the writing runs across the rulings:
#: a lattice where more than this share of the ink of its marks (specks aside) runs out of its
#: cell is no table.
CROSSING_INK = 0.5
#: Marks whose middle lies within this share of a cell's size of its border are remnants of the
#: rulings, not entries.
BORDER = 0.12
#: Marks under this share of their cell's height and width are specks, not entries.
SPECK = 0.2
#: A cell's paper is the level this share of its inside is darker than (its marks cover less).
PAPER_SHARE = 75
#: A cell's marks are entries when their ink is darker than the cell's paper by at least this
#: share of the page's ink contrast (a shaded cell's edges, a smudge are not).
MIN_CONTRAST = 0.3


@dataclass
class Ruling:
    """One ruling: a curve ``across = poly(along)`` (``y(x)`` for a horizontal ruling, ``x(y)``
    for a vertical one) found between ``lo`` and ``hi`` along it, and its thickness."""

    poly: tuple[float, ...]
    lo: float
    hi: float
    thick: float
    #: Its pixels in the opened mask it was found on (rows, columns; transposed for a vertical one).
    pixels: tuple[np.ndarray, np.ndarray]

    def at(self, along: float) -> float:
        """Where the ruling is across at ``along`` (Horner's rule on plain floats: quick)."""
        v = 0.0
        for c in self.poly:
            v = v * along + c
        return v

    def curve(self, along: np.ndarray) -> np.ndarray:
        return np.polyval(np.array(self.poly), along)


@dataclass
class Lattice:
    """Horizontal rulings top to bottom and vertical ones left to right, and the masks of
    their pixels (the opened masks, each restricted to the lattice's rulings)."""

    rows: list[Ruling]
    cols: list[Ruling]
    lines: np.ndarray
    #: The same within a pixel or two of the rulings' fitted courses only (without the strokes of
    #: writing that run along a ruling of graph paper, and without the wobbles of a bent ruling).
    course: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.rows) - 1, len(self.cols) - 1

    def pitch(self) -> tuple[float, float]:
        """The median height and width of the cells (across the middle of the lattice)."""
        x0, y0, x1, y1 = self.box()
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        ys = [r.at(mx) for r in self.rows]
        xs = [c.at(my) for c in self.cols]
        return float(np.median(np.diff(ys))), float(np.median(np.diff(xs)))

    def box(self) -> tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)`` of the lattice's outer rulings."""
        top, bottom, left, right = self.rows[0], self.rows[-1], self.cols[0], self.cols[-1]
        xs = np.array([left.lo, left.hi, right.lo, right.hi])
        ys = np.array([top.lo, top.hi, bottom.lo, bottom.hi])
        x0 = float(min(left.at(ys[:2]).min(), top.lo, bottom.lo))
        x1 = float(max(right.at(ys[2:]).max(), top.hi, bottom.hi))
        y0 = float(min(top.at(xs[:2]).min(), left.lo, right.lo))
        y1 = float(max(bottom.at(xs[2:]).max(), left.hi, right.hi))
        return int(x0), int(y0), int(np.ceil(x1)), int(np.ceil(y1))


def _segments(ink: np.ndarray, length: int) -> np.ndarray:
    """The straight horizontal pieces of ink at least ``length`` long (a mask), a pixel of
    wobble and of break tolerated (a tilted or dashed ruling)."""
    near = cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)))
    counts = cv2.reduce(cv2.min(near, 1), 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()
    at = np.flatnonzero(counts >= length)
    out = np.zeros_like(near)
    if at.size:
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1))
        out[at] = cv2.morphologyEx(near[at], cv2.MORPH_OPEN, kernel, borderValue=0)
    return out


def _rulings(opened: np.ndarray, length: int, search: bool = True) -> list[Ruling]:
    """The horizontal rulings of an opened mask (see :func:`_segments`): its pieces at least
    ``length`` long, gathered along the page's tilt into runs of offsets, each fitted by a curve.
    ``search``: look for the sharpest tilt (:func:`_sharpest`) near the pieces' median slope."""
    labels, stats = label(opened)
    n = len(stats)
    pieces = np.flatnonzero(stats[:, cv2.CC_STAT_WIDTH] >= length)
    pieces = pieces[pieces > 0]
    if pieces.size == 0:
        return []
    ys, xs = _nonzero(opened)
    lab = labels[ys, xs]
    keep = np.zeros(n, bool)
    keep[pieces] = True
    sel = keep[lab]
    ys, xs, lab = ys[sel].astype(np.float64), xs[sel].astype(np.float64), lab[sel]
    # The page's tilt: the median slope of the pieces (least squares), weighted by their width.
    cnt = np.bincount(lab, minlength=n)[pieces].astype(np.float64)
    sx, sy = (np.bincount(lab, weights=v, minlength=n)[pieces] for v in (xs, ys))
    sxx, sxy = (np.bincount(lab, weights=v, minlength=n)[pieces] for v in (xs * xs, xs * ys))
    vxx = sxx / cnt - (sx / cnt) ** 2
    slopes = np.where(vxx > 0, (sxy / cnt - sx * sy / cnt**2) / np.maximum(vxx, 1e-9), 0.0)
    order = np.argsort(slopes)
    cum = np.cumsum(stats[pieces, cv2.CC_STAT_WIDTH][order])
    tilt = float(slopes[order][np.searchsorted(cum, cum[-1] / 2)])
    if search:
        tilt = _sharpest(xs, ys, tilt, opened.shape[1])
    offset = np.round(ys - tilt * xs).astype(np.int64)
    base = int(offset.min())
    offset -= base
    hist = np.bincount(offset)
    # A ruling: a run of offsets each holding a piece's length of pixels or more.
    strong = np.concatenate([[0], (hist >= length).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(strong))
    by = np.argsort(offset, kind="stable")
    sorted_off = offset[by]
    out = []
    for a, b in zip(edges[0::2].tolist(), edges[1::2].tolist()):
        i, j = np.searchsorted(sorted_off, [a, b])
        idx = by[i:j]
        x = xs[idx].astype(np.int64)
        y = ys[idx]
        x0 = int(x.min())
        cols = np.bincount(x - x0)
        have = np.flatnonzero(cols)
        thick = max(1.0, float(len(x)) / len(have) - 2.0)  # the dilation added a pixel each side
        if thick > THICKEST * length:
            continue  # the straight edge of a dark area, or a row of touching characters
        span = float(have[-1] - have[0])
        mean_y = np.bincount(x - x0, weights=y)[have] / cols[have]
        have = have + x0
        deg = 2 if span >= 8 * length else 1
        poly = tuple(np.polyfit(have.astype(np.float64), mean_y, deg).tolist())
        pixels = (y.astype(np.intp), x.astype(np.intp))
        out.append(Ruling(poly, float(have[0]), float(have[-1]), thick, pixels))
    return out


def _sharpest(xs: np.ndarray, ys: np.ndarray, tilt: float, width: int) -> float:
    """The tilt near ``tilt`` along which the pixels ``(xs, ys)`` of the pieces of rulings
    gather into the sharpest lines (the most pixels sharing an offset: the sum of the squared
    counts), in steps of a pixel across ``width``: a thin ruling's pieces, hardly longer than
    their tilt is steep, give poor slopes of their own."""
    step = 1.0 / max(1, width)
    every = max(1, len(xs) // TILT_PIXELS)
    x, y = xs[::every], ys[::every]
    best, best_score = tilt, -1
    for k in range(-int(TILT_SEARCH / step), int(TILT_SEARCH / step) + 1):
        t = tilt + k * step
        off = np.round(y - t * x).astype(np.int64)
        counts = np.bincount(off - off.min())
        score = int(np.dot(counts, counts))
        if score > best_score:
            best, best_score = t, score
    return best


def _meeting(h: Ruling, v: Ruling) -> tuple[float, float]:
    """Where a horizontal and a vertical ruling meet, their curves extended as needed."""
    y = h.at(v.at((v.lo + v.hi) / 2))
    for _ in range(2):  # fixed-point steps: the rulings are nearly upright to each other
        x = v.at(y)
        y = h.at(x)
    return x, y


def _spacing(rulings: list[Ruling]) -> float:
    """The median distance between neighbouring rulings (at the middle of their courses)."""
    at = sorted(r.at((r.lo + r.hi) / 2) for r in rulings)
    return float(np.median(np.diff(at)))


def ruling_length(ink: np.ndarray, char_h: float | None, stats: np.ndarray | None = None) -> int:
    """How long a straight piece of a ruling is at least: longer than any character is wide
    (``char_h``: the page's character height, when known; else :func:`character_size`, from
    ``stats`` when given)."""
    if char_h is None:
        char_h = character_size(ink, stats)
    if char_h is None:
        return max(MIN_RULING, int(RULING_SHARE * min(ink.shape)))
    return max(MIN_RULING, int(RULING_CHARS * char_h))


def character_size(ink: np.ndarray, stats: np.ndarray | None = None) -> float | None:
    """The height of the larger of an ink mask's marks shaped like characters (see
    :func:`~digit_ocr.segment.character_height`), as a grid's cells hold them: the median of
    those at least half as tall as most (the 90th percentile), so that the pieces of a broken
    thin ruling, the dust of a photographed page, do not count; None when there are none.
    ``stats``: the statistics of its marks (:func:`~digit_ocr.segment.label`), when known."""
    if stats is None:
        stats = label(ink)[1]
    w, h, area = (stats[1:, k].astype(np.int64) for k in (2, 3, 4))
    fill = area / np.maximum(w * h, 1)
    like = (area >= 12) & (h >= 6) & (fill >= 0.15) & ((w <= 1.5 * h) | (fill >= 0.3))
    # A mark over a (MIN_CELLS + 1)th of the page, at least as wide as high and hardly filled is
    # the grid itself (its heavy rulings, when the thin ones broke off), not a character.
    like &= ~((h > min(ink.shape) / (MIN_CELLS + 1)) & (w >= h) & (fill < 0.3))
    if not like.any():
        return None
    hs = np.sort(h[like])
    return float(np.median(hs[hs >= 0.5 * np.percentile(hs, 90)]))


def has_lattice(
    ink: np.ndarray, char_h: float | None = None, marks: tuple[np.ndarray, np.ndarray] | None = None
) -> bool:
    """Whether an ink mask may hold a grid: a quick look (on a page's probe, or on a small page
    itself), so that a page without a grid costs next to nothing. The page is mostly paper, and
    one of its marks is laid out as a lattice (:func:`_lattice_mark`: a few rows and columns of
    the marks already labelled), whose rulings cross each other in a lattice of MIN_CELLS
    rulings or more each way (:func:`_crossing`); frames and lines drawn across a scene, even
    over each other, make none. The page's exact tilt and the faint rulings of a grid are left
    to :func:`find_lattice`. ``marks``: the label image and statistics of the ink's marks
    (:func:`~digit_ocr.segment.label`), when known."""
    if cv2.countNonZero(ink) > MAX_INK * ink.size:
        return False  # the paper taken for ink: a page of light ink on a dark ground
    labels, stats = marks if marks is not None else label(ink)
    length = ruling_length(ink, char_h, stats)
    if not _lattice_mark(labels, stats, length):
        return False
    hs = _rulings(_segments(ink, length), length, False)
    if len(hs) < MIN_CELLS:
        return False
    vs = _rulings(_segments(cv2.transpose(ink), length), length, False)
    return len(vs) >= MIN_CELLS and _crossing(hs, vs, MIN_CELLS) is not None


def _lattice_mark(labels: np.ndarray, stats: np.ndarray, length: int) -> bool:
    """Whether the marks of a label image (``labels``, statistics ``stats``) hold one laid out as
    a lattice: its rulings cross, so they are one mark, at least ``length`` tall and wide, and a
    line across its box passes MIN_CELLS rulings of it or more; of four upright lines (at a
    fifth, two, three and four fifths of the box) and of four level ones, two at least each way
    (a line may run along a ruling, or where a side broke off the photographed frame of a
    grid). A frame is passed twice, a line drawn across a scene once. It looks at a few rows and
    columns of pixels: next to nothing on a page without a lattice."""
    x, y, w, h = (stats[:, k] for k in range(4))
    for k in np.flatnonzero((w >= length) & (h >= length)).tolist():
        if k == 0:
            continue  # the paper
        x0, y0, x1, y1 = int(x[k]), int(y[k]), int(x[k] + w[k]), int(y[k] + h[k])
        enough = True
        for lines in (labels[y0:y1, _fifths(x0, x1)], labels[_fifths(y0, y1), x0:x1].T):
            on = lines == k
            runs = on[0].astype(np.int32) + np.count_nonzero(on[1:] & ~on[:-1], axis=0)
            enough &= int(np.count_nonzero(runs >= MIN_CELLS)) >= 2
        if enough:
            return True
    return False


def _fifths(a: int, b: int) -> list[int]:
    """The places a fifth, two, three and four fifths of the way from ``a`` to ``b``."""
    return [a + (b - a) * q // 5 for q in range(1, 5)]


def find_lattice(
    ink: np.ndarray, char_h: float | None = None, flat: np.ndarray | None = None
) -> Lattice | None:
    """The lattice of rulings of an ink mask (255 = ink), or None when it has none of at least
    :data:`MIN_CELLS` rows and columns of cells. ``char_h``: the page's character height, when
    known. ``flat``: the page flattened (:func:`~digit_ocr.binarize.flattened`, ink dark), to
    look again, where a lattice was found, for rulings too faint for the ink mask."""
    H, W = ink.shape
    if min(H, W) < (MIN_CELLS + 1) * MIN_CHAR_PX:
        return None
    length = ruling_length(ink, char_h)
    hs = _rulings(_segments(ink, length), length)
    vs = _rulings(_segments(cv2.transpose(ink), length), length) if len(hs) >= 2 else []
    if len(hs) < 2 or len(vs) < 2:
        return None  # no table: at most one ruling one way (a ruled page, a frame's sides)
    if flat is None:
        found = _lattice(ink, ink, length)
        return found
    # Thin rulings printed grey (a sudoku's, beside its heavy box lines) often fall short of the
    # ink's threshold: look again with the lines darker than the paper on both sides.
    lo = percentiles_u8(flat[::2, ::2], (0.5,))[0]
    depth = max(1, int(FAINT * (255.0 - lo)))
    masks = []
    for kernel in ((1, FAINT_WIDTH), (FAINT_WIDTH, 1)):  # horizontal lines, then vertical ones
        hat = cv2.morphologyEx(flat, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_RECT, kernel))
        masks.append(cv2.bitwise_or(ink, cv2.threshold(hat, depth - 1, 255, cv2.THRESH_BINARY)[1]))
    # A lattice of heavy rulings one cell short (a grid whose thin rulings are faint) is enough
    # to look between its rulings for the faint ones.
    found = _lattice(masks[0], masks[1], length, MIN_CELLS)
    if found is None:
        return None
    found = _with_faint(found, ink, flat)
    return found if min(found.shape) >= MIN_CELLS else None


def _with_faint(lattice: Lattice, ink: np.ndarray, flat: np.ndarray) -> Lattice:
    """The lattice with the thin rulings between its rulings that were too faint for the ink
    mask (a sudoku's grey lines beside its heavy box lines): lines darker than the paper on both
    sides, running with their neighbours the whole way (in most of the places along them:
    a digit's bar is not a ruling)."""
    H, W = ink.shape
    x0, y0, x1, y1 = lattice.box()
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(W, x1 + 1), min(H, y1 + 1)
    sub = flat[y0:y1, x0:x1]
    depth = FAINT_COURSE * (255.0 - percentiles_u8(sub, (0.5,))[0])
    rows, cols = list(lattice.rows), list(lattice.cols)
    extra = np.zeros_like(ink)
    for kernel, rulings, across in (((1, FAINT_WIDTH), rows, cols), ((FAINT_WIDTH, 1), cols, rows)):
        hat = cv2.morphologyEx(sub, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_RECT, kernel))
        vertical = rulings is cols
        if vertical:
            hat = cv2.transpose(hat)
            ox, oy = y0, x0
        else:
            ox, oy = x0, y0
        found = []
        for a, b in zip(rulings[:-1], rulings[1:]):
            mid = 0.5 * (a.at((a.lo + a.hi) / 2) + b.at((b.lo + b.hi) / 2))
            lo, hi = across[0].at(mid), across[-1].at(mid)
            along = np.arange(int(np.ceil(lo)), int(hi), 2, dtype=np.float64)
            ya, yb = a.curve(along), b.curve(along)
            n = int(round(float(np.median(yb - ya))))
            if n < 3 * FAINT_WIDTH or along.size < 8:
                continue
            t = np.arange(n + 1, dtype=np.float64) / n
            ys = np.rint(ya[None, :] + (yb - ya)[None, :] * t[:, None]).astype(np.intp) - oy
            xs = np.broadcast_to(along.astype(np.intp) - ox, ys.shape)
            inside = (ys >= 0) & (ys < hat.shape[0]) & (xs >= 0) & (xs < hat.shape[1])
            vals = np.where(
                inside, hat[np.clip(ys, 0, hat.shape[0] - 1), np.clip(xs, 0, hat.shape[1] - 1)], 0
            )
            profile = np.median(vals, axis=1)
            margin = int(np.ceil(max(a.thick, b.thick))) + FAINT_WIDTH // 2
            strong = profile >= depth
            strong[: margin + 1] = False
            strong[n - margin :] = False
            edges = np.flatnonzero(np.diff(np.concatenate([[0], strong.astype(np.int8), [0]])))
            for s, e in zip(edges[0::2], edges[1::2]):
                k = float(np.average(np.arange(s, e), weights=profile[s:e])) / n
                curve = ya + (yb - ya) * k
                poly = tuple(np.polyfit(along, curve, 2).tolist())
                pts = np.stack([along, curve], axis=1)
                if vertical:
                    pts = pts[:, ::-1]
                cv2.polylines(extra, [np.rint(pts).astype(np.int32)], False, 255, 3)
                found.append(
                    Ruling(poly, float(along[0]), float(along[-1]), 1.0, (np.empty(0, np.intp),) * 2)
                )
        rulings.extend(found)
    if not extra.any():
        return lattice
    ref_x = 0.5 * (x0 + x1)
    ref_y = 0.5 * (y0 + y1)
    rows.sort(key=lambda r: r.at(ref_x))
    cols.sort(key=lambda c: c.at(ref_y))
    faint = cv2.bitwise_and(extra, ink)
    return Lattice(rows, cols, lattice.lines | faint, lattice.course | faint)


def _lattice(h_ink: np.ndarray, v_ink: np.ndarray, length: int, least: int = MIN_CELLS + 1) -> Lattice | None:
    """The lattice of the horizontal rulings of ``h_ink`` and the vertical ones of ``v_ink``, of
    at least ``least`` rulings each way."""
    h_open = _segments(h_ink, length)
    hs = _rulings(h_open, length)
    if len(hs) < least:
        return None
    v_open = _segments(cv2.transpose(v_ink), length)
    vs = _rulings(v_open, length)
    if len(vs) < least:
        return None
    found = _crossing(hs, vs, least)
    if found is None:
        return None
    keep_h, keep_v = found
    rows = [h for h, k in zip(hs, keep_h) if k]
    cols = [v for v, k in zip(vs, keep_v) if k]
    mid_x = 0.5 * (min(c.lo for c in rows) + max(c.hi for c in rows))
    mid_y = 0.5 * (min(c.lo for c in cols) + max(c.hi for c in cols))
    rows.sort(key=lambda r: r.at(mid_x))
    cols.sort(key=lambda c: c.at(mid_y))
    lines, course = (
        _pixels(h_open, rows, c) | cv2.transpose(_pixels(v_open, cols, c)) for c in (False, True)
    )
    lattice = Lattice(rows, cols, lines, course)
    # Cells must be larger than their rulings are thick, and large enough for a character.
    thick = float(np.median([r.thick for r in rows + cols]))
    if min(lattice.pitch()) < max(MIN_CHAR_PX, CELL_OVER_RULING * thick):
        return None
    return lattice


def _crossing(hs: list[Ruling], vs: list[Ruling], least: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Which horizontal rulings ``hs`` and vertical ones ``vs`` make a lattice of at least
    ``least`` rulings each way (two masks), or None when they make none."""
    # A ruling of the lattice spans most of the other way's rulings (its course passes where
    # they are) and truly crosses some of them (the frame's sides, at least): a ruling found
    # along part of its course only (faint elsewhere) still lets the ones it meets count.
    reach_x, reach_y = CROSS_REACH * _spacing(vs), CROSS_REACH * _spacing(hs)
    meet = [[_meeting(h, v) for v in vs] for h in hs]
    mx = np.array([[p[0] for p in row] for row in meet])
    my = np.array([[p[1] for p in row] for row in meet])
    h_spans = (mx >= np.array([h.lo for h in hs])[:, None] - reach_x) & (
        mx <= np.array([h.hi for h in hs])[:, None] + reach_x
    )
    v_spans = (my >= np.array([v.lo for v in vs])[None, :] - reach_y) & (
        my <= np.array([v.hi for v in vs])[None, :] + reach_y
    )
    cross = h_spans & v_spans
    keep_h = np.ones(len(hs), bool)
    keep_v = np.ones(len(vs), bool)
    while True:
        need_h = max(least, CROSS_SHARE * keep_v.sum())
        need_v = max(least, CROSS_SHARE * keep_h.sum())
        new_h = keep_h & (h_spans[:, keep_v].sum(axis=1) >= need_h) & (cross[:, keep_v].sum(axis=1) >= 2)
        new_v = keep_v & (v_spans[keep_h].sum(axis=0) >= need_v) & (cross[keep_h].sum(axis=0) >= 2)
        if (new_h == keep_h).all() and (new_v == keep_v).all():
            break
        keep_h, keep_v = new_h, new_v
    if keep_h.sum() < least or keep_v.sum() < least:
        return None
    # Rulings found along a part of the lattice only (at least MIN_CELLS cells of it) are its
    # rulings too: the rest of their course was too faint.
    keep_h |= cross[:, keep_v].sum(axis=1) >= least
    keep_v |= cross[keep_h].sum(axis=0) >= least
    return keep_h, keep_v


def _nonzero(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows and columns of a mask's nonzero pixels, in the order of :func:`numpy.nonzero`
    (OpenCV's scan: many times faster)."""
    pts = cv2.findNonZero(mask)
    if pts is None:
        return np.empty(0, np.intp), np.empty(0, np.intp)
    pts = pts.reshape(-1, 2)
    return pts[:, 1], pts[:, 0]


def _pixels(opened: np.ndarray, rulings: list[Ruling], on_course: bool) -> np.ndarray:
    """The pixels of ``opened`` that belong to ``rulings``; ``on_course``: only those near their
    fitted courses (see :attr:`Lattice.course`)."""
    out = np.zeros_like(opened)
    for r in rulings:
        ys, xs = r.pixels
        if on_course:
            near = np.abs(ys - r.curve(xs.astype(np.float64))) <= r.thick / 2 + ON_COURSE
            ys, xs = ys[near], xs[near]
        out[ys, xs] = 255
    return out


def erase(ink: np.ndarray, lattice: Lattice, on_course: bool = False) -> np.ndarray:
    """``ink`` without the lattice's rulings (``on_course``: only near their fitted courses);
    where a stroke crosses a ruling (writing across graph paper, a digit touching its cell's
    side) the gap the ruling leaves is closed again."""
    lines = lattice.course if on_course else lattice.lines
    out = cv2.subtract(ink, lines)
    thick = int(np.ceil(max(r.thick for r in lattice.rows + lattice.cols))) + 3
    across = cv2.morphologyEx(out, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, thick)))
    along = cv2.morphologyEx(out, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (thick, 1)))
    bridged = cv2.bitwise_and(cv2.bitwise_or(across, along), lines)
    return cv2.bitwise_or(out, cv2.bitwise_and(bridged, ink))


def without_rulings(gray: np.ndarray, b: Binarized, lattice: Lattice) -> np.ndarray:
    """``gray`` (dark ink on light paper, as thresholded into ``b``) with the rulings of
    ``lattice`` painted over with the paper beside them (its brightest level a few pixels
    around), except where writing crosses them: pixels darker than midway between the rulings'
    typical level and the writing's (graph paper's rulings are printed lighter than what is
    written on it)."""
    flat = b.flat if b.flat is not None else gray
    course = lattice.course > 0
    rulings = cv2.dilate(lattice.lines, np.ones((3, 3), np.uint8)) > 0
    writing = (b.ink > 0) & ~rulings
    if not course.any() or not writing.any():
        return gray
    ruled = float(np.median(flat[course]))
    darkest = percentiles_u8(flat[writing], (5,))[0]
    paint = rulings & (flat > (ruled + darkest) / 2)
    out = gray.copy()
    out[paint] = cv2.dilate(gray, np.ones((5, 5), np.uint8))[paint]
    return out


def area(lattice: Lattice, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The box ``(x0, y0, x1, y1)`` of the grid and its frame: the lattice's box grown by half a
    cell (what stands there belongs to the grid), within an image of ``shape``."""
    pitch = lattice.pitch()
    x0, y0, x1, y1 = lattice.box()
    gx, gy = int(np.ceil(pitch[1] / 2)), int(np.ceil(pitch[0] / 2))
    H, W = shape[:2]
    return max(0, x0 - gx), max(0, y0 - gy), min(W, x1 + gx + 1), min(H, y1 + gy + 1)


def marks_outside(ink: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    """Whether ``ink`` holds, outside ``box``, a mark that could be a character: at least
    MIN_CHAR_PX tall, clear of the image's edges (not the edge of the photographed page)."""
    x0, y0, x1, y1 = box
    H, W = ink.shape
    if x0 <= 1 and y0 <= 1 and x1 >= W - 1 and y1 >= H - 1:
        return False
    rest = ink.copy()
    rest[y0:y1, x0:x1] = 0
    _labels, stats = label(rest)
    x, y, w, h = (stats[1:, k] for k in range(4))
    clear = (x > 0) & (y > 0) & (x + w < W) & (y + h < H)
    return bool((clear & (h >= MIN_CHAR_PX)).any())


def _clipped(box: tuple[int, int, int, int], shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    H, W = shape[:2]
    return max(0, x0), max(0, y0), min(W, x1 + 1), min(H, y1 + 1)


@dataclass
class _Marks:
    """The marks of a lattice's box (a mask without the rulings): their labels and statistics
    (:func:`~digit_ocr.segment.label`, in the box whose corner is ``at``), and for each mark
    (label - 1) its middle, its cell (row, column; -1 or the count when outside), that cell's
    sides at the mark, and whether it is of an entry's size, not a speck."""

    labels: np.ndarray
    stats: np.ndarray
    at: tuple[int, int]
    cx: np.ndarray
    cy: np.ndarray
    row: np.ndarray
    col: np.ndarray
    sides: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # top, bottom, left, right
    sized: np.ndarray


def _marks(clean: np.ndarray, lattice: Lattice) -> _Marks | None:
    """The :class:`_Marks` of ``clean`` in the lattice's box (None when it has none)."""
    x0, y0, x1, y1 = _clipped(lattice.box(), clean.shape)
    labels, stats = label(clean[y0:y1, x0:x1])
    if len(stats) <= 1:
        return None
    x, y, w, h = (stats[1:, k].astype(np.float64) for k in range(4))
    cx, cy = x0 + x + w / 2, y0 + y + h / 2
    R, C = lattice.shape
    tops = np.array([r.curve(cx) for r in lattice.rows])  # (R + 1, marks)
    lefts = np.array([c.curve(cy) for c in lattice.cols])
    row = (tops < cy).sum(axis=0) - 1
    col = (lefts < cx).sum(axis=0) - 1
    idx = np.arange(len(cx))
    r, c = np.clip(row, 0, R - 1), np.clip(col, 0, C - 1)
    sides = (tops[r, idx], tops[r + 1, idx], lefts[c, idx], lefts[c + 1, idx])
    inside = (row >= 0) & (row < R) & (col >= 0) & (col < C)
    # Specks: far smaller than the cell both ways.
    big = (h >= SPECK * (sides[1] - sides[0])) | (w >= SPECK * (sides[3] - sides[2]))
    return _Marks(labels, stats, (x0, y0), cx, cy, row, col, sides, inside & (h >= MIN_CHAR_PX) & big)


def _margin(m: _Marks) -> np.ndarray:
    """How far from its cell's sides each mark's middle must be (remnants of the rulings are not)."""
    top, bottom, left, right = m.sides
    return BORDER * np.minimum(bottom - top, right - left)


def _across(m: _Marks) -> float:
    """The share of the marks' ink (specks aside) in marks that run out of their cell."""
    top, bottom, left, right = m.sides
    x, y = m.at[0] + m.stats[1:, 0], m.at[1] + m.stats[1:, 1]
    w, h = m.stats[1:, 2], m.stats[1:, 3]
    margin = _margin(m)
    over = (x < left - margin) | (x + w > right + margin) | (y < top - margin) | (y + h > bottom + margin)
    area = m.stats[1:, cv2.CC_STAT_AREA]
    return float(area[m.sized & over].sum()) / max(1, int(area[m.sized].sum()))


def cell_lines(ink: np.ndarray, lattice: Lattice, flat: np.ndarray | None = None) -> list[SegmentLine] | None:
    """The candidates of a lattice's cells, a line per row of cells (rows without any left
    out), each candidate marked with its cell; None when the lattice is no table (graph paper:
    writing runs across its rulings, see :data:`CROSSING_INK`). ``ink``: the page's ink mask;
    ``flat``: the page flattened, to threshold each cell's marks again (see :func:`_own_ink`).

    A cell's marks are the marks whose middle lies inside it, away from its sides (bits of the
    rulings are not entries); a cell holding one mark no wider than high is a candidate as it
    is, the marks of any other cell are segmented as a small page of their own (the pieces of a
    broken digit, the digits of a number)."""
    judged = _marks(erase(ink, lattice, on_course=True), lattice)
    if judged is not None and _across(judged) > CROSSING_INK:
        return None
    m = _marks(erase(ink, lattice), lattice)
    if m is None:
        return []
    top, bottom, left, right = m.sides
    margin = _margin(m)
    cx, cy = m.cx, m.cy
    ok = m.sized & (cx > left + margin) & (cx < right - margin) & (cy > top + margin) & (cy < bottom - margin)
    labels, stats, (x0, y0), row, col = m.labels, m.stats, m.at, m.row, m.col
    cells: dict[tuple[int, int], list[int]] = {}
    for k in np.flatnonzero(ok).tolist():
        cells.setdefault((int(row[k]), int(col[k])), []).append(k + 1)
    h_box, w_box = labels.shape
    ink_level = percentiles_u8(flat[y0 : y0 + h_box, x0 : x0 + w_box], (0.5,))[0] if flat is not None else 0.0
    lines: dict[int, list[Candidate]] = {}
    for (r, c), marks in sorted(cells.items()):
        # The cell's inside, at its marks: its paper is the cell's own (a shaded cell's grey).
        mx, my = float(cx[marks[0] - 1]), float(cy[marks[0] - 1])
        t, bt = lattice.rows[r].at(mx), lattice.rows[r + 1].at(mx)
        lf, rt = lattice.cols[c].at(my), lattice.cols[c + 1].at(my)
        m = BORDER * min(bt - t, rt - lf)
        inside = (int(lf + m), int(t + m), int(np.ceil(rt - m)), int(np.ceil(bt - m)))
        items = _cell_candidates(labels, stats, marks, x0, y0, flat, inside, ink_level)
        for i, cand in enumerate(items):
            _mark_cell(cand, (r, c))
            if i == 0:
                cand.space_before = bool(lines.get(r))
        lines.setdefault(r, []).extend(items)
    return [SegmentLine(items) for _, items in sorted(lines.items()) if items]


def _cell_candidates(
    labels: np.ndarray,
    stats: np.ndarray,
    marks: list[int],
    ox: int,
    oy: int,
    flat: np.ndarray | None,
    inside: tuple[int, int, int, int],
    ink_level: float,
) -> list[Candidate]:
    """The candidates of one cell's marks (labels ``marks`` of ``labels``, whose corner is at
    ``(ox, oy)`` of the page), in reading order. ``flat``: the page flattened, to threshold the
    cell's marks again against the cell's own paper (``inside``: the box ``(x0, y0, x1, y1)`` of
    the cell's inside on the page; ``ink_level``: the page's ink level, see :func:`_own_ink`)."""
    a = min(int(stats[k, 0]) for k in marks)
    b = min(int(stats[k, 1]) for k in marks)
    c = max(int(stats[k, 0] + stats[k, 2]) for k in marks)
    d = max(int(stats[k, 1] + stats[k, 3]) for k in marks)
    box = labels[b:d, a:c]
    mask = (box == marks[0]) if len(marks) == 1 else np.isin(box, marks)
    alt = None
    if flat is not None:
        own = _own_ink(mask, flat, (ox + a, oy + b), inside, ink_level)
        if own is None:
            return []
        mask, alt = own
    single = _single(mask, ox + a, oy + b)
    if single is not None:
        other = _single(alt, ox + a, oy + b) if alt is not None else None
        if other is not None:
            single.alternatives.append(other)
        return [single]
    pad = 2
    crop = np.zeros((d - b + 2 * pad, c - a + 2 * pad), np.uint8)
    crop[pad:-pad, pad:-pad] = mask.view(np.uint8) * 255
    out = []
    for line in segment(crop):
        for cand in line.items:
            out.append(_shifted(cand, ox + a - pad, oy + b - pad))
    if out:
        out[0].space_before = False
    return out


def _single(mask: np.ndarray, x: int, y: int) -> Candidate | None:
    """The candidate of ``mask`` (bool, its corner at ``(x, y)``) when it is one mark no wider
    than high (one digit), else None."""
    n, sub, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    if n != 2:
        return None
    mx, my, w, h = (int(v) for v in stats[1, :4])
    if w > h:
        return None
    return Candidate(x + mx, y + my, w, h, (sub[my : my + h, mx : mx + w] == 1).astype(np.uint8))


def _own_ink(
    mask: np.ndarray,
    flat: np.ndarray,
    at: tuple[int, int],
    inside: tuple[int, int, int, int],
    ink_level: float,
) -> tuple[np.ndarray, np.ndarray | None] | None:
    """A cell's marks (``mask``, bool, its corner at ``at`` on the page) thresholded again on
    their own: against the cell's paper (Otsu's threshold over the cell's inside, ``inside`` on
    the page), and within their own box (which opens the holes of a blurred digit further); None
    when they are hardly darker than the cell's paper (the edges of a shaded cell's grey, a
    smudge). The page's threshold, made for faint print beside heavy rulings and for shaded
    paper, fills the holes of small blurred digits (a 6 or an 8 made a blob)."""
    H, W = flat.shape
    x0, y0, x1, y1 = max(0, inside[0]), max(0, inside[1]), min(W, inside[2]), min(H, inside[3])
    if x1 - x0 < 2 or y1 - y0 < 2:
        return mask, None
    paper = percentiles_u8(flat[y0:y1, x0:x1], (PAPER_SHARE,))[0]
    box = flat[at[1] : at[1] + mask.shape[0], at[0] : at[0] + mask.shape[1]]
    dark = percentiles_u8(box[mask], (5,))[0]
    if paper - dark < MIN_CONTRAST * (paper - ink_level):
        return None
    levels = []
    for region in (flat[y0:y1, x0:x1], np.ascontiguousarray(box)):
        thr = cv2.threshold(region, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[0]
        own = mask & (box <= min(max(thr, dark), paper))
        levels.append(own if own.any() else None)
    if levels[0] is None:
        return None
    return levels[0], levels[1]


def _shifted(c: Candidate, dx: int, dy: int) -> Candidate:
    """A candidate (with its cuts and core) moved by ``(dx, dy)``."""
    c.x += dx
    c.y += dy
    for piece in c.pieces:
        _shifted(piece.cand, dx, dy)
    if c.to_cut is not None:
        sub, x0, y0, line_h, straight = c.to_cut
        c.to_cut = (sub, x0 + dx, y0 + dy, line_h, straight)
    if c.core is not None:
        _shifted(c.core, dx, dy)
    return c


def _mark_cell(c: Candidate, cell: tuple[int, int]) -> None:
    """Mark a candidate, and every other way of reading it, as standing in ``cell``."""
    for q in (c, *(piece.cand for piece in c.pieces), *([c.core] if c.core else []), *c.alternatives):
        q.cell = cell
