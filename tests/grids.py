"""Pages with grids drawn for the tests: sudoku-like grids, tables, graph paper, ruled paper.

Everything is drawn here, deterministically: printed digits with matplotlib's DejaVu fonts,
handwriting with :func:`digit_ocr.handwriting.render_handwritten_digit`, then the page is given
a slight rotation, a bend, noise and JPEG compression when asked.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from digit_ocr import synth
from digit_ocr.handwriting import render_handwritten_digit

PAPER = 238


def expected(rows: list[str]) -> str:
    """The reading of a grid whose rows are ``rows`` (one character a cell, ``.`` for an empty
    cell; or lists of cell values): a line a row with a value, a space between cells' values."""
    out = []
    for row in rows:
        values = [v for v in (row if isinstance(row, list) else list(row)) if v not in (".", "")]
        if values:
            out.append(" ".join(values))
    return "\n".join(out)


def _font(px: int, name: str = "DejaVuSans.ttf") -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(synth.font_dir() / name), px)


def _print(img: np.ndarray, text: str, box: tuple[int, int, int, int], px: int, ink: int = 25) -> None:
    """Print ``text`` centred in ``box`` (x0, y0, x1, y1) of a grayscale page."""
    font = _font(px)
    left, top, right, bottom = font.getbbox(text)
    x0, y0, x1, y1 = box
    layer = Image.fromarray(img)
    at = ((x0 + x1 - (right - left)) // 2 - left, (y0 + y1 - (bottom - top)) // 2 - top)
    ImageDraw.Draw(layer).text(at, text, fill=ink, font=font)
    img[:] = np.asarray(layer)


def _write(
    img: np.ndarray, digit: int, centre: tuple[int, int], height: int, rng: np.random.Generator
) -> None:
    """Write a handwritten ``digit`` of about ``height`` pixels centred at ``centre``."""
    glyph = render_handwritten_digit(digit, rng, height)
    h, w = glyph.shape
    x, y = centre[0] - w // 2, centre[1] - h // 2
    region = img[y : y + h, x : x + w]
    region[glyph[: region.shape[0], : region.shape[1]] > 0] = 30


def sudoku(
    rows: list[str],
    *,
    cell: int = 56,
    px: int = 34,
    shaded: tuple[tuple[int, int], ...] = (),
    thin: int = 1,
    thick: int = 4,
    thin_level: int = 120,
    margin: int = 40,
    handwritten: bool = False,
    seed: int = 0,
) -> np.ndarray:
    """A grayscale page with a grid of ``rows`` (one character a cell, ``.`` for an empty one):
    thin grey rulings, heavy ones every third (as a sudoku's boxes), ``shaded`` cells grey."""
    rng = np.random.default_rng(seed)
    n_rows, n_cols = len(rows), len(rows[0])
    h, w = n_rows * cell + 2 * margin, n_cols * cell + 2 * margin
    img = np.full((h, w), PAPER, np.uint8)
    for r, c in shaded:
        img[margin + r * cell : margin + (r + 1) * cell, margin + c * cell : margin + (c + 1) * cell] = 200
    for r, row in enumerate(rows):
        for c, ch in enumerate(row):
            if ch == ".":
                continue
            x0, y0 = margin + c * cell, margin + r * cell
            if handwritten:
                _write(img, int(ch), (x0 + cell // 2, y0 + cell // 2), int(0.62 * cell), rng)
            else:
                _print(img, ch, (x0, y0, x0 + cell, y0 + cell), px)
    for i in range(n_rows + 1):
        heavy = i % 3 == 0 or i == n_rows
        y = margin + i * cell
        cv2.line(
            img,
            (margin, y),
            (margin + n_cols * cell, y),
            20 if heavy else thin_level,
            thick if heavy else thin,
        )
    for i in range(n_cols + 1):
        heavy = i % 3 == 0 or i == n_cols
        x = margin + i * cell
        cv2.line(
            img,
            (x, margin),
            (x, margin + n_rows * cell),
            20 if heavy else thin_level,
            thick if heavy else thin,
        )
    return img


def table(
    rows: list[list[str]], widths: list[int], *, height: int = 64, px: int = 30, margin: int = 40
) -> np.ndarray:
    """A printed table: a value a cell (``""`` for an empty one), columns ``widths`` wide, all
    rulings of one weight."""
    h, w = len(rows) * height + 2 * margin, sum(widths) + 2 * margin
    img = np.full((h, w), PAPER, np.uint8)
    xs = np.cumsum([margin, *widths]).tolist()
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value:
                y0 = margin + r * height
                _print(img, value, (xs[c], y0, xs[c + 1], y0 + height), px)
    for i in range(len(rows) + 1):
        y = margin + i * height
        cv2.line(img, (xs[0], y), (xs[-1], y), 30, 2)
    for x in xs:
        cv2.line(img, (x, margin), (x, margin + len(rows) * height), 30, 2)
    return img


def graph_paper(
    number: str, *, square: int = 16, height: int = 54, level: int = 175, seed: int = 3
) -> np.ndarray:
    """Squared paper (rulings of grey ``level`` every ``square`` pixels) with a handwritten
    ``number`` on it, its digits about ``height`` pixels tall: written across the squares."""
    rng = np.random.default_rng(seed)
    h, w = 480, 720
    img = np.full((h, w), PAPER, np.uint8)
    for y in range(8, h, square):
        img[y, :] = level
    for x in range(8, w, square):
        img[:, x] = level
    x = 160
    for ch in number:
        _write(img, int(ch), (x, h // 2), height, rng)
        x += height
    return img


def ruled_paper(number: str, *, gap: int = 44, height: int = 54, seed: int = 5) -> np.ndarray:
    """Lined paper (long horizontal rulings every ``gap`` pixels, a margin line down the left)
    with a handwritten ``number`` sitting on a ruling."""
    rng = np.random.default_rng(seed)
    h, w = 480, 720
    img = np.full((h, w), PAPER, np.uint8)
    for y in range(30, h, gap):
        img[y : y + 2, :] = 150
    img[:, 80:82] = 150
    base = 30 + gap * 6
    x = 160
    for ch in number:
        _write(img, int(ch), (x, base - height // 2 - 2), height, rng)
        x += height
    return img


def photographed(
    img: np.ndarray,
    *,
    angle: float = 0.0,
    bend: float = 0.0,
    tilt: float = 0.0,
    noise: float = 0.0,
    jpeg: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """``img`` as a phone photo of a page might show it: rotated by ``angle`` degrees, bent (its
    rows sagging by up to ``bend`` pixels, a bent newspaper), seen in perspective (one side
    ``tilt`` of the width nearer), with sensor noise and JPEG compression."""
    h, w = img.shape
    out = img
    if tilt:
        d = tilt * w
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        dst = np.float32([[d, d / 2], [w, 0], [w, h], [d, h - d / 2]])
        out = cv2.warpPerspective(out, cv2.getPerspectiveTransform(src, dst), (w, h), borderValue=PAPER)
    if bend:
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        dy = bend * np.sin(math.pi * xs / w)
        dx = 0.5 * bend * np.sin(math.pi * ys / h)
        out = cv2.remap(out, xs - dx, ys - dy, cv2.INTER_LINEAR, borderValue=PAPER)
    if angle:
        mat = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        out = cv2.warpAffine(out, mat, (w, h), flags=cv2.INTER_LINEAR, borderValue=PAPER)
    if noise:
        rng = np.random.default_rng(seed)
        out = np.clip(out.astype(np.float32) + rng.normal(0, noise, out.shape), 0, 255).astype(np.uint8)
    if jpeg:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, jpeg])
        out = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return out
