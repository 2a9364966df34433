"""Cross-check stage: combine the model's digits with Tesseract's, digit by digit, by box overlap."""

from __future__ import annotations

import numpy as np

from .errors import DigitOcrError, MissingDependencyError
from .result import Box, Digit, Line

#: Tesseract is consulted when the model found nothing or any digit is below this confidence.
CONSULT_BELOW = 0.60
#: A Tesseract-only character is added when at least this confident.
ADD_ABOVE = 0.80
MATCH_IOU = 0.3

_unavailable: dict[str, str] = {}


def iou(a: Box, b: Box) -> float:
    ax0, ay0, aw, ah = a
    bx0, by0, bw, bh = b
    ix = max(0, min(ax0 + aw, bx0 + bw) - max(ax0, bx0))
    iy = max(0, min(ay0 + ah, by0 + bh) - max(ay0, by0))
    inter = ix * iy
    return inter / float(aw * ah + bw * bh - inter) if inter else 0.0


def needs_tesseract(lines: list[Line]) -> bool:
    """Whether Tesseract could change the answer: nothing found, or an uncertain digit."""
    digits = [d for line in lines for d in line.digits]
    return not digits or any(d.confidence < CONSULT_BELOW for d in digits)


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


def combine(model_lines: list[Line], tess_lines: list[Line]) -> list[Line]:
    """Merge two readings: agreement raises confidence, disagreement goes to the more confident engine."""
    tess = [d for line in tess_lines for d in line.digits]
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
                d.confidence = 1.0 - (1.0 - d.confidence) * (1.0 - t.confidence)
                d.engine, d.agreed = "both", True
            else:
                d.agreed = False
                if t.confidence > d.confidence:
                    d.runner_up, d.runner_up_confidence = d.digit, d.confidence
                    d.digit, d.confidence, d.engine = t.digit, t.confidence, "tesseract"
    extra = [t for i, t in enumerate(tess) if i not in used and t.confidence >= ADD_ABOVE]
    for t in extra:
        t.votes = {
            "model": {"digit": None, "confidence": 0.0},
            "tesseract": {"digit": t.digit, "confidence": round(t.confidence, 4)},
        }
        t.agreed = False
        _insert(model_lines, t)
    return [line for line in model_lines if line.digits]


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
    lines: list[Line], work: np.ndarray, scale: float, warnings: list[str], timeout: float
) -> list[Line]:
    """The ``auto`` engine: Tesseract is asked where it can change the answer; it never fails a read."""
    from ._exec import tesseract

    if tesseract.find_tesseract() is None:
        try:
            tesseract.version()  # raises the MissingDependencyError that names the fix
        except MissingDependencyError as exc:
            warnings.append(f"{exc.message}; reading with the model alone")
        return lines
    if not needs_tesseract(lines):
        return lines
    try:
        tess = tesseract_lines(work, scale, timeout)
    except MissingDependencyError as exc:
        warnings.append(f"{exc.message}; reading with the model alone")
        return lines
    except DigitOcrError as exc:
        warnings.append(f"tesseract: {exc.message}; reading with the model alone")
        return lines
    return combine(lines, tess)
