"""Segment stage: an ink mask to digit candidates, grouped into text lines in reading order."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass
class Candidate:
    """One digit candidate: its box in the mask's coordinates and its own ink (0/1, box-sized)."""

    x: int
    y: int
    w: int
    h: int
    ink: np.ndarray
    space_before: bool = False

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.w, self.h)


@dataclass
class SegmentLine:
    """Candidates of one text line, left to right."""

    items: list[Candidate] = field(default_factory=list)


@dataclass
class _Part:
    x0: int
    y0: int
    x1: int
    y1: int
    labels: list[int]
    area: int

    @property
    def w(self) -> int:
        return self.x1 - self.x0

    @property
    def h(self) -> int:
        return self.y1 - self.y0


def _components(ink: np.ndarray) -> tuple[np.ndarray, list[_Part]]:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    parts = [
        _Part(int(s[0]), int(s[1]), int(s[0] + s[2]), int(s[1] + s[3]), [i], int(s[4]))
        for i, s in enumerate(stats)
        if i > 0
    ]
    return labels, parts


def typical_height(parts: list[_Part], shape: tuple[int, int]) -> float:
    """Median height of the components that could be (parts of) characters."""
    H, W = shape
    hs = [p.h for p in parts if p.area >= 12 and p.h >= 6 and p.h < 0.95 * H and p.w < 0.5 * W]
    if not hs:
        return float(H)
    # Weight by area so that specks and noise don't pull the estimate down.
    hs_arr = np.array(hs, float)
    big = hs_arr[hs_arr >= 0.5 * np.percentile(hs_arr, 90)]
    return float(np.median(big))


def remove_rulings(ink: np.ndarray, char_h: float) -> np.ndarray:
    """Erase straight horizontal and vertical lines much longer than a character (rulings, grids, frames)."""
    length = int(max(2.5 * char_h, 25))
    out = ink.copy()
    H, W = ink.shape
    for ksize, limit in (((length, 1), W), ((1, length), H)):
        if max(ksize) >= limit:
            continue
        lines = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, ksize))
        if cv2.countNonZero(lines):
            lines = cv2.dilate(lines, np.ones((3, 3), np.uint8))
            out[lines > 0] = 0
    return out


def _merge_parts(parts: list[_Part], char_h: float) -> list[_Part]:
    """Join the pieces of one character: seven-segment segments, a detached bar, broken strokes."""
    parts = sorted(parts, key=lambda p: p.x0)
    changed = True
    while changed:
        changed = False
        out: list[_Part] = []
        for p in parts:
            for q in out:
                overlap = min(p.x1, q.x1) - max(p.x0, q.x0)
                narrow = min(p.w, q.w)
                gap = max(p.y0, q.y0) - min(p.y1, q.y1)
                merged_h = max(p.y1, q.y1) - min(p.y0, q.y0)
                merged_w = max(p.x1, q.x1) - min(p.x0, q.x0)
                if (
                    overlap >= 0.5 * narrow
                    and gap <= 0.35 * char_h
                    and merged_h <= 1.3 * char_h
                    and merged_w <= 1.2 * char_h
                ):
                    q.x0, q.y0 = min(p.x0, q.x0), min(p.y0, q.y0)
                    q.x1, q.y1 = max(p.x1, q.x1), max(p.y1, q.y1)
                    q.labels += p.labels
                    q.area += p.area
                    changed = True
                    break
            else:
                out.append(p)
        parts = sorted(out, key=lambda p: p.x0)
    return parts


def _group_lines(parts: list[_Part]) -> list[list[_Part]]:
    """Cluster characters into text lines by vertical overlap, top to bottom."""
    lines: list[list[_Part]] = []
    for p in sorted(parts, key=lambda p: (p.y0 + p.y1) / 2):
        best, best_ov = None, 0.0
        for line in lines:
            ly0 = np.median([q.y0 for q in line])
            ly1 = np.median([q.y1 for q in line])
            ov = (min(p.y1, ly1) - max(p.y0, ly0)) / max(1.0, min(p.h, ly1 - ly0))
            if ov > best_ov:
                best, best_ov = line, ov
        if best is not None and best_ov >= 0.5:
            best.append(p)
        else:
            lines.append([p])
    for line in lines:
        line.sort(key=lambda p: p.x0)
    lines.sort(key=lambda line: np.median([(q.y0 + q.y1) / 2 for q in line]))
    return lines


def _split_wide(ink: np.ndarray, p: _Part, line_h: float) -> list[tuple[int, int]]:
    """Column ranges of the digits in a box too wide for one digit (touching digits)."""
    ratio = p.w / max(1.0, line_h)
    n = int(round(ratio / 0.72))
    if ratio < 1.05 or n < 2:
        return [(p.x0, p.x1)]
    profile = ink[p.y0 : p.y1, p.x0 : p.x1].sum(axis=0).astype(float)
    cuts = [0]
    for k in range(1, n):
        centre = int(p.w * k / n)
        lo, hi = max(cuts[-1] + 2, centre - p.w // (3 * n)), min(p.w - 2, centre + p.w // (3 * n))
        if hi <= lo:
            cuts.append(centre)
            continue
        cuts.append(lo + int(np.argmin(profile[lo:hi])))
    cuts.append(p.w)
    return [(p.x0 + a, p.x0 + b) for a, b in zip(cuts[:-1], cuts[1:]) if b - a >= 2]


def _group_vertically(clean: np.ndarray, char_h: float) -> tuple[np.ndarray, list[_Part]]:
    """Components after joining pieces stacked close above each other.

    The mask is smeared vertically by a third of a character height before labelling,
    which joins the segments of a seven-segment digit, a detached top bar and broken
    strokes, but not characters of different lines or side by side.
    """
    k = max(3, int(round(0.35 * char_h)))
    smear = cv2.dilate(clean, cv2.getStructuringElement(cv2.MORPH_RECT, (1, k)))
    n, glabels, _stats, _ = cv2.connectedComponentsWithStats(smear, connectivity=8)
    labels = np.where(clean > 0, glabels, 0).astype(np.int32)
    parts = []
    ys, xs = np.nonzero(labels)
    if ys.size == 0:
        return labels, []
    lab = labels[ys, xs]
    order = np.argsort(lab, kind="stable")
    lab, ys, xs = lab[order], ys[order], xs[order]
    bounds = np.flatnonzero(np.diff(lab)) + 1
    for seg_ys, seg_xs, seg_lab in zip(np.split(ys, bounds), np.split(xs, bounds), np.split(lab, bounds)):
        parts.append(
            _Part(
                int(seg_xs.min()),
                int(seg_ys.min()),
                int(seg_xs.max()) + 1,
                int(seg_ys.max()) + 1,
                [int(seg_lab[0])],
                int(seg_ys.size),
            )
        )
    return labels, parts


def segment(ink: np.ndarray) -> list[SegmentLine]:
    """Find the digit candidates of an ink mask (255 = ink), as text lines in reading order."""
    H, W = ink.shape
    _, parts = _components(ink)
    if not parts:
        return []
    char_h = typical_height(parts, (H, W))
    clean = remove_rulings(ink, char_h)
    _, parts = _components(clean)
    min_area = max(4, int(0.002 * char_h * char_h))
    keep = np.zeros(len(parts) + 1, bool)
    for i, p in enumerate(parts, start=1):
        keep[i] = p.area >= min_area
    if not keep.any():
        return []
    labels, parts = _group_vertically(clean, char_h)
    # Drop specks, frames and borders: far smaller, taller or wider than a character.
    char_h = typical_height(parts, (H, W))
    parts = [
        p
        for p in parts
        if p.area >= min_area
        and not (p.h < 0.25 * char_h and p.w < 0.25 * char_h)
        and p.h <= 2.5 * char_h
        and p.w <= 8.0 * char_h
    ]
    if not parts:
        return []
    char_h = typical_height(parts, (H, W))
    parts = _merge_parts(parts, char_h)
    result: list[SegmentLine] = []
    for line in _group_lines(parts):
        line_h = float(np.median([p.h for p in line]))
        tall = max(p.h for p in line)
        line_h = max(line_h, 0.75 * tall)
        if line_h < 0.5 * char_h:
            continue  # a line of marks much smaller than the page's characters
        kept = [p for p in line if 0.5 * line_h <= p.h <= 1.6 * line_h]
        if not kept:
            continue
        items: list[Candidate] = []
        for p in kept:
            sub = (labels[p.y0 : p.y1, p.x0 : p.x1][..., None] == np.array(p.labels)).any(axis=2)
            for a, b in _split_wide(sub, _rebased(p), line_h):
                piece = sub[:, a:b]
                rows = np.nonzero(piece.any(axis=1))[0]
                if rows.size == 0:
                    continue
                y0, y1 = int(rows[0]), int(rows[-1]) + 1
                cand = Candidate(p.x0 + a, p.y0 + y0, b - a, y1 - y0, piece[y0:y1].astype(np.uint8))
                if cand.h >= 0.45 * line_h and cand.ink.mean() >= 0.08:
                    items.append(cand)
        if not items:
            continue
        gaps = [b.x - (a.x + a.w) for a, b in zip(items[:-1], items[1:])]
        for c, gap in zip(items[1:], gaps):
            c.space_before = gap > 0.9 * line_h
        result.append(SegmentLine(items))
    return result


def _rebased(p: _Part) -> _Part:
    return _Part(0, 0, p.w, p.h, p.labels, p.area)
