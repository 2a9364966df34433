"""Handwritten amounts whose digits touch or overlap, with separators touching them (cheque
amounts): the reader cuts them apart and reads each digit, leaving the separators out."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from digit_ocr import read_image
from digit_ocr.handwriting import render_handwritten_digit

HEIGHT = 60


def amount(text: str, seed: int, overlap: float) -> np.ndarray:
    """A white page with ``text`` written by hand (digits, ``.`` a dot on the baseline, ``-`` a
    dash at mid-height), each character's box reaching ``overlap`` of the height into the one
    before it, so that neighbours touch."""
    rng = np.random.default_rng(seed)
    ink = np.zeros((HEIGHT * 3, HEIGHT * (2 * len(text) + 2)), np.uint8)
    x, base = HEIGHT // 2, 2 * HEIGHT
    pen = max(3, HEIGHT // 12)
    for ch in text:
        if ch == ".":
            cv2.circle(ink, (x + pen // 2, base - pen), pen, 1, -1)
            x += pen
            continue
        if ch == "-":
            w = HEIGHT // 3
            cv2.line(ink, (x - pen, base - HEIGHT // 2), (x + w, base - HEIGHT // 2 - 2), 1, pen)
            x += w
            continue
        glyph = render_handwritten_digit(int(ch), rng, HEIGHT)
        rows, cols = np.flatnonzero(glyph.any(axis=1)), np.flatnonzero(glyph.any(axis=0))
        glyph = glyph[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        h, w = glyph.shape
        x = max(HEIGHT // 2, x - int(overlap * HEIGHT))
        ink[base - h : base, x : x + w] |= glyph
        x += w
    page = np.where(ink > 0, 30, 235).astype(np.uint8)
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return page[rows[0] - HEIGHT // 3 : rows[-1] + HEIGHT // 3, : cols[-1] + HEIGHT // 2]


def _touching(page: np.ndarray) -> bool:
    """Whether two of the amount's characters touch (fewer marks than characters)."""
    n, _ = cv2.connectedComponents((page < 128).astype(np.uint8))
    return n - 1 < 3


#: Amounts as written on cheques: digits touching, a dot between thousands, a dash after the
#: amount touching its last digit (the dash and the dot are not read).
CASES = {"250": "250", "1740": "1740", "925": "925", "1.250": "1250", "18-": "18"}


@pytest.mark.parametrize("text", CASES)
def test_touching_handwritten_digits_are_read_apart(text: str) -> None:
    right = touching = 0
    for seed in range(8):
        page = amount(text, seed, overlap=0.05)
        touching += _touching(page)
        right += read_image(page, engine="model").text.replace(" ", "") == CASES[text]
    assert touching >= 2  # the drawing makes what the test is about
    assert right >= 5, right
