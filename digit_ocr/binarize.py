"""Binarize stage: a photo or scan to an ink mask, robust to uneven light, grey paper and polarity."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class Binarized:
    """The ink mask (uint8, 255 = ink) and the grayscale image it came from (ink made dark)."""

    ink: np.ndarray
    gray: np.ndarray
    inverted: bool


def to_gray(img: np.ndarray) -> np.ndarray:
    """8-bit grayscale; for colour images the channel mix that best separates ink from paper."""
    if img.ndim == 2:
        return img
    lum = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    # Coloured ink (blue pen, red stamp) is darkest in one channel: use the channel-wise
    # minimum when it adds contrast, which luminance alone can wash out.
    low = img.min(axis=2)
    return low if _contrast(low) > 1.15 * _contrast(lum) else lum


def _contrast(gray: np.ndarray) -> float:
    lo, hi = np.percentile(gray[::4, ::4], (2, 98))
    return float(hi - lo)


def light_on_dark(gray: np.ndarray) -> bool:
    """Guess the polarity: True when the background is darker than the ink."""
    h, w = gray.shape
    b = max(1, min(h, w) // 20)
    border = np.concatenate([gray[:b].ravel(), gray[-b:].ravel(), gray[:, :b].ravel(), gray[:, -b:].ravel()])
    thr, mask = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    dark_share = 1.0 - np.count_nonzero(mask) / mask.size
    # Ink is the minority; only when the split is close does the border (paper) decide.
    if dark_share > 0.62:
        return True
    if dark_share < 0.38:
        return False
    return float(np.median(border)) < thr


def flatten(gray: np.ndarray) -> np.ndarray:
    """Divide out the background (light falloff, shadows, grey or tinted paper); ink stays dark.

    The background is a large median of a shrunken copy: robust to ink (a minority of
    any window) and to thin bright or dark rulings, unlike a max filter.
    """
    h, w = gray.shape
    scale = max(1.0, max(h, w) / 256.0)
    small = cv2.resize(gray, (max(1, int(w / scale)), max(1, int(h / scale))), interpolation=cv2.INTER_AREA)
    k = min(255, max(5, int(max(small.shape) / 5) | 1))
    if k >= min(small.shape):  # a tight crop: one background level for all
        bg = np.full_like(small, int(np.percentile(small, 60)))
    else:
        bg = cv2.medianBlur(small, k)
    bg = cv2.resize(bg, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    flat = gray.astype(np.float32) / np.maximum(bg, 1.0)
    return np.clip(flat * 255.0, 0, 255).astype(np.uint8)


def binarize(img: np.ndarray) -> Binarized:
    """Threshold an 8-bit image into an ink mask (255 = ink)."""
    gray = to_gray(img)
    inverted = light_on_dark(gray)
    if inverted:
        gray = 255 - gray
    gray = cv2.GaussianBlur(gray, (3, 3), 0) if min(gray.shape) > 64 else gray
    flat = flatten(gray)
    spread = float(np.percentile(flat, 99.5) - np.percentile(flat, 0.5))
    if spread < 40:
        return Binarized(np.zeros_like(flat), gray, inverted)
    thr = edge_otsu(flat)
    block = max(15, int(min(flat.shape) / 10) | 1)
    local = cv2.adaptiveThreshold(flat, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY_INV, block, 10)
    # Ink passes the page-wide threshold and is darker than its surroundings (or far
    # below the threshold): this keeps paper texture near the threshold out.
    ink = np.where((flat < thr) & ((local > 0) | (flat < thr - 30)), 255, 0).astype(np.uint8)
    return Binarized(ink, gray, inverted)


def edge_otsu(flat: np.ndarray) -> float:
    """Otsu's threshold over the pixels near edges only.

    On a page that is mostly paper, Otsu over all pixels drifts towards the paper
    level and fills the holes of blurred digits; near the edges ink and paper are
    about equally represented, so the split lands midway between them.
    """
    grad = cv2.morphologyEx(flat, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    gthr, _ = cv2.threshold(grad, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    near = flat[grad > max(gthr, 12)]
    if near.size < 50:
        near = flat.ravel()
    thr, _ = cv2.threshold(near.reshape(1, -1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Faint print next to heavy rulings: Otsu splits rulings from everything else. Never
    # put the threshold below midway between the paper and the typical dark pixel.
    dark = flat[flat < 230]
    if dark.size > 50:
        mid = 0.5 * (255.0 + float(np.median(dark)))
        thr = max(float(thr), mid)
    return min(float(thr), 222.0)
