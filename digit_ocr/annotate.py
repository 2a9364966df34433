"""Draw what was read onto a copy of the image: a box and the digit for each, uncertain ones in
orange; and, when the reading says what it left out (``explain``), a thin box and the reason
for each mark dropped: red where the model or Tesseract judged it, blue where the page's
layout did (rulings, frames, edges, sizes, clutter), specks in grey without a label."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from .errors import BadArgumentsError
from .fileio import write_atomic
from .result import Reading

GREEN = (40, 160, 40)
ORANGE = (0, 140, 255)
RED = (40, 40, 220)
BLUE = (200, 120, 30)
GREY = (150, 150, 150)
#: Reasons a judgement of the mark's shape made (drawn in red); the rest are the page's layout.
JUDGED = {"not_a_digit", "word", "slash", "tesseract_text"}


def draw(image: np.ndarray, reading: Reading, low_confidence: float) -> np.ndarray:
    """A BGR copy of ``image`` (at the reading's original size) with every digit boxed and labelled."""
    img = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if (img.shape[1], img.shape[0]) != (reading.width, reading.height):
        img = cv2.resize(img, (reading.width, reading.height), interpolation=cv2.INTER_LINEAR)
    else:
        img = img.copy()
    heights = [d.box[3] for d in reading.digits] or [20]
    font = max(0.4, float(np.median(heights)) / 40.0)
    thick = max(1, int(round(font * 1.5)))
    for m in reading.dropped or []:
        x, y, w, h = m.box
        if m.reason == "speck":
            cv2.rectangle(img, (x, y), (x + w, y + h), GREY, 1)
            continue
        colour = RED if m.reason in JUDGED else BLUE
        cv2.rectangle(img, (x, y), (x + w, y + h), colour, 1)
        small = 0.6 * font
        at = (x, y + h + int(14 * small) + 2)
        cv2.putText(img, m.reason, at, cv2.FONT_HERSHEY_SIMPLEX, small, colour, 1, cv2.LINE_AA)
    for d in reading.digits:
        x, y, w, h = d.box
        colour = GREEN if d.confidence >= low_confidence else ORANGE
        cv2.rectangle(img, (x, y), (x + w, y + h), colour, thick)
        label = f"{d.digit} {d.confidence:.0%}" if d.confidence < low_confidence else d.digit
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font, thick)
        ty = y - 3 if y - th - 3 > 0 else y + h + th + 3
        cv2.rectangle(img, (x, ty - th - 2), (x + tw + 2, ty + base - 2), (255, 255, 255), -1)
        cv2.putText(img, label, (x + 1, ty - 2), cv2.FONT_HERSHEY_SIMPLEX, font, colour, thick, cv2.LINE_AA)
    return img


def write_image(path: str | os.PathLike[str], image: np.ndarray) -> Path:
    """Encode by the file's extension and write atomically (temporary file, then rename)."""
    p = Path(path)
    ext = p.suffix.lower() or ".png"
    if ext not in {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}:
        raise BadArgumentsError(f"cannot write {p}: unsupported image type {ext!r}", "use .png or .jpg")
    ok, buf = cv2.imencode(ext, image)
    if not ok:
        raise BadArgumentsError(f"cannot write {p}: unsupported image type {ext!r}", "use .png or .jpg")
    write_atomic(p, buf.tobytes())
    return p
