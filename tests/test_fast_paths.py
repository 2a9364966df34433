"""Faster ways of doing the same work give the same numbers as the plain ones they replace."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from digit_ocr import normalize, read_image, reader
from digit_ocr.binarize import (
    _dark_levels,
    _departures,
    _flat_values,
    _threshold_plain,
    background,
    binarize,
    edge_otsu,
    faint,
    flatten,
    flattened,
    percentiles_u8,
    polarities,
    threshold,
)
from digit_ocr.binarize import _median as _hist_median
from digit_ocr.classify import NOT_A_DIGIT, Prediction, classify
from digit_ocr.model import Model, feature_map
from digit_ocr.segment import (
    CUT_DRIFT_COST,
    CUT_INK_COST,
    _components,
    _cut_paths,
    _group_parts,
    _ink_counts,
    _median,
    _percentile,
    _row_ends,
    _solid,
    cut_candidate,
    cut_lattice,
    label,
    label_image,
    remove_rulings,
    segment,
)

from .conftest import SAMPLES, render


def _sample_gray(name: str) -> np.ndarray:
    img = cv2.imread(str(SAMPLES / name), cv2.IMREAD_GRAYSCALE)
    assert img is not None
    return img


@pytest.mark.parametrize("name", ["meter_mono.jpg", "handwritten_pencil.jpg"])
def test_flatten_by_table_equals_float_arithmetic(name: str) -> None:
    gray = _sample_gray(name)
    rng = np.random.default_rng(0)
    level = rng.integers(0, 256, (40, 60), dtype=np.uint8)  # every background value, 0 included
    bg = cv2.resize(level, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_LINEAR)
    want = _flat_values(gray.astype(np.float32), bg.astype(np.float32))
    assert np.array_equal(flatten(gray, level), want)
    assert np.array_equal(flatten(gray, bg), want)  # a background at the page's size, as a region's


def test_percentiles_u8_equal_numpy_in_either_float_type() -> None:
    rng = np.random.default_rng(1)
    for _ in range(500):
        values = rng.integers(0, int(rng.integers(1, 257)), int(rng.integers(1, 3000))).astype(np.uint8)
        q = float(rng.choice([0.5, 2.0, 90.0, 99.9, rng.uniform(0, 100)]))
        assert percentiles_u8(values, (q,))[0] == float(np.percentile(values, q))
        as_f32 = float(np.percentile(values.astype(np.float32), q))
        assert percentiles_u8(values, (q,), np.float32)[0] == as_f32


def test_label_image_equals_the_labels_of_label() -> None:
    ink = np.where(_sample_gray("handwritten_pencil.jpg") < 128, 255, 0).astype(np.uint8)
    assert np.array_equal(label_image(ink), label(ink)[0])
    many = np.zeros((600, 600), np.uint8)
    many[::2, ::2] = 255  # 90,000 marks: more than 16-bit labels hold
    labels = label_image(many)
    assert labels.max() == 90_000
    assert np.array_equal(labels, label(many)[0])


def _margined_masks() -> list[np.ndarray]:
    """Masks whose ink leaves margins of every parity, real ink and random specks, and the edge cases."""
    ink = np.where(_sample_gray("handwritten_pencil.jpg") < 128, 255, 0).astype(np.uint8)
    masks = [ink, np.zeros((9, 7), np.uint8), np.full((9, 7), 255, np.uint8)]
    h, w = ink.shape
    for top, left in ((1, 0), (0, 1), (3, 5), (6, 2)):
        shifted = np.zeros_like(ink)
        shifted[top + h // 4 : top + h // 2, left + w // 3 : left + w // 2] = ink[
            h // 4 : h // 2, w // 3 : w // 2
        ]
        masks.append(shifted)
    rng = np.random.default_rng(5)
    for _ in range(400):
        rows, cols = (int(v) for v in rng.integers(1, 40, 2))
        m = np.where(rng.random((rows, cols)) < rng.uniform(0.05, 0.9), 255, 0).astype(np.uint8)
        m[: rng.integers(0, rows)] = 0
        m[:, : rng.integers(0, cols)] = 0
        m[rng.integers(1, rows + 1) :] = 0
        masks.append(m)
    return masks


@pytest.mark.parametrize("threads", [1, 2])
def test_labelling_the_ink_box_equals_labelling_the_whole_mask(threads: int) -> None:
    before = cv2.getNumThreads()
    cv2.setNumThreads(threads)
    try:
        for m in _margined_masks():
            _n, want, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8, ltype=cv2.CV_16U)
            labels, got = label(m)
            assert labels.dtype == want.dtype and np.array_equal(labels, want)
            assert np.array_equal(got, stats)  # the background's row too
            assert np.array_equal(label_image(m), want)
    finally:
        cv2.setNumThreads(before)


def _plain_groups(clean: np.ndarray, kw: int, kh: int) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """The groups of _group_parts the plain way: the whole page smeared and labelled, each
    group's box, ink and marks from its own pixels and those of its components."""
    smear = cv2.dilate(clean, cv2.getStructuringElement(cv2.MORPH_RECT, (max(1, kw), max(1, kh))))
    glabels = cv2.connectedComponents(smear, connectivity=8, ltype=cv2.CV_16U)[1]
    labels = np.where(clean > 0, glabels, 0).astype(glabels.dtype)
    comp_labels, comps = _components(clean)
    groups = []
    for k in np.unique(labels[labels > 0]).tolist():
        ys, xs = np.nonzero(labels == k)
        marks = len(np.unique(comp_labels[ys, xs]))
        groups.append((k, xs.min(), ys.min(), xs.max() + 1, ys.max() + 1, ys.size, marks))
    return labels, groups


@pytest.mark.parametrize("name", ["handwritten_pencil.jpg", "lcd_sevenseg.jpg", "meter_mono.jpg"])
def test_group_parts_equal_grouping_the_whole_page(name: str) -> None:
    gray = _sample_gray(name)
    ink = np.where(gray < np.median(gray) - 30, 255, 0).astype(np.uint8)
    h, w = ink.shape
    for top, left, kw, kh in ((0, 0, 1, 9), (h // 5 + 1, w // 7 + 3, 4, 13), (h // 3, 1, 0, 3)):
        clean = np.zeros_like(ink)
        clean[top + h // 6 : top + h // 2, left + w // 5 : left + w // 2] = ink[
            h // 6 : h // 2, w // 5 : w // 2
        ]  # ink away from the edges, or at them (a smear reaching past them)
        labels, parts = _group_parts(clean, kw, kh, *_components(clean))
        want_labels, want = _plain_groups(clean, kw, kh)
        assert labels.dtype == want_labels.dtype and np.array_equal(labels, want_labels)
        got = sorted((p.labels[0], p.x0, p.y0, p.x1, p.y1, p.area, p.marks) for p in parts)
        assert got == want


def test_ink_counts_equal_count_nonzero() -> None:
    mask = np.where(_sample_gray("handwritten_pencil.jpg") < 128, 255, 0).astype(np.uint8)
    mask[5, :] = 1  # any nonzero value counts
    for axis in (0, 1):
        assert np.array_equal(_ink_counts(mask, axis), np.count_nonzero(mask, axis=axis))


def test_short_list_percentile_and_median_equal_numpy() -> None:
    rng = np.random.default_rng(2)
    for _ in range(2000):
        hs = sorted(int(v) for v in rng.integers(1, 400, int(rng.integers(1, 60))))
        assert _percentile(hs, 90) == float(np.percentile(np.array(hs, float), 90))
        assert _median(hs) == float(np.median(np.array(hs, float)))


def _cut_paths_row_by_row(ink: np.ndarray, bands: list[tuple[int, int, int]]) -> np.ndarray:
    """The cut paths of :func:`_cut_paths` by the plain dynamic programme: each band on its
    own, the step of each cell chosen as it is filled (argmin: the leftmost on a tie)."""
    h, _w = ink.shape
    paths = np.empty((h, len(bands)), np.int64)
    for k, (lo, hi, centre) in enumerate(bands):
        cols = np.arange(lo, hi)
        cost = ink[:, lo:hi].astype(np.float32) * CUT_INK_COST + 1.0
        cost += CUT_DRIFT_COST * np.abs(cols - centre)
        acc = cost[0].copy()
        step = np.zeros((h, hi - lo), np.int64)
        for r in range(1, h):
            padded = np.r_[np.float32(np.inf), acc, np.float32(np.inf)].astype(np.float32)
            three = np.stack([padded[:-2], padded[1:-1], padded[2:]])
            step[r] = np.argmin(three, axis=0) - 1
            acc = cost[r] + three.min(axis=0)
        j = int(np.argmin(acc))
        for r in range(h - 1, -1, -1):
            paths[r, k] = cols[j]
            j += int(step[r, j])
    return paths


def _ink_boxes() -> list[np.ndarray]:
    """Wide boxes of real handwriting ink (0/1), the kind of box cut into touching digits."""
    boxes = []
    for name in ("handwritten_pencil.jpg", "handwritten_script.jpg"):
        ink = (_sample_gray(name) < 128).astype(np.uint8)
        _n, _labels, stats, _ = cv2.connectedComponentsWithStats(ink)
        for x, y, w, h, area in stats[1:]:
            if h >= 15 and w >= h and area >= 50:
                boxes.append(ink[y : y + h, x : x + w])
        rows, cols = ink.shape
        boxes += [ink[r : r + 60, c : c + 150]
                  for r in range(0, rows - 60, 97) for c in range(0, cols - 150, 131)]
    return boxes


def test_cut_paths_equal_the_plain_dynamic_programme() -> None:
    boxes = _ink_boxes()
    assert len(boxes) > 20
    for ink in boxes:
        h, w = ink.shape
        for n in range(2, min(6, w // 8) + 1):
            centres = [(int(w * k / n), w // (3 * n)) for k in range(1, n)]
            bands = [(max(1, c - r), min(w - 1, c + r + 1), c) for c, r in centres]
            assert np.array_equal(_cut_paths(ink, bands), _cut_paths_row_by_row(ink, bands))


def test_lattice_pieces_are_the_box_masks_cut_at_the_paths() -> None:
    for ink in _ink_boxes():
        sub = ink.astype(bool)
        h, w = sub.shape
        for straight in (False, True):
            ends, lattice = cut_lattice(sub, 0.6 * h, straight=straight)
            pieces = {(i, j): (lo, mask) for i, j, lo, mask in lattice}
            # Pieces between neighbouring cuts do not overlap and together are the whole box
            # (when each is narrow enough to be offered).
            if all((k, k + 1) in pieces for k in range(ends)):
                whole = np.zeros((h, w), bool)
                for k in range(ends):
                    lo, mask = pieces[(k, k + 1)]
                    assert not whole[:, lo : lo + mask.shape[1]][mask].any()
                    whole[:, lo : lo + mask.shape[1]] |= mask
                assert np.array_equal(whole, sub)
            # A piece across several cuts is the union of those between them.
            for (i, j), (lo, mask) in pieces.items():
                if j - i == 2 and (i, i + 1) in pieces and (i + 1, j) in pieces:
                    union = np.zeros((h, w), bool)
                    for a, b in ((i, i + 1), (i + 1, j)):
                        lo2, m2 = pieces[(a, b)]
                        union[:, lo2 : lo2 + m2.shape[1]] |= m2
                    whole = np.zeros((h, w), bool)
                    whole[:, lo : lo + mask.shape[1]] |= mask
                    assert np.array_equal(whole, union)


def _panel_page(surround: int, share: float) -> np.ndarray:
    """Dark digits on a light panel filling ``share`` of a page of gray level ``surround``:
    light and dark departures from the background are close, so both polarities are tried."""
    digits = render("4096 317", scale=3.0, thickness=6)
    h, w = digits.shape
    page = np.full((int(h / share) + 100, int(w / share) + 100), surround, np.uint8)
    y0, x0 = (page.shape[0] - h) // 2, (page.shape[1] - w) // 2
    page[y0 : y0 + h, x0 : x0 + w] = digits
    return page


@pytest.mark.parametrize(("surround", "share"), [(100, 0.7), (100, 0.5), (40, 0.7)])
def test_a_clear_reading_spares_the_other_polarity_and_reads_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, surround: int, share: float
) -> None:
    page = _panel_page(surround, share)
    assert len(polarities(page, background(page))) == 2
    p = tmp_path / "panel.png"
    cv2.imwrite(str(p), page)
    reads: list[float] = []
    score = reader.reading_score
    monkeypatch.setattr(reader, "reading_score", lambda lines: reads.append(score(lines)) or reads[-1])
    fast = read_image(p, engine="model")
    fast_reads = len(reads)
    monkeypatch.setattr(reader, "CLEAR_READING", float("inf"))
    both = read_image(p, engine="model")
    assert fast.text.replace(" ", "") == "4096317"
    assert fast.to_dict() | {"timing_ms": None} == both.to_dict() | {"timing_ms": None}
    if reads[0] >= reader.CLEAR_READING:
        assert fast_reads == 1  # the other polarity was not read


def test_percentiles_u8_of_a_strided_image_sample_equal_numpy() -> None:
    gray = _sample_gray("meter_mono.jpg")
    for step in (1, 3):
        sample = gray[::step, 1::step]  # 2-D and not contiguous, as binarize takes it
        qs = (0.5, 2.0, 50.0, 98.0, 99.5)
        assert percentiles_u8(sample, qs) == [float(v) for v in np.percentile(sample, qs)]


def _rulings_by_whole_openings(ink: np.ndarray, char_h: float) -> np.ndarray:
    """:func:`remove_rulings` without its shortcuts: the whole mask opened along the rows and
    along the columns, and every line found (widened by a pixel) erased."""
    length = int(max(2.5 * char_h, 25))
    out = ink.copy()
    for ksize, limit in (((length, 1), ink.shape[1]), ((1, length), ink.shape[0])):
        if length >= limit:
            continue
        lines = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, ksize))
        out[cv2.dilate(lines, np.ones((3, 3), np.uint8)) > 0] = 0
    return out


@pytest.mark.parametrize("name", ["handwritten_pencil.jpg", "meter_mono.jpg", "block_serif.jpg"])
def test_remove_rulings_equals_whole_openings(name: str) -> None:
    ink = np.where(_sample_gray(name) < 128, 255, 0).astype(np.uint8)
    h, w = ink.shape
    for x in range(0, w, w // 5):  # a grid over the page, and lines along its edges
        cv2.line(ink, (x, 0), (x, h - 1), 255, 2)
    for y in range(h // 7, h, h // 4):
        cv2.line(ink, (0, y), (w - 1, y), 255, 1)
    cv2.line(ink, (w - 1, 0), (w - 1, h // 2), 255, 1)
    for char_h in (8.0, 20.0, 45.0):
        assert np.array_equal(remove_rulings(ink, char_h), _rulings_by_whole_openings(ink, char_h))


def _sample_pieces() -> list[np.ndarray]:
    """The inks the reader classifies on some samples (candidates, their cuts and cores), and
    bitmaps that are no candidate's: blank, one pixel, 0/255, bool."""
    inks = []
    for name in ("handwritten_pencil.jpg", "handwritten_script.jpg", "meter_mono.jpg"):
        gray = _sample_gray(name)
        mask = np.where(gray < np.median(gray) - 30, 255, 0).astype(np.uint8)
        for line in segment(mask):
            for c in line.items:
                cut_candidate(c)
                inks += [c.ink, *(piece.cand.ink for piece in c.pieces), *([c.core.ink] if c.core else [])]
    dot = np.zeros((5, 4), np.uint8)
    dot[2, 1] = 1
    return [*inks, np.zeros((6, 3), np.uint8), dot, inks[0] * 255, inks[1] > 0]


def _plain_deslant(ink: np.ndarray) -> np.ndarray:
    """normalize.deslant as first written: the sheared bitmap thresholded, then cropped."""
    u8 = (ink != 0).astype(np.uint8)
    m = cv2.moments(u8, binaryImage=True)
    if m["mu02"] < 1e-6:
        return ink
    skew = min(max(float(m["mu11"] / m["mu02"]), -0.7), 0.7)
    if abs(skew) < 0.05:
        return ink
    h, w = ink.shape
    pad = int(np.ceil(abs(skew) * h)) + 1
    mat = np.array([[1, -skew, skew * m["m01"] / m["m00"] + pad], [0, 1, 0]], np.float32)
    out = cv2.warpAffine(u8 * np.uint8(255), mat, (w + 2 * pad, h), flags=cv2.INTER_LINEAR)
    return normalize.crop(out > 127)


def test_deslant_and_features_of_many_equal_the_plain_ones() -> None:
    inks = _sample_pieces()
    assert len(inks) > 40
    sheared = 0
    for ink in inks:
        cropped = normalize.crop(ink)
        got, want = normalize.deslant(cropped), _plain_deslant(cropped)
        assert got.dtype == want.dtype and np.array_equal(got, want)
        sheared += got is not cropped
    assert sheared > 10
    for slant in (True, False):
        want = np.stack([normalize.features(ink, slant=slant) for ink in inks])
        got = normalize.features_of(inks, normalize.CLASSIC_BLOCKS, slant=slant)
        assert got.dtype == np.float32 and np.array_equal(got, want)
        full = normalize.features_of(inks, slant=slant)
        assert full.shape == (len(inks), normalize.width(normalize.DEFAULT_BLOCKS))
        assert np.array_equal(full[:, :64], want)  # the 8x8 counts lead the default features
    assert normalize.features_of([]).shape == (0, normalize.width(normalize.DEFAULT_BLOCKS))


def _plain_hog(canvas: np.ndarray) -> np.ndarray:
    """:func:`normalize.hog` of one canvas, pixel by pixel: 2x2 means, a Gaussian smoothing
    (zeros beyond the edges), central differences, each gradient's magnitude shared between its
    two nearest orientations, summed per cell, unit length, square root."""
    g = normalize.HOG_GRID
    k = normalize.CANVAS // g
    small = canvas.astype(np.float64).reshape(g, k, g, k).mean(axis=(1, 3))
    r = max(1, int(np.ceil(3 * normalize.HOG_SIGMA)))
    taps = np.exp(-0.5 * (np.arange(-r, r + 1) / normalize.HOG_SIGMA) ** 2)
    taps /= taps.sum()

    def smooth1(a: np.ndarray) -> np.ndarray:  # along the last axis, zeros outside
        padded = np.pad(a, [(0, 0), (r, r)])
        return np.stack([padded[:, i : i + a.shape[1]] for i in range(2 * r + 1)], -1) @ taps

    sm = smooth1(smooth1(small).T).T
    pad = np.pad(sm, 1)
    gx, gy = pad[1:-1, 2:] - pad[1:-1, :-2], pad[2:, 1:-1] - pad[:-2, 1:-1]
    bins, cells = normalize.HOG_BINS, normalize.HOG_CELLS
    hist = np.zeros((cells, cells, bins))
    for y in range(g):
        for x in range(g):
            mag = np.hypot(gx[y, x], gy[y, x])
            pos = (np.arctan2(gy[y, x], gx[y, x]) % np.pi) * bins / np.pi - 0.5
            lo = int(np.floor(pos))
            frac = pos - lo
            cy, cx = y * cells // g, x * cells // g
            hist[cy, cx, lo % bins] += mag * (1 - frac)
            hist[cy, cx, (lo + 1) % bins] += mag * frac
    h = hist.ravel()
    return np.sqrt(h / (np.linalg.norm(h) + 1e-6))


def test_hog_equals_the_plain_one_and_sees_stroke_directions() -> None:
    canvases = normalize.canvases_of(_sample_pieces()[:30])
    got = normalize.hog(canvases)
    want = np.stack([_plain_hog(c) for c in canvases])
    assert got.shape == (30, 144) and got.dtype == np.float32
    assert np.allclose(got**2, want**2, atol=1e-6)  # squared: float32 rounding near 0, rooted, is large
    # A vertical bar's edges are horizontal gradients (orientation 0 or pi: bins 0 and 8); a
    # horizontal bar's are vertical ones (pi/2: bin 4).
    bars = np.zeros((2, 32, 32), np.uint8)
    bars[0, 4:28, 14:18] = 1
    bars[1, 14:18, 4:28] = 1
    per_bin = normalize.hog(bars).reshape(2, -1, normalize.HOG_BINS).sum(axis=1)
    assert per_bin[0, [0, 8]].sum() > 0.5 * per_bin[0].sum()
    assert per_bin[1, 4] > 0.5 * per_bin[1].sum()
    assert normalize.hog(np.zeros((0, 32, 32), np.uint8)).shape == (0, 144)


def _shapes() -> list[np.ndarray]:
    """Masks (0/1) of every kind of outline: random specks, rectangles (hull sides full of
    collinear pixels), lines, polygons, filled and hollow ellipses, single rows and columns."""
    rng = np.random.default_rng(7)
    out = []
    for i in range(2000):
        h, w = (int(v) for v in rng.integers(1, 50, 2))
        m = np.zeros((h, w), np.uint8)
        corner = tuple(int(v) for v in rng.integers(0, [w, h]))
        other = tuple(int(v) for v in rng.integers(0, [w, h]))
        kind = i % 5
        if kind == 0:
            m = (rng.random((h, w)) < rng.uniform(0.05, 1)).astype(np.uint8)
        elif kind == 1:
            cv2.rectangle(m, corner, other, 1, -1)
        elif kind == 2:
            cv2.line(m, corner, other, 1, int(rng.integers(1, 4)))
        elif kind == 3:
            cv2.fillPoly(m, [rng.integers(0, [w, h], (int(rng.integers(3, 7)), 2)).astype(np.int32)], 1)
        else:
            axes = (int(rng.integers(1, w // 2 + 2)), int(rng.integers(1, h // 2 + 2)))
            thickness = int(rng.choice([-1, 1, 2]))
            cv2.ellipse(m, (w // 2, h // 2), axes, float(rng.uniform(0, 180)), 0, 360, 1, thickness)
        out.append(m)
    return out


def test_the_hull_of_the_row_ends_is_the_hull_of_all_the_ink() -> None:
    masks = [*_shapes(), *(ink.astype(np.uint8) for ink in _sample_pieces()[:-2])]
    solid = 0
    for m in masks:
        pts = cv2.findNonZero(m)
        if pts is None or len(pts) < 3:
            assert not _solid(m)
            continue
        want = cv2.convexHull(pts)
        assert np.array_equal(cv2.convexHull(_row_ends(m)), want)
        area = cv2.contourArea(want) + 0.5 * cv2.arcLength(want, True)
        assert _solid(m) == (len(pts) >= 0.85 * area)
        solid += _solid(m)
    assert 0 < solid < len(masks)  # both answers come up



def _flat_pages(seed: int, count: int, least: int) -> list[np.ndarray]:
    """Samples, each flattened in both polarities, and ``count`` random pages of at least
    ``least`` pixels a side, mostly paper (runs of 255) or not."""
    pages = []
    for name in ("meter_mono.jpg", "handwritten_pencil.jpg", "lcd_sevenseg.jpg"):
        gray = _sample_gray(name)
        bg = background(gray)
        pages += [gray, *(flattened(gray, inv, bg)[1] for inv in (False, True))]
    rng = np.random.default_rng(seed)
    for _ in range(count):
        h, w = (int(v) for v in rng.integers(least, 80, 2))
        page = rng.integers(int(rng.integers(0, 256)), 256, (h, w)).astype(np.uint8)
        page[rng.random((h, w)) < rng.uniform(0, 1)] = 255  # paper
        pages.append(page)
    return pages


def test_dark_levels_equal_a_plain_histogram() -> None:
    for page in _flat_pages(8, 300, 1):
        for top in (1, 128, 230, 255):
            assert np.array_equal(_dark_levels(page, top), np.bincount(page.ravel(), minlength=256)[:top])


def test_threshold_in_one_test_equals_the_three_tests() -> None:
    pages = []
    for name in ("meter_mono.jpg", "handwritten_pencil.jpg", "lcd_sevenseg.jpg"):
        gray = _sample_gray(name)
        bg = background(gray)
        for inv in (False, True):
            flat = flattened(gray, inv, bg)[1]
            pages += [flat, flat[5:-7, 3:-11]]  # a view inside a larger image too, as region_ink's
    rng = np.random.default_rng(9)
    for _ in range(200):
        h, w = (int(v) for v in rng.integers(1, 90, 2))
        page = rng.integers(0, 256, (h, w), dtype=np.uint8)
        page[rng.random((h, w)) < rng.uniform(0, 1)] = rng.integers(0, 256)  # runs of one level
        pages.append(page)
    for page in pages:
        for thr in (0.0, 12.5, 29.0, 30.0, 31.0, 40.2, 128.0, 180.7, 222.0, 255.0, 256.0, 300.0):
            for block in (None, 3, 15, 29):
                want = _threshold_plain(page, thr, block or max(15, int(min(page.shape) / 10) | 1))
                assert np.array_equal(threshold(page, thr, block), want)


def _edge_otsu_plain(flat: np.ndarray) -> float:
    """:func:`edge_otsu` with the float test of the edge pixels."""
    grad = cv2.morphologyEx(flat, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    gthr, _ = cv2.threshold(grad, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    near = flat[grad > max(gthr, 12.0)]
    if near.size < 50:
        near = flat.ravel()
    thr, _ = cv2.threshold(near.reshape(1, -1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return min(float(thr), 222.0)


def test_edge_otsu_equals_the_plain_one() -> None:
    for page in _flat_pages(10, 200, 3):
        assert edge_otsu(page) == _edge_otsu_plain(page)


def test_faint_equals_the_plain_raised_threshold() -> None:
    """The grid stage's threshold for faint rulings (binarize.faint), with a plain histogram:
    at least midway between the paper and the median dark level."""
    pages = [_sample_gray(n) for n in ("meter_mono.jpg", "handwritten_pencil.jpg", "lcd_sevenseg.jpg")]
    pages += list(_flat_pages(10, 200, 3))
    raised = 0
    for page in pages:
        b = binarize(page, False)
        if b.level is None:  # too little contrast: no ink, nothing to raise
            assert faint(b) is b
            continue
        assert b.flat is not None
        hist = np.bincount(b.flat.ravel(), minlength=256)[:230]
        thr = b.level
        if hist.sum() > 50:
            thr = min(max(b.level, 0.5 * (255.0 + _hist_median(hist))), 222.0)
        f = faint(b)
        raised += f is not b
        assert np.array_equal(f.ink, threshold(b.flat, thr))
    assert raised  # some page's threshold was raised


def test_departures_equal_the_plain_sums() -> None:
    names = ("meter_mono.jpg", "handwritten_pencil.jpg", "lcd_sevenseg.jpg")
    pairs = [(bg.small, bg.level) for bg in map(background, map(_sample_gray, names)) if bg.level is not None]
    rng = np.random.default_rng(11)
    for _ in range(100):
        h, w = (int(v) for v in rng.integers(1, 200, 2))
        pairs.append(tuple(rng.integers(0, 256, (2, h, w), dtype=np.uint8)))
    for small, level in pairs:
        d = small.astype(np.float32) - level.astype(np.float32)
        t = 0.4 * percentiles_u8(cv2.absdiff(small, level), (99.9,), np.float32)[0]
        want = float(np.maximum(-d - t, 0).sum()), float(np.maximum(d - t, 0).sum())
        assert _departures(small, level) == want


def test_binary_moments_equal_opencvs() -> None:
    inks = [normalize.crop(ink) for ink in _sample_pieces()]
    rng = np.random.default_rng(11)
    for _ in range(300):
        h, w = (int(v) for v in rng.integers(1, 200, 2))
        inks.append((rng.random((h, w)) < rng.uniform(0, 1)).astype(np.uint8))
    side = normalize._MOMENT_SIDE
    inks += [np.zeros((4, 3), np.uint8), np.ones((side, 40), np.uint8), np.ones((side + 1, 3), np.uint8)]
    for ink in inks:
        m = cv2.moments(ink, binaryImage=True)
        assert normalize._binary_moments(ink) == (m["m00"], m["m01"], m["mu11"], m["mu02"])
        assert np.array_equal(normalize.deslant(ink), _plain_deslant(ink))


def test_log_confidences_equal_the_log_of_each() -> None:
    rng = np.random.default_rng(12)
    values = [*rng.random(500).tolist(), *rng.random(500).astype(np.float32).tolist(), 0.0, 1e-4, 1.0]
    preds = [Prediction("1", v, "7", 0.0) for v in values]
    want = [float(np.log(max(p.confidence, 1e-4))) for p in preds]
    for n in (1, 2, 7, len(preds)):
        assert reader._log_confidences(preds[:n]) == want[:n]


def _plain_classify(model: Model, features: np.ndarray) -> list[Prediction]:
    """classify.classify as first written: NumPy scalars of each row."""
    proba = model.predict_proba(features)
    classes = [int(c) for c in model.classes]
    reject_col = classes.index(NOT_A_DIGIT) if NOT_A_DIGIT in classes else None
    digit_cols = [i for i, c in enumerate(classes) if c != NOT_A_DIGIT]
    digits = proba[:, digit_cols]
    order = np.argsort(-digits, axis=1)
    out = []
    for k, (row, idx) in enumerate(zip(digits, order)):
        a, b = int(idx[0]), int(idx[1])
        reject = float(proba[k, reject_col]) if reject_col is not None else 0.0
        names = str(classes[digit_cols[a]]), str(classes[digit_cols[b]])
        out.append(Prediction(names[0], float(row[a]), names[1], float(row[b]), reject))
    return out


def test_classify_equals_the_plain_one() -> None:
    model = reader.get_model()
    feats = normalize.features_of(_sample_pieces(), model.blocks)
    rng = np.random.default_rng(13)
    noise = rng.integers(0, 17, (50, feats.shape[1])).astype(np.float32)
    noise[:, 64:] /= 32.0  # gradient histograms are a unit vector's square roots
    feats = np.vstack([feats, noise, np.zeros((1, feats.shape[1]), np.float32)])
    digits_only = Model(model.coef[:10], model.intercept[:10], model.classes[:10], model.meta)  # no class 10
    digits_only.arrays = model.arrays
    for m in (model, digits_only):
        for rows in (feats[:1], feats):
            got = classify(m, rows)
            assert got == _plain_classify(m, rows)
            assert all(type(p.confidence) is float and type(p.not_a_digit) is float for p in got)
    assert classify(model, feats[:0]) == []


def test_rff_feature_map_in_place_equals_the_plain_one() -> None:
    model = reader.get_model()
    arrays = model.arrays
    W, b = arrays["rff_weights"], arrays["rff_offsets"]
    rng = np.random.default_rng(14)
    X = rng.integers(0, 17, (300, W.shape[0])).astype(np.float32)
    X[rng.random(X.shape) < 0.5] = 0  # as sparse as digits' features
    scale = np.ones(W.shape[0], np.float32)
    scale[:64] = 1 / 16.0  # the 8x8 counts; the gradient histograms as they are
    for n in (1, 2, 7, 12, 300):
        Z = X[:n] * scale
        want = np.cos(Z @ W + b) * np.float32(np.sqrt(2.0 / W.shape[1]))
        got = feature_map(X[:n], "rff", arrays, model.blocks)
        assert got.dtype == want.dtype == np.float32 and np.array_equal(got, want)
