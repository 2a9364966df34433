"""Photo conditions that broke earlier versions: faint displays, meter-wheel crops.

The images are drawn here (no evaluation data needed) and read through the real CLI.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from digit_ocr import read_image, synth
from digit_ocr.segment import segment

from .conftest import run_cli

#: Wheel crops: digit pitch (in digit heights) and how much of the neighbours shows.
#: Wheel crops: digit pitch (in digit heights) and how much of the neighbours shows.
PITCH = 1.3
SHOW = 0.1
NOISE = 2.0


def _sevenseg_alpha(text: str, size: tuple[int, int], height: float, at: tuple[float, float]) -> np.ndarray:
    """Coverage (0..1) of upright seven-segment digits ``height`` pixels tall, the first one's
    top left corner at ``at``, on an image of ``size`` (w, h); drawn 4x larger, then reduced."""
    (w, h), sup = size, 4
    big = np.zeros((h * sup, w * sup), np.uint8)
    tall = height * sup
    width, t, g = 0.55 * tall, 0.13 * tall, 0.03 * tall
    x = at[0] * sup
    for ch in text:
        polys = synth.sevenseg_polygons(synth.sevenseg_segments(int(ch)), tall, width, t, g, 0.08, True)
        cv2.fillPoly(big, [np.round(p + (x, at[1] * sup)).astype(np.int32) for p in polys], 255, cv2.LINE_AA)
        x += width + 0.35 * tall
    return cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def _sevenseg_strip(text: str, ink: tuple[int, int], paper: int, seed: int) -> np.ndarray:
    """A small LCD strip (200x31 like a cropped meter display): grey segments on a grey panel,
    the digits filling the height, blurred and noisy like a phone photo of it."""
    h, w = 31, 200
    alpha = _sevenseg_alpha(text, (w, h), 25.0, (8.0, 3.0))
    rng = np.random.default_rng(seed)
    level = np.linspace(ink[0], ink[1], w, dtype=np.float32)[None, :]  # the ink fades to the right
    img = paper - alpha * (paper - level) + rng.normal(0, NOISE, (h, w))
    img = cv2.GaussianBlur(img, (3, 3), 0.8)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_faint_lcd_strip_is_read(tmp_path: Path, seed: int) -> None:
    """Segments fading from 45 to 20 grey levels darker than the panel (a dim LCD) read right."""
    path = tmp_path / "lcd.png"
    cv2.imwrite(str(path), _sevenseg_strip("70945", ink=(195, 220), paper=240, seed=seed))
    proc = run_cli("read", "--engine", "model", str(path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "70945"


def _wheel_crop(digit: str, above: str, below: str, scale: float = 2.0) -> np.ndarray:
    """A tight crop of one counter wheel: the digit, with the bottom of the digit above and
    the top of the digit below showing at the crop's edges (as on a real meter)."""
    font, thick = cv2.FONT_HERSHEY_SIMPLEX, 8
    (tw, th), _ = cv2.getTextSize(digit, font, scale, thick)
    pitch = int(th * PITCH)
    tall = np.full((3 * pitch + 40, tw + 24), 235, np.uint8)
    for k, ch in enumerate((above, digit, below)):
        cv2.putText(tall, ch, (12, 20 + th + k * pitch), font, scale, 30, thick, cv2.LINE_AA)
    centre = 20 + th // 2 + pitch
    half = int(0.5 * pitch + SHOW * th)
    return tall[centre - half : centre + half]


@pytest.mark.parametrize("scale", [1.8, 1.9, 2.0, 2.1])
@pytest.mark.parametrize("digit", list("0123456789"))
def test_bold_digit_filling_a_wheel_crop(tmp_path: Path, digit: str, scale: float) -> None:
    """A bold digit filling most of a tight crop, with the edges of its neighbours on the wheel
    showing: the digit's thick strokes are not taken for background.

    Without the crop's paper floor the bold 8 keeps only the outline of its strokes, which reads
    as a 0 as surely as the floored 8 reads as an 8: the floor-less reading must be clearly better
    to win (reader.FLOORLESS_MARGIN), not better by a thousandth. Which of the two was the
    thousandth better depended on the OpenCV release that drew the crop (putText draws these
    digits a pixel wider in 5.1 than in 5.0, and several of these scales flipped between the two):
    the scales stand for such rendering changes.
    """
    path = tmp_path / "wheel.png"
    cv2.imwrite(str(path), _wheel_crop(digit, "2", "7", scale))
    assert read_image(path, engine="model").text == digit


def _descending_line() -> np.ndarray:
    """Handwriting-like line "4127": a narrow 1 and a small 2 beside a 7 whose tail descends
    far below the line, as many people write it."""
    img = np.full((260, 420), 235, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(img, "4", (30, 120), font, 2.2, 25, 6, cv2.LINE_AA)
    cv2.line(img, (130, 62), (130, 120), 25, 6, cv2.LINE_AA)  # a bare stroke "1"
    cv2.putText(img, "2", (170, 120), font, 1.6, 25, 5, cv2.LINE_AA)
    cv2.line(img, (250, 62), (320, 62), 25, 6, cv2.LINE_AA)  # the 7: its bar on the line's top,
    cv2.line(img, (320, 62), (285, 160), 25, 6, cv2.LINE_AA)  # its stem far below the baseline
    return img


def test_descenders_do_not_hide_small_digits(tmp_path: Path) -> None:
    path = tmp_path / "line.png"
    cv2.imwrite(str(path), _descending_line())
    assert read_image(path, engine="model").text == "4127"


def test_noise_read_as_digits_loses_to_one_clear_digit() -> None:
    """Between two binarizations of a crop, one clear digit beats a handful of confident
    "digits" of all heights on several lines (what speckle read as digits looks like)."""
    from digit_ocr.reader import reading_score
    from digit_ocr.result import Digit, Line

    clear = [Line([Digit("2", 0.95, (10, 10, 60, 100))])]
    noise = [
        Line([Digit("1", 0.9, (0, 0, 5, 12)), Digit("7", 0.92, (20, 0, 20, 40))]),
        Line([Digit("4", 0.88, (0, 50, 30, 70)), Digit("1", 0.97, (40, 50, 6, 25))]),
    ]
    assert reading_score(clear) > reading_score(noise)
    assert reading_score([]) < reading_score(clear)


def _printed(text: str, font_file: str, px: int) -> np.ndarray:
    """``text`` printed dark on light paper in one of matplotlib's fonts."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(synth.font_dir() / font_file), px)
    im = Image.new("L", (px * len(text) + 80, 2 * px), 235)
    ImageDraw.Draw(im).text((40, px // 2), text, fill=30, font=font)
    return np.asarray(im)


@pytest.mark.parametrize("text", ["10110", "1101", "111", "7011"])
@pytest.mark.parametrize("font_file", ["DejaVuSans-Bold.ttf", "STIXGeneralBol.ttf", "cmb10.ttf"])
def test_bold_ones_are_not_taken_for_a_display(text: str, font_file: str) -> None:
    """Bold 1s are solid bars like a display's segments; joining them as segments ran whole
    numbers together (read as nothing)."""
    assert read_image(_printed(text, font_file, 40), engine="model").text.replace(" ", "") == text


def _broken_zero_line() -> np.ndarray:
    """ "8048" whose 0 lost its hairline top and bottom to thresholding (as Computer Modern's
    thin-topped 0 does in a dim photo): two crescent sides a few pixels apart."""
    img = np.full((160, 420), 235, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(img, "8", (40, 110), font, 2.4, 25, 7, cv2.LINE_AA)
    cv2.ellipse(img, (130, 85), (16, 24), 0, 0, 360, 25, 9, cv2.LINE_AA)
    img[50:120, 127:134] = 235  # the top and bottom of the ring, gone
    cv2.putText(img, "48", (165, 110), font, 2.4, 25, 7, cv2.LINE_AA)
    return img


def test_a_zero_broken_in_halves_is_read_as_one_digit() -> None:
    assert read_image(_broken_zero_line(), engine="model").text == "8048"


FONTS_WITH_CLOSE_ONES = ["DejaVuSans.ttf", "DejaVuSerif.ttf", "cmr10.ttf", "DejaVuSansMono.ttf"]


@pytest.mark.parametrize("font_file", FONTS_WITH_CLOSE_ONES)
def test_close_ones_stay_two_digits(font_file: str) -> None:
    assert read_image(_printed("4118", font_file, 48), engine="model").text == "4118"


def _slanted_ten(pitch: int) -> np.ndarray:
    """A hand-slanted "10" whose 1 touches its 0: no straight cut parts them, a slanted one does."""
    img = np.full((160, 200), 255, np.uint8)
    dx = int(44 * np.tan(np.radians(22)))
    cv2.line(img, (60 + dx, 36), (60 - dx, 124), 0, 7, cv2.LINE_AA)
    cv2.ellipse(img, (60 + pitch, 80), (20, 44), 22, 0, 360, 0, 7, cv2.LINE_AA)
    return img


#: Known regression (model of 09a5054, cut lattice of 525e137): where the 1 leans deepest into
#: the 0, the whole mark reads as a wide 0 at about 0.8, which beats any cut of it. A penalty on
#: wide single digits fixes these and costs Semeion and the handwritten scenes 7 to 17 points.
_DEEP_OVERLAP = pytest.mark.xfail(strict=True, reason="a deeply overlapping slanted 10 reads as a wide 0")


@pytest.mark.parametrize(
    "pitch",
    [pytest.param(38, marks=_DEEP_OVERLAP), pytest.param(40, marks=_DEEP_OVERLAP), 42, 44, 46],
)
def test_slanted_touching_digits_are_cut_along_their_gap(pitch: int) -> None:
    assert read_image(_slanted_ten(pitch), engine="model").text == "10"


def _big_digit_beside_ticks(digit: str) -> np.ndarray:
    """A counter-wheel crop: one large digit beside a scale of short ticks, which outnumber it
    and make the first guess of the character height small."""
    img = np.full((300, 260), 255, np.uint8)
    cv2.putText(img, digit, (40, 220), cv2.FONT_HERSHEY_SIMPLEX, 5.5, 0, 18, cv2.LINE_AA)
    for k in range(12):
        cv2.rectangle(img, (215, 20 + 22 * k), (235, 28 + 22 * k), 0, -1)
    return img


@pytest.mark.parametrize("digit", list("0123456789"))
def test_a_large_digits_strokes_are_not_erased_as_rulings(digit: str) -> None:
    assert read_image(_big_digit_beside_ticks(digit), engine="model").text == digit


def _digits_with_a_tick_below(text: str, tick_w: float, scale: float = 2.0) -> np.ndarray:
    """Printed digits with a short mark just under the middle one (a scale tick, a smudge),
    close enough to be taken in with it: the digit must be read without it."""
    font, thick = cv2.FONT_HERSHEY_SIMPLEX, 6
    (w, h), _ = cv2.getTextSize(text, font, scale, thick)
    img = np.full((h * 3, w + 60), 235, np.uint8)
    cv2.putText(img, text, (30, 2 * h), font, scale, 30, thick, cv2.LINE_AA)
    x, y = int(30 + 1.3 * w / len(text)), int(2.2 * h)
    cv2.rectangle(img, (x, y), (x + int(tick_w * h), y + int(0.12 * h)), 30, -1)
    return img


@pytest.mark.parametrize("scale", [1.8, 2.0, 2.2])
@pytest.mark.parametrize("tick_w", [0.15, 0.25, 0.3])
@pytest.mark.parametrize("text", ["123", "456", "789", "205", "368"])
def test_a_mark_clinging_below_a_digit_is_left_out(text: str, tick_w: float, scale: float) -> None:
    """The digit spans its line without the tick and does not with it: the line tells that the
    tick is no part of it (reader._best_cut), whatever the model makes of the digit with it (an
    8 with a tick reads as a 9 at about 0.9, a 0 as a 9, a 6 as a 4). A fixed cost of reading it
    without the tick, weighed against that, split 789 at 0.905: OpenCV 5.1 drew it a pixel wider
    than 5.0 and tipped it to 799; the scales stand for such rendering changes.
    """
    img = _digits_with_a_tick_below(text, tick_w, scale)
    assert read_image(img, engine="model").text == text


def _flagged_one(reach: float, drop: float) -> np.ndarray:
    """A handwritten 1 with the long up-stroke of continental European hands: from ``reach``
    (share of its height) left of the top and ``drop`` below it, up to the top, then down."""
    img = np.full((200, 200), 255, np.uint8)
    top, bottom = (110, 30), (82, 170)
    start = (int(110 - reach * 140), int(30 + drop * 140))
    cv2.polylines(img, [np.array([start, top, bottom])], False, 0, 9, cv2.LINE_AA)
    return img


@pytest.mark.parametrize("reach", [0.3, 0.4, 0.5])
@pytest.mark.parametrize("drop", [0.35, 0.5])
def test_a_one_with_a_long_flag_is_a_one(reach: float, drop: float) -> None:
    assert read_image(_flagged_one(reach, drop), engine="model").text == "1"


@pytest.mark.parametrize("reach", [0.4, 0.5])
def test_a_level_flag_is_the_bar_of_a_seven(reach: float) -> None:
    """The same strokes with the flag level (falling a tenth of the height) are a 7 without its
    crossbar, as most hands outside continental Europe write it. Between the two (a flag falling
    a fifth of the height) people disagree, and so no test pins it."""
    assert read_image(_flagged_one(reach, 0.1), engine="model").text == "7"


def _lcd_with_glare(text: str, seed: int) -> np.ndarray:
    """A 480x74 LCD strip photographed with glare: dark segments on a grey panel whose left
    part shines bright, which outweighs the digits when the polarity is guessed."""
    w, h = 480, 74
    alpha = _sevenseg_alpha(text, (w, h), 52.0, (30.0, 11.0))
    xs = np.arange(w, dtype=np.float32)[None, :]
    panel = 150 + 60 * np.clip(1 - xs / (0.45 * w), 0, 1) ** 2
    img = panel - alpha * 60 + np.random.default_rng(seed).normal(0, 3, (h, w))
    return np.clip(cv2.GaussianBlur(img, (0, 0), 1.2), 0, 255).astype(np.uint8)


@pytest.mark.parametrize(("text", "seed"), [("23173", 0), ("58214", 1), ("90640", 2)])
def test_glare_does_not_turn_the_polarity(text: str, seed: int) -> None:
    assert read_image(_lcd_with_glare(text, seed), engine="model").text == text


def _underlined(text: str, tilt: float, dashed: bool) -> np.ndarray:
    """Digits written on a form's baseline: a long line, a little tilted or wavy and perhaps
    dashed, touching the bottom of every digit, so that all of them make one mark."""
    font, scale, thick = cv2.FONT_HERSHEY_SIMPLEX, 2.4, 7
    (w, h), _ = cv2.getTextSize(text, font, scale, thick)
    img = np.full((h + 70, w + 80), 240, np.uint8)
    base = 30 + h
    cv2.putText(img, text, (40, base), font, scale, 25, thick, cv2.LINE_AA)
    xs = np.arange(0, img.shape[1], 2)
    ys = base + 2 + tilt * (xs - xs.mean()) + 1.5 * np.sin(xs / 37.0)
    pts = np.stack([xs, ys], axis=1).round().astype(np.int32)
    step = 24 if dashed else len(pts)
    for k in range(0, len(pts), step):
        cv2.polylines(img, [pts[k : k + step - (3 if dashed else 0)]], False, 25, 4, cv2.LINE_AA)
    return img


@pytest.mark.parametrize(
    ("text", "tilt", "dashed"), [("10628", 0.01, True), ("2749", -0.01, False), ("2749", 0.0, True)]
)
def test_digits_standing_on_a_baseline_are_read(text: str, tilt: float, dashed: bool) -> None:
    """The line that joins them is erased without a character height to go by (it would be
    the whole line's)."""
    assert read_image(_underlined(text, tilt, dashed), engine="model").text == text


def _lcd_with_dark_edge(text: str, seed: int) -> np.ndarray:
    """A 200x31 LCD strip whose bottom edge is a dark band as dark as the segments, touching
    the lowest segment of every digit (the shadow of the display's bezel)."""
    w, h = 200, 31
    alpha = _sevenseg_alpha(text, (w, h), 22.0, (6.0, 3.0))
    alpha[25:, :] = 1.0
    img = 215 - alpha * 90 + np.random.default_rng(seed).normal(0, 2, (h, w))
    return np.clip(cv2.GaussianBlur(img, (0, 0), 0.8), 0, 255).astype(np.uint8)


@pytest.mark.parametrize(("text", "seed"), [("61847", 1), ("16722", 4), ("31126", 15)])
def test_a_dark_edge_along_a_display_does_not_join_its_digits(text: str, seed: int) -> None:
    assert read_image(_lcd_with_dark_edge(text, seed), engine="model").text == text


def _tilted(lines: list[str], degrees: float) -> np.ndarray:
    """Printed lines of digits photographed askew: the page turned by ``degrees``."""
    img = np.full((60 + 70 * len(lines), 560), 235, np.uint8)
    for k, text in enumerate(lines):
        cv2.putText(img, text, (30, 70 + 70 * k), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 30, 4, cv2.LINE_AA)
    h, w = img.shape
    mat = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(img, mat, (w, h), borderValue=235)


@pytest.mark.parametrize("degrees", [-10, -7, 8, 11])
def test_lines_of_a_page_taken_askew_stay_whole(degrees: float) -> None:
    """A line rises or falls by more than a character's height from end to end: it is still one line."""
    text = ["4815162342", "2718281828", "3141592653"]
    assert read_image(_tilted(text, degrees), engine="model").text == "\n".join(text)


def _ruled(text: str) -> np.ndarray:
    """Handwriting-like digits on ruled paper, taller than the space between its lines."""
    img = np.full((220, 700), 245, np.uint8)
    for y in range(30, 220, 40):
        cv2.line(img, (0, y), (700, y), 150, 2)
    cv2.putText(img, text, (40, 148), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 2.2, 20, 4, cv2.LINE_AA)
    return img


def test_strokes_crossing_ruled_lines_are_not_box_sides() -> None:
    assert read_image(_ruled("271828"), engine="model").text == "271828"


#: Photos drawn by the batch benchmark (bench/batch_bench.py, which knows their digits) that
#: earlier versions misread: a white label of bold print among coloured frames and lines.
BENCH_PHOTOS = [1, 6, 8, 30, 32, 35, 36, 38, 47, 120, 148]


@pytest.mark.parametrize("index", BENCH_PHOTOS)
def test_a_label_among_lines_and_frames(index: int) -> None:
    """Frames and lines drawn across a scene are not characters: they neither set the character
    height (nor join the digits near them into one mark) nor are their pieces read as 1s."""
    from bench.batch_bench import photo

    img, lines = photo(index)
    ok, jpeg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])  # as the bench writes it
    assert ok and read_image(jpeg.tobytes(), engine="model").text == "\n".join(lines)


def _number_and(extra: str) -> np.ndarray:
    """An ink mask of the number 2345 (42 pixels tall, strokes 6 wide) and ``extra`` beside it."""
    ink = np.zeros((260, 900), np.uint8)
    cv2.putText(ink, "2345", (40, 170), cv2.FONT_HERSHEY_SIMPLEX, 2.0, 255, 6)
    if extra == "tall 7":  # the same pen, 1.7 times as tall
        cv2.putText(ink, "7", (330, 170), cv2.FONT_HERSHEY_SIMPLEX, 3.6, 255, 6)
    elif extra == "frame corner":  # 2 pixels wide, twice as tall
        cv2.polylines(ink, [np.array([[380, 90], [330, 90], [330, 175], [380, 175]])], False, 255, 2)
    elif extra.startswith("short stroke at "):  # 10x30, the digits' stroke weight
        x = int(extra.rsplit(" ", 1)[1])
        cv2.rectangle(ink, (x, 140), (x + 9, 169), 255, -1)
    return ink


@pytest.mark.parametrize(
    ("extra", "marks"),
    [("tall 7", 5), ("frame corner", 4), ("short stroke at 230", 5), ("short stroke at 700", 4)],
)
def test_frame_sides_and_far_strokes_on_a_line_are_not_characters(extra: str, marks: int) -> None:
    """On a line of digits, a mark far taller drawn in far thinner strokes (a frame's side) is
    dropped, a taller digit in the same pen is not; a short stroke is dropped far out beside the
    line (a piece of clutter), not next to its digits."""
    lines = segment(_number_and(extra))
    assert [len(line.items) for line in lines] == [marks]
