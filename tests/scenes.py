"""Photographed pages drawn for the tests: a sheet lying on a table, boxes, underlines, stray
strokes, squared paper, small print on a large page.

Everything is drawn here, deterministically: printed digits with matplotlib's DejaVu fonts,
handwriting with :func:`digit_ocr.handwriting.render_handwritten_digit`; a sheet is rotated,
laid on a dark textured table (wood grain or cloth), lit unevenly, and the photo given noise and
JPEG compression.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageDraw

from digit_ocr.handwriting import render_handwritten_digit

from .grids import PAPER, _font

Box = tuple[int, int, int, int]


def sheet(size: tuple[int, int], paper: int = PAPER) -> np.ndarray:
    """A blank grayscale sheet ``size`` (width, height) with a little paper grain."""
    w, h = size
    rng = np.random.default_rng(w * 7 + h)
    grain = cv2.GaussianBlur(rng.normal(0, 3, (h, w)).astype(np.float32), (0, 0), 1.2)
    return np.clip(paper + grain, 0, 255).astype(np.uint8)


def printed(img: np.ndarray, text: str, at: tuple[int, int], px: int, ink: int = 30) -> Box:
    """Print ``text`` with its top left corner at ``at``; the box ``(x0, y0, x1, y1)`` of its ink."""
    f = _font(px)
    layer = Image.fromarray(img)
    ImageDraw.Draw(layer).text(at, text, fill=ink, font=f)
    img[:] = np.asarray(layer)
    left, top, right, bottom = f.getbbox(text)
    return at[0] + left, at[1] + top, at[0] + right, at[1] + bottom


def handwritten(
    img: np.ndarray, number: str, at: tuple[int, int], height: int, seed: int = 0, ink: int = 30
) -> Box:
    """Write ``number`` by hand (a space: a wider gap), the middle of its left end at ``at``;
    the box ``(x0, y0, x1, y1)`` of its ink."""
    rng = np.random.default_rng(seed)
    x, y = at
    top, bottom = y, y
    for ch in number:
        if ch == " ":
            x += height // 2
            continue
        glyph = render_handwritten_digit(int(ch), rng, height)
        h, w = glyph.shape
        y0 = y - h // 2
        region = img[y0 : y0 + h, x : x + w]
        region[glyph[: region.shape[0], : region.shape[1]] > 0] = ink
        top, bottom = min(top, y0), max(bottom, y0 + h)
        x += w + max(3, height // 8)
    return at[0], top, x - max(3, height // 8), bottom


def boxed(img: np.ndarray, box: Box, pad: int, thick: int, ink: int = 40) -> None:
    """Draw a rectangle ``pad`` pixels around ``box``, ``thick`` pixels wide."""
    x0, y0, x1, y1 = box
    cv2.rectangle(img, (x0 - pad, y0 - pad), (x1 + pad, y1 + pad), ink, thick, cv2.LINE_AA)


def underlined(img: np.ndarray, box: Box, gap: int, thick: int, ink: int = 40, slope: float = 0.0) -> None:
    """Draw a line ``gap`` pixels under ``box``, a little longer than it, rising by ``slope``."""
    x0, _y0, x1, y1 = box
    y = y1 + gap
    rise = int(round(slope * (x1 - x0)))
    cv2.line(img, (x0 - 6, y), (x1 + 6, y - rise), ink, thick, cv2.LINE_AA)


def squared(size: tuple[int, int], square: int, level: int, paper: int = PAPER) -> np.ndarray:
    """Graph paper: a sheet with rulings of grey ``level`` every ``square`` pixels."""
    img = sheet(size, paper)
    w, h = size
    for y in range(square // 2, h, square):
        img[y, :] = level
    for x in range(square // 2, w, square):
        img[:, x] = level
    return img


def table(size: tuple[int, int], kind: str, level: int, seed: int = 0) -> np.ndarray:
    """A dark table ``size`` (width, height): ``wood`` (grain of streaks along it, knots) or
    ``cloth`` (a fine weave and blotches), around the grey ``level``."""
    w, h = size
    rng = np.random.default_rng(seed)
    if kind == "wood":
        ys = np.arange(h, dtype=np.float32)[:, None]
        xs = np.arange(w, dtype=np.float32)[None, :]
        wobble = 12 * np.sin(xs / 90 + rng.uniform(0, 6)) + 6 * np.sin(xs / 23)
        grain = np.sin((ys + wobble) / rng.uniform(5, 9)) * 14 + np.sin((ys + 2 * wobble) / 37) * 10
        noise = cv2.GaussianBlur(rng.normal(0, 10, (h, w)).astype(np.float32), (0, 0), 2)
        img = level + grain + noise
    else:
        weave = 10 * ((np.indices((h, w)).sum(axis=0) // 3) % 2).astype(np.float32)
        blotch = cv2.GaussianBlur(rng.normal(0, 30, (h, w)).astype(np.float32), (0, 0), 12)
        img = level + weave + blotch + rng.normal(0, 6, (h, w))
    return np.clip(img, 0, 255).astype(np.uint8)


def on_table(
    page: np.ndarray,
    *,
    kind: str = "wood",
    level: int = 70,
    angle: float = 0.0,
    margin: float = 0.12,
    shift: tuple[float, float] = (0.0, 0.0),
    light: float = 0.15,
    noise: float = 3.0,
    jpeg: int | None = 85,
    seed: int = 0,
) -> np.ndarray:
    """A photo of ``page`` lying on a table: rotated by ``angle`` degrees, the table showing
    ``margin`` of the photo's size around it (moved off centre by ``shift``, a share of the
    photo), light falling off by ``light`` across the photo, with noise and JPEG compression."""
    h, w = page.shape
    H, W = int(h * (1 + 2 * margin)), int(w * (1 + 2 * margin))
    out = table((W, H), kind, level, seed).astype(np.float32)
    cx, cy = W / 2 + shift[0] * W, H / 2 + shift[1] * H
    mat = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    mat[:, 2] += (cx - w / 2, cy - h / 2)
    warped = cv2.warpAffine(page, mat, (W, H), flags=cv2.INTER_LINEAR, borderValue=0)
    mask = cv2.warpAffine(np.full((h, w), 255, np.uint8), mat, (W, H), flags=cv2.INTER_LINEAR, borderValue=0)
    # The sheet's soft shadow on the table, then the sheet.
    shadow = cv2.GaussianBlur(mask, (0, 0), 4).astype(np.float32) / 255
    out *= 1 - 0.35 * np.roll(shadow, (4, 4), axis=(0, 1))
    alpha = mask.astype(np.float32) / 255
    out = out * (1 - alpha) + warped.astype(np.float32) * alpha
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    out *= 1 - light * (xs / W + ys / H) / 2
    rng = np.random.default_rng(seed + 1)
    out += rng.normal(0, noise, out.shape)
    img = np.clip(out, 0, 255).astype(np.uint8)
    if jpeg:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, jpeg])
        img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return img


def shadowed(img: np.ndarray, edge: float, depth: float = 0.45) -> np.ndarray:
    """``img`` with a hard shadow over the part right of ``edge`` (a share of its width, the
    edge slanting a little): ``depth`` of its light taken away there."""
    h, w = img.shape
    ys, xs = np.mgrid[0:h, 0:w]
    dark = xs > edge * w + 0.2 * (ys - h / 2)
    out = img.astype(np.float32)
    out[dark] *= 1 - depth
    return np.clip(cv2.GaussianBlur(out, (3, 3), 0), 0, 255).astype(np.uint8)
