"""Write the photographed-looking sample images in ``samples/`` and ``samples/labels.csv``.

Deterministic: every image is drawn from fixed seeds with matplotlib's bundled TTF fonts,
OpenCV's Hershey script fonts, hand-made pen strokes and seven-segment polygons, then given a
"photo" look (paper texture, uneven light, slight rotation, blur, sensor noise, JPEG).

Run from the repository root: ``/work/venv/bin/python scripts/make_samples.py``.
"""

from __future__ import annotations

import csv
import math
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from digit_ocr import synth  # noqa: E402
from digit_ocr.handwriting import catmull_rom  # noqa: E402

OUT = ROOT / "samples"
MAX_BYTES = 150_000
BGR = tuple[float, float, float]
Sample = tuple[str, str, list[str], np.ndarray]  # file, kind, text lines, BGR image


# --------------------------------------------------------------------------- surfaces and light


def _smooth_noise(h: int, w: int, rng: np.random.Generator, cell: int) -> np.ndarray:
    """Low-frequency noise in -1..1 (bicubic upsampling of a coarse random grid)."""
    g = rng.uniform(-1, 1, (max(2, h // cell + 2), max(2, w // cell + 2))).astype(np.float32)
    return cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC).clip(-1, 1)


def surface(
    h: int, w: int, rng: np.random.Generator, base: BGR, blotch: float = 6.0, grain: float = 4.0
) -> np.ndarray:
    """A paper/plastic-like float BGR surface: base colour, soft blotches, fine grain and fibres."""
    img = np.empty((h, w, 3), np.float32)
    img[:] = base
    img += (blotch * _smooth_noise(h, w, rng, 60))[..., None]
    fine = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.2)
    img += (grain * fine / max(1e-6, float(fine.std())))[..., None]
    fibres = np.zeros((h, w), np.float32)
    for _ in range(int(h * w / 6000)):
        x, y = int(rng.integers(w)), int(rng.integers(h))
        a = rng.uniform(0, math.pi)
        n = rng.uniform(5, 25)
        cv2.line(fibres, (x, y), (int(x + n * math.cos(a)), int(y + n * math.sin(a))), 1.0, 1, cv2.LINE_AA)
    img -= (3.0 * fibres)[..., None]
    return img


def lighting(
    img: np.ndarray, rng: np.random.Generator, strength: float = 0.18, shadow: bool = True
) -> np.ndarray:
    """Multiply by a linear light gradient and optionally a soft shadow cast from one side."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = rng.uniform(0, 2 * math.pi)
    ramp = (xx / w - 0.5) * math.cos(a) + (yy / h - 0.5) * math.sin(a)
    gain = 1.0 + strength * ramp / 0.7
    if shadow:
        mask = np.zeros((h, w), np.float32)
        # A slanted shadow band entering from the left or right edge (e.g. a hand or phone).
        x_edge = 0 if rng.random() < 0.5 else w
        depth = w * rng.uniform(0.12, 0.22)
        x_in = depth if x_edge == 0 else w - depth
        y0, y1 = sorted(rng.uniform(0, h, 2))
        pts = np.array([[x_edge, -h], [x_edge, 2 * h], [x_in + depth * 0.3, y1], [x_in, y0]], np.int32)
        cv2.fillPoly(mask, [pts], 1.0)
        mask = cv2.GaussianBlur(mask, (0, 0), max(h, w) / 25)
        gain *= 1.0 - 0.3 * mask
    return img * gain[..., None]


def composite(
    bg: np.ndarray, alpha: np.ndarray, colour: BGR, rng: np.random.Generator, uneven: float = 0.15
) -> np.ndarray:
    """Lay ink of one colour with coverage ``alpha`` (0..1) on ``bg``; the ink density varies a little."""
    h, w = alpha.shape
    density = 1.0 - uneven * (0.5 + 0.5 * _smooth_noise(h, w, rng, 25))
    a = (alpha * density)[..., None]
    return bg * (1 - a) + np.array(colour, np.float32) * a


def photograph(
    img: np.ndarray, rng: np.random.Generator, max_angle: float = 3.0, blur: float = 0.9
) -> np.ndarray:
    """Slight rotation, lens blur and sensor noise; returns uint8 BGR."""
    h, w = img.shape[:2]
    ang = float(rng.uniform(-max_angle, max_angle))
    mat = cv2.getRotationMatrix2D((w / 2, h / 2), ang, 1.0)
    img = cv2.warpAffine(img, mat, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    img = cv2.GaussianBlur(img, (0, 0), blur)
    img = img + rng.normal(0, 2.5, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def encode(name: str, img: np.ndarray) -> bytes:
    """JPEG bytes, the quality lowered step by step until the file is under MAX_BYTES."""
    for q in range(90, 40, -4):
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q, cv2.IMWRITE_JPEG_OPTIMIZE, 1])
        if ok and len(buf) <= MAX_BYTES:
            return buf.tobytes()
    raise RuntimeError(f"{name}: cannot compress below {MAX_BYTES} bytes")


# --------------------------------------------------------------------------- ink layers


def text_alpha(
    h: int, w: int, lines: list[str], font_file: str, px: int, x: int, y: int, spacing: float
) -> np.ndarray:
    """Coverage (0..1) of printed text lines drawn with a matplotlib TTF font at ``px`` pixels."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(synth.font_dir() / font_file), px)
    im = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(im)
    for i, line in enumerate(lines):
        draw.text((x, y + i * spacing * px), line, fill=255, font=font)
    return np.asarray(im, np.float32) / 255.0


def centred_text_box(lines: list[str], font_file: str, px: int, spacing: float) -> tuple[int, int]:
    """Width and height of text lines as :func:`text_alpha` draws them."""
    from PIL import ImageFont

    font = ImageFont.truetype(str(synth.font_dir() / font_file), px)
    w = max(int(font.getbbox(line)[2]) for line in lines)
    bottom = int(font.getbbox(lines[-1])[3])
    return w, int((len(lines) - 1) * spacing * px) + bottom


def _paste_max(dst: np.ndarray, src: np.ndarray, x: int, y: int) -> None:
    """Paste ``src`` into ``dst`` at (x, y) keeping the per-pixel maximum, clipped to ``dst``."""
    h, w = src.shape
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(dst.shape[1], x + w), min(dst.shape[0], y + h)
    if x1 > x0 and y1 > y0:
        region = dst[y0:y1, x0:x1]
        np.maximum(region, src[y0 - y : y1 - y, x0 - x : x1 - x], out=region)


def _rotate_glyph(glyph: np.ndarray, deg: float, shear: float) -> np.ndarray:
    """Rotate and shear a glyph mask about its centre, growing the mask so nothing is cut."""
    h, w = glyph.shape
    pad = int(0.3 * max(h, w))
    g = cv2.copyMakeBorder(glyph, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    c = (g.shape[1] / 2, g.shape[0] / 2)
    m = cv2.getRotationMatrix2D(c, deg, 1.0)
    m[0, 1] -= shear
    m[0, 2] += shear * c[1]
    return cv2.warpAffine(g, m, (g.shape[1], g.shape[0]), flags=cv2.INTER_LINEAR)


def hershey_alpha(
    h: int, w: int, lines: list[str], x: int, y: int, height: int, rng: np.random.Generator
) -> np.ndarray:
    """Handwriting-like coverage: Hershey script digits, each with its own rotation, size, slant, offset."""
    alpha = np.zeros((h, w), np.float32)
    for li, line in enumerate(lines):
        cx = x + int(rng.integers(-15, 16))
        base_y = y + int(li * 1.9 * height)
        for ch in line:
            if ch == " ":
                cx += int(1.5 * height)
                continue
            font = cv2.FONT_HERSHEY_SCRIPT_SIMPLEX if rng.random() < 0.6 else cv2.FONT_HERSHEY_SCRIPT_COMPLEX
            (_, th), _ = cv2.getTextSize("8", font, 1.0, 1)
            scale = height * rng.uniform(0.9, 1.1) / th
            thick = int(rng.integers(3, 5))
            (tw, th2), base = cv2.getTextSize(ch, font, scale, thick)
            m = thick + 2
            glyph = np.zeros((th2 + base + 2 * m, tw + 2 * m), np.uint8)
            cv2.putText(glyph, ch, (m, m + th2), font, scale, 255, thick, cv2.LINE_AA)
            g = _rotate_glyph(glyph, float(rng.uniform(-7, 7)), float(rng.uniform(-0.1, 0.15)))
            pad = (g.shape[1] - glyph.shape[1]) // 2
            gy = base_y - th2 - m - pad + int(rng.integers(-5, 6))
            _paste_max(alpha, g.astype(np.float32) / 255.0, cx - pad, gy)
            cx += tw + int(rng.uniform(0.12, 0.3) * height)
    return alpha


# Pen-stroke skeletons of the ten digits in a unit box (x right, y down): (smooth?, points) per stroke.
# fmt: off
_STROKES: dict[str, list[tuple[bool, list[tuple[float, float]]]]] = {
    "0": [(True, [(0.5 + 0.45 * math.cos(t), 0.5 + 0.5 * math.sin(t)) for t in np.linspace(-1.9, 4.7, 14)])],
    "1": [(False, [(0.22, 0.22), (0.55, 0.0), (0.55, 1.0)])],
    "2": [
        (True, [(0.1, 0.25), (0.3, 0.03), (0.65, 0.02), (0.85, 0.25), (0.7, 0.55), (0.35, 0.8), (0.06, 1.0)]),
        (False, [(0.06, 1.0), (0.95, 0.97)]),
    ],
    "3": [
        (True, [(0.1, 0.12), (0.45, 0.0), (0.8, 0.13), (0.75, 0.35), (0.4, 0.47)]),
        (True, [(0.4, 0.47), (0.85, 0.62), (0.85, 0.86), (0.5, 1.0), (0.08, 0.9)]),
    ],
    "4": [(False, [(0.62, 0.0), (0.05, 0.68), (0.97, 0.68)]), (False, [(0.72, 0.3), (0.72, 1.0)])],
    "5": [
        (False, [(0.88, 0.02), (0.25, 0.03), (0.17, 0.46)]),
        (True, [(0.17, 0.46), (0.5, 0.37), (0.85, 0.53), (0.86, 0.84), (0.5, 1.0), (0.08, 0.9)]),
    ],
    "6": [(True, [(0.78, 0.02), (0.4, 0.2), (0.14, 0.55), (0.2, 0.9), (0.5, 1.0), (0.82, 0.86), (0.8, 0.6),
                  (0.5, 0.48), (0.18, 0.64)])],
    "7": [(False, [(0.05, 0.03), (0.95, 0.0), (0.38, 1.0)])],
    "8": [(True, [(0.55, 0.47), (0.2, 0.3), (0.24, 0.06), (0.5, 0.0), (0.78, 0.08), (0.78, 0.3), (0.5, 0.5),
                  (0.14, 0.7), (0.2, 0.95), (0.5, 1.0), (0.84, 0.92), (0.86, 0.7), (0.55, 0.47)])],
    "9": [
        (True, [(0.82, 0.22), (0.5, 0.45), (0.18, 0.34), (0.2, 0.08), (0.5, 0.0), (0.8, 0.12), (0.82, 0.22)]),
        (False, [(0.82, 0.18), (0.78, 0.6), (0.68, 1.0)]),
    ],
}
# fmt: on


def pen_alpha(
    h: int, w: int, lines: list[str], x: int, y: int, height: int, rng: np.random.Generator
) -> np.ndarray:
    """Handwriting-like coverage from jittered pen-stroke skeletons drawn as anti-aliased polylines."""
    sup = 4  # draw at 4x and shrink, for smooth strokes
    big = np.zeros((h * sup, w * sup), np.uint8)
    for li, line in enumerate(lines):
        cx = x + int(rng.integers(-10, 11))
        base_y = y + int(li * 1.8 * height)
        for ch in line:
            if ch == " ":
                cx += int(1.5 * height)
                continue
            hh = height * rng.uniform(0.9, 1.1)
            ww = hh * rng.uniform(0.5, 0.62) * (0.5 if ch == "1" else 1.0)
            ang = math.radians(rng.uniform(-6, 6))
            slant = rng.uniform(0.05, 0.25)
            dy = rng.uniform(-4, 4)
            thick = int(round(rng.uniform(3.0, 4.2) * sup))
            for smooth, pts in _STROKES[ch]:
                p = np.array(pts, np.float64) + rng.normal(0, 0.025, (len(pts), 2))
                if smooth:
                    p = catmull_rom(np.vstack([p[:1], p, p[-1:]]), 12)
                px = (p[:, 0] - 0.5) * ww + slant * (0.5 - p[:, 1]) * hh
                py = (p[:, 1] - 0.5) * hh
                rx = px * math.cos(ang) - py * math.sin(ang) + cx + ww / 2
                ry = px * math.sin(ang) + py * math.cos(ang) + base_y - hh / 2 + dy
                poly = np.round(np.stack([rx, ry], 1) * sup).astype(np.int32)
                cv2.polylines(big, [poly], False, 255, thick, cv2.LINE_AA)
            cx += int(ww + rng.uniform(0.2, 0.4) * height)
    small = cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    return small


def sevenseg_alpha(
    h: int, w: int, text: str, height: int, slant: float, pointed: bool, thickness: float = 0.14
) -> np.ndarray:
    """Coverage of a row of seven-segment digits (variant 0 of each digit), centred in the image."""
    sup = 4
    big = np.zeros((h * sup, w * sup), np.uint8)
    width, t, g = 0.55 * height, thickness * height, 0.025 * height
    total = len(text) * width + (len(text) - 1) * 0.3 * height + slant * height
    cx, y = (w - total) / 2, (h - height) / 2
    for ch in text:
        polys = synth.sevenseg_polygons(synth.sevenseg_segments(int(ch)), height, width, t, g, slant, pointed)
        pts = [np.round((p + (cx, y)) * sup).astype(np.int32) for p in polys]
        cv2.fillPoly(big, pts, 255, cv2.LINE_AA)
        cx += width + 0.3 * height
    return cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


# --------------------------------------------------------------------------- the samples


def meter_mono(rng: np.random.Generator) -> Sample:
    """A printed meter-reading-like number in a framed label (DejaVu Sans Mono Bold)."""
    h, w = 540, 960
    lines = ["048273"]
    font, px = "DejaVuSansMono-Bold.ttf", 120
    tw, th = centred_text_box(lines, font, px, 1.0)
    x, y = (w - tw) // 2, (h - th) // 2 - 10
    bg = surface(h, w, rng, (218, 226, 230))
    frame = np.zeros((h, w), np.float32)
    cv2.rectangle(frame, (x - 60, y - 45), (x + tw + 60, y + th + 45), 1.0, 5, cv2.LINE_AA)
    img = composite(bg, frame, (60, 55, 50), rng)
    img = composite(img, text_alpha(h, w, lines, font, px, x, y - 12, 1.0), (30, 28, 26), rng)
    return "meter_mono.jpg", "printed", lines, photograph(lighting(img, rng), rng, blur=1.0)


def block_serif(rng: np.random.Generator) -> Sample:
    """Three printed lines (DejaVu Serif); the first has two groups separated by a wide gap."""
    h, w = 760, 1000
    lines = ["4096      317", "52018", "7734"]
    font, px = "DejaVuSerif.ttf", 72
    bg = surface(h, w, rng, (222, 232, 238))
    img = composite(bg, text_alpha(h, w, lines, font, px, 170, 190, 1.75), (40, 35, 30), rng)
    return "block_serif.jpg", "printed", lines, photograph(lighting(img, rng, 0.22), rng, blur=1.1)


def heldout_cmr10(rng: np.random.Generator) -> Sample:
    """Two printed lines in Computer Modern (cmr10), a font family held out from synthetic training."""
    h, w = 600, 900
    lines = ["2718281", "1618"]
    font, px = "cmr10.ttf", 96
    tw, th = centred_text_box(lines, font, px, 1.5)
    bg = surface(h, w, rng, (230, 236, 240), blotch=5)
    alpha = text_alpha(h, w, lines, font, px, (w - tw) // 2, (h - th) // 2 - 20, 1.5)
    img = composite(bg, alpha, (45, 40, 38), rng)
    return "heldout_cmr10.jpg", "printed", lines, photograph(lighting(img, rng, 0.15, shadow=False), rng)


def dark_sans(rng: np.random.Generator) -> Sample:
    """Light-on-dark: off-white bold digits on a dark slate surface (DejaVu Sans Bold)."""
    h, w = 480, 840
    lines = ["60519"]
    font, px = "DejaVuSans-Bold.ttf", 150
    tw, th = centred_text_box(lines, font, px, 1.0)
    bg = surface(h, w, rng, (62, 58, 52), blotch=8, grain=5)
    img = composite(
        bg, text_alpha(h, w, lines, font, px, (w - tw) // 2, (h - th) // 2 - 25, 1.0), (225, 232, 235), rng
    )
    return "dark_sans.jpg", "printed", lines, photograph(lighting(img, rng, 0.25, shadow=False), rng)


def handwritten_script(rng: np.random.Generator) -> Sample:
    """Blue ball-pen, handwriting-like digits from the Hershey script fonts, each jittered."""
    h, w = 620, 900
    lines = ["7351", "2689"]
    bg = surface(h, w, rng, (226, 238, 243))
    alpha = hershey_alpha(h, w, lines, 250, 240, 95, rng)
    img = composite(bg, alpha, (135, 55, 30), rng, uneven=0.25)
    return "handwritten_script.jpg", "handwritten", lines, photograph(lighting(img, rng), rng)


def handwritten_pencil(rng: np.random.Generator) -> Sample:
    """Pencil-grey digits from jittered pen-stroke skeletons."""
    h, w = 640, 1000
    lines = ["86402", "3917"]
    bg = surface(h, w, rng, (215, 228, 235), blotch=7)
    alpha = pen_alpha(h, w, lines, 230, 250, 110, rng)
    img = composite(bg, alpha * 0.9, (70, 68, 66), rng, uneven=0.3)
    return "handwritten_pencil.jpg", "handwritten", lines, photograph(lighting(img, rng, 0.2), rng)


def lcd_panel(rng: np.random.Generator) -> Sample:
    """A seven-segment LCD: dark slanted segments on a grey-green panel set in a grey casing."""
    h, w = 520, 920
    lines = ["59073"]
    img = surface(h, w, rng, (112, 114, 116), blotch=5, grain=3)
    px0, py0, px1, py1 = 70, 90, w - 70, h - 90
    panel = surface(py1 - py0, px1 - px0, rng, (150, 178, 160), blotch=5, grain=3)
    # A soft inner shadow along the panel's top and left edges.
    ys, xs = np.mgrid[0 : py1 - py0, 0 : px1 - px0].astype(np.float32)
    panel *= (1 - 0.18 * np.exp(-ys / 18) - 0.1 * np.exp(-xs / 18))[..., None]
    img[py0:py1, px0:px1] = panel
    alpha = sevenseg_alpha(h, w, lines[0], 170, slant=0.1, pointed=True)
    img = composite(img, alpha, (42, 50, 44), rng, uneven=0.08)
    return "lcd_sevenseg.jpg", "sevenseg", lines, photograph(lighting(img, rng, 0.15, shadow=False), rng)


def led_red(rng: np.random.Generator) -> Sample:
    """Light-on-dark seven-segment: red LED digits with a glow on a black face plate."""
    h, w = 420, 700
    lines = ["3862"]
    bg = surface(h, w, rng, (24, 22, 26), blotch=4, grain=2)
    alpha = sevenseg_alpha(h, w, lines[0], 170, slant=0.0, pointed=False, thickness=0.1)
    glow = cv2.GaussianBlur(alpha, (0, 0), 9)
    img = bg + (glow * 0.5)[..., None] * np.array((30, 30, 200), np.float32)
    img = composite(img, alpha, (70, 80, 250), rng, uneven=0.05)
    return "led_red.jpg", "sevenseg", lines, photograph(img, rng, blur=0.8)


MAKERS: list[Callable[[np.random.Generator], Sample]] = [
    meter_mono,
    block_serif,
    heldout_cmr10,
    dark_sans,
    handwritten_script,
    handwritten_pencil,
    lcd_panel,
    led_red,
]


def label_of(lines: list[str]) -> str:
    """Digit groups in reading order separated by single spaces (lines and wide gaps alike)."""
    return " ".join(" ".join(lines).split())


def main() -> None:
    OUT.mkdir(exist_ok=True)
    rows = []
    for i, make in enumerate(MAKERS):
        name, kind, lines, img = make(np.random.default_rng(1000 + i))
        data = encode(name, img)
        (OUT / name).write_bytes(data)
        rows.append((name, kind, label_of(lines)))
        size = f"{img.shape[1]}x{img.shape[0]}"
        print(f"{name:24s} {kind:12s} {label_of(lines)!r:24s} {size} {len(data) // 1024} KB")
    with open(OUT / "labels.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["file", "kind", "label"])
        writer.writerows(rows)


if __name__ == "__main__":
    main()
