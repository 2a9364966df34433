"""Offline synthetic training digits: rendered fonts, OpenCV Hershey strokes and seven-segment displays.

Everything is generated locally (the TTF fonts shipped inside matplotlib, OpenCV's built-in
Hershey vector fonts, seven-segment polygons) and is deterministic given a seed. Each sample
goes through the same normalization as real digits (``normalize.canvas_of``), is augmented at
the 32x32 canvas stage and reduced to the 64 ``load_digits``-style features.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from . import normalize

#: A font is either a TTF file or an OpenCV Hershey font id (possibly OR-ed with FONT_ITALIC).
Font = Path | int

#: TTF families by file name: family -> names (``*`` = prefix match).
_TTF_FAMILIES: dict[str, tuple[str, ...]] = {
    "DejaVuSans": (
        "DejaVuSans.ttf",
        "DejaVuSans-Bold.ttf",
        "DejaVuSans-Oblique.ttf",
        "DejaVuSans-BoldOblique.ttf",
    ),
    "DejaVuSansMono": ("DejaVuSansMono*",),
    "DejaVuSerif": (
        "DejaVuSerif.ttf",
        "DejaVuSerif-Bold.ttf",
        "DejaVuSerif-Italic.ttf",
        "DejaVuSerif-BoldItalic.ttf",
    ),
    "STIX": ("STIXGeneral*",),
    "ComputerModern": ("cmr10.ttf", "cmb10.ttf", "cmss10.ttf", "cmtt10.ttf", "cmti10.ttf"),
}

#: TTF families from small font packages (the ``train`` extra): family -> (module, file patterns).
#: Thin and hairline weights are left out: at photo resolution their strokes fall apart.
PACKAGE_FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "Caladea": ("font_caladea", ("Caladea-*.ttf",)),
    "SourceSerifPro": ("font_source_serif_pro", ("SourceSerifPro-*.ttf",)),
    "Lato": ("font_lato", ("Lato-Regular.ttf", "Lato-Italic.ttf", "Lato-Bold*.ttf", "Lato-Black*.ttf")),
    "AmaticSC": ("font_amatic_sc", ("AmaticSC-*.ttf",)),
    "Intuitive": ("font_intuitive", ("Intuitive.ttf",)),
}

#: Hershey "families" (OpenCV vector fonts); the script ones look handwritten.
_HERSHEY_FAMILIES: dict[str, tuple[int, ...]] = {
    "HersheySans": (
        cv2.FONT_HERSHEY_SIMPLEX,
        cv2.FONT_HERSHEY_PLAIN,
        cv2.FONT_HERSHEY_DUPLEX,
        cv2.FONT_HERSHEY_SIMPLEX | cv2.FONT_ITALIC,
        cv2.FONT_HERSHEY_DUPLEX | cv2.FONT_ITALIC,
    ),
    "HersheySerif": (
        cv2.FONT_HERSHEY_COMPLEX,
        cv2.FONT_HERSHEY_TRIPLEX,
        cv2.FONT_HERSHEY_COMPLEX_SMALL,
        cv2.FONT_HERSHEY_COMPLEX | cv2.FONT_ITALIC,
        cv2.FONT_HERSHEY_TRIPLEX | cv2.FONT_ITALIC,
    ),
    "HersheyScript": (cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_SCRIPT_COMPLEX),
}

#: Families never used for training by default, to measure accuracy on unseen fonts.
HELDOUT_FAMILIES: tuple[str, ...] = ("ComputerModern",)

SOURCES: tuple[str, ...] = ("fonts", "sevenseg", "hershey", "scribble", "negatives")
#: The label of the "not a digit" class (letters, symbols, blots, rule fragments).
NOT_A_DIGIT = 10
#: Glyphs that no reader should take for a digit: letters and symbols that resemble none.
NEGATIVE_GLYPHS = "ACEFHKMNPRUVWXYacefhkmnprtuvwxy%#@&?$+=<>*"

# Seven-segment lit segments per digit; a list holds the common variants.
_SEGMENTS: dict[int, tuple[str, ...]] = {
    0: ("abcdef",),
    1: ("bc",),
    2: ("abdeg",),
    3: ("abcdg",),
    4: ("bcfg",),
    5: ("acdfg",),
    6: ("acdefg", "cdefg"),
    7: ("abc", "abcf"),
    8: ("abcdefg",),
    9: ("abcdfg", "abcfg"),
}


def font_dir() -> Path:
    """The directory of the TTF fonts that ship with matplotlib."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@functools.cache
def _renders_digits(path: Path) -> bool:
    """True if the font draws ten distinct, non-empty glyphs for '0'..'9'."""
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.truetype(str(path), 32)
    except OSError:
        return False
    seen = set()
    for ch in "0123456789":
        im = Image.new("L", (64, 64), 0)
        ImageDraw.Draw(im).text((8, 8), ch, fill=255, font=font)
        a = np.asarray(im) > 127
        if a.sum() < 20:
            return False
        seen.add(a.tobytes())
    return len(seen) == 10


def _package_dir(module: str) -> Path | None:
    """The ``files`` folder of an installed font package, without importing it."""
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).parent / "files"


def missing_font_packages() -> list[str]:
    """The font packages of :data:`PACKAGE_FAMILIES` that are not installed (pip names)."""
    return [mod.replace("_", "-") for mod, _ in PACKAGE_FAMILIES.values() if _package_dir(mod) is None]


@functools.lru_cache(maxsize=1)
def _font_files() -> tuple[tuple[str, tuple[Path, ...]], ...]:
    groups: list[tuple[str, Path, tuple[str, ...]]] = [
        (family, font_dir(), names) for family, names in _TTF_FAMILIES.items()
    ]
    for family, (module, names) in PACKAGE_FAMILIES.items():
        root = _package_dir(module)
        if root is not None:
            groups.append((family, root, names))
    out = []
    for family, root, names in groups:
        files: list[Path] = []
        for name in names:
            files.extend(sorted(root.glob(name)) if "*" in name else [root / name])
        ok = tuple(f for f in files if f.is_file() and _renders_digits(f))
        if ok:
            out.append((family, ok))
    return tuple(out)


def font_files() -> dict[str, list[Path]]:
    """matplotlib's TTF fonts that render digits, grouped by family (symbol/display fonts skipped)."""
    return {family: list(files) for family, files in _font_files()}


def hershey_fonts() -> dict[str, list[int]]:
    """OpenCV's Hershey vector fonts grouped into pseudo-families (ids for ``cv2.putText``)."""
    return {family: list(ids) for family, ids in _HERSHEY_FAMILIES.items()}


def families() -> dict[str, list[Font]]:
    """All font families, TTF and Hershey."""
    out: dict[str, list[Font]] = {}
    out.update(font_files())
    out.update(hershey_fonts())
    return out


@functools.lru_cache(maxsize=4096)
def _ttf(path: Path, size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.truetype(str(path), size)


def _shear(ink: np.ndarray, k: float) -> np.ndarray:
    """Shear a bitmap horizontally (x += k * (h - y)), i.e. italicize it for k > 0."""
    h, w = ink.shape
    pad = int(math.ceil(abs(k) * h)) + 1
    mat = np.float32([[1, -k, max(k, 0.0) * (h - 1)], [0, 1, 0]])
    return cv2.warpAffine(ink, mat, (w + pad, h), flags=cv2.INTER_LINEAR)


def _elastic(ink: np.ndarray, rng: np.random.Generator, alpha: float, sigma: float) -> np.ndarray:
    """Smooth random displacement (wobbly handwriting); alpha in pixels, sigma in pixels."""
    h, w = ink.shape
    dx = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma)
    dy = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma)
    scale = alpha / max(1e-6, float(max(np.abs(dx).max(), np.abs(dy).max())))
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(ink, xs + dx * scale, ys + dy * scale, cv2.INTER_LINEAR, borderValue=0)


def _render_ttf(digit: int | str, path: Path, size: int, rng: np.random.Generator) -> np.ndarray:
    from PIL import Image, ImageDraw

    font = _ttf(path, int(size))
    stroke = int(rng.random() < 0.25 and size >= 28) * int(rng.integers(1, max(2, size // 24) + 1))
    ch = str(digit)
    left, top, right, bottom = font.getbbox(ch, stroke_width=stroke)
    m = 3
    im = Image.new("L", (right - left + 2 * m, bottom - top + 2 * m), 0)
    ImageDraw.Draw(im).text(
        (m - left, m - top), ch, fill=255, font=font, stroke_width=stroke, stroke_fill=255
    )
    gray = np.asarray(im)
    name = path.name.lower()
    if rng.random() < 0.3 and not any(s in name for s in ("oblique", "italic", "ita", "cmti", "it.ttf")):
        gray = _shear(gray, float(rng.uniform(0.1, 0.3)))
    return gray


def _render_hershey(digit: int, font: int, size: int, rng: np.random.Generator) -> np.ndarray:
    # Hershey zeros are slashed; the letter O is the usual plain oval (keep some slashed ones).
    ch = "O" if digit == 0 and rng.random() < 0.85 else str(digit)
    (_, h1), _ = cv2.getTextSize("0", font, 1.0, 1)
    scale = size / max(1, h1)
    thick = int(rng.integers(max(1, size // 20), max(2, size // 7) + 1))
    (w, h), base = cv2.getTextSize(ch, font, scale, thick)
    m = thick + 4
    img = np.zeros((h + base + 2 * m, w + 2 * m), np.uint8)
    cv2.putText(img, ch, (m, m + h), font, scale, 255, thick, cv2.LINE_AA)
    if rng.random() < 0.7:
        img = _elastic(img, rng, alpha=float(rng.uniform(0.5, 2.0)) * size / 32, sigma=max(2.0, size / 6))
    return img


def render_font_digit(digit: int, font: Font, size: int, rng: np.random.Generator) -> np.ndarray:
    """Binary ink bitmap (uint8, 1 = ink, cropped) of one glyph.

    ``font`` is a TTF path or a Hershey font id; ``size`` is roughly the digit height in pixels.
    Weight (stroke/threshold/thickness), italic shear and width vary randomly.
    """
    if isinstance(font, Path):
        gray = _render_ttf(digit, font, size, rng)
    else:
        gray = _render_hershey(digit, int(font), size, rng)
    if rng.random() < 0.5:
        sx = float(rng.uniform(0.8, 1.2))
        gray = cv2.resize(
            gray, (max(1, round(gray.shape[1] * sx)), gray.shape[0]), interpolation=cv2.INTER_LINEAR
        )
    ink = gray >= rng.uniform(80, 170)
    return normalize.crop(ink)


#: The kinds of "not a digit" samples, as the training report counts them.
NEGATIVE_KINDS: tuple[str, ...] = ("letter", "blot", "speck", "ruling", "fragment", "pair")


def render_negative(rng: np.random.Generator) -> np.ndarray:
    """Binary ink bitmap of something that is not a digit but may stand among digits (see
    :func:`render_negative_kind`)."""
    return render_negative_kind(rng)[0]


def render_negative_kind(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Binary ink bitmap of something that is not a digit but may stand among digits, and its
    kind (:data:`NEGATIVE_KINDS`).

    Letters and symbols (units such as "kWh" or "LITRES" beside a meter reading), blots,
    speckle, the corner of a frame or a cross of rulings, pieces of digits cut apart
    (:func:`render_fragment`) and two digits touching (:func:`render_pair`).
    """
    if rng.random() < FRAGMENT_SHARE:
        return render_fragment(rng), "fragment"
    if rng.random() < PAIR_SHARE:
        return render_pair(rng), "pair"
    kind = rng.random()
    size = int(rng.integers(20, 65))
    if kind < 0.55:
        fams = [f for name, fs in font_files().items() if name not in HELDOUT_FAMILIES for f in fs]
        ch = NEGATIVE_GLYPHS[int(rng.integers(len(NEGATIVE_GLYPHS)))]
        gray = _render_ttf(ch, fams[int(rng.integers(len(fams)))], size, rng)
        ink, name = gray >= rng.uniform(80, 170), "letter"
    elif kind < 0.70:  # a blot
        img = np.zeros((size, size), np.uint8)
        axes = (int(rng.integers(size // 4, size // 2)), int(rng.integers(size // 4, size // 2)))
        cv2.ellipse(img, (size // 2, size // 2), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
        ink, name = img > 0, "blot"
    elif kind < 0.85:  # speckle / texture
        h, w = size, int(size * rng.uniform(0.5, 1.2))
        ink = rng.random((h, w)) < rng.uniform(0.15, 0.5)
        ink, name = cv2.dilate(ink.astype(np.uint8), np.ones((2, 2), np.uint8)) > 0, "speck"
    else:  # a frame corner or a cross of rulings
        img = np.zeros((size, size), np.uint8)
        t = int(rng.integers(1, max(2, size // 10)))
        y = int(rng.integers(0, size - t))
        x = int(rng.integers(0, size - t))
        img[y : y + t, :] = 1
        img[:, x : x + t] = 1
        ink, name = img > 0, "ruling"
    return normalize.crop(ink.astype(np.uint8)), name


#: The share of "not a digit" samples that are pieces of a digit cut apart (see render_fragment).
FRAGMENT_SHARE = 0.3
#: Which pieces of which digits, cut in two (left, right) or three (middle), resemble no digit:
#: the halves of a 0 ("(" and ")"), the left halves of 6, 8 and 9, the middle third of a 0.
_FRAGMENTS = {0: ("left", "right", "middle"), 6: ("left",), 8: ("left",), 9: ("left",)}


def render_fragment(rng: np.random.Generator) -> np.ndarray:
    """Binary ink bitmap of a piece of a wide digit cut apart at its emptiest columns, as the reader
    cuts a candidate that may be touching digits: the model must not read "(" and ")" as 1 and 7."""
    from .handwriting import render_handwritten_digit

    digit = int(rng.choice(list(_FRAGMENTS)))
    if rng.random() < 0.5:
        fams = [f for name, fs in font_files().items() if name not in HELDOUT_FAMILIES for f in fs]
        ink = render_font_digit(digit, fams[int(rng.integers(len(fams)))], int(rng.integers(24, 65)), rng)
    else:
        ink = render_handwritten_digit(digit, rng)
    h, w = ink.shape
    ink = cv2.resize(ink * 255, (max(4, int(w * rng.uniform(1.0, 1.6))), h)) >= 128
    side = _FRAGMENTS[digit][int(rng.integers(len(_FRAGMENTS[digit])))]
    n = 3 if side == "middle" else 2
    profile = ink.sum(axis=0).astype(float)
    w = len(profile)
    cuts = [0]
    for k in range(1, n):  # the emptiest column near each equal division
        lo, hi = max(cuts[-1] + 2, int(w * k / n) - w // (3 * n)), min(w - 2, int(w * k / n) + w // (3 * n))
        cuts.append(lo + int(np.argmin(profile[lo:hi])) if hi > lo else int(w * k / n))
    cuts.append(w)
    a, b = {"left": (cuts[0], cuts[1]), "right": (cuts[1], cuts[2]), "middle": (cuts[1], cuts[2])}[side]
    piece = normalize.crop(ink[:, a:b].astype(np.uint8))
    if piece.sum() < 8:
        return normalize.crop(ink.astype(np.uint8)[:, : max(2, w // 2)])
    return piece


#: The share of the other "not a digit" samples that are two digits touching (see render_pair).
PAIR_SHARE = 0.15


def render_pair(rng: np.random.Generator) -> np.ndarray:
    """Binary ink bitmap of two digits side by side, touching or overlapping a little, printed or
    handwritten: squeezed into one canvas, two digits look like none, so that the reader keeps a
    cut of touching digits ("44", "10") rather than reading them as one."""
    from .handwriting import render_handwritten_digit

    if rng.random() < 0.5:
        fams = [f for name, fs in font_files().items() if name not in HELDOUT_FAMILIES for f in fs]
        font = fams[int(rng.integers(len(fams)))]
        size = int(rng.integers(24, 65))
        a, b = (render_font_digit(int(rng.integers(10)), font, size, rng) for _ in range(2))
    else:
        a, b = (render_handwritten_digit(int(rng.integers(10)), rng) for _ in range(2))
    h = max(a.shape[0], b.shape[0])
    b = cv2.resize(b * 255, (max(1, round(b.shape[1] * h / b.shape[0])), h)) > 127
    a = cv2.resize(a * 255, (max(1, round(a.shape[1] * h / a.shape[0])), h)) > 127
    overlap = int(round(rng.uniform(0.0, 0.15) * min(a.shape[1], b.shape[1]))) + 1  # touching
    out = np.zeros((h, a.shape[1] + b.shape[1] - overlap), bool)
    out[:, : a.shape[1]] |= a
    out[:, a.shape[1] - overlap :] |= b
    return normalize.crop(out.astype(np.uint8))


def _hseg(x0: float, x1: float, y: float, t: float, style: int) -> np.ndarray:
    """Polygon of a horizontal segment from x0 to x1 centred on y (style 0 = pointed, 1 = blunt)."""
    h = t / 2
    if style == 0:
        pts = [(x0, y), (x0 + h, y - h), (x1 - h, y - h), (x1, y), (x1 - h, y + h), (x0 + h, y + h)]
    else:
        # Blunt ends stop short of the crossing segments' full width, so the corners stay open.
        pts = [(x0 + h, y - h), (x1 - h, y - h), (x1 - h, y + h), (x0 + h, y + h)]
    return np.array(pts, np.float64)


def sevenseg_segments(digit: int, variant: int = 0) -> str:
    """The lit segments (letters a-g: top, upper right, lower right, bottom, lower left, upper left,
    middle) of a seven-segment digit; ``variant`` 1 picks the alternative 6 (no top bar),
    7 (with upper-left segment) or 9 (no bottom bar), and is ignored for other digits."""
    variants = _SEGMENTS[int(digit)]
    return variants[min(int(variant), len(variants) - 1)]


def sevenseg_polygons(
    segments: str,
    height: float,
    width: float,
    thickness: float,
    gap: float,
    slant: float = 0.0,
    pointed: bool = True,
    joined: bool = False,
    middle: float = 0.5,
    upright: float | None = None,
) -> list[np.ndarray]:
    """Float (k, 2) x/y polygons of the given segments of a digit whose box has its top-left at (0, 0).

    ``slant`` shifts the top right by ``slant * height`` (italic displays); ``pointed`` chooses
    hexagonal segment ends instead of blunt ones. ``joined`` draws each segment as a bar that
    reaches the digit's corners, overlapping its neighbours: continuous strokes, as on displays
    whose segments touch or bleed into each other (``gap`` and ``pointed`` are then ignored).
    ``middle``: the height of the middle bar's centre, as a share of the digit's from its top;
    ``upright``: the thickness of the upright segments (default ``thickness``).
    """
    t, g, style = thickness, gap, 0 if pointed else 1
    u = thickness if upright is None else upright
    left, right = u / 2, width - u / 2
    top, mid, bot = t / 2, middle * height, height - t / 2
    if joined:
        def box(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
            return np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], np.float64)

        polys = {
            "a": box(0, 0, width, t),
            "g": box(0, mid - t / 2, width, mid + t / 2),
            "d": box(0, height - t, width, height),
            "f": box(0, 0, u, mid + t / 2),
            "e": box(0, mid - t / 2, u, height),
            "b": box(width - u, 0, width, mid + t / 2),
            "c": box(width - u, mid - t / 2, width, height),
        }
    else:
        polys = {
            "a": _hseg(left + g, right - g, top, t, style),
            "g": _hseg(left + g, right - g, mid, t, style),
            "d": _hseg(left + g, right - g, bot, t, style),
            "f": _hseg(top + g, mid - g, left, u, style)[:, ::-1],
            "e": _hseg(mid + g, bot - g, left, u, style)[:, ::-1],
            "b": _hseg(top + g, mid - g, right, u, style)[:, ::-1],
            "c": _hseg(mid + g, bot - g, right, u, style)[:, ::-1],
        }
    return [_slanted(polys[name], height, slant) for name in segments]


def _slanted(poly: np.ndarray, height: float, slant: float) -> np.ndarray:
    """A polygon of a digit of ``height`` sheared so that its top moves ``slant * height`` right."""
    p = poly.copy()
    p[:, 0] += slant * (height - p[:, 1])
    return p


#: Shares of the drawn seven-segment digits whose segments are joined into continuous strokes
#: (a pump's LCD, LEDs bleeding together), whose joined outer corners are bevelled, that carry
#: a decimal point beside their foot, that are blurred and thresholded again (segments bleeding
#: into each other or thinning), and whose outline is made ragged (a JPEG's noise thresholded).
SEVENSEG_JOINED = 0.5
SEVENSEG_BEVEL = 0.5
SEVENSEG_POINT = 0.2
SEVENSEG_BLEED = 0.25
SEVENSEG_RAGGED = 0.3
#: Displays are drawn by machine: this share of the seven-segment digits is kept as drawn
#: (crisp, straight strokes), without the 32x32 augmentation the other sources all get.
SEVENSEG_PLAIN = 0.5


def render_sevenseg_digit(digit: int, rng: np.random.Generator) -> np.ndarray:
    """Binary ink bitmap of a seven-segment (LCD/LED) digit.

    Segment thickness (horizontal and upright ones apart), gap, slant, aspect ratio, the middle
    bar's height and segment shape vary; 6, 7 and 9 use both common variants (6/9 with or without
    their tail bar, 7 with or without the top-left segment). Some digits have their segments
    joined into continuous strokes (some of those with bevelled corners), some carry a decimal
    point beside their foot, some are blurred and thresholded again, some get a ragged outline
    (:data:`SEVENSEG_JOINED`, ...).
    """
    lit = sevenseg_segments(digit, int(rng.integers(2)))
    hgt = float(rng.uniform(40, 80))
    wid = hgt * float(rng.uniform(0.42, 0.68))
    g = hgt * float(rng.uniform(0.01, 0.04))
    pointed = bool(rng.integers(2))
    joined = rng.random() < SEVENSEG_JOINED
    # Horizontal segments stay about twice as long as they are thick; joined ones, whose bars
    # reach the corners, leave a counter of at least a third of the width.
    most = (wid - 2 * g) / (3.4 if joined else 3.2 if pointed else 4.2)
    t = min(hgt * float(rng.uniform(0.08, 0.2 if joined else 0.16)), most)
    u = min(t * float(rng.uniform(0.75, 1.25)), most)  # upright segments thinner or thicker
    middle = float(rng.uniform(0.45, 0.53))
    slant = float(rng.uniform(0.05, 0.25)) if rng.random() < 0.5 else 0.0
    sup = 4  # drawn this many times larger, then reduced (anti-aliased coverage)
    pad = 3 + int(2 * t)
    big = np.zeros((int(hgt + 2 * pad) * sup, int(wid + slant * hgt + 2 * pad + 2 * t) * sup), np.uint8)

    def fill(polys: list[np.ndarray], value: int) -> None:
        for p in polys:  # one at a time: fillPoly's even-odd rule would cut out where they overlap
            cv2.fillPoly(big, [np.round((p + pad) * sup).astype(np.int32)], value, lineType=cv2.LINE_AA)

    fill(sevenseg_polygons(lit, hgt, wid, t, g, slant, pointed, joined, middle, u), 255)
    if joined and rng.random() < SEVENSEG_BEVEL:
        c = min(t, u) * float(rng.uniform(0.3, 0.9))
        corners = [[(0, 0), (c, 0), (0, c)], [(wid, 0), (wid - c, 0), (wid, c)],
                   [(0, hgt), (c, hgt), (0, hgt - c)], [(wid, hgt), (wid - c, hgt), (wid, hgt - c)]]
        fill([_slanted(np.array(k, np.float64), hgt, slant) for k in corners], 0)
    if rng.random() < SEVENSEG_POINT:
        r = t * float(rng.uniform(0.45, 0.7))  # a square dot beside the foot
        x0 = wid + t * float(rng.uniform(0.4, 1.3))
        x1 = x0 + 2 * r
        fill([np.array([(x0, hgt - 2 * r), (x1, hgt - 2 * r), (x1, hgt), (x0, hgt)], np.float64)], 255)
    cover = cv2.resize(big, (big.shape[1] // sup, big.shape[0] // sup), interpolation=cv2.INTER_AREA)
    cut = 128
    if rng.random() < SEVENSEG_BLEED:
        cover = cv2.GaussianBlur(cover, (0, 0), t * float(rng.uniform(0.15, 0.4)))
        cut = int(255 * rng.uniform(0.3, 0.55))
    if rng.random() < SEVENSEG_RAGGED:
        # Noise along the outline only (where the coverage, a little blurred, is partial).
        soft = cv2.GaussianBlur(cover, (0, 0), 1.0).astype(np.float32) / 255.0
        noise = cv2.GaussianBlur(rng.normal(0, 1, cover.shape).astype(np.float32), (0, 0), 0.7)
        cover = np.clip(soft * 255 + 4 * soft * (1 - soft) * noise * float(rng.uniform(40, 120)), 0, 255)
    return normalize.crop((cover >= cut).astype(np.uint8))


#: The share of Hershey and handwritten digits drawn with a small mark clinging to them.
CLINGING_SHARE = 0.05


def add_clinging_mark(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The digit's bitmap with a short bar just below or above it (a scale tick, a smudge), as a
    page may give it: the digit is still the digit."""
    h, w = ink.shape
    mw, mh = max(1, int(h * rng.uniform(0.1, 0.3))), max(1, int(h * rng.uniform(0.05, 0.12)))
    gap = int(h * rng.uniform(0.0, 0.06))
    out = np.zeros((h + 2 * (mh + gap), max(w, mw)), np.uint8)
    out[mh + gap : mh + gap + h, :w] = ink
    x = int(rng.integers(0, max(1, w - mw + 1)))
    y = out.shape[0] - mh if rng.random() < 0.7 else 0
    out[y : y + mh, x : x + mw] = 1
    return normalize.crop(out)


def _augment(canvas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = normalize.CANVAS
    c = n / 2 - 0.5
    ang = math.radians(float(rng.uniform(-8, 8)))
    sh = float(rng.uniform(-0.12, 0.12))
    s = float(rng.uniform(0.85, 1.1))
    tx, ty = (float(v) for v in rng.integers(-1, 2, 2))
    rot = np.array([[math.cos(ang), -math.sin(ang)], [math.sin(ang), math.cos(ang)]])
    a = s * rot @ np.array([[1.0, sh], [0.0, 1.0]])
    off = np.array([c + tx, c + ty]) - a @ np.array([c, c])
    mat = np.hstack([a, off[:, None]]).astype(np.float32)
    f = cv2.warpAffine(canvas.astype(np.float32), mat, (n, n), flags=cv2.INTER_LINEAR, borderValue=0)
    if rng.random() < 0.4:
        f = cv2.GaussianBlur(f, (0, 0), float(rng.uniform(0.6, 1.3)))
    out = (f >= rng.uniform(0.35, 0.6)).astype(np.uint8)
    r = rng.random()
    if r < 0.2:
        thin = cv2.erode(out, normalize._KERNEL)
        if thin.sum() >= 0.5 * out.sum():
            out = thin
    elif r < 0.4:
        out = cv2.dilate(out, normalize._KERNEL)
    k = int(rng.integers(0, 5)) if rng.random() < 0.4 else 0
    if k:
        out[rng.integers(0, n, k), rng.integers(0, n, k)] = 1
    if out.sum() == 0:
        return (canvas > 0).astype(np.uint8)
    return out


def augment(canvas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Randomly distort a 32x32 0/1 canvas: rotation (+-8 deg), shear, scale 0.85-1.1, shift +-1 px,
    blur + re-threshold, thinner/thicker strokes and a few salt pixels. Returns a 0/1 uint8 canvas."""
    return _augment(canvas, rng)


def augment_many(canvases: np.ndarray, copies: int, seed: int) -> np.ndarray:
    """``copies`` augmented versions (:func:`augment`) of each canvas, in order: (n * copies, 32, 32)."""
    rng = np.random.default_rng(seed)
    out = np.empty((len(canvases) * copies, normalize.CANVAS, normalize.CANVAS), np.uint8)
    k = 0
    for c in canvases:
        for _ in range(copies):
            out[k] = _augment(c, rng)
            k += 1
    return out


def canvases_from_counts(X: np.ndarray) -> np.ndarray:
    """Approximate 32x32 canvases of 8x8 ``load_digits`` counts (which keep no bigger image): each
    enlarged (bilinear) and cut at half ink."""
    n = normalize.CANVAS
    out = np.empty((len(X), n, n), np.uint8)
    for k, x in enumerate(X):
        share = np.asarray(x, np.float32).reshape(8, 8) / 16.0
        out[k] = cv2.resize(share, (n, n), interpolation=cv2.INTER_LINEAR) >= 0.5
    return out


def _pick_families(source: str, names: list[str] | tuple[str, ...] | None) -> dict[str, list[Font]]:
    pool: dict[str, list[Font]]
    if source == "fonts":
        pool = dict(font_files())
    elif source == "hershey":
        pool = dict(hershey_fonts())
    else:
        raise ValueError(f"unknown font source {source!r}")
    if names is None:
        return {k: v for k, v in pool.items() if k not in HELDOUT_FAMILIES}
    missing = [k for k in names if k not in pool]
    if missing:
        raise ValueError(f"unknown {source} families: {missing}; known: {sorted(pool)}")
    return {k: pool[k] for k in names}


def make_canvases(
    source: str,
    n_per_digit: int,
    seed: int,
    families: list[str] | tuple[str, ...] | None = None,
    augment: bool = True,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Synthetic samples as 32x32 canvases (n, 32, 32) of 0/1 (before stroke normalization), their
    labels (n,) and each sample's kind: "digit", or for ``negatives`` one of :data:`NEGATIVE_KINDS`.

    ``source`` is "fonts" (matplotlib's TTFs and those of the font packages), "hershey" (OpenCV
    vector fonts), "scribble" (handwriting drawn stroke by stroke, :mod:`.handwriting`),
    "sevenseg" or "negatives" (not a digit).
    ``families`` restricts the font families (default: all but ``HELDOUT_FAMILIES``); it is
    ignored for "sevenseg". Deterministic for a given seed.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; expected one of {SOURCES}")
    rng = np.random.default_rng(seed)
    from .handwriting import render_handwritten_digit

    drawn = ("sevenseg", "scribble", "negatives")
    fams = None if source in drawn else list(_pick_families(source, families).values())
    n = 10 * int(n_per_digit)
    out = np.empty((n, normalize.CANVAS, normalize.CANVAS), np.uint8)
    y = np.empty(n, np.int64)
    kinds: list[str] = []
    k = 0
    for _ in range(int(n_per_digit)):
        for d in range(10):
            kind = "digit"
            if source == "negatives":
                ink, kind = render_negative_kind(rng)
            elif source == "scribble":
                ink = render_handwritten_digit(d, rng)
            elif fams is None:
                ink = render_sevenseg_digit(d, rng)
            else:
                fam = fams[int(rng.integers(len(fams)))]
                font = fam[int(rng.integers(len(fam)))]
                size = int(rng.integers(16, 65))
                ink = render_font_digit(d, font, size, rng)
            if augment and source in ("hershey", "scribble") and rng.random() < CLINGING_SHARE:
                ink = add_clinging_mark(ink, rng)
            canvas = normalize.canvas_of(ink)
            plain = source == "sevenseg" and rng.random() < SEVENSEG_PLAIN
            out[k] = _augment(canvas, rng) if augment and not plain else canvas
            y[k] = NOT_A_DIGIT if source == "negatives" else d
            kinds.append(kind)
            k += 1
    return out, y, kinds


def make_dataset(
    source: str,
    n_per_digit: int,
    seed: int,
    families: list[str] | tuple[str, ...] | None = None,
    augment: bool = True,
    blocks: tuple[str, ...] = normalize.CLASSIC_BLOCKS,
) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic samples as features: ``X`` (n, width of ``blocks``) float32, by default the 64
    ``load_digits``-style counts (0..16), and ``y`` (n,) int (see :func:`make_canvases`)."""
    canvases, y, _ = make_canvases(source, n_per_digit, seed, families, augment)
    return normalize.describe(normalize.stroked(canvases), blocks), y
