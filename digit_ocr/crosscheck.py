"""Cross-check stage: combine the model's digits with Tesseract's, digit by digit, by box overlap."""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

import numpy as np

from .errors import DigitOcrError, MissingDependencyError
from .model import Model
from .result import Box, Digit, Line

#: Tesseract is consulted when the model found nothing or any digit is below this confidence.
CONSULT_BELOW = 0.60
#: Where the model read nothing, a Tesseract character is read when at least this confident.
ADD_ABOVE = 0.80
MATCH_IOU = 0.3
#: On disagreement Tesseract's digit wins only when its calibrated confidence is this much higher.
OVERRIDE_MARGIN = 0.05


def iou(a: Box, b: Box) -> float:
    ax0, ay0, aw, ah = a
    bx0, by0, bw, bh = b
    ix = max(0, min(ax0 + aw, bx0 + bw) - max(ax0, bx0))
    iy = max(0, min(ay0 + ah, by0 + bh) - max(ay0, by0))
    inter = ix * iy
    return inter / float(aw * ah + bw * bh - inter) if inter else 0.0


#: A line with at least this many characters the model took for letters is printed text.
TEXT_LETTERS = 1
#: On a line of text, Tesseract's digits are taken when it read at least TEXT_MIN_DIGITS and the
#: model read at least TEXT_COVER of them too, in the same order (plus letters read as digits).
TEXT_MIN_DIGITS = 3
TEXT_COVER = 0.9
#: ... or TEXT_COVER_PRINT of them when those are printed: of one height, within PRINT_SPREAD.
TEXT_COVER_PRINT = 0.75
PRINT_SPREAD = 0.04
PRINT_MIN_DIGITS = 4


def is_text(line: Line) -> bool:
    """Whether a line is printed text with numbers in it ("Invoice No. 4471"): the model reads
    some letters as digits there (o as 0, l as 1), which Tesseract does not."""
    return line.letters >= TEXT_LETTERS


def needs_tesseract(lines: list[Line]) -> bool:
    """Whether Tesseract could change the answer: nothing found, an uncertain digit, or text."""
    digits = [d for line in lines for d in line.digits]
    return not digits or any(d.confidence < CONSULT_BELOW for d in digits) or any(map(is_text, lines))


@dataclass
class _Match:
    """Tesseract's line in a model line's band, its digits that the model read too (Tesseract's
    index -> the model's, in the same order), and whether those are printed (of one height)."""

    tess: Line
    pairs: dict[int, int]
    printed: bool

    @property
    def cover(self) -> float:
        return len(self.pairs) / len(self.tess.digits)


def _match(line: Line, tess_lines: list[Line]) -> _Match | None:
    band = [t for t in tess_lines if t.digits and _same_band(t.box, line.box)]
    if not band:
        return None
    tess = max(band, key=lambda t: len(t.digits))
    a, b = "".join(d.digit for d in line.digits), "".join(t.digit for t in tess.digits)
    blocks = difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()
    pairs = {j + k: i + k for i, j, n in blocks for k in range(n)}
    heights = np.array([line.digits[i].box[3] for i in pairs.values()], float)
    printed = len(heights) >= PRINT_MIN_DIGITS and heights.std() <= PRINT_SPREAD * heights.mean()
    return _Match(tess, pairs, printed)


def _as_text(m: _Match | None, letters: bool) -> bool:
    """Whether a line is printed text (``letters``: the model found letters on it, or on a line
    of the same page Tesseract confirmed) that Tesseract read as the model did, less letters."""
    if m is None or len(m.tess.digits) < TEXT_MIN_DIGITS or not letters:
        return False
    # Tesseract reads a sign now and then as a digit (the + of a phone number as 4): a line of
    # printed digits (of one height) is still confirmed with fewer of them in common.
    return m.cover >= TEXT_COVER or (m.printed and m.cover >= TEXT_COVER_PRINT)


def _read_as_text(line: Line, m: _Match, model: Model | None) -> Line:
    """A line of printed text as Tesseract read it: the model's extra digits were letters.
    Digits both read keep the model's box (Tesseract's boxes swallow the letters beside them)."""
    out = []
    for j, t in enumerate(m.tess.digits):
        conf = calibrate_tesseract(t.confidence, model)
        if j in m.pairs:
            d = line.digits[m.pairs[j]]
            d.votes = {
                "model": {"digit": d.digit, "confidence": round(d.confidence, 4)},
                "tesseract": {"digit": t.digit, "confidence": round(conf, 4)},
            }
            d.confidence, d.engine, d.agreed = _agree(d.confidence, conf), "both", True
            out.append(d)
        else:
            t.confidence, t.agreed = conf, False
            t.votes = {
                "model": {"digit": None, "confidence": 0.0},
                "tesseract": {"digit": t.digit, "confidence": round(conf, 4)},
            }
            out.append(t)
    return Line(out, line.letters)


def tesseract_lines(work: np.ndarray, scale: float, timeout: float) -> list[Line]:
    """Tesseract's reading of the work image, boxes in original-image pixels."""
    from ._exec import tesseract

    out = []
    for tline in tesseract.read_digits(work, timeout=timeout):
        digits = []
        for ch in tline:
            x, y, w, h = ch.box
            box = (
                int(round(x * scale)),
                int(round(y * scale)),
                max(1, int(round(w * scale))),
                max(1, int(round(h * scale))),
            )
            digits.append(Digit(ch.char, ch.conf, box, "tesseract"))
        if digits:
            out.append(Line(digits))
    return out


def _agree(p: float, q: float) -> float:
    """Two independent votes for the same digit."""
    return p * q / max(1e-9, p * q + (1.0 - p) * (1.0 - q))


def _disagree(win: float, lose: float) -> float:
    """The winner's confidence when another engine voted for a different digit."""
    return win * (1.0 - lose) / max(1e-9, win * (1.0 - lose) + lose * (1.0 - win))


def calibrate_tesseract(conf: float, model: Model | None) -> float:
    """Tesseract's confidence mapped to a probability of being right (Platt scaling from training)."""
    cal = (model.meta.get("calibration", {}).get("tesseract") if model is not None else None) or {}
    if not cal:
        return conf
    z = float(cal["a"]) * conf + float(cal["b"])
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def combine(
    model_lines: list[Line],
    tess_lines: list[Line],
    model: Model | None = None,
    keep_out: list[Box] | None = None,
) -> list[Line]:
    """Merge two readings digit by digit (matched by box overlap).

    Agreement raises the confidence; on disagreement the engine with the higher calibrated
    confidence wins (Tesseract only over a digit the model is unsure of), with a confidence
    lowered by the other's vote. Tesseract-only digits are added, when Tesseract is sure of
    them, only where the model read nothing at all, and never within the boxes ``keep_out`` (a
    grid, whose rulings Tesseract reads as 1s and whose empty cells are empty). Lines of printed
    text (:func:`is_text`) that Tesseract confirms are taken as Tesseract read them
    (:func:`_read_as_text`).
    """
    # Lines of printed text that Tesseract confirms are read as it reads them; the rest digit by
    # digit. Where it confirms printed lines with letters, the page is print: all its printed
    # lines are text (a label the model took for digits, not for letters, is on one of them).
    # The rows of a grid are never text: Tesseract reads its rulings as 1s.
    matches = [_match(line, tess_lines) if line.row is None else None for line in model_lines]
    text = [_as_text(m, is_text(line)) for m, line in zip(matches, model_lines)]
    if any(t and m is not None and m.printed for t, m in zip(text, matches)):
        text = [t or _as_text(m, m is not None and m.printed) for t, m in zip(text, matches)]
    done = {
        n: _read_as_text(line, m, model)
        for n, (line, m, t) in enumerate(zip(model_lines, matches, text))
        if t and m is not None
    }
    if done:
        tess_lines = [t for t in tess_lines if not any(_same_band(t.box, d.box) for d in done.values())]
        rest = [line for n, line in enumerate(model_lines) if n not in done]
        return _merge_in([*done.values(), *_combine(rest, tess_lines, model, keep_out)])
    return _combine(model_lines, tess_lines, model, keep_out)


def _merge_in(lines: list[Line]) -> list[Line]:
    """Lines top to bottom (as the segmenter orders them: by the middle of their band)."""
    return sorted((line for line in lines if line.digits), key=lambda line: line.box[1] + line.box[3] / 2)


def _combine(
    model_lines: list[Line], tess_lines: list[Line], model: Model | None, keep_out: list[Box] | None = None
) -> list[Line]:
    """:func:`combine` digit by digit (matched by box overlap)."""
    tess = [d for line in tess_lines for d in line.digits]
    heights = sorted(d.box[3] for line in model_lines for d in line.digits)
    if heights:  # Tesseract sometimes boxes a character with the whole image: no use for matching
        h_med = heights[len(heights) // 2]
        tess = [t for t in tess if t.box[3] <= 2.0 * h_med and t.box[2] <= 2.0 * max(h_med, t.box[3])]
    for t in tess:
        t.confidence = calibrate_tesseract(t.confidence, model)
    used: set[int] = set()
    for line in model_lines:
        for d in line.digits:
            best, best_iou = -1, MATCH_IOU
            for i, t in enumerate(tess):
                if i in used:
                    continue
                v = iou(d.box, t.box)
                if v > best_iou:
                    best, best_iou = i, v
            d.votes = {"model": {"digit": d.digit, "confidence": round(d.confidence, 4)}}
            if best < 0:
                d.votes["tesseract"] = {"digit": None, "confidence": 0.0}
                d.agreed = False
                continue
            used.add(best)
            t = tess[best]
            d.votes["tesseract"] = {"digit": t.digit, "confidence": round(t.confidence, 4)}
            if t.digit == d.digit:
                d.confidence = _agree(d.confidence, t.confidence)
                d.engine, d.agreed = "both", True
                continue
            d.agreed = False
            # Tesseract overrules only a digit the model is unsure of: it misreads handwriting
            # with confidence, so a sure model digit stands (with its confidence lowered).
            if d.confidence < CONSULT_BELOW and t.confidence > d.confidence + OVERRIDE_MARGIN:
                d.runner_up, d.runner_up_confidence = d.digit, d.confidence
                d.digit, d.confidence, d.engine = t.digit, _disagree(t.confidence, d.confidence), "tesseract"
            else:
                d.runner_up, d.runner_up_confidence = t.digit, t.confidence
                d.confidence = _disagree(d.confidence, t.confidence)
    if any(line.digits for line in model_lines):
        # Tesseract falls back only where the model read nothing: beside the model's lines, its
        # extra lines were more often strokes and marks it misread than digits (handwritten
        # scenes 43.3% -> 45.3% exact, printed 88.0% -> 89.3% without them).
        return [line for line in model_lines if line.digits]
    lines: list[Line] = []
    for t in tess:
        if t.confidence < ADD_ABOVE or any(_inside(t.box, b) for b in keep_out or ()):
            continue
        t.votes = {
            "model": {"digit": None, "confidence": 0.0},
            "tesseract": {"digit": t.digit, "confidence": round(t.confidence, 4)},
        }
        t.agreed = False
        _insert(lines, t)
    return lines


def _inside(a: Box, b: Box) -> bool:
    """Whether the middle of box ``a`` lies in box ``b``."""
    x, y = a[0] + a[2] / 2, a[1] + a[3] / 2
    return b[0] <= x <= b[0] + b[2] and b[1] <= y <= b[1] + b[3]


def _same_band(a: Box, b: Box) -> bool:
    """Whether two boxes overlap vertically by at least half the shorter one."""
    return min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]) >= 0.5 * min(a[3], b[3])


def _insert(lines: list[Line], d: Digit) -> None:
    """Put a digit into the line it overlaps vertically (or a new line), keeping left-to-right order."""
    x, y, w, h = d.box
    for line in lines:
        lx, ly, lw, lh = line.box
        if min(y + h, ly + lh) - max(y, ly) >= 0.5 * min(h, lh):
            line.digits.append(d)
            line.digits.sort(key=lambda q: q.box[0])
            return
    lines.append(Line([d]))
    lines.sort(key=lambda line: line.box[1])


def cross_check(
    lines: list[Line],
    work: np.ndarray,
    scale: float,
    warnings: list[str],
    timeout: float,
    model: Model | None = None,
    *,
    always: bool = False,
    alternatives: dict[str, str] | None = None,
    keep_out: list[Box] | None = None,
) -> list[Line]:
    """The ``auto`` and ``both`` engines: Tesseract asked (where it can change the answer, or
    ``always``) and combined with the model. A missing, failing or slow Tesseract never fails a
    read: the model's answer stands and the problem is added to ``warnings``. ``keep_out``: boxes
    (a grid's) where no digit of Tesseract's alone is added."""
    from ._exec import tesseract

    if alternatives is not None:
        alternatives["model"] = "\n".join(line.text for line in lines)
    if tesseract.find_tesseract() is None:  # said even when not needed, so that users know
        try:
            tesseract.version()  # raises the MissingDependencyError that names the fix
        except MissingDependencyError as exc:
            warnings.append(f"{exc.message}; reading with the model alone")
        return lines
    if not always and not needs_tesseract(lines):
        return lines
    try:
        tess = tesseract_lines(work, scale, timeout)
    except MissingDependencyError as exc:
        warnings.append(f"{exc.message}; reading with the model alone")
        return lines
    except DigitOcrError as exc:
        warnings.append(f"tesseract: {exc.message}; reading with the model alone")
        return lines
    if alternatives is not None:
        alternatives["tesseract"] = "\n".join(line.text for line in tess)
    return combine(lines, tess, model, keep_out)
