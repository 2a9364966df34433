"""The sheet: a page photographed lying on a table is read on the sheet alone.

A sheet of paper lying on a darker table (wood, cloth, a desk) fills most of a photo, but the
table around it is what misleads the reader: its texture thresholds into marks that read as
digits, its dark mass makes the whole sheet look like light ink on a dark ground (the wrong
polarity), and the sheet's edges read as 1s. A person sees the sheet first and reads only what is
on it; so does the reader. The sheet is found on a copy of the page about 128 pixels a side with
its text smoothed away: the largest bright region (above Otsu's threshold, or grown from the
brightest smooth spot along gradual changes of light, which follows light falling off across the
sheet) that nearly fills its convex hull, covers a good share of the image, and ends in a sharp
step down to what lies around it along nearly all of its sides (a threshold that cuts a shaded
sheet in two has no step along the cut). Everything outside the sheet, and a thin band along its
edge, is then painted with the sheet's own paper level near it, and the page is read as any page.
"""

from __future__ import annotations

import cv2
import numpy as np

#: The sheet is looked for on a copy of the page at most this many pixels a side.
SIDE = 160
#: ... smoothed with a median this many pixels wide: text strokes vanish, the sheet's edge stays.
SMOOTH = 5
#: The sheet's convex hull covers at least this share of the image (else it is a label, a bright
#: patch or a glare, not a sheet the photo was taken of).
MIN_SHARE = 0.2
#: The region's outline fills at least SOLIDITY of its convex hull (a sheet is a quadrilateral),
#: and the region itself at least PAPER of it (a sheet is mostly paper: text and lines drawn on
#: it are a minority; the bright segments of a display digit are not).
SOLIDITY = 0.9
PAPER = 0.75
#: Just inside its edge (EDGE_GAP pixels of the copy) the sheet is at least EDGE_STEP grey levels
#: brighter than the table outside it (TABLE_GAP pixels: wider than a ruling or a frame along the
#: image's edge), along at least SHARP_EDGE of its sides within the image; those are at least
#: MIN_EDGE of the image's half perimeter long (a table shows around the sheet).
EDGE_STEP = 25
EDGE_GAP = 2
TABLE_GAP = 5
SHARP_EDGE = 0.8
MIN_EDGE = 0.1
#: Growing the region from its seed, neighbours at most this many grey levels apart are joined.
GROW_STEP = 3
#: The band along the sheet's edge that is painted over, in pixels of the copy (the edge's shadow
#: and the pixels the copy's coarse outline leaves of the table).
EDGE_BAND = 2


def find_sheet(small: np.ndarray) -> np.ndarray | None:
    """The outline (a convex polygon, in the pixels of ``small``) of a sheet of paper lying on a
    darker surround in ``small`` (a small grayscale copy of a page), or None when there is none."""
    copy, k = _copy(small)
    if min(copy.shape) < 32 or not _dark_border(copy):
        return None
    smooth = cv2.medianBlur(copy, SMOOTH)
    found = [_hull(smooth, region) for region in _bright_regions(smooth)]
    found = [f for f in found if f is not None]
    if not found:
        return None
    hull, level = max(found, key=lambda f: cv2.contourArea(f[0]))
    # The smoothing wipes out a sliver of the table along the image's edge: the outline is the
    # hull of the sheet's paper on the copy itself (its text inside the hull, specks opened away).
    paper = np.zeros_like(copy)
    cv2.fillConvexPoly(paper, hull, 1)
    paper[copy < level] = 0
    paper = cv2.morphologyEx(paper, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    points = cv2.findNonZero(paper)
    return None if points is None else cv2.convexHull(points) * k


def _dark_border(copy: np.ndarray) -> bool:
    """Whether at least :data:`MIN_EDGE` of the image's border is darker than Otsu's threshold of
    the whole: the table around a sheet reaches the image's edge (a quick look, first)."""
    thr, _ = cv2.threshold(copy, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    border = np.concatenate([copy[0], copy[-1], copy[1:-1, 0], copy[1:-1, -1]])
    return np.count_nonzero(border <= thr) >= MIN_EDGE * border.size


def _copy(small: np.ndarray) -> tuple[np.ndarray, int]:
    """``small`` halved until it is at most :data:`SIDE` pixels a side, and the factor."""
    k = 1
    while max(small.shape) > SIDE:
        size = (max(1, small.shape[1] // 2), max(1, small.shape[0] // 2))  # a strip keeps a pixel across
        small = cv2.resize(small, size, interpolation=cv2.INTER_AREA)
        k *= 2
    return small, k


def _bright_regions(smooth: np.ndarray) -> list[np.ndarray]:
    """The candidate regions (0/1 masks) for the sheet: the largest component above Otsu's
    threshold (thick lines drawn on the sheet bridged); and the region grown from the brightest
    smooth spot (which follows light falling off across the sheet, where Otsu's threshold cuts
    the sheet in two)."""
    h, w = smooth.shape
    out = []
    _t, bright = cv2.threshold(smooth, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(bright, connectivity=4)
    if n > 1:
        out.append((labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).view(np.uint8))
    soft = cv2.GaussianBlur(smooth, (3, 3), 0)
    grad = cv2.morphologyEx(soft, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    wide = cv2.blur(soft, (w // 4 | 1, h // 4 | 1)).astype(np.int32)
    wide[grad > 2 * GROW_STEP] = -1  # a seed where the light changes gradually
    y, x = np.unravel_index(int(np.argmax(wide)), wide.shape)
    mask = np.zeros((h + 2, w + 2), np.uint8)
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | (1 << 8)
    cv2.floodFill(soft, mask, (int(x), int(y)), 0, GROW_STEP, GROW_STEP, flags)
    out.append(mask[1:-1, 1:-1])
    return out


def _hull(smooth: np.ndarray, region: np.ndarray) -> tuple[np.ndarray, float] | None:
    """The convex hull of ``region`` (a 0/1 mask of ``smooth``) when it is a sheet on a darker
    surround (see :func:`find_sheet`), and the level midway between the sheet's and the table's
    at its edge; else None."""
    h, w = smooth.shape
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    outline = max(contours, key=cv2.contourArea)
    hull = cv2.convexHull(outline)
    area = cv2.contourArea(hull)
    if area < MIN_SHARE * h * w or cv2.contourArea(outline) < SOLIDITY * area:
        return None
    if cv2.countNonZero(region) < PAPER * area:
        return None
    inner, outer = edge_levels(smooth, hull)
    if inner.size < MIN_EDGE * (h + w) or np.mean(inner - outer >= EDGE_STEP) < SHARP_EDGE:
        return None
    return hull, (float(np.median(inner)) + float(np.median(outer))) / 2


def edge_levels(smooth: np.ndarray, hull: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The levels of ``smooth`` just inside the convex polygon ``hull`` (:data:`EDGE_GAP` pixels)
    and outside it (:data:`TABLE_GAP` pixels), at each pixel along its sides where both lie
    within the image."""
    h, w = smooth.shape
    a = hull.reshape(-1, 2).astype(np.float64)
    b = np.roll(a, -1, axis=0)
    lengths = np.hypot(*(b - a).T)
    keep = lengths >= 1
    a, b, lengths = a[keep], b[keep], lengths[keep]
    normals = np.stack([b[:, 1] - a[:, 1], a[:, 0] - b[:, 0]], axis=1) / lengths[:, None]
    outwards = np.einsum("ij,ij->i", normals, (a + b) / 2 - a.mean(axis=0)) >= 0
    normals[~outwards] *= -1
    counts = lengths.astype(np.int64) + 1
    edge = np.repeat(np.arange(len(a)), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    t = (np.arange(counts.sum()) - starts) / np.repeat(counts - 1, counts)
    on = a[edge] + t[:, None] * (b - a)[edge]
    inner = np.rint(on - EDGE_GAP * normals[edge]).astype(np.int64)
    outer = np.rint(on + TABLE_GAP * normals[edge]).astype(np.int64)
    ok = np.ones(len(on), bool)
    for p in (inner, outer):
        ok &= (p[:, 0] >= 0) & (p[:, 0] < w) & (p[:, 1] >= 0) & (p[:, 1] < h)
    i, o = inner[ok], outer[ok]
    return smooth[i[:, 1], i[:, 0]].astype(np.int32), smooth[o[:, 1], o[:, 0]].astype(np.int32)


def isolate(gray: np.ndarray, small: np.ndarray) -> np.ndarray | None:
    """``gray`` with everything outside the sheet lying on it painted with the sheet's paper
    level near it (see :func:`find_sheet`; ``small``: a small copy of ``gray``); None when there
    is no sheet to tell apart."""
    hull = find_sheet(small)
    if hull is None:
        return None
    copy, k = _copy(small)
    h, w = copy.shape
    inside = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(inside, hull // k, 1)
    # The band along the image's edge too: a sliver of table there is narrower than a pixel here.
    band = np.ones((2 * EDGE_BAND + 1,) * 2, np.uint8)
    inside = cv2.erode(inside, band, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    # Outside, each pixel takes the paper level (the smoothed copy's: not the text's) of the
    # nearest pixel of the sheet away from its edge, which the smoothing mixes with the table:
    # the paper goes on as it was near its edge, shaded or not, with no step to threshold.
    paper = cv2.medianBlur(copy, SMOOTH)
    source = cv2.erode(inside, np.ones((SMOOTH + 2, SMOOTH + 2), np.uint8))
    if not source.any():
        return None
    _d, nearest = cv2.distanceTransformWithLabels(1 - source, cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL)
    level = paper[source > 0][nearest - 1]  # labels number the source's pixels in raster order
    H, W = gray.shape
    out = cv2.resize(level, (W, H), interpolation=cv2.INTER_LINEAR)
    cv2.copyTo(gray, cv2.resize(inside, (W, H), interpolation=cv2.INTER_NEAREST), out)
    return out
