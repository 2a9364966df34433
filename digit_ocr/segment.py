"""Segment stage: an ink mask to digit candidates, grouped into text lines in reading order."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np

from . import explain

#: At most this many marks are considered on one page (far more than any page of digits holds).
MAX_PARTS = 4000
#: A line is at least this share of its tallest mark high (descending 7s and 9s are taller).
TALL_SHARE = 0.6
#: Marks under this share of the fifth largest mark's ink do not set the character height.
SPECK_SHARE = 0.1
#: A mark whose strokes are thinner than half this share of its height (its ink over its
#: box's half perimeter) is an outline, a frame or a box, not a character (a character's strokes
#: are a twentieth of its height or more): it does not set the character height.
OUTLINE = 0.045
#: A line of one or two marks beside lines of text: its marks are this many times as tall as
#: the text's characters (at least, at most), or it is clutter.
SHORT_LINE = (0.7, 1.4)
#: A stroke (no wider than STRAY_WIDTH of its height) shorter than STRAY_HEIGHT of its line's
#: characters and more than STRAY_GAP character heights from the line's other marks is a piece
#: of a frame or of a line drawn across the scene, not a "1" (beside at least 3 other marks).
STRAY_WIDTH = 0.35
STRAY_HEIGHT = 0.8
STRAY_GAP = 3.0
#: A mark more than FRAME_TALL times as tall as its line's median mark, whose stroke width is
#: under FRAME_THIN of theirs (median), is a piece of a frame.
FRAME_TALL = 1.4
FRAME_THIN = 0.5
#: Nothing shorter than this many pixels is read as a digit: specks and dust, not characters
#: (the reader works on small crops enlarged, so real digits are taller).
MIN_CHAR_PX = 8
#: A candidate whose ink fills this share of its convex hull is a blot, a dot or a solid block,
#: never digits touching each other: it is not offered cut apart (its slices would read as 1s).
SOLID = 0.85


@dataclass
class Candidate:
    """One digit candidate: its box in the mask's coordinates and its own ink (0/1, box-sized)."""

    x: int
    y: int
    w: int
    h: int
    ink: np.ndarray
    space_before: bool = False
    #: The pieces of a wide candidate between its cut paths (touching handwriting, see
    #: :func:`cut_lattice`): the reader reads it as the sequence of pieces from cut 0 (its left
    #: edge) to cut ``ends`` (its right edge) that the model reads best, or whole.
    pieces: list[Piece] = field(default_factory=list)
    ends: int = 0
    #: What a wide candidate is cut by when the reader asks for its pieces (:func:`cut_candidate`:
    #: only where it may read better cut apart): its component's mask, the mask's corner, its
    #: line's height and whether the cuts go straight down.
    to_cut: tuple[np.ndarray, int, int, float, bool] | None = None
    #: This candidate without the pieces that stick out above or below its main stroke (a
    #: neighbour's edge on a meter wheel, a stray mark), or its largest mark without thin ones
    #: beside it (a scale's ticks), when there are any.
    core: Candidate | None = None
    #: Made by joining two narrow neighbours (the halves of a thin-sided 0 that broke apart);
    #: ``pieces`` then holds the two as they were, and the reader keeps what reads better.
    joined: bool = False
    #: The cell (row, column) of a grid that the candidate stands in (:mod:`digit_ocr.grid`).
    cell: tuple[int, int] | None = None
    #: The same mark thresholded otherwise (a grid cell's, see :mod:`digit_ocr.grid`): read
    #: instead when the model reads it better.
    alternatives: list[Candidate] = field(default_factory=list)

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.w, self.h)

    @property
    def cuttable(self) -> bool:
        """Whether the candidate may be read cut into pieces (see :func:`cut_candidate`)."""
        return bool(self.pieces) or self.to_cut is not None


@dataclass
class Piece:
    """A piece of a wide candidate: its ink between two of its cut paths."""

    #: The cuts it lies between (0: the candidate's left edge; ``Candidate.ends``: its right).
    start: int
    end: int
    cand: Candidate
    #: Shaped like a digit of its line (:func:`_digit_shaped`): the reader may read it as one.
    digit: bool = True
    #: Low enough beside its line's characters to be a separator (a dot, a comma, a dash), or no
    #: digit's shape (a sliver): the reader may leave it out.
    small: bool = False


@dataclass
class SegmentLine:
    """Candidates of one text line, left to right."""

    items: list[Candidate] = field(default_factory=list)


@dataclass
class _Part:
    x0: int
    y0: int
    x1: int
    y1: int
    labels: list[int]
    area: int
    #: How many connected marks the part is made of.
    marks: int = 1

    @property
    def w(self) -> int:
        return self.x1 - self.x0

    @property
    def h(self) -> int:
        return self.y1 - self.y0


def label(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected components of a mask: the label image and the statistics (``cv2.CC_STAT_*``).

    16-bit labels when they suffice (OpenCV labels them more than twice as fast as 32-bit
    ones), 32-bit when a page has 65,535 marks or more. Only the box of the ink is labelled
    (see :func:`_ink_window`); the result is OpenCV's for the whole mask.
    """
    H, W = mask.shape
    x0, y0, x1, y1 = _ink_window(mask)
    try:
        _n, inner, stats, _ = cv2.connectedComponentsWithStats(
            mask[y0:y1, x0:x1], connectivity=8, ltype=cv2.CV_16U
        )
    except cv2.error:  # too many components for 16-bit labels
        _n, inner, stats, _ = cv2.connectedComponentsWithStats(
            mask[y0:y1, x0:x1], connectivity=8, ltype=cv2.CV_32S
        )
    if (x1 - x0, y1 - y0) == (W, H):
        return inner, stats
    stats[1:, 0] += x0
    stats[1:, 1] += y0
    # The background (label 0) is also everything around the box: its box is the union of the
    # strips around the box and (when the box holds any) of its background in the box.
    around = [(0, 0, W, y0), (0, y1, W, H), (0, y0, x0, y1), (x1, y0, W, y1)]
    bx, by, bw, bh, barea = stats[0].tolist()
    if barea:
        around.append((x0 + bx, y0 + by, x0 + bx + bw, y0 + by + bh))
    rects = [r for r in around if r[2] > r[0] and r[3] > r[1]]
    left, top = min(r[0] for r in rects), min(r[1] for r in rects)
    right, bottom = max(r[2] for r in rects), max(r[3] for r in rects)
    stats[0] = (left, top, right - left, bottom - top, barea + W * H - (x1 - x0) * (y1 - y0))
    return _placed(inner, mask.shape, x0, y0), stats


def label_image(mask: np.ndarray) -> np.ndarray:
    """The label image of :func:`label` alone (about a third of the time: no statistics)."""
    x0, y0, x1, y1 = _ink_window(mask)
    inner = _labels_in(mask[y0:y1, x0:x1])
    return inner if inner.shape == mask.shape else _placed(inner, mask.shape, x0, y0)


def _labels_in(box: np.ndarray) -> np.ndarray:
    """The label image of a box of a mask that holds all its ink, the box's corner on even
    coordinates (see :func:`_ink_window`): the mask's labels within the box."""
    try:
        return cv2.connectedComponents(box, connectivity=8, ltype=cv2.CV_16U)[1]
    except cv2.error:  # too many components for 16-bit labels
        return cv2.connectedComponents(box, connectivity=8, ltype=cv2.CV_32S)[1]


def _ink_window(mask: np.ndarray) -> tuple[int, int, int, int]:
    """The box ``(x0, y0, x1, y1)`` of a mask's ink, its corner moved up and left to even
    coordinates (the whole mask when it holds no ink).

    OpenCV's 8-connected labelling scans blocks of 2x2 pixels and numbers each mark by the first
    block that holds it: on the same grid of blocks (an even corner) the box alone is numbered
    as the whole mask is, and the blank margins of a page cost nothing (labelling its ink box
    takes about two thirds of the time on the bench photos).
    """
    x, y, w, h = cv2.boundingRect(mask)
    if w == 0:
        return 0, 0, mask.shape[1], mask.shape[0]
    return x - x % 2, y - y % 2, x + w, y + h


def _placed(inner: np.ndarray, shape: tuple[int, int], x0: int, y0: int) -> np.ndarray:
    """A label image of the box at ``(x0, y0)`` put back in a mask of ``shape`` (0 around it)."""
    labels = np.zeros(shape, inner.dtype)
    labels[y0 : y0 + inner.shape[0], x0 : x0 + inner.shape[1]] = inner
    return labels


def _components(ink: np.ndarray) -> tuple[np.ndarray, list[_Part]]:
    labels, stats = label(ink)
    parts = [_Part(x, y, x + w, y + h, [i], a) for i, (x, y, w, h, a) in enumerate(stats.tolist()) if i > 0]
    return labels, parts


def typical_height(parts: list[_Part], shape: tuple[int, int]) -> float:
    """The height of a character on this page, from the components that look like (parts of) one.

    Rulings (long and thin) and frames (large and nearly empty) are left out; among the
    rest the larger ones count, so specks and noise do not pull the estimate down.
    """
    H, _W = shape
    areas = sorted((p.area for p in parts), reverse=True) or [0]
    # Specks count for nothing beside the page's largest marks (grain, sensor noise).
    least = max(12.0, SPECK_SHARE * areas[min(4, len(areas) - 1)])
    sized = [p for p in parts if p.area >= least and p.h >= 6]
    hs = [
        p.h
        for p in sized
        if (p.w <= 3 * p.h and p.area >= 0.08 * p.w * p.h and not _thin(p.area, p.w, p.h))
        or _run(p)
    ]
    if not hs:
        # Only runs of touching characters (wider than three heights) or nothing at all.
        return _median(sorted(p.h for p in sized)) if sized else float(H)
    hs.sort()
    least_h = 0.5 * _percentile(hs, 90)
    return _median([h for h in hs if h >= least_h])


def _thin(area: int, w: int, h: int) -> bool:
    """Whether a mark of ``area`` ink pixels in a ``w`` x ``h`` box is drawn in strokes far
    thinner than a character's of its height (see :data:`OUTLINE`)."""
    return area < OUTLINE * h * (w + h)


def _run(p: _Part) -> bool:
    """Whether a wide mark is a run of touching characters (bold print): as dense as text, not
    as solid as a bar, and no longer than a dozen characters."""
    return 3 * p.h < p.w <= 12 * p.h and p.h >= 10 and 0.3 * p.w * p.h <= p.area <= 0.85 * p.w * p.h


def _percentile(ordered: list[int], q: float) -> float:
    """``np.percentile(ordered, q)`` (linear) of a short sorted list of integers: the same
    number, without numpy's overhead (this runs several times per page)."""
    virtual = (len(ordered) - 1) * (q / 100)
    lo = math.floor(virtual)
    a, b = float(ordered[lo]), float(ordered[min(lo + 1, len(ordered) - 1)])
    t = virtual - lo
    return b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t


def _median(ordered: list[int]) -> float:
    """``np.median`` of a non-empty sorted list of integers."""
    n = len(ordered)
    return (ordered[(n - 1) // 2] + ordered[n // 2]) / 2


def character_height(ink: np.ndarray, stats: np.ndarray | None = None) -> float | None:
    """The typical character height of an ink mask, or None when nothing in it looks like a character.

    Meant for a reduced copy of a page, where neighbouring characters may touch: the median
    height of the marks that are filled like characters (frames, outlines and long diagonal
    lines are not) and either no wider than 1.5 heights or solid enough to be a run of touching
    characters. Unlike :func:`typical_height` the larger marks are not preferred: a frame or a
    thick bar outnumbered by characters must not set the height. ``stats``: the marks'
    statistics (:func:`label`), when already worked out.
    """
    if stats is None:
        stats = label(ink)[1]
    w, h, area = (stats[1:, k].astype(np.int64) for k in (2, 3, 4))
    fill = area / np.maximum(w * h, 1)
    like = (area >= 12) & (h >= 6) & (fill >= 0.15) & ((w <= 1.5 * h) | (fill >= 0.3))
    if not like.any():
        return None
    return _median(sorted(h[like].tolist()))


#: ... and clutter drawn in such lines is at least this many character heights long.
OUTLINE_SIZE = 4.0


def _outline(p: _Part, char_h: float) -> bool:
    """Whether a mark is clutter drawn in thin lines: far larger than a character, with strokes
    far thinner than a character's of its size (a frame, a box, a long line across the page)."""
    return max(p.w, p.h) >= OUTLINE_SIZE * char_h and _thin(p.area, p.w, p.h)


#: A mark at least BAR_LONG character heights wide whose ink is on average at most BAR_THIN of a
#: character height thick (its ink over its width, whatever its tilt) is a line: an underline,
#: a ruling, a dash, never a character.
BAR_LONG = 2.5
BAR_THIN = 0.2


def _bar(p: _Part, char_h: float) -> bool:
    """Whether a mark is a line drawn across (see :data:`BAR_LONG`)."""
    return p.w >= BAR_LONG * char_h and p.area <= BAR_THIN * char_h * p.w


#: An underline touching the characters above it: along the bottom of a mark BAR_LONG character
#: heights wide, the lowest ink of at least UNDERLINE of its columns lies on one straight line
#: (within UNDERLINE_WOBBLE pixels), in a stroke at most BAR_THIN of a character height thick.
UNDERLINE = 0.85
UNDERLINE_WOBBLE = 2.0


def _underline(mark: np.ndarray, char_h: float) -> np.ndarray | None:
    """The pixels (bool, in the mark's box) of a line along the bottom of a wide mark (``mark``,
    bool) that characters ``char_h`` tall touch (see :data:`UNDERLINE`); None when it has none.
    Only the line's own rows are taken: a stroke that reaches down to it keeps what lies above."""
    h, w = mark.shape
    filled = mark.any(axis=0)
    if filled.mean() < UNDERLINE:
        return None
    cols = np.flatnonzero(filled)
    bottom = h - 1 - mark[::-1, cols].argmax(axis=0)
    inliers = np.ones(cols.size, bool)
    for _ in range(2):  # a line through the lowest ink, refitted without the columns off it
        slope, at = np.polyfit(cols[inliers], bottom[inliers], 1)
        inliers = np.abs(bottom - (slope * cols + at)) <= UNDERLINE_WOBBLE
        if inliers.sum() < UNDERLINE * w:
            return None
    # The line's thickness: the run of ink up from the bottom, in the typical column on the line.
    rows = np.arange(h)[:, None]
    above = (rows <= bottom[None, :]) & ~mark[:, cols]
    top = np.where(above.any(axis=0), h - 1 - (above[::-1]).argmax(axis=0), -1)
    runs = (bottom - top)[inliers]
    thick = float(np.median(runs))
    if thick > BAR_THIN * char_h:
        return None
    line = np.zeros_like(mark)
    for c, b in zip(cols[inliers].tolist(), bottom[inliers].tolist()):
        line[max(0, b - int(thick)) : b + 1, c] = True
    return line & mark


#: Drop lines of single straight strokes lying more than upright (:func:`_leaning_stroke`).
DROP_LEANING = True
#: A mark is one straight stroke when its ink is at most STRAIGHT of its length wide (the spread
#: across its main axis, as a bar's width, against the spread along it).
STRAIGHT = 0.25


def _leaning_stroke(ink: np.ndarray) -> bool:
    """Whether a mark (0/1) is one straight stroke lying more than upright (more than 45 degrees
    from the vertical): a stray line, a dash or a slash, never a digit (a 1 stands upright)."""
    m = cv2.moments(ink, binaryImage=True)
    if m["m00"] < 3 or ink.shape[1] <= ink.shape[0]:
        return False
    a, b, c = m["mu20"] / m["m00"], m["mu11"] / m["m00"], m["mu02"] / m["m00"]
    root = math.sqrt(max(0.0, (a - c) ** 2 / 4 + b * b))
    along, across = (a + c) / 2 + root, max(0.0, (a + c) / 2 - root)
    # The main axis lies more than upright when the spread is wider across than down (a > c).
    return a > c and math.sqrt(across) <= STRAIGHT * math.sqrt(along)


def _glyph_like(ink: np.ndarray, mask: np.ndarray) -> bool:
    """Whether a component (``mask``, in its box of the page's ``ink``) could be one character:
    at most two holes (an 8), holding next to no other ink (unlike a frame or a grid)."""
    m = mask.astype(np.uint8)
    contours, hierarchy = cv2.findContours(m, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return False
    holes = [c for c, h in zip(contours, hierarchy[0]) if h[3] >= 0 and cv2.contourArea(c) >= 4]
    if len(holes) > 2:
        return False
    filled = np.zeros_like(m)
    cv2.drawContours(filled, holes, -1, 1, -1)
    inside = int(np.count_nonzero(filled & (ink > 0) & (m == 0)))
    return inside <= 0.05 * int(np.count_nonzero(m))


#: A mark shaped like one character (box no wider than this many heights, nor narrower than
#: the inverse of it) and filled at least :data:`GLYPH_FILL` keeps its long strokes: they are the
#: sides of a large digit (a counter wheel's 0 beside a scale of small ticks), not a ruling.
GLYPH_ASPECT = 2.5
GLYPH_FILL = 0.2


def remove_rulings(
    ink: np.ndarray, char_h: float, labels: np.ndarray | None = None, parts: list[_Part] | None = None
) -> np.ndarray:
    """Erase straight horizontal and vertical lines much longer than a character (rulings, grids, frames).

    ``labels`` and ``parts``: the components of ``ink``, when known; a component shaped like a
    single large character is left whole (see :data:`GLYPH_ASPECT`).
    """
    length = int(max(2.5 * char_h, 25))
    known = parts if parts is not None and labels is not None else []
    keep = [
        p.labels[0]
        for p in known
        if max(p.w, p.h) >= length
        and 1 / GLYPH_ASPECT <= p.w / p.h <= GLYPH_ASPECT
        and p.area >= GLYPH_FILL * p.w * p.h
        and _glyph_like(ink[p.y0 : p.y1, p.x0 : p.x1], labels[p.y0 : p.y1, p.x0 : p.x1] == p.labels[0])
    ]
    out = ink  # the same array when there is nothing to erase, so callers can reuse its labels
    H, W = ink.shape
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1))
    for axis, limit in ((1, W), (0, H)):
        if length >= limit:
            continue
        # A one-row (one-column) opening treats each row on its own, and only rows holding at
        # least `length` ink pixels, or touching the image edge (the opening counts beyond the
        # edge as ink), can keep anything: open just those. Columns are opened as the rows of
        # the transposed mask (gathering whole rows is far quicker than gathering columns).
        edges = ink[:, [0, -1]] if axis == 1 else ink[[0, -1], :]
        at = np.flatnonzero((_ink_counts(ink, axis) >= length) | edges.any(axis=axis))
        if at.size == 0:
            continue
        rows = ink if axis == 1 else cv2.transpose(ink)
        lines = np.zeros_like(rows)
        lines[at] = cv2.morphologyEx(rows[at], cv2.MORPH_OPEN, kernel)
        if axis == 0:
            lines = cv2.transpose(lines)
        if keep:
            lines[np.isin(labels, keep)] = 0
        if cv2.countNonZero(lines):
            # Subtracting the widened lines (made 255) erases them: one pass, a new array.
            widened = cv2.dilate(cv2.compare(lines, 0, cv2.CMP_GT), np.ones((3, 3), np.uint8))
            out = cv2.subtract(out, widened)
    return out


#: A horizontal line at least this many image heights long is a ruling, an underline or a
#: display's edge, whatever the characters: no character of the image is that wide.
LONG_LINE = 1.5
#: ... found with this much tolerance (pixels up or down) for a wavy or slightly tilted line.
LINE_WOBBLE = 2
#: ... and no thicker than this share of the image height.
MAX_LINE_SHARE = 0.25


def remove_long_lines(
    ink: np.ndarray, page_height: int | None = None, fields: list[tuple[int, int, int, int]] | None = None
) -> np.ndarray:
    """Erase horizontal lines longer than :data:`LONG_LINE` image heights (a form's baseline,
    an underline touching the digits above it, a bright band along a display's edge).

    Unlike :func:`remove_rulings` this needs no character height, which such a line, joining
    all the characters into one mark, would spoil. Only the line's own rows are erased, column
    by column along its course, so that strokes touching or crossing it keep what lies off it.
    Returns ``ink`` itself when there is no such line. ``page_height``: the height of the page
    when ``ink`` is a part of it (lines are as long as the page's are). ``fields``, when given,
    receives the box ``(x0, y0, x1, y1)`` of each row of boxes whose sides were erased too.
    """
    H, W = ink.shape
    page_h = page_height or H
    length = int(LONG_LINE * page_h)
    if length >= W or length < 20 or _ink_counts(ink, 1).max() < length // 2:
        return ink
    gap = max(3, page_h // 20)  # a dashed or broken line is still one line
    near = cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_RECT, (gap, 2 * LINE_WOBBLE + 1)))
    band = cv2.morphologyEx(near, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1)))
    if not cv2.countNonZero(band):
        return ink
    out = ink.copy()
    found: list[tuple[int, int, float, float]] = []  # each line's columns, mean row and half thickness
    for x, y, w, h in cv2.connectedComponentsWithStats(band, connectivity=8)[2][1:, :4].tolist():
        y0, y1 = max(0, y - LINE_WOBBLE), min(H, y + h + LINE_WOBBLE)
        region = ink[y0:y1, x : x + w] > 0
        rows = np.arange(y0, y1)[:, None]
        filled = region.any(axis=0)
        if not filled.any():
            continue
        top = np.where(filled, np.where(region, rows, H).min(axis=0), 0)
        bot = np.where(filled, np.where(region, rows, -1).max(axis=0) + 1, 0)
        runs = bot - top
        thick = float(np.percentile(runs[filled], 25))  # most columns may hold a character too
        if thick > MAX_LINE_SHARE * page_h:
            continue  # a row of touching characters, not a line
        # The line's course from the columns where nothing else touches it.
        clean = filled & (runs <= thick + max(2.0, 0.2 * thick))
        if clean.sum() < 2:
            continue
        xs = np.flatnonzero(clean)
        centre = np.interp(np.arange(w), xs, ((top + bot) / 2.0)[clean])
        half = thick / 2.0 + 0.5
        on_line = (rows >= np.floor(centre - half)) & (rows < np.ceil(centre + half)) & filled
        out[y0:y1, x : x + w][on_line] = 0
        found.append((x, x + w, float(centre.mean()), half))
    return _remove_box_sides(out, found, fields)


#: A band of ink along the top or bottom edge of the image is the frame or panel edge of a
#: cropped display, or a meter's window, not part of a character (no character spans a whole
#: crop): in at least BAND_COVER of the columns a run of ink starts within EDGE_SLACK of the
#: height from the edge (gaps of up to BAND_GAP of the shorter side within a row count as ink: a
#: speckled edge), and the band is at most BAND_THICK of the height thick.
EDGE_SLACK = 0.08
BAND_COVER = 0.9
BAND_GAP = 0.04
BAND_THICK = 0.3
#: The band's thickness is that of its thinner columns (this percentile of the runs' lengths:
#: a character touching the band makes the runs of most columns longer). Each column's run goes
#: with the band up to BAND_FRINGE times that (its ragged inner edge); a longer run is a
#: character's stroke touching the band, cut at the band.
BAND_LOW = 5
BAND_FRINGE = 1.5


def remove_edge_bands(ink: np.ndarray) -> np.ndarray:
    """Erase the bands of ink along the image's top and bottom edges (see :data:`BAND_COVER`).
    Returns ``ink`` itself when there is none."""
    H, W = ink.shape
    slack = int(EDGE_SLACK * H) + 1
    if H < 16 or W < 8:
        return ink
    gap = np.ones((1, int(BAND_GAP * min(H, W)) | 1), np.uint8)
    out = ink
    for top in (True, False):
        edge = ink[:slack] if top else ink[H - slack :]
        # A quick look first: the rows near the edge must hold a nearly full row of ink.
        if _ink_counts(edge, 1).max() < 0.5 * BAND_COVER * W:
            continue
        reach = min(H // 2, slack + int(BAND_FRINGE * BAND_THICK * H) + 1)
        zone = (ink[:reach] if top else ink[H - reach :][::-1]) > 0  # the edge's row first
        filled = cv2.dilate(zone.view(np.uint8), gap) > 0
        # Where each column's first run of (gap-filled) ink starts and ends.
        first = np.where(filled.any(axis=0), filled.argmax(axis=0), reach)
        starts = first < slack
        if starts.mean() < BAND_COVER:
            continue
        rows = np.arange(reach)[:, None]
        after = (rows >= first[None, :]) & ~filled
        end = np.where(after.any(axis=0), after.argmax(axis=0), reach)  # the run's end (exclusive)
        thick = float(np.percentile(end[starts], BAND_LOW))
        if thick > BAND_THICK * H:
            continue
        cut = np.where(end <= BAND_FRINGE * thick, end, int(round(thick)))
        cut[~starts] = 0
        mask = rows < cut[None, :]
        out = out.copy() if out is ink else out
        if top:
            out[:reach][mask] = 0
        else:
            out[H - reach :][mask[::-1]] = 0
    return out


#: Between two long lines an upright stroke that reaches from one to the other (within this many
#: pixels) is the side of a box (a comb field of a form, a table's cell), not a 1 written in it.
BOX_REACH = 2
#: ... and the sides of a row of boxes are evenly spaced: their steps vary by at most this share.
BOX_EVEN = 0.2
#: ... and boxes at most this many times as wide as high hold a character each (a comb field:
#: its digits are one number); wider ones are a table's cells, each holding its own number.
COMB_CELL = 1.6


def _remove_box_sides(
    ink: np.ndarray,
    lines: list[tuple[int, int, float, float]],
    fields: list[tuple[int, int, int, int]] | None = None,
) -> np.ndarray:
    """Erase the upright sides of the boxes that two long lines (erased already) bounded: the
    cells of a comb field ("|9|0|2|1|0|") or a table row. Handwriting crossing the lines of ruled
    paper does not reach from one line to the next. ``fields`` receives each such row's box."""
    lines = sorted(lines, key=lambda v: v[2])
    for (a0, a1, top, ta), (b0, b1, bottom, tb) in zip(lines[:-1], lines[1:]):
        x0, x1 = max(a0, b0), min(a1, b1)
        y0, y1 = int(np.ceil(top + ta)), int(np.floor(bottom - tb))  # the rows left between them
        if x1 - x0 < y1 - y0 or y1 - y0 < 12:
            continue
        region = ink[y0:y1, x0:x1]
        upright = cv2.getStructuringElement(cv2.MORPH_RECT, (1, y1 - y0 - 2 * BOX_REACH))
        sides = cv2.morphologyEx(region, cv2.MORPH_OPEN, upright)
        # A row of boxes has three sides or more, evenly spaced (strokes of handwriting that
        # cross ruled paper's lines are neither).
        xs = cv2.connectedComponentsWithStats(sides, connectivity=8)[3][1:, 0]
        steps = np.diff(np.sort(xs))
        if len(xs) >= 3 and steps.std() <= BOX_EVEN * steps.mean():
            region[cv2.dilate(sides, np.ones((3, 3), np.uint8)) > 0] = 0
            if fields is not None and steps.mean() <= COMB_CELL * (y1 - y0):  # a box a character
                fields.append((x0, y0, x1, y1))
    return ink


def _ink_counts(mask: np.ndarray, axis: int) -> np.ndarray:
    """``np.count_nonzero(mask, axis=axis)`` of an 8-bit mask, several times faster."""
    ones = cv2.min(mask, 1)  # nonzero -> 1
    return cv2.reduce(ones, axis, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()


def _mergeable(p: _Part, q: _Part, char_h: float) -> bool:
    overlap = min(p.x1, q.x1) - max(p.x0, q.x0)
    gap = max(p.y0, q.y0) - min(p.y1, q.y1)
    merged_h = max(p.y1, q.y1) - min(p.y0, q.y0)
    merged_w = max(p.x1, q.x1) - min(p.x0, q.x0)
    return (
        overlap >= 0.5 * min(p.w, q.w)
        and gap <= 0.35 * char_h
        and merged_h <= 1.3 * char_h
        and merged_w <= 1.2 * char_h
    )


def _merge_parts(parts: list[_Part], char_h: float) -> list[_Part]:
    """Join the pieces of one character: seven-segment segments, a detached bar, broken strokes.

    A sweep from left to right: a part is compared only with the parts it overlaps
    horizontally, so a page of noise costs little more than a page of digits.
    """
    changed = True
    while changed:
        changed = False
        out: list[_Part] = []
        active: list[_Part] = []
        for p in sorted(parts, key=lambda p: p.x0):
            active = [q for q in active if q.x1 > p.x0]
            for q in active:
                if _mergeable(p, q, char_h):
                    q.x0, q.y0 = min(p.x0, q.x0), min(p.y0, q.y0)
                    q.x1, q.y1 = max(p.x1, q.x1), max(p.y1, q.y1)
                    q.labels += p.labels
                    q.area += p.area
                    q.marks += p.marks
                    changed = True
                    break
            else:
                out.append(p)
                active.append(p)
        parts = out
    return sorted(parts, key=lambda p: p.x0)


#: Text lines tilted more than this (dy/dx: about 3 degrees) are grouped along their tilt.
SKEW_MIN = 0.05


def _group_lines(parts: list[_Part]) -> list[list[_Part]]:
    """Cluster characters into text lines by vertical overlap, top to bottom; on a tilted page
    (a photo taken askew) the overlap is judged along the lines' tilt."""
    lines = _bands(parts, 0.0)
    slope = _tilt(lines)
    return _bands(parts, slope) if abs(slope) >= SKEW_MIN else lines


def _tilt(lines: list[list[_Part]]) -> float:
    """The tilt (dy/dx) of the text lines: the median of the slopes of the lines of three
    characters or more (their middles fitted by least squares)."""
    slopes = []
    for line in lines:
        if len(line) >= 3:
            xs = [(p.x0 + p.x1) / 2 for p in line]
            ys = [(p.y0 + p.y1) / 2 for p in line]
            mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
            sxx = sum((x - mx) ** 2 for x in xs)
            if sxx > 0:
                slopes.append(sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx)
    return _median(sorted(slopes)) if slopes else 0.0


def _bands(parts: list[_Part], slope: float) -> list[list[_Part]]:
    """Cluster characters into lines by vertical overlap, measured in rows tilted by ``slope``."""
    lines: list[list[_Part]] = []
    bands: list[tuple[float, float]] = []  # running mean top and bottom of each line
    for p in sorted(parts, key=lambda p: (p.y0 + p.y1) / 2 - slope * (p.x0 + p.x1) / 2):
        shift = slope * (p.x0 + p.x1) / 2
        y0, y1 = p.y0 - shift, p.y1 - shift
        best, best_ov = -1, 0.0
        for k, (ly0, ly1) in enumerate(bands):
            ov = (min(y1, ly1) - max(y0, ly0)) / max(1.0, min(p.h, ly1 - ly0))
            if ov > best_ov:
                best, best_ov = k, ov
        if best >= 0 and best_ov >= 0.5:
            line = lines[best]
            n = len(line)
            ly0, ly1 = bands[best]
            bands[best] = ((ly0 * n + y0) / (n + 1), (ly1 * n + y1) / (n + 1))
            line.append(p)
        else:
            lines.append([p])
            bands.append((y0, y1))
    for line in lines:
        line.sort(key=lambda p: p.x0)
    order = sorted(range(len(lines)), key=lambda k: bands[k][0] + bands[k][1])
    return [lines[k] for k in order]


#: Cost of a cut path for each ink pixel it crosses, against 1 for each row it descends.
CUT_INK_COST = 8.0
#: Extra cost of a cut path per column it strays from the equal division, per row.
CUT_DRIFT_COST = 0.05


def _cut_paths(ink: np.ndarray, bands: list[tuple[int, int, int]]) -> np.ndarray:
    """Top-to-bottom cuts through a box of ink (0/1), one per band ``(lo, hi, centre)``: in
    each, the path within columns ``lo:hi`` that crosses the least ink, moving at most one
    column a row and straying little from ``centre``, so that it can follow the slanted gap
    between touching handwritten digits. Returns the cut's column in each row, one column of
    the result per band. All bands are solved in one pass over the rows."""
    h, w = ink.shape
    cols: list[int] = []
    centres: list[int] = []
    for lo, hi, centre in bands:
        cols += [*range(lo, hi), -1]  # -1: a wall between bands
        centres += [centre] * (hi - lo) + [0]
    at = np.array(cols, np.int64)
    wall = at < 0
    cost = np.take(ink, np.where(wall, 0, at), axis=1).astype(np.float32)  # in place from here:
    cost *= CUT_INK_COST  # a large blob's arrays are megabytes each
    cost += 1.0
    cost += CUT_DRIFT_COST * np.abs(at - np.array(centres, np.int64))
    cost[:, wall] = np.inf
    n = at.size
    accs = np.empty((h, n + 2), np.float32)  # the running cost of each row, walled in on both sides
    accs[:, 0] = accs[:, -1] = np.inf
    accs[0, 1:-1] = cost[0]
    cheapest = np.empty(n, np.float32)
    for r in range(1, h):  # only the minimums in the loop: the steps are found for all rows at once
        above = accs[r - 1]
        np.minimum(above[:-2], above[1:-1], out=cheapest)
        np.minimum(cheapest, above[2:], out=cheapest)
        np.add(cost[r], cheapest, out=accs[r, 1:-1])
    # The step to the cheapest of the three cells above; on a tie the leftmost, as argmin would.
    left, mid, right = accs[:-1, :-2], accs[:-1, 1:-1], accs[:-1, 2:]
    step = np.zeros((h, n), np.int8)
    # In 8 bits throughout: np.where's 64-bit steps took 20 MB on a large blob.
    step[1:] = mid > right  # 1: to the right, else straight up; then -1 where the left is cheapest
    step[1:][left <= np.minimum(mid, right)] = -1
    acc = accs[-1, 1:-1]
    starts = np.flatnonzero(np.r_[True, wall[:-1]])
    ends = np.flatnonzero(wall)
    j = np.array([s0 + int(np.argmin(acc[s0:e0])) for s0, e0 in zip(starts, ends)])
    paths = np.empty((h, len(bands)), np.int64)
    for r in range(h - 1, -1, -1):
        paths[r] = at[j]
        j = j + step[r, j]
    return paths


#: A candidate at least this many line heights wide may be digits touching each other.
CUT_WIDE = 0.9
#: Cut paths through a wide candidate are looked for in bands this share of the line height
#: apart, side by side across it: finer than the narrowest digit (a 1) is wide.
CUT_STEP = 0.125
#: ... each path straying at most this share of the line height from its band's middle (a slanted gap).
CUT_REACH = 0.3
#: Paths closer than this share of the line height on average are one.
CUT_SAME = 0.04
#: A piece between two cuts is at most this many line heights wide (no digit is wider).
PIECE_WIDE = 1.3
#: A piece whose ink is under this share of the line height high may be a separator.
SEPARATOR_HIGH = 0.45


def cut_paths(ink: np.ndarray, line_h: float, straight: bool = False) -> list[np.ndarray]:
    """The places where a wide box of ink (0/1) may be cut into digits, left to right: each as
    the column of the cut in each row, its left and right edges first and last.

    Bands :data:`CUT_STEP` line heights apart across the box each give the path from top to
    bottom that crosses the least ink near their middle, moving at most a column a row
    (:func:`_cut_paths`: it follows the slanted gap between touching handwritten digits), or
    going ``straight`` down (upright display cells); paths that neighbouring bands share are
    one."""
    h, w = ink.shape
    step = max(2, int(round(CUT_STEP * line_h)))
    reach = max(2, int(round(CUT_REACH * line_h)))
    bands = [(max(1, c - reach), min(w - 1, c + reach + 1), c) for c in range(step, w - step // 2, step)]
    bands = [b for b in bands if b[1] > b[0]]
    edges = [np.zeros(h, np.int64), np.full(h, w, np.int64)]
    if not bands:
        return edges
    if straight:
        profile = ink.sum(axis=0)
        emptiest = [lo + int(np.argmin(profile[lo:hi])) for lo, hi, _ in bands]
        paths = np.stack([np.full(h, c, np.int64) for c in emptiest], 1)
    else:
        paths = _cut_paths(ink, bands)
    crossed = ink[np.arange(h)[:, None], paths].sum(axis=0)
    keep: list[int] = []
    for k in np.argsort(paths.mean(axis=0), kind="stable").tolist():
        if keep and np.abs(paths[:, k] - paths[:, keep[-1]]).mean() < CUT_SAME * line_h:
            if crossed[k] < crossed[keep[-1]]:
                keep[-1] = k  # of two such paths the one crossing less ink
            continue
        keep.append(k)
    # Paths of neighbouring bands may cross: each is kept right of the one before it, so that
    # the pieces between neighbouring cuts do not overlap.
    ordered = [edges[0], *np.maximum.accumulate(paths[:, keep], axis=1).T, edges[1]]
    # A cut with no ink between it and the one before it cuts the ink as that one does.
    cols = np.arange(w)[None, :]
    out = [edges[0]]
    for b in ordered[1:]:
        if (ink & (cols >= out[-1][:, None]) & (cols < b[:, None])).any():
            out.append(b)
        elif b is ordered[-1]:
            out[-1] = b
    return out


def cut_lattice(
    ink: np.ndarray, line_h: float, straight: bool = False
) -> tuple[int, list[tuple[int, int, int, np.ndarray]]]:
    """Over-segment a wide box of ink (0/1) for the reader to choose its digits: the pieces
    between any two of its :func:`cut_paths` that are no wider than a digit (:data:`PIECE_WIDE`),
    but the whole. Returns the number of the right edge's cut (the left edge is cut 0) and each
    piece as its two cuts, the first column it reaches and its mask (0/1, box-high) from there
    to its last column."""
    cuts = cut_paths(ink, line_h, straight)
    cols = np.arange(ink.shape[1])
    widest = PIECE_WIDE * line_h
    out = []
    for i in range(len(cuts) - 1):
        a = cuts[i]
        lo = int(a.min())
        for j in range(i + 1, len(cuts)):
            b = cuts[j]
            hi = int(b.max())  # no ink of the piece outside columns lo:hi
            at = cols[None, lo:hi]
            mask = ink[:, lo:hi] & ((at >= a[:, None]) & (at < b[:, None]))
            used = np.flatnonzero(mask.any(axis=0))
            if used.size and used[-1] - used[0] + 1 > widest:
                break
            if used.size and not (i == 0 and j == len(cuts) - 1):
                out.append((i, j, lo, mask))
    return len(cuts) - 1, out


def cut_candidate(c: Candidate) -> None:
    """Make the pieces of a wide candidate (``c.to_cut``, see :func:`cut_lattice`), once: each
    marked whether it is shaped like a digit of its line and whether it may be left out."""
    if c.to_cut is None:
        return
    sub, x0, y0, line_h, straight = c.to_cut
    c.to_cut = None
    c.ends, lattice = cut_lattice(sub, line_h, straight=straight)
    for i, j, lo, m in lattice:
        q = _masked_piece(m, x0 + lo, y0)
        if q is not None:
            q.cell = c.cell
            shaped = _digit_shaped(q, line_h)
            c.pieces.append(Piece(i, j, q, shaped, not shaped or q.h < SEPARATOR_HIGH * line_h))


#: A piece narrower than this share of its height is a bar: a digit (a 1) only when about as
#: tall as its line's characters (a sliver of a cut, a comma or a slash is not).
BAR_NARROW = 0.3
#: ... a piece under this share of the line height is no digit either (a dot, a dash, a sliver).
PIECE_LOW = 0.35


def _digit_shaped(q: Candidate, line_h: float) -> bool:
    """Whether a piece of a wide candidate could be a digit of its line by its size and shape."""
    if q.h < PIECE_LOW * line_h:
        return False
    return q.w >= BAR_NARROW * q.h or 0.8 * line_h <= q.h <= 1.25 * line_h


def _group_parts(
    clean: np.ndarray, kw: int, kh: int, comp_labels: np.ndarray, comps: list[_Part]
) -> tuple[np.ndarray, list[_Part]]:
    """Components after joining pieces closer than ``kw`` across and ``kh`` down.

    The mask is smeared by a ``kw`` x ``kh`` rectangle before labelling; the labels are
    then put back on the unsmeared ink. ``comp_labels`` and ``comps`` are the components of
    ``clean``: each lies within one smeared component, so a group's box and ink count are
    those of its components together (no pass over the pixels of each group).
    """
    if not comps:  # no ink
        return np.zeros(clean.shape, np.uint16), []
    H, W = clean.shape
    # Only the box that the smeared ink can reach is smeared and labelled, its corner on even
    # coordinates: the labels are those of the whole page (see _ink_window), in half the time.
    # The ink's box is that of the components.
    left, top = max(0, min(p.x0 for p in comps) - kw), max(0, min(p.y0 for p in comps) - kh)
    right, bottom = min(W, max(p.x1 for p in comps) + kw), min(H, max(p.y1 for p in comps) + kh)
    left, top = left - left % 2, top - top % 2
    inside = clean[top:bottom, left:right]
    smear = cv2.dilate(inside, cv2.getStructuringElement(cv2.MORPH_RECT, (max(1, kw), max(1, kh))))
    glabels = _labels_in(smear)
    labels = np.zeros(clean.shape, glabels.dtype)
    # The masked AND writes the labels of the ink into the box of `labels` in place (a
    # destination of the right size and type is not reallocated) and leaves the rest 0.
    cv2.bitwise_and(glabels, glabels, dst=labels[top:bottom, left:right], mask=inside)
    # Any pixel of a component names its group: read them in the top row of each component's
    # box, which holds some (a few pixels a component instead of a pass over the page).
    firsts = np.array([(p.x0, p.y0, p.x1 - p.x0, p.labels[0]) for p in comps], np.int64)
    widths = firsts[:, 2]
    xs = np.arange(int(widths.sum())) + np.repeat(firsts[:, 0] - (np.cumsum(widths) - widths), widths)
    ys, ids = np.repeat(firsts[:, 1], widths), np.repeat(firsts[:, 3], widths)
    on = comp_labels[ys, xs] == ids
    g = np.zeros(len(comps), np.int64)
    g[np.repeat(np.arange(len(comps)), widths)[on]] = glabels[ys[on] - top, xs[on] - left]
    box = np.array([(p.x0, p.y0, p.x1, p.y1, p.area) for p in comps], np.int64)
    order = np.argsort(g, kind="stable")
    g, box = g[order], box[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    x0 = np.minimum.reduceat(box[:, 0], starts)
    y0 = np.minimum.reduceat(box[:, 1], starts)
    x1 = np.maximum.reduceat(box[:, 2], starts)
    y1 = np.maximum.reduceat(box[:, 3], starts)
    area = np.add.reduceat(box[:, 4], starts)
    marks = np.diff(np.r_[starts, len(g)])
    columns = (g[starts], x0, y0, x1, y1, area, marks)
    rows = zip(*(v.tolist() for v in columns))
    return labels, [_Part(a, b, c, d, [k], n, m) for k, a, b, c, d, n, m in rows]


def _parts_of(labels: np.ndarray) -> list[_Part]:
    """One part per label of a label image (0 = background), with its box and pixel count."""
    ys, xs = np.nonzero(labels)
    if ys.size == 0:
        return []
    lab = labels[ys, xs]
    order = np.argsort(lab, kind="stable")
    lab, ys, xs = lab[order], ys[order], xs[order]
    bounds = np.flatnonzero(np.diff(lab)) + 1
    return [
        _Part(int(sx.min()), int(sy.min()), int(sx.max()) + 1, int(sy.max()) + 1, [int(sl[0])], int(sy.size))
        for sy, sx, sl in zip(np.split(ys, bounds), np.split(xs, bounds), np.split(lab, bounds))
    ]


def _bar_shape(labels: np.ndarray, p: _Part, min_area: int) -> tuple[bool, float]:
    """Whether a component is a seven-segment bar (a filled, elongated, possibly slanted
    rectangle, judged by its second moments), and for an upright-ish bar its slant (dx/dy)."""
    if p.area < min_area:
        return False, 0.0
    m = cv2.moments((labels[p.y0 : p.y1, p.x0 : p.x1] == p.labels[0]).view(np.uint8), binaryImage=True)
    a, b, c = m["mu20"] / m["m00"], m["mu11"] / m["m00"], m["mu02"] / m["m00"]
    root = math.sqrt(max(0.0, (a - c) ** 2 / 4 + b * b))
    l1, l2 = (a + c) / 2 + root, (a + c) / 2 - root
    if l2 <= 0.05:
        return False, 0.0
    length, width = math.sqrt(12 * l1), math.sqrt(12 * l2)
    is_bar = length >= 2.2 * width and p.area >= 0.6 * length * width
    upright = c > a
    return is_bar, (b / c if upright and c > 0 else 0.0)


def _shear(mask: np.ndarray, slant: float, inverse: bool = False) -> np.ndarray:
    """Shear a mask (or label image) so that strokes slanted by ``slant`` (dx/dy) stand upright."""
    h, w = mask.shape
    k = -slant if not inverse else slant
    mat = np.float32([[1, k, -k * h / 2], [0, 1, 0]])
    return cv2.warpAffine(mask, mat, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)


def _mask(box: np.ndarray, p: _Part) -> np.ndarray:
    """The pixels of part ``p`` (bool) in ``box``, its box of the page's labels."""
    if len(p.labels) == 1:
        return box == p.labels[0]
    return (box[..., None] == np.array(p.labels)).any(axis=2)


#: A mark that touches the image's top or bottom edge (within EDGE_SLACK of the height) and is
#: less than CUT_SHORT of a character high is the part of a character or of a frame that the crop
#: cut off (a meter wheel's neighbour digits, a display's frame): too little of it shows to read.
CUT_SHORT = 0.4
#: A mark that touches the image's left or right edge and is thinner on average (its ink over its
#: height) than SLIVER of the largest mark's strokes, or less than SLIVER_SHORT of a character
#: high, is a neighbouring character cut by the crop.
SLIVER = 0.6
SLIVER_SHORT = 0.8


def _cut_off(parts: list[_Part], labels: np.ndarray, char_h: float) -> list[_Part]:
    """The marks of ``parts`` that the image's edges cut off (see :data:`CUT_SHORT`, :data:`SLIVER`)."""
    if len(parts) < 2:
        return []
    H, W = labels.shape
    dy, dx = EDGE_SLACK * H, EDGE_SLACK * min(H, W)
    out = [p for p in parts if (p.y0 <= dy or p.y1 >= H - dy) and p.h < CUT_SHORT * char_h]
    side = [p for p in parts if (p.x0 <= dx or p.x1 >= W - dx) and not _among_parts(p, out)]
    if side:
        main = max(parts, key=lambda p: p.area)
        stroke = _stroke_width(main, labels)
        out += [
            p
            for p in side
            if p is not main and (p.area < SLIVER * stroke * p.h or p.h < SLIVER_SHORT * char_h)
        ]
    return out


def _among_parts(p: _Part, others: list[_Part]) -> bool:
    """Whether ``p`` is one of ``others`` (by identity)."""
    return any(p is q for q in others)


def _without_frames(parts: list[_Part], labels: np.ndarray) -> list[_Part]:
    """A line's marks without those much taller than its characters and drawn in far thinner
    strokes: the sides of a frame around the number, not digits (``labels``: the page's marks)."""
    if len(parts) < 3:
        return parts
    mid_h = _median(sorted(p.h for p in parts))
    if all(p.h <= FRAME_TALL * mid_h for p in parts):
        return parts
    widths = [_stroke_width(p, labels) for p in parts]
    stroke = float(np.median(widths))
    return [p for p, w in zip(parts, widths) if not (p.h > FRAME_TALL * mid_h and w < FRAME_THIN * stroke)]


def _stroke_width(p: _Part, labels: np.ndarray) -> float:
    """A mark's typical stroke width: twice its ink over its outline's pixels (those with a
    non-ink neighbour), whatever its shape (a stroke of width s and length L has s L pixels
    and about 2 L on its outline)."""
    mask = _mask(labels[p.y0 : p.y1, p.x0 : p.x1], p).view(np.uint8)
    area = cv2.countNonZero(mask)
    inner = cv2.countNonZero(cv2.erode(mask, _CROSS, borderType=cv2.BORDER_CONSTANT, borderValue=0))
    return 2.0 * area / max(1, area - inner)


_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def _strays(items: list[Candidate], line_h: float) -> list[Candidate]:
    """A line's candidates (left to right) without the strokes far out beside them that are
    shorter than its characters (see :data:`STRAY_GAP`)."""
    if len(items) < 4:
        return items
    out = []
    for i, c in enumerate(items):
        if c.w <= STRAY_WIDTH * c.h and c.h < STRAY_HEIGHT * line_h:
            left = c.x - (items[i - 1].x + items[i - 1].w) if i > 0 else math.inf
            right = items[i + 1].x - (c.x + c.w) if i + 1 < len(items) else math.inf
            if min(left, right) > STRAY_GAP * line_h:
                continue
        out.append(c)
    return out


#: Drop lines drawn across (:func:`_bar`).
REMOVE_BARS = True
#: Erase the boxes drawn around numbers (:func:`remove_frames`).
REMOVE_FRAMES = True
#: A frame is a mark at least FRAME_SIDE pixels tall, and at least FRAME_WIDE of that wide (wider
#: than most single characters), whose ink covers at most FRAME_HOLLOW of its box,
FRAME_SIDE = 2 * MIN_CHAR_PX
FRAME_WIDE = 0.8
FRAME_HOLLOW = 0.6
#: ... whose outer edge is a quadrilateral (to within FRAME_ROUND of its perimeter: a 0 is rounder),
FRAME_ROUND = 0.03
#: ... drawn in a stroke at most FRAME_STROKE of its shorter side thick (the typical run of ink
#: inwards from its outer edge: digits touching it do not count),
FRAME_STROKE = 0.25
#: ... and holding marks (not its own sides) at least FRAME_HOLDS times as tall as its stroke is
#: thick, and MIN_CHAR_PX: the characters it was drawn around (an empty box, a seven-segment 0,
#: the middle bar of an 8 are not).
FRAME_HOLDS = 3.0


def remove_frames(ink: np.ndarray, labels: np.ndarray, parts: list[_Part]) -> np.ndarray:
    """Erase the boxes drawn around characters: the sides of each mark shaped as a quadrilateral
    outline around other marks (see :data:`FRAME_SIDE`), and nothing else of it (the digits
    that touch their box keep all but the pixels on its sides). ``labels``, ``parts``: the marks
    of ``ink``. Returns ``ink`` itself when it holds no frame."""
    out = ink
    for p in parts:
        if p.h < FRAME_SIDE or p.w < FRAME_WIDE * p.h or p.area > FRAME_HOLLOW * p.w * p.h:
            continue
        sides = _frame_sides(ink[p.y0 : p.y1, p.x0 : p.x1], labels[p.y0 : p.y1, p.x0 : p.x1] == p.labels[0])
        if sides is not None:
            out = out.copy() if out is ink else out
            out[p.y0 : p.y1, p.x0 : p.x1][sides] = 0
    return out


def _frame_sides(ink: np.ndarray, mark: np.ndarray) -> np.ndarray | None:
    """The pixels (bool, in the mark's box) of the sides of a frame, when ``mark`` (bool) is one
    (see :func:`remove_frames`; ``ink``: all the ink in its box), else None."""
    m = mark.view(np.uint8)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    outline = max(contours, key=cv2.contourArea)
    quad = cv2.approxPolyDP(outline, FRAME_ROUND * cv2.arcLength(outline, True), True)
    if len(quad) != 4 or not cv2.isContourConvex(quad):
        return None
    (_, _), (qw, qh), _ = cv2.minAreaRect(quad)
    short = min(qw, qh)
    stroke = _inward_run(mark, quad, int(FRAME_STROKE * short) + 2)
    if stroke is None or stroke > FRAME_STROKE * short:
        return None  # the mark is solid near its edge: no outline
    inside = np.zeros_like(m)
    cv2.drawContours(inside, [outline], -1, 1, -1)
    # How far each pixel lies inside the outer edge.
    padded = cv2.copyMakeBorder(inside, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    depth = cv2.distanceTransform(padded, cv2.DIST_L2, 3)[1:-1, 1:-1]
    sides = mark & (depth <= stroke + 1.5)
    within = (ink > 0) & ~sides & (depth > stroke + 1.5)
    if not within.any():
        return None
    _n, _lab, stats, _ = cv2.connectedComponentsWithStats(within.view(np.uint8), connectivity=8)
    if not (stats[1:, cv2.CC_STAT_HEIGHT] >= max(MIN_CHAR_PX, FRAME_HOLDS * stroke)).any():
        return None
    return sides


def _inward_run(mark: np.ndarray, quad: np.ndarray, reach: int) -> float | None:
    """The typical (median) run of ``mark`` inwards from the sides of the quadrilateral ``quad``
    around it, along their normals, at every pixel of its sides (None when a run is never met
    within ``reach`` pixels)."""
    h, w = mark.shape
    a = quad.reshape(-1, 2).astype(np.float64)
    b = np.roll(a, -1, axis=0)
    lengths = np.hypot(*(b - a).T)
    inward = np.stack([a[:, 1] - b[:, 1], b[:, 0] - a[:, 0]], axis=1) / np.maximum(lengths, 1)[:, None]
    flip = np.einsum("ij,ij->i", inward, a.mean(axis=0) - (a + b) / 2) < 0
    inward[flip] *= -1
    counts = np.maximum(lengths.astype(np.int64), 1)
    edge = np.repeat(np.arange(len(a)), counts)
    t = (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)) / np.repeat(counts, counts)
    on = a[edge] + t[:, None] * (b - a)[edge]
    steps = np.arange(-2, reach + 1, dtype=np.float64)
    pts = np.rint(on[:, None, :] + steps[None, :, None] * inward[edge][:, None, :]).astype(np.int64)
    xs, ys = np.clip(pts[..., 0], 0, w - 1), np.clip(pts[..., 1], 0, h - 1)
    hit = mark[ys, xs]
    first = hit.argmax(axis=1)
    met = hit.any(axis=1)
    after = np.where(np.arange(len(steps))[None, :] > first[:, None], ~hit, False)
    end = np.where(after.any(axis=1), after.argmax(axis=1), len(steps))
    runs = (end - first)[met]
    return float(np.median(runs)) if runs.size else None


def segment(
    ink: np.ndarray, heights: list[float] | None = None, page_height: int | None = None
) -> list[SegmentLine]:
    """Find the digit candidates of an ink mask (255 = ink), as text lines in reading order.

    ``heights``, when given, receives each estimate of the character height made on the way
    (of the marks as found, after joining pieces, after dropping specks): the reader checks
    them on a reduced page. ``page_height``: the height of the page when ``ink`` is a part of it.
    """
    H, W = ink.shape
    fields: list[tuple[int, int, int, int]] = []  # rows of boxes: one number, a digit a box
    lined = remove_long_lines(ink, page_height, fields)
    explain.note_removed(ink, lined, "ruling")
    ink = remove_edge_bands(lined)
    explain.note_removed(lined, ink, "edge")
    ink_labels, parts = _components(ink)
    if not parts:
        return []
    if REMOVE_FRAMES:
        framed = remove_frames(ink, ink_labels, parts)
        if framed is not ink:
            explain.note_removed(ink, framed, "frame")
            ink = framed
            ink_labels, parts = _components(ink)
            if not parts:
                return []
    heights = heights if heights is not None else []
    char_h = typical_height(parts, (H, W))
    heights.append(char_h)
    bars = [p.labels[0] for p in parts if _bar(p, char_h)] if REMOVE_BARS else []
    under = []
    for p in parts:
        if REMOVE_BARS and p.w >= BAR_LONG * char_h and p.labels[0] not in bars:
            u = _underline(ink_labels[p.y0 : p.y1, p.x0 : p.x1] == p.labels[0], char_h)
            if u is not None:
                under.append((p, u))
    if bars or under:  # lines drawn across, before rulings are cut out of them (leaving their ends)
        before, ink = ink, ink.copy()
        if bars:
            ink[np.isin(ink_labels, bars)] = 0
        for p, u in under:
            ink[p.y0 : p.y1, p.x0 : p.x1][u] = 0
        explain.note_removed(before, ink, "ruling")
        ink_labels, parts = _components(ink)
        if not parts:
            return []
    clean = remove_rulings(ink, char_h, ink_labels, parts)
    explain.note_removed(ink, clean, "ruling")
    min_area = max(4, int(0.002 * char_h * char_h))
    # Join pieces stacked close above each other (a detached top bar, broken strokes) by
    # a third of a character height; not characters of different lines or side by side.
    # Seven-segment displays are made of separate bars: join those across small gaps too.
    comp_labels, parts = (ink_labels, parts) if clean is ink else _components(clean)
    # Left out before grouping, which would join them to the characters near them: frames and
    # long lines; specks (they would stretch a character's box); what the image's edges cut off.
    drop = [p.area < min_area or _outline(p, char_h) for p in parts]
    cut = _cut_off([p for p, d in zip(parts, drop) if not d], comp_labels, char_h)
    if cut:
        drop = [d or _among_parts(p, cut) for p, d in zip(parts, drop)]
    if explain.active():
        for p, d in zip(parts, drop):
            if d:
                reason = "speck" if p.area < min_area else "frame" if _outline(p, char_h) else "edge"
                _note(p, reason)
    if any(drop):
        gone = np.zeros(max(p.labels[0] for p in parts) + 1, bool)
        gone[[p.labels[0] for p, d in zip(parts, drop) if d]] = True
        clean = clean.copy() if clean is ink else clean
        clean[gone[comp_labels]] = 0  # the labels of the marks kept stay as they are
        parts = [p for p, d in zip(parts, drop) if not d]
    shapes = [_bar_shape(comp_labels, p, min_area) for p in parts]
    bars = [p for p, (is_bar, _) in zip(parts, shapes) if is_bar]
    solid = [p for p in parts if p.area >= min_area and not (p.h < 0.25 * char_h and p.w < 0.25 * char_h)]
    display = len(bars) >= 3 and len(bars) >= 0.5 * len(solid)
    if display:
        bar_len = _median(sorted(max(p.w, p.h) for p in bars))
        slants = [sl for (is_bar, sl), p in zip(shapes, parts) if is_bar and p.h > p.w]
        slant = float(np.median(slants)) if slants else 0.0
        kw, kh = int(round(0.3 * bar_len)), int(round(0.7 * bar_len))
        if abs(slant) > 0.05:  # italic display: join the bars where they stand upright
            upright = _shear(clean, slant)
            upright_labels, _ = _group_parts(upright, kw, kh, *_components(upright))
            upright_labels = upright_labels.astype(np.int32)  # sheared back as before
            labels = np.where(clean > 0, _shear(upright_labels, slant, inverse=True), 0).astype(np.int32)
            parts = _parts_of(labels)
        else:
            labels, parts = _group_parts(clean, kw, kh, comp_labels, parts)
    else:
        labels, parts = _group_parts(clean, 1, max(3, int(round(0.35 * char_h))), comp_labels, parts)
    # Drop specks, frames and borders: far smaller, taller or wider than a character.
    char_h = typical_height(parts, (H, W))
    heights.append(char_h)

    def speck(p: _Part) -> bool:
        return p.area < min_area or (p.h < 0.25 * char_h and p.w < 0.25 * char_h)

    kept_parts = [p for p in parts if not speck(p) and p.h <= 2.5 * char_h and p.w <= 8.0 * char_h]
    if len(kept_parts) < len(parts) and explain.active():
        for p in parts:
            if not _among_parts(p, kept_parts):
                _note(p, "speck" if speck(p) else "size")
    parts = kept_parts
    if not parts:
        return []
    if len(parts) > MAX_PARTS:  # a page of noise: keep the largest marks, bound the work
        parts = sorted(parts, key=lambda p: -p.area)[:MAX_PARTS]
    char_h = typical_height(parts, (H, W))
    heights.append(char_h)
    parts = _merge_parts(parts, char_h)
    result: list[SegmentLine] = []
    for line in _group_lines(parts):
        line_h = _median(sorted(p.h for p in line))
        tall = max(p.h for p in line)
        line_h = max(line_h, TALL_SHARE * tall)
        if line_h < 0.5 * char_h or line_h < MIN_CHAR_PX:
            _note_all(line, "size")
            continue  # a line of marks much smaller than the page's characters, or too small to read
        kept = [p for p in line if 0.5 * line_h <= p.h <= 2.0 * line_h]
        _note_all((p for p in line if not 0.5 * line_h <= p.h <= 2.0 * line_h), "size")
        if not kept:
            continue
        unframed = _without_frames(kept, labels)
        if len(unframed) < len(kept):
            _note_all((p for p in kept if not _among_parts(p, unframed)), "frame")
        kept = unframed
        items: list[Candidate] = []
        for p in kept:
            box = labels[p.y0 : p.y1, p.x0 : p.x1]
            sub = _mask(box, p)
            cand = _piece(sub, p.x0, p.y0, 0, p.w)
            # The share of ink: ink.mean() of the 0/1 ink, the same number without numpy's overhead.
            if cand is None or cand.h < 0.45 * line_h or cv2.countNonZero(cand.ink) / cand.ink.size < 0.08:
                _note_all([p], "size")
                continue
            # A bar shorter or taller than the digits is a stub of a ruling, not a "1"; alone on
            # its line, it must be as tall as the page's characters.
            alone = len(kept) == 1 and not SHORT_LINE[0] * char_h <= cand.h <= SHORT_LINE[1] * char_h
            if cand.w < 0.2 * cand.h and (alone or not 0.8 * line_h <= cand.h <= 1.25 * line_h):
                _note_all([p], "ruling")
                continue
            core = _core(box, p)
            if core is None and not display and p.marks > 1:
                core = _main_mark(sub, p.x0, p.y0)
            if core is not None and core.h >= 0.45 * line_h:
                cand.core = core
            if cand.w >= CUT_WIDE * line_h and not _solid(cand.ink):
                cand.to_cut = (sub, p.x0, p.y0, line_h, display)
            items.append(cand)
        if not items:
            continue
        joined = _join_halves(items, line_h)
        items = _strays(joined, line_h)
        if len(items) < len(joined):
            _note_cands((c for c in joined if not any(c is d for d in items)), "clutter")
        gaps = [b.x - (a.x + a.w) for a, b in zip(items[:-1], items[1:])]
        for a, c, gap in zip(items[:-1], items[1:], gaps):
            c.space_before = gap > 0.9 * line_h and not _same_field(a, c, fields)
        result.append(SegmentLine(items))
    if any(len(line.items) > 1 for line in result):
        # A mark alone on its line, on a page with lines of several characters, drawn in strokes
        # far thinner than a character's of its size, is a piece of a frame or of a line drawn
        # across the page (a "1", a "7", a "0").
        result = _lines_kept(result, [len(line.items) > 1 or not _hairline(line.items[0]) for line in result])
    if DROP_LEANING and len(result) > 1:
        # A line of nothing but straight strokes lying more than upright, beside other lines, is
        # clutter (stray lines, dashes); a line of text keeps its slanted 1s and its dashes.
        result = _lines_kept(result, [not all(_leaning_stroke(c.ink) for c in line.items) for line in result])
    text = [c.h for line in result if len(line.items) >= 3 for c in line.items]
    if text:
        # Beside lines of text, a line of one or two marks much taller or smaller than its
        # characters is clutter (the corner of a frame, a piece of a line), not a short number.
        h = _median(sorted(text))
        result = _lines_kept(
            result,
            [
                len(line.items) >= 3 or all(SHORT_LINE[0] * h <= c.h <= SHORT_LINE[1] * h for c in line.items)
                for line in result
            ],
        )
    return result


def _lines_kept(lines: list[SegmentLine], keep: list[bool]) -> list[SegmentLine]:
    """The lines to keep; the others' candidates noted as clutter (:mod:`digit_ocr.explain`)."""
    _note_cands((c for line, k in zip(lines, keep) if not k for c in line.items), "clutter")
    return [line for line, k in zip(lines, keep) if k]


def _note(p: _Part, reason: str) -> None:
    """Note a mark dropped (:func:`digit_ocr.explain.note`)."""
    explain.note((p.x0, p.y0, p.w, p.h), reason)


def _note_all(parts: Iterable[_Part], reason: str) -> None:
    """Note each of ``parts`` (a generator: made only when drops are recorded)."""
    if explain.active():
        for p in parts:
            _note(p, reason)


def _note_cands(cands: Iterable[Candidate], reason: str) -> None:
    """Note each of ``cands`` (a generator: made only when drops are recorded)."""
    if explain.active():
        for c in cands:
            explain.note(c.box, reason)


def _same_field(a: Candidate, b: Candidate, fields: list[tuple[int, int, int, int]]) -> bool:
    """Whether two characters are in the boxes of one comb field (the gap between them is a
    box's side, not a space between two numbers)."""
    return any(
        x0 <= a.x and b.x + b.w <= x1 and y0 <= min(a.y, b.y) and max(a.y + a.h, b.y + b.h) <= y1
        for x0, y0, x1, y1 in fields
    )


def _hairline(c: Candidate) -> bool:
    """Whether a candidate's strokes are far thinner than a character's of its height."""
    return _thin(int(np.count_nonzero(c.ink)), c.w, c.h)


def _solid(ink: np.ndarray) -> bool:
    """Whether a mark (0/1) fills nearly all of its convex hull, as no digit nor pair of digits does."""
    count = cv2.countNonZero(ink)
    if count < 3:
        return False
    hull = cv2.convexHull(_row_ends(ink))
    # Pixels on the hull's outline count half inside it: add half its length to compare areas.
    area = cv2.contourArea(hull) + 0.5 * cv2.arcLength(hull, True)
    return count >= SOLID * area


def _row_ends(ink: np.ndarray) -> np.ndarray:
    """The first and last ink pixel ``(x, y)`` of each row of a mask (0/1) that holds ink.

    The corners of the ink's convex hull are among them (any other pixel lies between two of
    them): OpenCV's hull of these points is its hull of all the pixels, point for point, and
    takes a twentieth of the time on a candidate.
    """
    rows = np.flatnonzero(ink.any(axis=1))
    inked = ink[rows]
    ends = np.empty((2 * len(rows), 2), np.int32)
    ends[0::2, 0] = inked.argmax(axis=1)
    ends[1::2, 0] = ink.shape[1] - 1 - inked[:, ::-1].argmax(axis=1)
    ends[0::2, 1] = ends[1::2, 1] = rows
    return ends


def _join_halves(items: list[Candidate], line_h: float) -> list[Candidate]:
    """Offer each pair of narrow, close, equally tall neighbours also as one candidate: the two
    sides of an O-shaped digit whose thin top and bottom did not survive thresholding."""
    out: list[Candidate] = []
    i = 0
    while i < len(items):
        a = items[i]
        b = items[i + 1] if i + 1 < len(items) else None
        if b is not None and not a.cuttable and not b.cuttable and _halves(a, b, line_h):
            x0, y0 = a.x, min(a.y, b.y)
            x1, y1 = b.x + b.w, max(a.y + a.h, b.y + b.h)
            ink = np.zeros((y1 - y0, x1 - x0), np.uint8)
            for q in (a, b):
                ink[q.y - y0 : q.y - y0 + q.h, q.x - x0 : q.x - x0 + q.w] |= q.ink
            halves = [Piece(0, 1, a), Piece(1, 2, b)]
            out.append(Candidate(x0, y0, x1 - x0, y1 - y0, ink, pieces=halves, ends=2, joined=True))
            i += 2
        else:
            out.append(a)
            i += 1
    return out


def _halves(a: Candidate, b: Candidate, line_h: float) -> bool:
    gap = b.x - (a.x + a.w)
    tol = 0.15 * line_h
    return (
        max(a.w, b.w) <= 0.45 * line_h
        and -0.25 * line_h <= gap <= tol
        and abs(a.y - b.y) <= tol
        and abs(a.y + a.h - b.y - b.h) <= tol
        and b.x + b.w - a.x <= 0.9 * line_h
    )


def _core(labels: np.ndarray, p: _Part) -> Candidate | None:
    """The candidate without the pieces that lie mostly above or below its largest one."""
    if len(p.labels) < 2:
        return None
    masks = [labels == lab for lab in p.labels]
    rows = [np.nonzero(m.any(axis=1))[0] for m in masks]
    main = int(np.argmax([m.sum() for m in masks]))
    a, b = rows[main][0], rows[main][-1] + 1
    keep = [
        m for m, r in zip(masks, rows)
        if r.size and min(b, r[-1] + 1) - max(a, r[0]) >= 0.5 * (r[-1] + 1 - r[0])
    ]
    if len(keep) == len(masks):
        return None
    sub = np.logical_or.reduce(keep)
    cols = np.nonzero(sub.any(axis=0))[0]
    c0, c1 = int(cols[0]), int(cols[-1]) + 1
    return _piece(sub, p.x0, p.y0, c0, c1)


#: Other marks of a candidate must carry at least this share of its ink for it to be offered
#: without them.
MAIN_REST = 0.05
#: ... and each beside the largest one must be thin (a bar or tick), at most this share of its height.
MAIN_THIN = 0.25


def _main_mark(sub: np.ndarray, x0: int, y0: int) -> Candidate | None:
    """The largest mark of a candidate made of several, without the rest (a window's edges,
    ticks of a scale, the next wheel digit showing below); None when it is one mark."""
    lab, stats = label(sub.astype(np.uint8))
    n = len(stats)
    if n <= 2:
        return None
    main = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if stats[main, cv2.CC_STAT_AREA] > (1.0 - MAIN_REST) * int(stats[1:, cv2.CC_STAT_AREA].sum()):
        return None  # the rest is specks
    _mx, my, _mw, mh = stats[main, :4]
    for k in range(1, n):
        x, y, w, h = stats[k, :4]
        beside = min(y + h, my + mh) - max(y, my) >= 0.5 * h
        if k != main and beside and w > MAIN_THIN * mh:
            return None  # a mark as wide as a digit beside it: another digit, not clutter
    return _masked_piece(lab == main, x0, y0)


def _masked_piece(mask: np.ndarray, x0: int, y0: int) -> Candidate | None:
    """The candidate made of the ink of ``mask`` (a component's box), cropped to it."""
    cols = np.nonzero(mask.any(axis=0))[0]
    if cols.size == 0:
        return None
    return _piece(mask, x0, y0, int(cols[0]), int(cols[-1]) + 1)


def _piece(sub: np.ndarray, x0: int, y0: int, a: int, b: int) -> Candidate | None:
    """The candidate made of columns ``a:b`` of a component's ink, cropped to its rows."""
    piece = sub[:, a:b]
    rows = np.nonzero(piece.any(axis=1))[0]
    if rows.size == 0:
        return None
    r0, r1 = int(rows[0]), int(rows[-1]) + 1
    return Candidate(x0 + a, y0 + r0, b - a, r1 - r0, piece[r0:r1].astype(np.uint8))
