"""Synthetic handwritten digits drawn stroke by stroke (training data only).

Each digit has a few common handwritten forms (an open or a closed 4, a 7 with or without a
crossbar, a 1 with a flag and a foot, a 2 with a loop, ...). A form is a handful of pen strokes
built from lines, elliptic arcs and smooth splines whose positions, radii, angles and key points
are drawn at random; the strokes are then jittered, slanted, rotated and squeezed, drawn with a
random pen width and bent by a smooth random displacement field (elastic distortion), so that no
two samples are alike. Deterministic given the random generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

from . import normalize

Stroke = np.ndarray  # (k, 2) float x/y points in a unit box: x right, y down
Form = Callable[[np.random.Generator], list[Stroke]]


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 24) -> Stroke:
    """Points of an elliptic arc from angle ``a0`` to ``a1`` (degrees; y down, so increasing
    angles run clockwise on the page: 0 = right, 90 = bottom, -90 = top)."""
    t = np.radians(np.linspace(a0, a1, max(2, n)))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def line(*pts: tuple[float, float]) -> Stroke:
    return np.array(pts, np.float64)


def join(*parts: Stroke) -> Stroke:
    return np.vstack(parts)


def spline(rng: np.random.Generator, pts: list[tuple[float, float]], jitter: float, n: int = 10) -> Stroke:
    """A smooth stroke through key points (a Catmull-Rom spline, ``n`` points per span), each key
    point first moved by a random offset of about ``jitter``: no two strokes of a form alike."""
    p = np.array(pts, np.float64) + rng.normal(0.0, jitter, (len(pts), 2))
    return catmull_rom(np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]]), n)


def catmull_rom(ext: np.ndarray, n: int) -> np.ndarray:
    """The uniform Catmull-Rom curve through ``ext[1:-1]`` (``ext[0]`` and ``ext[-1]`` only shape
    its ends), ``n`` points per span."""
    t = np.linspace(0.0, 1.0, n, endpoint=False)[:, None]
    out = []
    for i in range(1, len(ext) - 2):
        p0, p1, p2, p3 = ext[i - 1], ext[i], ext[i + 1], ext[i + 2]
        out.append(
            0.5
            * (
                2 * p1
                + (p2 - p0) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                + (3 * p1 - p0 - 3 * p2 + p3) * t**3
            )
        )
    out.append(ext[-2:-1])
    return np.vstack(out)


# --------------------------------------------------------------------------- the forms


def _zero(rng: np.random.Generator) -> list[Stroke]:
    start = _u(rng, -130, -60)
    overshoot = _u(rng, -15, 35)
    return [arc(0.5, 0.5, _u(rng, 0.42, 0.5), 0.5, start, start + 360 + overshoot, 40)]


def _one_plain(rng: np.random.Generator) -> list[Stroke]:
    if rng.random() < 0.5:  # a 1 bowed a little to either side
        bow = _u(rng, -0.12, 0.12)
        return [spline(rng, [(0.5, 0.0), (0.5 + bow, 0.5), (0.5 + _u(rng, -0.05, 0.05), 1.0)], 0.01)]
    return [line((0.5, 0.0), (0.5 + _u(rng, -0.05, 0.05), 1.0))]


def _one_flag(rng: np.random.Generator) -> list[Stroke]:
    x = _u(rng, 0.5, 0.65)
    # From a short serif to the long up-stroke of continental European hands.
    reach = _u(rng, 0.12, 0.6)
    strokes = [line((x - reach, _u(rng, 0.3, 0.9) * reach), (x, 0.0), (x, 1.0))]
    if rng.random() < 0.4:
        w = _u(rng, 0.25, 0.4)
        strokes.append(line((x - w, 1.0), (x + w, 1.0)))
    return strokes


def _one_upstroke(rng: np.random.Generator) -> list[Stroke]:
    """A 1 begun low on the left: a long up-stroke to the top, then the stem straight down (an
    inverted V, as many continental European and Latin American hands write it)."""
    x = _u(rng, 0.65, 0.85)
    start = (x - _u(rng, 0.5, 0.85), _u(rng, 0.5, 0.95))
    up = spline(rng, [start, ((start[0] + x) / 2 + _u(rng, -0.04, 0.04), start[1] / 2), (x, 0.0)], 0.01)
    return [join(up, line((x + _u(rng, -0.06, 0.06), 1.0)))]


def _two_plain(rng: np.random.Generator) -> list[Stroke]:
    ry = _u(rng, 0.22, 0.32)
    top = arc(0.5, ry, 0.45, ry, _u(rng, -190, -150), _u(rng, 0, 40))
    end = top[-1]
    curve = rng.random() < 0.5
    mid = line(((end[0] + 0.05) / 2 + 0.1, (end[1] + 1.0) / 2)) if curve else np.empty((0, 2))
    bottom = line((_u(rng, 0.0, 0.1), 1.0), (_u(rng, 0.85, 1.05), _u(rng, 0.92, 1.02)))
    return [join(top, mid, bottom)]


def _two_loop(rng: np.random.Generator) -> list[Stroke]:
    ry = _u(rng, 0.22, 0.3)
    top = arc(0.5, ry, 0.45, ry, _u(rng, -190, -150), _u(rng, 0, 30))
    r = _u(rng, 0.08, 0.14)
    loop = arc(0.18, 1.0 - r, r * 1.3, r, -60, 200, 16)
    bottom = line((_u(rng, 0.85, 1.05), _u(rng, 0.88, 1.0)))
    return [join(top, line((0.25, 0.8)), loop, bottom)]


def _three_round(rng: np.random.Generator) -> list[Stroke]:
    m = _u(rng, 0.42, 0.52)
    top = arc(0.48, m / 2, _u(rng, 0.38, 0.48), m / 2, _u(rng, -170, -140), 90)
    bot = arc(0.48, (1 + m) / 2, 0.5, (1 - m) / 2, -90, _u(rng, 130, 170))
    top[-1, 0] = bot[0, 0] = _u(rng, 0.3, 0.5)
    return [join(top, bot)]


def _three_flat(rng: np.random.Generator) -> list[Stroke]:
    m = _u(rng, 0.38, 0.48)
    head = line((_u(rng, 0.0, 0.15), 0.0), (_u(rng, 0.85, 1.0), 0.0), (_u(rng, 0.35, 0.5), m))
    bot = arc(0.48, (1 + m) / 2, 0.5, (1 - m) / 2, -110, _u(rng, 130, 170))
    return [join(head, bot)]


def _four_open(rng: np.random.Generator) -> list[Stroke]:
    y = _u(rng, 0.5, 0.7)
    x = _u(rng, 0.6, 0.8)
    left = line((_u(rng, 0.05, 0.4), 0.0), (0.0, y), (1.0, y))
    right = line((x + _u(rng, -0.05, 0.1), _u(rng, 0.0, 0.3)), (x, 1.0))
    return [left, right]


def _four_closed(rng: np.random.Generator) -> list[Stroke]:
    y = _u(rng, 0.55, 0.72)
    x = _u(rng, 0.6, 0.8)
    return [line((x, 0.0), (0.0, y), (1.0, y)), line((x, 0.0), (x, 1.0))]


def _five(rng: np.random.Generator) -> list[Stroke]:
    m = _u(rng, 0.35, 0.5)
    x0 = _u(rng, 0.1, 0.25)
    bowl = arc(0.5, (1 + m) / 2 + 0.02, 0.48, (1 - m) / 2, -150, _u(rng, 120, 160))
    stem = line((x0, 0.0), (x0 - 0.03, m + 0.05))
    bar = line((x0, 0.0), (_u(rng, 0.75, 1.0), _u(rng, -0.05, 0.03)))
    if rng.random() < 0.5:  # bar, stem and bowl in one stroke
        return [join(bar[::-1], stem[1:], bowl)]
    return [join(stem, bowl), bar]


def _six(rng: np.random.Generator) -> list[Stroke]:
    r = _u(rng, 0.25, 0.35)
    cy = 1.0 - r
    stem = line((_u(rng, 0.6, 0.95), 0.0), (_u(rng, 0.2, 0.4), _u(rng, 0.2, 0.3)), (0.03, cy))
    loop = arc(0.5, cy, 0.47, r, 180, _u(rng, -180, -150))
    return [join(stem, loop)]


def _seven(rng: np.random.Generator) -> list[Stroke]:
    foot = _u(rng, 0.15, 0.7)
    hook = line((0.0, _u(rng, 0.1, 0.25))) if rng.random() < 0.25 else np.empty((0, 2))
    body = join(hook, line((0.0, 0.0), (1.0, 0.0), (foot + _u(rng, 0.15, 0.35), 0.55), (foot, 1.0)))
    strokes = [body]
    if rng.random() < 0.4:  # the crossbar of a continental 7
        strokes.append(line((_u(rng, 0.2, 0.35), 0.5), (_u(rng, 0.8, 0.95), 0.5)))
    return strokes


def _eight(rng: np.random.Generator) -> list[Stroke]:
    a_top, a_bot = _u(rng, 0.3, 0.45), _u(rng, 0.38, 0.5)
    mid = _u(rng, 0.42, 0.52)
    t = np.linspace(0, 2 * math.pi, 64) + _u(rng, -0.3, 0.3)
    s = np.sin(2 * t)
    y = np.where(np.cos(t) > 0, mid * (1 - np.cos(t)), mid - (1 - mid) * np.cos(t))
    a = np.where(np.cos(t) > 0, a_top, a_bot)
    return [np.stack([0.5 + a * s, y], axis=1)]


def _eight_rings(rng: np.random.Generator) -> list[Stroke]:
    m = _u(rng, 0.4, 0.5)
    top = arc(0.5, m / 2, _u(rng, 0.3, 0.42), m / 2, 90, 450)
    bot = arc(0.5, (1 + m) / 2, 0.5, (1 - m) / 2, -90, 270)
    return [top, bot]


def _nine(rng: np.random.Generator) -> list[Stroke]:
    r = _u(rng, 0.25, 0.35)
    start = _u(rng, -10, 20)
    loop = arc(0.5, r, 0.48, r, start, start - 360)
    tail_x = _u(rng, 0.55, 0.95)
    if rng.random() < 0.5:
        tail = line((0.96, r + 0.05), (tail_x, 1.0))
    else:  # curved tail
        tail = arc(tail_x - 0.4, r + 0.1, 1.35 - tail_x, 0.9 - r, -5, 120, 12)
    return [join(loop, tail)]


def _four_stem(rng: np.random.Generator) -> list[Stroke]:
    """A 4 whose left arm bends into the bar in one stroke, the stem crossing well above and below."""
    y = _u(rng, 0.45, 0.65)
    x = _u(rng, 0.55, 0.75)
    left = join(line((_u(rng, 0.0, 0.25), 0.0)), arc(0.22, y - 0.12, 0.18, 0.12, 180, 90, 8), line((1.0, y)))
    return [left, line((x + _u(rng, 0.0, 0.15), _u(rng, -0.05, 0.15)), (x, 1.0))]


def _six_big(rng: np.random.Generator) -> list[Stroke]:
    """A 6 that is mostly loop: a short curved stem into a loop as wide as the digit."""
    r = _u(rng, 0.32, 0.42)
    cy = 1.0 - r
    stem = arc(1.0, cy, 0.97, cy, -100, -180, 12)
    loop = arc(0.5, cy, 0.47, r, 180, _u(rng, -190, -150))
    return [join(stem, loop)]


def _seven_curved(rng: np.random.Generator) -> list[Stroke]:
    foot = _u(rng, 0.1, 0.45)
    top = line((0.0, _u(rng, 0.0, 0.1)), (0.95, 0.0))
    bulge = arc(foot, 0.0, 0.95 - foot, 1.0, 0, 90, 14)
    straight = np.linspace((0.95, 0.0), (foot, 1.0), 14)
    k = _u(rng, 0.3, 0.8)
    return [join(top, k * bulge + (1 - k) * straight)]


def _nine_stick(rng: np.random.Generator) -> list[Stroke]:
    """A small loop on a straight stem (the stem starting at the loop's right side)."""
    r = _u(rng, 0.2, 0.3)
    loop = arc(0.5, r, 0.48, r, 5, -355)
    return [join(loop, line((0.98, _u(rng, 0.0, r)), (_u(rng, 0.85, 1.0), 1.0)))]


def _two_z(rng: np.random.Generator) -> list[Stroke]:
    """A 2 with a small top curve and a straight diagonal, like a Z."""
    ry = _u(rng, 0.15, 0.25)
    top = arc(0.5, ry, 0.45, ry, _u(rng, -200, -160), _u(rng, -10, 20), 14)
    return [join(top, line((0.0, 1.0), (1.0, 1.0)))]


def _six_small_loop(rng: np.random.Generator) -> list[Stroke]:
    """A long, nearly upright stem down the left side into a small loop at the bottom."""
    r = _u(rng, 0.17, 0.26)
    cy = 1.0 - r
    top_x = _u(rng, 0.35, 0.75)
    stem = line((top_x, 0.0), (_u(rng, 0.05, 0.25), _u(rng, 0.3, 0.5)), (0.05, cy))
    loop = arc(0.5, cy, 0.45, r, 180, _u(rng, -190, -150))
    return [join(stem, loop)]


def _nine_hook(rng: np.random.Generator) -> list[Stroke]:
    """A loop on top and a stem down its right side that hooks to the left at the bottom."""
    r = _u(rng, 0.2, 0.3)
    start = _u(rng, -10, 20)
    loop = arc(0.5, r, 0.48, r, start, start - 360)
    drop = _u(rng, 0.75, 0.9)
    hook = arc(0.55, drop, 0.43, 1.0 - drop, 0, _u(rng, 120, 170), 10)
    return [join(loop, line((0.98, r)), hook)]


#: How far the key points of the spline forms wander (unit box).
KEY_JITTER = 0.04


def _zero_egg(rng: np.random.Generator) -> list[Stroke]:
    """An oval drawn from the top, often narrower at the top (an egg or a teardrop), whose end
    overshoots its start or falls short of it."""
    k = _u(rng, 0.45, 1.0)  # the width of the top part against the bottom
    pts = [(0.55, 0.02), (0.22, 0.12), (0.02, 0.45), (0.12, 0.85), (0.5, 1.0), (0.88, 0.85), (0.98, 0.45),
           (0.8, 0.12), (_u(rng, 0.35, 0.65), _u(rng, -0.05, 0.12))]
    pts = [(0.5 + (x - 0.5) * (k + (1 - k) * min(1.0, y / 0.6)), y) for x, y in pts]
    return [spline(rng, pts, KEY_JITTER)]


def _eight_x(rng: np.random.Generator) -> list[Stroke]:
    """An 8 in one stroke whose middle is an X of two long diagonals, loops of unequal size."""
    m = _u(rng, 0.35, 0.55)
    wt, wb = _u(rng, 0.35, 1.0), _u(rng, 0.35, 1.0)
    b = 1 - m
    pts = [(0.5 + 0.35 * wt, 0.25 * m), (0.5, 0.0), (0.5 - 0.4 * wt, 0.3 * m), (0.35, 0.8 * m), (0.5, m),
           (0.5 + 0.45 * wb, m + 0.5 * b), (0.5, 1.0), (0.5 - 0.45 * wb, m + 0.5 * b), (0.4, m + 0.15 * b),
           (0.5, m), (0.5 + 0.3 * wt, 0.55 * m), (0.5 + _u(rng, 0.2, 0.4) * wt, _u(rng, 0.0, 0.3) * m)]
    return [spline(rng, pts, KEY_JITTER)]


def _nine_small(rng: np.random.Generator) -> list[Stroke]:
    """A small loop on a long straight stem; the loop sometimes left open at its top."""
    lh = _u(rng, 0.3, 0.5)
    start = [(0.4, 0.0)] if rng.random() < 0.2 else [(0.85, 0.3 * lh), (0.5, 0.0)]
    pts = [*start, (0.1, 0.45 * lh), (0.4, lh), (0.85, 0.7 * lh), (0.92, 0.05 * lh)]
    stem = line((_u(rng, 0.6, 1.0), 1.0))
    return [join(spline(rng, pts, KEY_JITTER), stem)]


def _six_lean(rng: np.random.Generator) -> list[Stroke]:
    """A long straight stem leaning from the top right into a small loop at the bottom left."""
    lh = _u(rng, 0.3, 0.55)
    top = 1.0 - lh
    pts = [(_u(rng, 0.6, 1.0), 0.0), (0.3, 0.5 * top), (0.05, top + 0.5 * lh), (0.25, 1.0), (0.6, 0.98),
           (0.9, top + 0.6 * lh), (0.7, top + 0.05 * lh), (0.35, top + 0.15 * lh),
           (_u(rng, 0.05, 0.25), top + _u(rng, 0.3, 0.7) * lh)]
    return [spline(rng, pts, KEY_JITTER)]


def _two_spline(rng: np.random.Generator) -> list[Stroke]:
    """A 2 of one smooth stroke: a round top, a long diagonal, often a small loop where it meets
    the base, and a base line that may rise or sag."""
    pts = [(0.05, _u(rng, 0.15, 0.4)), (0.35, 0.02), (0.75, 0.05), (0.92, 0.3), (0.65, _u(rng, 0.5, 0.65)),
           (0.15, 0.92)]
    if rng.random() < 0.5:  # the loop at the bottom left
        pts += [(0.02, 0.98), (0.05, 0.82), (0.25, 0.88)]
    pts += [(0.55, _u(rng, 0.9, 1.0)), (1.0, _u(rng, 0.85, 1.0))]
    return [spline(rng, pts, KEY_JITTER)]


def _two_curl(rng: np.random.Generator) -> list[Stroke]:
    """A 2 whose diagonal curls into a loop at the bottom left, from a small eye to a loop of half
    the digit's height, before the base; the base may be short."""
    k = _u(rng, 0.5, 1.2)
    loop = [(0.12, 0.95), (0.0, 0.82), (0.1, 0.68), (0.28, 0.75), (0.3, 0.92)]
    pts = [(0.05, _u(rng, 0.15, 0.4)), (0.35, 0.02), (0.75, 0.05), (0.92, 0.3), (0.65, 0.55), (0.35, 0.8)]
    pts += [(0.15 + (x - 0.15) * k, 0.95 + (y - 0.95) * k) for x, y in loop]
    pts += [(0.5, _u(rng, 0.93, 1.0)), (_u(rng, 0.6, 1.05), _u(rng, 0.85, 1.0))]
    return [spline(rng, pts, KEY_JITTER)]


def _five_spline(rng: np.random.Generator) -> list[Stroke]:
    """A 5 of a short leaning stem into a large round bowl, the bar drawn on its own."""
    x0 = _u(rng, 0.15, 0.4)
    m = _u(rng, 0.3, 0.5)
    bowl = [(x0, 0.0), (0.12, m), (0.45, m - 0.05), (0.85, m + 0.15), (0.9, 0.8), (0.5, 1.0),
            (_u(rng, 0.0, 0.2), _u(rng, 0.8, 0.95))]
    bar = line((x0, 0.0), (_u(rng, 0.7, 1.0), _u(rng, -0.05, 0.05)))
    return [spline(rng, bowl, KEY_JITTER), bar]


def _three_cusp(rng: np.random.Generator) -> list[Stroke]:
    """A 3 of two smooth bowls meeting in a pointed middle, the top one often the smaller."""
    m = _u(rng, 0.35, 0.5)
    cusp = (_u(rng, 0.3, 0.55), m)
    top_pts = [(0.05, _u(rng, 0.05, 0.25)), (0.45, 0.0), (0.85, 0.15), (0.8, 0.7 * m), cusp]
    top = spline(rng, top_pts, KEY_JITTER)
    bottom_pts = [cusp, (0.85, m + 0.12), (0.95, 0.72), (0.6, 1.0), (_u(rng, 0.0, 0.15), 0.85)]
    bottom = spline(rng, bottom_pts, KEY_JITTER)
    bottom[0] = top[-1]
    return [join(top, bottom[1:])]


def _four_bent(rng: np.random.Generator) -> list[Stroke]:
    """A 4 whose left arm curves down into the bar (like a Cyrillic Ч), the stem on its own."""
    y = _u(rng, 0.45, 0.65)
    x = _u(rng, 0.6, 0.8)
    arm_pts = [(_u(rng, 0.0, 0.25), 0.0), (0.05, 0.6 * y), (0.3, y), (0.7, y), (1.0, y - 0.05)]
    arm = spline(rng, arm_pts, KEY_JITTER)
    return [arm, line((x + _u(rng, -0.05, 0.1), _u(rng, -0.05, 0.1)), (x, 1.0))]


def _seven_bent(rng: np.random.Generator) -> list[Stroke]:
    """A 7 whose stem bends as it falls from the end of the bar."""
    bar = line((0.0, _u(rng, -0.04, 0.04)), (1.0, 0.0))
    foot = _u(rng, 0.1, 0.6)
    stem_pts = [(1.0, 0.0), (0.75 + 0.25 * foot, 0.35), (0.4 + 0.5 * foot, 0.7), (foot, 1.0)]
    stem = spline(rng, stem_pts, KEY_JITTER)
    stem[0] = bar[-1]
    return [join(bar, stem[1:])]


FORMS: dict[int, tuple[Form, ...]] = {
    0: (_zero, _zero_egg),
    1: (_one_plain, _one_flag, _one_upstroke),
    2: (_two_plain, _two_loop, _two_z, _two_spline, _two_curl),
    3: (_three_round, _three_flat, _three_cusp),
    4: (_four_open, _four_closed, _four_stem, _four_bent),
    5: (_five, _five_spline),
    6: (_six, _six_big, _six_small_loop, _six_lean),
    7: (_seven, _seven_curved, _seven_bent),
    8: (_eight, _eight_rings, _eight_x),
    9: (_nine, _nine_stick, _nine_hook, _nine_small),
}


def strokes_of(digit: int, rng: np.random.Generator) -> list[Stroke]:
    """The pen strokes (unit box) of one randomly chosen handwritten form of ``digit``."""
    forms = FORMS[int(digit)]
    return forms[int(rng.integers(len(forms)))](rng)


def _elastic(img: np.ndarray, rng: np.random.Generator, alpha: float, sigma: float) -> np.ndarray:
    h, w = img.shape
    field = [
        cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma) for _ in range(2)
    ]
    peak = max(1e-6, max(float(np.abs(f).max()) for f in field))
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    dx, dy = (f * (alpha / peak) for f in field)
    return cv2.remap(img, xs + dx, ys + dy, cv2.INTER_LINEAR, borderValue=0)


def render_handwritten_digit(digit: int, rng: np.random.Generator, height: int = 64) -> np.ndarray:
    """Binary ink bitmap (uint8, 1 = ink, cropped) of one synthetic handwritten digit."""
    strokes = strokes_of(digit, rng)
    aspect = _u(rng, 0.5, 0.9)
    slant = _u(rng, -0.15, 0.45)
    ang = math.radians(_u(rng, -8, 8))
    rot = np.array([[math.cos(ang), -math.sin(ang)], [math.sin(ang), math.cos(ang)]])
    shear = np.array([[1.0, -slant], [0.0, 1.0]])
    mat = rot @ shear @ np.diag([aspect * height, height])
    # A smooth random warp of the whole digit: parts grow, shrink and lean against each other.
    cx, cy = rng.normal(0, 0.12, 3), rng.normal(0, 0.12, 3)

    def warp(p: np.ndarray) -> np.ndarray:
        u, v = p[:, 0] - 0.5, p[:, 1] - 0.5
        return p + np.stack([cx[0] * v * v + cx[1] * u * v + cx[2] * u * u,
                             cy[0] * u * u + cy[1] * u * v + cy[2] * v * v], axis=1)

    pts = []
    for s in map(warp, strokes):
        s = s + rng.normal(0, 0.025, (1, 2))  # each stroke a little off its place
        s = s + rng.normal(0, 0.008, s.shape)
        pts.append(s @ mat.T)
    allp = np.vstack(pts)
    pen = max(1.0, height * _u(rng, 0.05, 0.18))
    margin = pen + 8
    lo = allp.min(axis=0) - margin
    size = np.ceil(allp.max(axis=0) + margin - lo).astype(int)
    img = np.zeros((int(size[1]), int(size[0])), np.uint8)
    shift = 3
    polys = [np.round((p - lo) * (1 << shift)).astype(np.int32) for p in pts]
    if rng.random() < 0.5:
        cv2.polylines(img, polys, False, 255, int(round(pen)), cv2.LINE_AA, shift)
    else:  # pressure: the pen width swells and thins along each stroke
        for poly in polys:
            phase, freq = _u(rng, 0, 2 * math.pi), _u(rng, 0.05, 0.3)
            for k in range(len(poly) - 1):
                w = pen * (1.0 + 0.4 * math.sin(phase + freq * k))
                a, b = (int(v) for v in poly[k]), (int(v) for v in poly[k + 1])
                cv2.line(img, tuple(a), tuple(b), 255, max(1, int(round(w))), cv2.LINE_AA, shift)
    if rng.random() < 0.25:  # ball terminals, as many serif typefaces end their strokes
        r = int(round(pen * _u(rng, 0.7, 1.3)))
        for poly in polys:
            for end in (poly[0], poly[-1]):
                cv2.circle(img, (int(end[0]), int(end[1])), r << shift, 255, -1, cv2.LINE_AA, shift)
    if rng.random() < 0.8:
        img = _elastic(img, rng, _u(rng, 1.0, 4.0) * height / 64, _u(rng, 5.0, 9.0) * height / 64)
    level = _u(rng, 96, 160)
    if rng.random() < 0.4:  # written small, or photographed from afar: coarse pixels
        f = _u(rng, 14, 28) / img.shape[0]
        small = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        coarse = cv2.resize(small, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR)
        # unless thin strokes vanished in it (the digit would no longer be the digit)
        if (coarse >= level).sum() >= 0.7 * (img >= level).sum():
            img = coarse
    return normalize.crop(img >= level)
