"""The pipeline: load, binarize, segment, normalize, classify, and (optionally) ask Tesseract."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from . import explain, grid, normalize, page
from .binarize import (
    MIN_SPREAD,
    Background,
    Binarized,
    background,
    binarize,
    faint,
    percentiles_u8,
    polarities,
    to_gray,
)
from .classify import Prediction, classify
from .errors import BadArgumentsError
from .load import LoadedImage, open_image
from .model import Model, load_model
from .regions import Probe, TextRegions
from .result import Digit, Dropped, Line, Reading
from .segment import Candidate, SegmentLine, character_height, cut_candidate, label, segment

ENGINES = ("auto", "model", "tesseract", "both")
#: Candidates the model's "not a digit" class claims with more than this probability are dropped
#: (0.95 reads the dev sets a little better than 0.9 and 0.8; 0.7 reads them worse).
NOT_A_DIGIT_ABOVE = 0.95
#: Digits under this confidence count as uncertain (another colour in --annotate; Tesseract in auto).
LOW_CONFIDENCE = 0.60
#: Each digit a candidate is read as costs this much log confidence: a cut must earn its place.
DIGIT_COST = 0.5
#: Leaving out a piece of a wide candidate that is low enough to be a separator (a dot, a comma,
#: a dash touching the digits) costs this much log confidence.
SKIP_COST = 0.5
#: A candidate more than this many times as wide as high is never one digit.
WHOLE_WIDE = 1.6
#: A candidate read without the pieces sticking out above or below it costs this much; except
#: where its line shows that they are not the character's (:func:`_best_cut`): then the candidate
#: read whole costs it.
TRIM_PENALTY = 0.1
#: A candidate spans its line when its top and bottom are within this share of the line's height
#: of the other characters' (their medians).
LINE_FIT = 0.15
#: Two narrow neighbours read as one digit (the halves of a broken 0) cost this much.
JOIN_PENALTY = 0.1
#: Work at roughly this many pixels on the long side: small crops are enlarged, so that
#: thresholds and stroke filters have room.
MIN_WORK_SIDE = 480
#: The model path reads characters at about this height: a page whose characters are taller is
#: reduced before it is binarized (its extra pixels cost time and add nothing to 8x8 features).
#: 34 rather than 40 reads the handwritten sheet, the real photos and the batch bench's photos
#: better (and a page 3% faster); the held-out font 0.3 points worse, the forms the same.
TARGET_CHAR_H = 34
#: Reductions milder than this are not worth an interpolation.
MIN_REDUCTION = 0.8
#: The character height is judged on a copy reduced by a whole factor to about this long side.
PROBE_SIDE = 320
#: Read only the regions of a page that hold text, where the probe tells them apart
#: (:mod:`digit_ocr.regions`); False reads every page whole.
READ_REGIONS = True
#: Read a grid or a table cell by cell, where the page has one (:mod:`digit_ocr.grid`).
READ_GRIDS = True
#: Read graph paper with its rulings painted over (:func:`digit_ocr.grid.without_rulings`).
PAINT_GRAPH_PAPER = True
#: Read a sheet lying on a darker table on the sheet alone (:mod:`digit_ocr.page`).
ISOLATE_SHEET = True
#: Around a grid, its area is blanked with the level this share of the page is darker than.
PAPER_LEVEL = 90

_models: dict[str, Model] = {}


def get_model(model: Model | str | os.PathLike[str] | None = None) -> Model:
    """The model to use, loaded once per process and path."""
    if isinstance(model, Model):
        return model
    key = str(model) if model is not None else ""
    if key not in _models:
        _models[key] = load_model(model)
    return _models[key]


def _work_image(loaded: LoadedImage) -> tuple[np.ndarray, float]:
    """The pixels to work on and the factor from them back to the original image."""
    img = loaded.image
    h, w = img.shape[:2]
    f = 1.0
    if max(h, w) < MIN_WORK_SIDE:
        f = min(4.0, MIN_WORK_SIDE / max(h, w))
        img = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
    return img, loaded.scale / f


def _to_original(
    box: tuple[int, int, int, int], scale: float, origin: tuple[int, int] = (0, 0)
) -> tuple[int, int, int, int]:
    """A box of the image worked on (of a part of it whose corner is at ``origin``) in the
    original image's pixels."""
    x, y, w, h = box
    return (
        int(round((x + origin[0]) * scale)),
        int(round((y + origin[1]) * scale)),
        max(1, int(round(w * scale))),
        max(1, int(round(h * scale))),
    )


def _shrink(gray: np.ndarray, k: int) -> np.ndarray:
    """``gray`` reduced by the whole factor ``k`` (pixel means; the last ``k - 1`` rows and
    columns at most are left out, so that pixel ``(x, y)`` maps exactly to ``(k x, k y)``)."""
    h, w = gray.shape
    return cv2.resize(gray[: h - h % k, : w - w % k], (w // k, h // k), interpolation=cv2.INTER_AREA)


class View(NamedTuple):
    """What :func:`model_view` works out about a page."""

    #: The grayscale image the model path works on and the factor from it back to the page.
    view: np.ndarray
    f: float
    #: The polarities to try, and the page's background.
    pols: list[bool]
    bg: Background
    #: The binarizations already made of the view (a reduced page's, or the one the grid stage
    #: looked at), and on a reduced page the character height expected on it, by polarity.
    done: dict[bool, Binarized]
    expected: dict[bool, float]


def model_view(gray: np.ndarray, found: list[Probe] | None = None) -> View:
    """The grayscale image the model path works on, the factor from it back to ``gray``, the
    polarities to try and the page's background; for a reduced page also the binarizations
    already made of it and the character height expected on it, by polarity (a :class:`View`).

    The working resolution follows the content, not the file: the typical character height is
    measured on a copy reduced by a whole factor to about :data:`PROBE_SIDE` pixels, and the
    page is then reduced so that its characters are about :data:`TARGET_CHAR_H` pixels tall.
    When the height cannot be told (no character-like marks on the copy: small print, a blank
    or noisy page) the page is read as it is. The smallest estimate over the polarities
    counts, so that a wrong polarity's large blobs never shrink a page. The polarities and the
    background are worked out once, on the probe when there is one. ``found``, when given,
    receives the :class:`~digit_ocr.regions.Probe` when every polarity's height could be told.
    """
    h, w = gray.shape
    kp = min(max(h, w) // PROBE_SIDE, min(h, w) // 32)  # a strip keeps 32 pixels across
    if kp < 2:
        bg = background(gray)
        return View(gray, 1.0, polarities(gray, bg), bg, {}, {})
    probe = _shrink(gray, kp)
    bg = background(probe)
    pols = polarities(probe, bg)
    done: dict[bool, Binarized] = {}
    heights: dict[bool, float] = {}
    stats: dict[bool, np.ndarray] = {}  # of the probe's marks: the text regions are found from them too
    labels: dict[bool, np.ndarray] = {}  # ... and the grid stage's quick look (grid.has_lattice)
    for inverted in pols:
        done[inverted] = binarize(probe, inverted, bg)
        labels[inverted], stats[inverted] = label(done[inverted].ink)
        char_h = character_height(done[inverted].ink, stats[inverted])
        if char_h is None:
            return View(gray, 1.0, pols, bg, {}, {})
        heights[inverted] = char_h * kp
    if found is not None:
        inks = {i: b.ink for i, b in done.items()}
        found.append(Probe(kp, inks, {i: h / kp for i, h in heights.items()}, stats, labels, probe, done))
    f = TARGET_CHAR_H / min(heights.values())
    if f >= MIN_REDUCTION:
        return View(gray, 1.0, pols, bg, {}, {})
    if f <= 1.0 / kp:  # the probe already has characters of at least the target height
        return View(probe, float(kp), pols, bg, done, {inv: ch / kp for inv, ch in heights.items()})
    # Pixel means over whole blocks (fast), then a bilinear step of less than 2x for the rest:
    # a fraction of the time of an area resize by an arbitrary factor.
    k = int(1.0 / f)
    view = _shrink(gray, k) if k > 1 else gray
    view = cv2.resize(view, None, fx=f * k, fy=f * k, interpolation=cv2.INTER_LINEAR)
    return View(view, 1.0 / f, pols, bg, {}, {inv: ch * f for inv, ch in heights.items()})


#: A reading scoring at least this much (:func:`reading_score`: a few confident digits of even
#: height) stands without the other polarity being read. Of the 231 pages of the bench photos
#: and the batch benchmark read in both polarities, none had the other polarity win over a
#: first reading scoring more than 0.25.
CLEAR_READING = 1.0

#: A small crop is read with and without its paper floor (see :func:`binarize`). The floored
#: binarization is the crop's own: the floor is what keeps the strokes of bold digits that fill a
#: crop, where a median background is ink, not paper (without it such a digit keeps only the
#: outline of its strokes, or loses its middle: an 8 read as a 0). The floor-less one is the fallback
#: for a crop whose floor takes a shadow or a dark surround for ink, where it reads clearly better.
#: So a floor-less reading scores this much less (:func:`reading_score`): between two confident
#: readings of the same marks, both near certainty, the one without the floor no longer wins by a
#: thousandth (which an OpenCV release that moved a stroke by a pixel decided). On the dev sets any
#: margin from 0.02 to 0.1 reads as well or better than none; 0.005 and 0.15 read worse.
FLOORLESS_MARGIN = 0.05

#: On a reduced page, a final character height this far from the expected one, or none found at
#: all, means that the reduction may have changed what the segmenter sees (characters that
#: touch once reduced): when the reading is weak too (no digit, or a mean confidence under
#: LOW_CONFIDENCE) the page is read again at full size.
HEIGHT_TOLERANCE = 1.6


#: A crop of which less than this share is grey (more than a quarter of the way from its dark
#: level to its light one, and from its light level to its dark one) is already two-level: a
#: binarized crop, whose thick strokes only its floored binarization keeps whole (see
#: :data:`FLOORLESS_MARGIN`); it has no shadow for the floor-less reading to get rid of.
TWO_LEVEL = 0.06


def two_level(gray: np.ndarray) -> float | None:
    """For a (small) grayscale image that is already black and white (see :data:`TWO_LEVEL`), the
    share of its border that is dark; None for any other image."""
    sample = gray[::2, ::2]
    lo, hi = percentiles_u8(sample, (1, 99))
    span = hi - lo
    if span < 2 * MIN_SPREAD:
        return None
    mid = cv2.inRange(sample, int(lo + 0.25 * span) + 1, int(hi - 0.25 * span) - 1)
    if cv2.countNonZero(mid) >= TWO_LEVEL * sample.size:
        return None
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return float(np.count_nonzero(border < (lo + hi) / 2)) / border.size


def _read_polarities(
    gray: np.ndarray,
    pols: list[bool],
    model: Model,
    scale: float,
    bg: Background,
    done: dict[bool, Binarized],
    expected: dict[bool, float],
    crop: bool = False,
    texts: Callable[[bool], tuple[np.ndarray, tuple[int, int]] | None] | None = None,
) -> list[Line] | None:
    """The best reading over the polarities ``pols``; None when the best one, on a reduced page
    (``expected`` character heights given), did not segment as expected and is weak. ``texts``:
    the ink of the page's text regions alone and where it lies, by polarity (None: read the
    whole page)."""
    best: list[Line] = []
    best_score = float("-inf")
    best_ok = True
    floors = (False,)
    if crop:
        dark_border = two_level(gray)
        floors = (True, False) if dark_border is None else (True,)
        if dark_border is not None:
            # On a black-and-white crop a band or a blot can outweigh the strokes in the polarity
            # test (light departures against dark ones): the background is what surrounds it.
            pols = [dark_border > 0.5]
    kept: list[Dropped] | None = None  # what the best reading left out (explain)
    for inverted in pols:
        if best_score >= CLEAR_READING:
            break  # the other polarity reads noise, if anything: it never beats a clear reading
        for floor in floors:
            with explain.collect() as dropped, explain.frame(scale):
                found = texts(inverted) if texts is not None and not floor else None
                if found is not None:
                    ink, origin = found
                elif inverted in done and not floor:
                    ink, origin = done[inverted].ink, (0, 0)
                else:
                    ink, origin = binarize(gray, inverted, bg, floor).ink, (0, 0)
                heights: list[float] = []
                with explain.frame(scale, origin):
                    seg = segment(ink, heights, gray.shape[0])
                lines = _classify_lines(seg, model, scale, origin)
            score = reading_score(lines) - (FLOORLESS_MARGIN if crop and not floor else 0.0)
            if score > best_score:
                best, best_score, kept = lines, score, dropped
                if expected:
                    want, got = expected[inverted], heights[-1] if heights else 0.0
                    fallback = any(h >= ink.shape[0] for h in heights)  # nothing looked like a character
                    best_ok = not fallback and want / HEIGHT_TOLERANCE <= got <= want * HEIGHT_TOLERANCE
    # A confident reading stands even so: reading at full size seldom does better.
    if best_ok or not _weak(best):
        explain.keep(kept)
        return best
    return None


def _read_grid(
    gray: np.ndarray, v: View, probe: list[Probe], model: Model, scale: float, crop: bool
) -> tuple[list[Line], dict | None] | None:
    """The reading of a page with a grid (:mod:`digit_ocr.grid`): its cells row by row, a line a
    row, and what lies outside it read as a page; with what is known of the grid (rows, columns,
    box in the original image). None when the page has no grid. Graph paper is read as a page
    with its rulings painted over (no grid known).

    Rulings are dark on light paper: the grid is looked for in that polarity only, first with
    :func:`~digit_ocr.grid.has_lattice` (on the probe, when the page has one, whose marks are
    labelled already), so that a page without a grid costs next to nothing."""
    if probe:
        p = probe[0]
        pb = p.done.get(False)
        if pb is None:  # a page of light ink on dark: the probe was not binarized dark on light
            assert p.gray is not None
            pb = binarize(p.gray, False, v.bg)
        fb = faint(pb)
        marks = (p.labels[False], p.stats[False]) if fb is pb and False in p.labels else None
        if not grid.has_lattice(fb.ink, p.heights.get(False), marks):
            return None
    view, f = v.view, v.f
    b = v.done.get(False)
    if b is None:  # kept for the page's own reading, when it has no grid
        b = v.done[False] = binarize(view, False, v.bg)
    b = faint(b)
    if probe:
        char_h = v.expected.get(False) or grid.character_size(b.ink)
    else:
        marks = label(b.ink)
        char_h = grid.character_size(b.ink, marks[1])
        if not grid.has_lattice(b.ink, char_h, marks):
            return None
    lattice = grid.find_lattice(b.ink, char_h, b.flat)
    if lattice is None:
        return None
    with explain.frame(scale * f):
        rows = grid.cell_lines(b.ink, lattice, b.flat)
    if rows is None:  # graph paper: the writing runs across the squares
        if not PAINT_GRAPH_PAPER:
            return None
        # Read as a page, its rulings painted over with the paper beside them.
        paper = grid.without_rulings(view, b, lattice)
        paper_probe: list[Probe] = []
        return _read_page(paper, model_view(paper, paper_probe), paper_probe, model, scale * f, crop), None
    lines = _classify_lines(rows, model, scale * f)
    for line in lines:
        line.row = line.digits[0].cell[0] if line.digits and line.digits[0].cell else None
        line.letters = 0
    x0, y0, x1, y1 = lattice.box()
    R, C = lattice.shape
    box = _to_original((x0, y0, x1 - x0, y1 - y0), scale * f)
    area = grid.area(lattice, b.ink.shape)
    if grid.marks_outside(b.ink, area):
        # What lies around the grid (a title, a page number, text beside a table) is read as a
        # page of its own, the grid's area blanked with the paper's level.
        x0, y0, x1, y1 = (int(round(v * f)) for v in area)
        rest = gray.copy()
        rest[y0:y1, x0:x1] = int(percentiles_u8(gray[::4, ::4], (PAPER_LEVEL,))[0])
        rest_probe: list[Probe] = []
        outside = _read_page(rest, model_view(rest, rest_probe), rest_probe, model, scale, crop)
        lines = sorted(lines + outside, key=lambda line: line.box[1] + line.box[3] / 2)
    return lines, {"rows": R, "columns": C, "box": list(box)}


def _sheet_score(lines: list[Line]) -> float:
    """How plausible a reading is, between a page's and its sheet's (see :func:`reading_score`)."""
    digits = [d for line in lines for d in line.digits]
    if not digits:
        return -1e9
    return sum(d.confidence - 0.75 for d in digits) - 0.3 * (len(lines) - 1)


def reading_score(lines: list[Line]) -> float:
    """How plausible a reading is: confident digits count for it; digits of uneven heights
    and extra lines, which is what noise read as digits looks like, count against it."""
    digits = [d for line in lines for d in line.digits]
    if not digits:
        return -1e9
    heights = np.array([d.box[3] for d in digits], float)
    spread = float(heights.std() / heights.mean())
    return sum(d.confidence - 0.75 for d in digits) - spread * len(digits) - 0.3 * (len(lines) - 1)


def read_lines_model(
    work: np.ndarray,
    model: Model,
    scale: float,
    crop: bool = False,
    found: list[dict] | None = None,
    sheets: list[np.ndarray] | None = None,
) -> list[Line]:
    """Read with the model alone: every candidate classified, non-digits rejected.

    Where the probe of :func:`model_view` tells the page's text regions apart, they alone are
    read (:mod:`digit_ocr.regions`); the whole page is read when they cannot be told or their
    reading is weak. A page with large characters is read reduced (:func:`model_view`), and
    again at full size when the reduced page does not segment as its character height promised
    and the reading is weak. When the polarity is unclear both are read; a small crop (``crop``:
    enlarged to be worked on) is read with and without its paper floor (see :func:`binarize`);
    the most plausible reading (:func:`reading_score`, the floor-less one by
    :data:`FLOORLESS_MARGIN` less) wins. A sheet lying on a table (:mod:`digit_ocr.page`) is also
    read alone, and that reading kept when it has more confident digits; ``sheets``, when given,
    then receives the page with the table painted over.
    """
    gray = to_gray(work)  # once: binarize takes it as it is
    probe: list[Probe] = []  # what model_view learnt on its reduced copy of the page
    v = model_view(gray, probe)
    sheet = page.isolate(gray, v.bg.small) if ISOLATE_SHEET else None
    with explain.collect() as dropped:
        whole = _read_view(gray, v, probe, model, scale, crop)
    if sheet is None:
        explain.keep(dropped)
        return _found(whole, found)
    # A sheet on a table: read on the sheet alone too, and the more plausible reading kept (an
    # edge of light across a page, a bright window around a display's digit, look like a sheet's).
    sheet_probe: list[Probe] = []
    with explain.collect() as on_sheet:
        alone = _read_view(sheet, model_view(sheet, sheet_probe), sheet_probe, model, scale, crop)
    if _sheet_score(alone[0]) < _sheet_score(whole[0]):
        explain.keep(dropped)
        return _found(whole, found)
    explain.keep(on_sheet)
    if sheets is not None:
        sheets.append(sheet)
    return _found(alone, found)


def _found(read: tuple[list[Line], dict | None], found: list[dict] | None) -> list[Line]:
    """The lines of a reading, its grid's information (if any) added to ``found``."""
    lines, info = read
    if info is not None and found is not None:
        found.append(info)
    return lines


def _read_view(
    gray: np.ndarray, v: View, probe: list[Probe], model: Model, scale: float, crop: bool
) -> tuple[list[Line], dict | None]:
    """The reading of a page (its grid's, when it has one, with what is known of the grid)."""
    if READ_GRIDS:
        read = _read_grid(gray, v, probe, model, scale, crop)
        if read is not None:
            return read
    return _read_page(gray, v, probe, model, scale, crop), None


def _read_page(
    gray: np.ndarray, v: View, probe: list[Probe], model: Model, scale: float, crop: bool
) -> list[Line]:
    """The reading of a page without a grid (see :func:`read_lines_model`)."""
    if probe and READ_REGIONS:
        texts = TextRegions(probe[0], v.bg)
        with explain.collect() as dropped:
            lines = _read_sizes(gray, v, model, scale, crop, texts)
        if not texts.used or not _weak(lines):
            explain.keep(dropped)
            return lines
    return _read_sizes(gray, v, model, scale, crop)


def _read_sizes(
    gray: np.ndarray, v: View, model: Model, scale: float, crop: bool, texts: TextRegions | None = None
) -> list[Line]:
    """The reading of the page's working ``v.view`` (reduced ``v.f`` times), else of the page at
    full size; of its text regions alone when ``texts`` are given, in the polarities they show."""
    view, f, pols, bg, done, expected = v
    if texts is not None:
        pols = texts.polarities(pols)
    if f > 1.0:
        at_view = (lambda inv: texts.ink(view, f, inv)) if texts is not None else None
        with explain.collect() as dropped:
            lines = _read_polarities(view, pols, model, scale * f, bg, done, expected, crop, at_view)
        if lines is not None:
            explain.keep(dropped)
            return lines
    at_full = (lambda inv: texts.ink(gray, 1.0, inv)) if texts is not None else None
    known = done if f == 1.0 else {}  # the binarizations of the view are the page's at full size
    return _read_polarities(gray, pols, model, scale, bg, known, {}, crop, at_full) or []


def _weak(lines: list[Line]) -> bool:
    """Whether a reading found no digit, or only unsure ones on average."""
    confidences = [d.confidence for line in lines for d in line.digits]
    return not confidences or sum(confidences) / len(confidences) < LOW_CONFIDENCE


def _rejected(p: Prediction) -> bool:
    """Not a digit: the model's "not a digit" class is all but sure. (Rejecting candidates on which
    no digit stands out, as the model of 8x8 counts needed, changes no reading of the dev sets with
    this model: the rule is gone.)"""
    return p.not_a_digit > NOT_A_DIGIT_ABOVE


def _log_confidences(preds: list[Prediction]) -> list[float]:
    """The log of each prediction's confidence (at least 1e-4), in one call for them all: NumPy's
    log of an array gives each element the same value as the log of that element alone."""
    return np.log(np.maximum([p.confidence for p in preds], 1e-4)).tolist()


def _band(items: list[Candidate], i: int) -> tuple[float, float] | None:
    """The top and bottom of the line of ``items`` without its ``i``-th candidate (the medians of
    the others'); None when fewer than two others tell it."""
    if len(items) < 3:
        return None
    others = items[:i] + items[i + 1 :]
    return float(np.median([q.y for q in others])), float(np.median([q.y + q.h for q in others]))


def _spans(q: Candidate, band: tuple[float, float]) -> bool:
    """Whether a candidate's top and bottom are those of its line (:data:`LINE_FIT`)."""
    top, bottom = band
    tol = LINE_FIT * (bottom - top)
    return abs(q.y - top) <= tol and abs(q.y + q.h - bottom) <= tol


def _whole(
    c: Candidate, log_conf: Callable[[Candidate], float], band: tuple[float, float] | None = None
) -> tuple[list[Candidate], float]:
    """The best way of reading a candidate as one digit (``log_conf``: the log confidence of the
    model's reading of a piece): whole or without the marks clinging to it; and its score.

    Leaving out the clinging marks costs :data:`TRIM_PENALTY`, as a digit's own detached parts
    cling to it too; but where the candidate without them spans its line (``band``: the top and
    bottom of the line's other characters) and with them does not, the line shows they are no
    part of the character (a tick or a smudge under a printed digit), and reading it whole costs
    that instead. Neither reading then wins by a few hundredths of confidence: an 8 with a tick
    below it reads as a 9 at 0.92 or 0.88, which a fixed penalty of 0.1 in log confidence (0.905)
    split, and an OpenCV release drawing the test's digits a pixel wider tipped.
    """
    whole = [c]
    score = log_conf(c) - (JOIN_PENALTY if c.joined else 0.0)
    if c.core is not None:
        trimmed = log_conf(c.core)
        if band is not None and _spans(c.core, band) and not _spans(c, band):
            score -= TRIM_PENALTY
        else:
            trimmed -= TRIM_PENALTY
        if trimmed > score:
            whole, score = [c.core], trimmed
    for alt in c.alternatives:
        if log_conf(alt) > score:
            whole, score = [alt], log_conf(alt)
    if c.w > WHOLE_WIDE * c.h:
        score = -math.inf
    return whole, score - DIGIT_COST


def _may_cut(c: Candidate, whole: float) -> bool:
    """Whether reading a candidate cut apart could beat reading it as one digit (score ``whole``,
    see :func:`_whole`): any cut reading has two pieces or more, each read (at least
    :data:`DIGIT_COST`) or left out (:data:`SKIP_COST`). Where it could not, its pieces are not
    classified."""
    return c.cuttable and whole < -2 * min(DIGIT_COST, SKIP_COST)


def _best_cut(
    c: Candidate,
    log_conf: Callable[[Candidate], float],
    whole: tuple[list[Candidate], float],
    letter: bool = False,
) -> list[Candidate]:
    """The way of reading a candidate whose pieces the model reads best: as one digit (``whole``,
    see :func:`_whole`) or as a sequence of its pieces between cuts (touching digits), some of
    them left out as separators.

    Each digit read costs :data:`DIGIT_COST` and each separator left out :data:`SKIP_COST`; the
    best sequence of pieces is found by dynamic programming over the cuts (``c.pieces``).
    """
    if not _may_cut(c, whole[1]):
        return whole[0]
    # best[k][d]: the best score of reading the candidate up to its cut k with d digits (2: two
    # or more), and how. A candidate the model is sure is no digit (``letter``) is read cut apart
    # only as two digits or more (touching digits): one digit and the rest left out would trim a
    # letter into a digit (an A without its left leg is a 4) that the line's words then keep.
    best = [[(-math.inf, [])] * 3 for _ in range(c.ends + 1)]
    best[0][0] = (0.0, [])
    for piece in sorted(c.pieces, key=lambda q: q.end):
        for d in range(3):
            before, read = best[piece.start][d]
            if before == -math.inf:
                continue
            if piece.digit:
                s, n = before + log_conf(piece.cand) - DIGIT_COST, min(d + 1, 2)
                if s > best[piece.end][n][0]:
                    best[piece.end][n] = (s, [*read, piece.cand])
            if piece.small and before - SKIP_COST > best[piece.end][d][0]:
                best[piece.end][d] = (before - SKIP_COST, read)
    score, read = max(best[c.ends][2 if letter else 0 :], key=lambda b: b[0])
    return read if score > whole[1] else whole[0]


def _among(piece: Candidate, others: list[Candidate]) -> bool:
    """Whether ``piece`` is one of ``others`` (by identity: candidates hold arrays)."""
    return any(piece is q for q in others)


def _classify_lines(
    seg: list[SegmentLine], model: Model, scale: float, origin: tuple[int, int] = (0, 0)
) -> list[Line]:
    """Classify every candidate (each way of cutting a wide one too) and keep the digits
    (``origin``: where the segmented image lies in the image worked on)."""
    cands = [c for line in seg for c in line.items]
    first = [q for c in cands for q in (c, *([c.core] if c.core else []), *c.alternatives)]
    if not first:
        return []
    feats = normalize.features_of([q.ink for q in first], model.blocks)
    preds = classify(model, feats)
    at = {id(q): i for i, q in enumerate(first)}
    logs = _log_confidences(preds)

    def log_conf(q: Candidate) -> float:
        return logs[at[id(q)]]

    wholes = {
        id(c): _whole(c, log_conf, _band(sline.items, i) if c.core else None)
        for sline in seg
        for i, c in enumerate(sline.items)
    }
    # The pieces of the candidates that may read better cut apart (those of no digit's shape
    # are only ever left out), classified in a second pass.
    cut = []
    for c in cands:
        if _may_cut(c, wholes[id(c)][1]):
            cut_candidate(c)
            cut += [p.cand for p in c.pieces if p.digit]
    if cut:
        more = normalize.features_of([q.ink for q in cut], model.blocks)
        at.update((id(q), len(first) + i) for i, q in enumerate(cut))
        feats = np.concatenate([feats, more])
        more_preds = classify(model, more)
        preds += more_preds
        logs += _log_confidences(more_preds)
    lines = []
    for sline in seg:
        # (piece, space before it, whether it is the whole candidate however thresholded)
        chosen = [
            (piece, c.space_before and j == 0, piece is c or piece is c.core or _among(piece, c.alternatives))
            for c in sline.items
            for j, piece in enumerate(
                _best_cut(c, log_conf, wholes[id(c)], preds[at[id(c)]].not_a_digit > NOT_A_DIGIT_ABOVE)
            )
        ]
        parts = [q for q, _, _ in chosen]
        votes = [preds[at[id(q)]] for q in parts]
        # Whole characters the model takes for no digit: letters, where the line is text. (Pieces
        # of a cut-apart handwritten digit are often "no digit": they do not count.)
        # (Letters at NOT_A_DIGIT_ABOVE: lower, the rule drops uncertain handwritten digits.)
        sure = [whole and p.not_a_digit > NOT_A_DIGIT_ABOVE for (_, _, whole), p in zip(chosen, votes)]
        words = _in_words(parts, sure)
        # Slashes on a line of text (handwritten 1s lean and reach out like them).
        slashes = _slashes(parts, votes) if any(sure) else [False] * len(parts)
        dropped = [a or b for a, b in zip(words, slashes)]
        digits: list[Digit] = []
        pending_space = False
        for (piece, space, _), p, drop, slash, word in zip(chosen, votes, dropped, slashes, words):
            if drop or _rejected(p):
                pending_space = pending_space or space
                if explain.active():
                    reason = "slash" if slash else "word" if word else "not_a_digit"
                    with explain.frame(scale, origin):
                        explain.note(piece.box, reason, digit=p.digit, not_a_digit=round(p.not_a_digit, 4))
                continue
            k = at[id(piece)]
            digits.append(
                Digit(
                    p.digit,
                    p.confidence,
                    _to_original(piece.box, scale, origin),
                    "model",
                    p.runner_up,
                    p.runner_up_confidence,
                    space_before=space or pending_space,
                    cell=piece.cell,
                    features=feats[k],
                )
            )
            pending_space = False
        if digits:
            # Letters that make a line printed text for the cross-check, which Tesseract must
            # confirm there (crosscheck.is_text): whole characters more likely no digit than any.
            letters = sum(w and p.not_a_digit > TEXT_LETTER_ABOVE for (_, _, w), p in zip(chosen, votes))
            lines.append(Line(digits, letters))
    return lines


#: Characters closer than this share of their height belong to one word.
WORD_GAP = 0.3
#: A whole character whose "not a digit" probability is over this counts as a letter of its line
#: for the cross-check (Tesseract reads a line with letters as text where it confirms it).
TEXT_LETTER_ABOVE = 0.5
#: A word of which at least this share is letters (whole characters the model is sure are no
#: digit) is text ("Invoice", "Date", "EUR"): its 0-like o, 1-like l and the like are not read either.
TEXT_SHARE = 0.34


#: A 1 is a slash ("12/03/2024") when it leans this much more (dx/dy) than the line's other
#: characters and reaches SLASH_REACH of their height above or below them, as a slash does.
SLASH_LEAN = 0.2
SLASH_REACH = 0.08


def _slashes(pieces: list[Candidate], preds: list[Prediction]) -> list[bool]:
    """For each piece of a line, whether it is a slash read as 1 (de-slanted, a slash is a 1)."""
    if len(pieces) < 3 or not any(p.digit == "1" for p in preds):
        return [False] * len(pieces)
    lean = []
    for q in pieces:
        m = cv2.moments(q.ink, binaryImage=True)
        lean.append(m["mu11"] / m["mu02"] if m["mu02"] > 1e-6 else 0.0)
    mid = float(np.median(lean))
    top = float(np.median([q.y for q in pieces]))
    bottom = float(np.median([q.y + q.h for q in pieces]))
    reach = SLASH_REACH * (bottom - top)
    return [
        p.digit == "1" and abs(k - mid) >= SLASH_LEAN and (q.y + q.h >= bottom + reach or q.y <= top - reach)
        for q, p, k in zip(pieces, preds, lean)
    ]


def _in_words(pieces: list[Candidate], letters: list[bool]) -> list[bool]:
    """For each piece of a line (left to right), whether it belongs to a word of text: a run of
    close characters of which many are surely letters (``letters``)."""
    out = [False] * len(pieces)
    start = 0
    for i in range(1, len(pieces) + 1):
        if i < len(pieces):
            a, b = pieces[i - 1], pieces[i]
            if b.x - (a.x + a.w) <= WORD_GAP * max(a.h, b.h):
                continue
        n = sum(letters[start:i])
        if n and n >= TEXT_SHARE * (i - start):
            out[start:i] = [True] * (i - start)
        start = i
    return out


def read_image(
    source: str | os.PathLike[str] | np.ndarray | bytes,
    *,
    engine: str = "auto",
    model: Model | str | os.PathLike[str] | None = None,
    tesseract_timeout: float = 10.0,
    explain: bool = False,
) -> Reading:
    """Read the digits of one image (a path, encoded bytes or a pixel array).

    ``engine``: ``model`` (the trained classifier alone), ``tesseract`` (Tesseract alone),
    ``auto`` (the model, with Tesseract consulted where it can change the answer; without a
    Tesseract binary ``auto`` is the model alone, with a warning) or ``both`` (both engines
    always, combined digit by digit, each engine's own reading kept in ``alternatives``).
    ``explain``: also list the marks left out, and why (``Reading.dropped``; see
    :mod:`digit_ocr.explain`).
    """
    from .crosscheck import cross_check, tesseract_lines
    from .explain import collect as collect_dropped

    if engine not in ENGINES:
        raise BadArgumentsError(f"unknown engine {engine!r}", f"choose one of {', '.join(ENGINES)}")
    t0 = time.perf_counter()
    timing: dict[str, float] = {}
    loaded = open_image(source, gray=True)  # the reader works on luminance (binarize.to_gray)
    timing["load"] = time.perf_counter() - t0
    path = str(source) if isinstance(source, (str, Path, os.PathLike)) else None
    width, height = loaded.original_size
    work, scale = _work_image(loaded)
    reading = Reading(path, width, height, engine=engine)
    reading.warnings.extend(loaded.warnings)  # e.g. a damaged JPEG decoded in part
    t1 = time.perf_counter()
    if engine == "tesseract":
        reading.lines = tesseract_lines(work, scale, tesseract_timeout)
        timing["tesseract"] = time.perf_counter() - t1
    else:
        m = get_model(model)
        crop = max(width, height) < MIN_WORK_SIDE  # enlarged to be worked on
        grids: list[dict] = []
        sheets: list[np.ndarray] = []  # the sheet on a table, when read alone: Tesseract's too
        with collect_dropped(explain) as dropped:
            reading.lines = read_lines_model(work, m, scale, crop, grids, sheets)
        reading.dropped = list(dropped) if dropped is not None else None
        model_digits = reading.digits if explain else []  # what Tesseract's text may drop
        reading.grid = grids[0] if grids else None
        timing["model"] = time.perf_counter() - t1
        if engine in ("auto", "both"):
            t2 = time.perf_counter()
            reading.lines = cross_check(
                reading.lines,
                sheets[0] if sheets else work,
                scale,
                reading.warnings,
                tesseract_timeout,
                m,
                always=engine == "both",
                alternatives=reading.alternatives if engine == "both" else None,
                keep_out=[tuple(reading.grid["box"])] if reading.grid else None,
            )
            timing["tesseract"] = time.perf_counter() - t2
            if reading.dropped is not None:
                reading.dropped.extend(_dropped_by_tesseract(model_digits, reading.digits))
    if explain and reading.dropped is None:
        reading.dropped = []  # Tesseract alone: it does not say what it left out
    timing["total"] = time.perf_counter() - t0
    reading.timing = timing
    return reading


def _dropped_by_tesseract(model_digits: list[Digit], final: list[Digit]) -> list[Dropped]:
    """The model's digits that the combined reading left out (lines Tesseract read as text):
    none of its digits overlaps them."""
    out = []
    for d in model_digits:
        x, y, w, h = d.box
        boxes = (e.box for e in final)
        if not any(min(x + w, a + c) > max(x, a) and min(y + h, b + e) > max(y, b) for a, b, c, e in boxes):
            detail = {"digit": d.digit, "confidence": round(d.confidence, 4)}
            out.append(Dropped(d.box, "tesseract_text", detail))
    return out
