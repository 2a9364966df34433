"""Text regions: read only the parts of a page that hold text.

The reader judges a page's character height on a copy reduced to about 320 pixels (the probe,
see :func:`digit_ocr.reader.model_view`), binarized in each polarity worth trying. The marks of
about character size on it, chained into lines and grown by a margin, tell where the text is: on
a photo of a label, a meter or a display, a small part of the page. Only those regions are then
binarized at the working resolution (each against its own part of the page's background, with
one threshold for all of them, as for a whole page) and segmented, as one image cut to their
bounding box; the digits' boxes are mapped back to the page.

Besides time, this keeps out of the reading what lies away from the text: frames, lines and
shapes drawn across a scene, whose pieces read as 1s and 7s. Where the regions cannot be told
(no marks of character size, too many regions, or regions covering much of the page, as on a
form or a sheet of handwriting) the reader reads the whole page, as it does when the regions'
reading is weak.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import accumulate

import cv2
import numpy as np

from . import explain
from .binarize import (
    LOW_SPREAD,
    MIN_SPREAD,
    Background,
    Binarized,
    edge_otsu,
    flattened,
    ink_range,
    local_block,
    stretched,
    threshold,
)
from .segment import label

#: Marks from this share of the probe's character height up to MAX_HEIGHT of it seed regions
#: (the segmenter drops lines of marks under half the page's character height, and marks
#: taller than 2.5 of it).
MIN_HEIGHT = 0.4
MAX_HEIGHT = 2.6
#: Seeds overlapping in rows and at most this many character heights apart are one line.
LINE_GAP = 2.0
#: Beside lines of three seeds or more (text), a seed alone on its line seeds nothing when it
#: is no wider than LONE_STROKE of its height, or no wider than LONE_WIDTH of it and not as
#: high as the text's seeds, within LONE_HEIGHT (see :func:`_clutter`).
LONE_STROKE = 0.35
LONE_WIDTH = 1.2
LONE_HEIGHT = (0.8, 1.25)
#: A region is a line grown by this many character heights across and down.
MARGIN_X = 1.5
MARGIN_Y = 0.8
#: Only marks reaching within this many character heights of a line of seeds are read.
TEXT_GROW = 0.5
#: A page with more regions than this, or whose regions cover more than this share of it, is
#: read whole: its text is everywhere (a form, a sheet of handwriting), little would be saved.
MAX_REGIONS = 6
MAX_SHARE = 0.4

Box = tuple[int, int, int, int]


@dataclass
class Region:
    """A box of the probe (x0, y0, x1, y1) and the boxes of the lines of seeds in it."""

    x0: int
    y0: int
    x1: int
    y1: int
    lines: list[Box] = field(default_factory=list)

    @property
    def area(self) -> int:
        return (self.x1 - self.x0) * (self.y1 - self.y0)


@dataclass
class Probe:
    """What the reader learnt on a page's probe (the page reduced by the whole factor ``kp``):
    the ink mask, the statistics and the label image of its marks (:func:`~digit_ocr.segment.label`)
    and the character height (in the probe's pixels) of each polarity tried."""

    kp: int
    inks: dict[bool, np.ndarray]
    heights: dict[bool, float]
    stats: dict[bool, np.ndarray] = field(default_factory=dict)
    labels: dict[bool, np.ndarray] = field(default_factory=dict)
    #: The probe itself (grayscale).
    gray: np.ndarray | None = None
    #: The probe binarized in each polarity (ink in :attr:`inks`).
    done: dict[bool, Binarized] = field(default_factory=dict)


def find_regions(ink: np.ndarray, char_h: float, stats: np.ndarray | None = None) -> list[Region] | None:
    """The regions of a probe's ink mask (255 = ink) that hold its text, top to bottom; None when
    they cannot be told apart from the rest of the page. ``char_h``: the probe's character height;
    ``stats``: the statistics of its marks, when already worked out."""
    if stats is None:
        stats = label(ink)[1]
    x, y, w, h, area = (stats[1:, k].astype(np.int64) for k in range(5))
    fill = area / np.maximum(w * h, 1)
    seed = (
        (h >= MIN_HEIGHT * char_h)
        & (h <= MAX_HEIGHT * char_h)
        & (area >= 6)
        & (fill >= 0.15)
        & ((w <= 1.5 * h) | ((fill >= 0.3) & (w <= 12 * h)))  # a character, or a run of them
    )
    if not seed.any():
        return None
    seeds = sorted(zip(x[seed].tolist(), y[seed].tolist(), (x + w)[seed].tolist(), (y + h)[seed].tolist()))
    lines = _chain(seeds, LINE_GAP * char_h)
    text = sorted(h for _, hs in lines if len(hs) >= 3 for h in hs)
    if text:
        lines = [(b, hs) for b, hs in lines if len(hs) > 1 or not _clutter(b, text[len(text) // 2])]
    H, W = ink.shape
    mx, my = int(np.ceil(MARGIN_X * char_h)), int(np.ceil(MARGIN_Y * char_h))
    grown = [Region(max(0, a - mx), max(0, b - my), min(W, c + mx), min(H, d + my), [(a, b, c, d)])
             for (a, b, c, d), _hs in lines]  # fmt: skip
    regions = _merged(grown)
    if not regions or len(regions) > MAX_REGIONS or sum(r.area for r in regions) > MAX_SHARE * H * W:
        return None
    return sorted(regions, key=lambda r: r.y0)


def _chain(seeds: list[Box], gap: float) -> list[tuple[Box, list[int]]]:
    """Seeds (sorted left to right) chained into lines: each joins the first line that overlaps
    it by 30% of the lower one's height and ends at most ``gap`` before it. Each line's box and
    the heights of its seeds."""
    lines: list[tuple[list[int], list[int]]] = []
    for a, b, c, d in seeds:
        for box, heights in lines:
            overlap = min(d, box[3]) - max(b, box[1])
            if overlap >= 0.3 * min(d - b, box[3] - box[1]) and a - box[2] <= gap:
                box[:] = [min(box[0], a), min(box[1], b), max(box[2], c), max(box[3], d)]
                heights.append(d - b)
                break
        else:
            lines.append(([a, b, c, d], [d - b]))
    return [((box[0], box[1], box[2], box[3]), heights) for box, heights in lines]


def _clutter(box: Box, text_h: float) -> bool:
    """Whether a seed alone on its line, beside lines of text whose characters are ``text_h``
    high, is a piece of clutter: a thin stroke (a piece of a frame or of a line drawn across the
    scene, broken where something crosses it, not a "1"), or a mark of one character's width
    but not of the text's height (a frame's corner, a small box)."""
    w, h = box[2] - box[0], box[3] - box[1]
    low, high = LONE_HEIGHT
    return w <= LONE_STROKE * h or (w <= LONE_WIDTH * h and not low <= h / text_h <= high)


def _merged(regions: list[Region]) -> list[Region]:
    """Regions that overlap, or share half the rows of the lower one (one band of text), made one."""
    changed = True
    while changed:
        changed = False
        out: list[Region] = []
        for r in regions:
            for q in out:
                rows = min(r.y1, q.y1) - max(r.y0, q.y0)
                cols = min(r.x1, q.x1) - max(r.x0, q.x0)
                if (rows > 0 and cols > 0) or rows >= 0.5 * min(r.y1 - r.y0, q.y1 - q.y0):
                    q.x0, q.y0 = min(q.x0, r.x0), min(q.y0, r.y0)
                    q.x1, q.y1 = max(q.x1, r.x1), max(q.y1, r.y1)
                    q.lines += r.lines
                    changed = True
                    break
            else:
                out.append(r)
        regions = out
    return regions


class TextRegions:
    """The text regions of a page, found on its :class:`Probe` (once per polarity) and binarized
    on request at any scale of the page. ``bg``: the page's background."""

    def __init__(self, probe: Probe, bg: Background) -> None:
        self.probe, self.bg = probe, bg
        self._found: dict[bool, list[Region] | None] = {}
        #: Whether any ink was taken from regions (else every reading was of the whole page).
        self.used = False

    def regions(self, inverted: bool) -> list[Region] | None:
        """The regions of one polarity; None when they cannot be told."""
        if inverted not in self._found:
            known = self.bg.level is not None and inverted in self.probe.inks
            ink, char_h = self.probe.inks.get(inverted), self.probe.heights.get(inverted, 0.0)
            stats = self.probe.stats.get(inverted)
            self._found[inverted] = find_regions(ink, char_h, stats) if known and ink is not None else None
        return self._found[inverted]

    def polarities(self, pols: list[bool]) -> list[bool]:
        """The polarities worth reading: where some of ``pols`` show lines of characters on the
        probe and others do not, only those (the others' ink is the paper around the text, or
        blobs); else all of them."""
        return [inv for inv in pols if self.regions(inv) is not None] or pols

    def ink(self, image: np.ndarray, f: float, inverted: bool) -> tuple[np.ndarray, tuple[int, int]] | None:
        """:func:`region_ink` of ``image``, the page reduced ``f`` times (1: as the probe was made
        from it); None when the regions cannot be told."""
        regions = self.regions(inverted)
        if regions is None:
            return None
        self.used = True
        kp, char_h = self.probe.kp, self.probe.heights[inverted]
        if explain.active():
            _note_outside(self.probe.stats.get(inverted), regions, kp / f, char_h)
        return region_ink(image, kp / f, regions, char_h, inverted, self.bg)


def _note_outside(stats: np.ndarray | None, regions: list[Region], f: float, char_h: float) -> None:
    """Note the probe's marks (``stats``) of a third of a character height or more that lie in
    no region, in the pixels of the page ``f`` times the probe's scale (:mod:`digit_ocr.explain`)."""
    if stats is None:
        return
    for x, y, w, h in stats[1:, :4].tolist():
        inside = any(x < r.x1 and x + w > r.x0 and y < r.y1 and y + h > r.y0 for r in regions)
        if inside or max(w, h) < char_h / 3:
            continue
        explain.note((int(x * f), int(y * f), max(1, int(w * f)), max(1, int(h * f))), "outside_text")


def region_ink(
    image: np.ndarray, f: float, regions: list[Region], char_h: float, inverted: bool, bg: Background
) -> tuple[np.ndarray, tuple[int, int]]:
    """The ink mask of the page ``image`` (``f`` times the probe's scale) in ``regions`` (found
    on a probe whose character height is ``char_h``) and zero elsewhere, cut to the regions'
    bounding box; and the box's corner in ``image``.

    Each region is flattened against its part of the page's background; the ink's range and
    the threshold are taken over all the regions together, and the local test's window is the
    whole page's, as :func:`digit_ocr.binarize.binarize` does for a whole page. Marks that a
    region's edge cuts, or that lie off its lines of text, are left out (:func:`_text_marks`).
    """
    H, W = image.shape
    boxes = [
        (int(r.x0 * f), int(r.y0 * f), min(W, int(np.ceil(r.x1 * f))), min(H, int(np.ceil(r.y1 * f))))
        for r in regions
    ]
    flats = [
        flattened(image[y0:y1, x0:x1], inverted, crop_background(bg, (H, W), (x0, y0, x1, y1)))[1]
        for x0, y0, x1, y1 in boxes
    ]
    cx0, cy0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    cx1, cy1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    out = np.zeros((cy1 - cy0, cx1 - cx0), np.uint8)
    # The regions stacked, a row of paper under each: one image to take the levels on. Each
    # region is then read from it (stretched there once when the contrast is low).
    tops = list(accumulate((fl.shape[0] + 1 for fl in flats), initial=0))
    stack = np.full((tops[-1], max(fl.shape[1] for fl in flats)), 255, np.uint8)
    for top, fl in zip(tops, flats):
        stack[top : top + fl.shape[0], : fl.shape[1]] = fl
    lo, hi = ink_range(stack[::3, ::3])
    if hi - lo < MIN_SPREAD:
        return out, (cx0, cy0)
    if hi - lo < LOW_SPREAD:
        stack = stretched(stack, lo)
        flats = [stack[top : top + fl.shape[0], : fl.shape[1]] for top, fl in zip(tops, flats)]
    thr = edge_otsu(stack)
    block = local_block(image.shape)
    g = TEXT_GROW * char_h
    for r, (x0, y0, x1, y1), fl in zip(regions, boxes, flats):
        near = [
            (int((a - g) * f) - x0, int((b - g) * f) - y0, int((c + g) * f) - x0, int((d + g) * f) - y0)
            for a, b, c, d in r.lines
        ]
        sides = (x0 > 0, y0 > 0, x1 < W, y1 < H)
        marks = threshold(fl, thr, block)
        kept = _text_marks(marks, sides, near)
        if kept is not marks:
            with explain.shift(x0, y0):
                explain.note_removed(marks, kept, "outside_text")
        out[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0] = kept
    return out, (cx0, cy0)


def crop_background(bg: Background, shape: tuple[int, int], box: Box) -> Background:
    """The part of a page's background under ``box`` (x0, y0, x1, y1 in an image of ``shape``
    showing the whole page), at the box's size: what :func:`digit_ocr.binarize.flatten` makes
    of the whole background there when it stretches it over the page."""
    assert bg.level is not None
    H, W = shape
    x0, y0, x1, y1 = box
    sx, sy = bg.level.shape[1] / W, bg.level.shape[0] / H
    # The same sampling as a bilinear resize of the background to the page's size.
    m = np.float32([[sx, 0, (x0 + 0.5) * sx - 0.5], [0, sy, (y0 + 0.5) * sy - 0.5]])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    level = cv2.warpAffine(bg.level, m, (x1 - x0, y1 - y0), flags=flags, borderMode=cv2.BORDER_REPLICATE)
    return Background(bg.small, level)


def _text_marks(ink: np.ndarray, sides: tuple[bool, bool, bool, bool], near: list[Box]) -> np.ndarray:
    """The marks of a region's ink mask that reach into one of the boxes ``near`` (its lines of
    seeds, grown a little) and do not touch its left, top, right or bottom edge where ``sides``
    says it is not the page's. A mark that the region's edge cuts (a line or a frame crossing
    it, the edge of something beside the text) or that lies off the text (clutter in the
    margin) would read as characters where the whole page shows it for what it is."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8, ltype=cv2.CV_16U)
    if n <= 1:
        return ink
    x0, y0 = stats[:, 0], stats[:, 1]
    x1, y1 = x0 + stats[:, 2], y0 + stats[:, 3]
    h, w = ink.shape
    cut = (sides[0] & (x0 == 0)) | (sides[1] & (y0 == 0)) | (sides[2] & (x1 == w)) | (sides[3] & (y1 == h))
    keep = np.zeros(n, bool)
    for a, b, c, d in near:
        keep |= (x0 < c) & (x1 > a) & (y0 < d) & (y1 > b)
    keep &= ~cut
    if keep[1:].all():
        return ink
    keep[0] = False
    return np.where(keep, np.uint8(255), np.uint8(0)).take(labels)  # take: 2.5x faster than indexing
