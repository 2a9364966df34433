"""Printed forms: numbers beside labels and units ("Invoice No. 4471", "Total: 1,234.56 EUR").

Letters are not digits: the o of "Invoice" is not a 0 nor the slash of a date a 1. The default
engine reads such lines as Tesseract does where it confirms the model's digits; the model alone
drops words it is sure are text. Images are drawn here with matplotlib's fonts.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from digit_ocr import read_image, synth


def _printed(text: str, font_file: str, px: int = 44) -> np.ndarray:
    font = ImageFont.truetype(str(synth.font_dir() / font_file), px)
    im = Image.new("L", (int(px * 0.7 * len(text)) + 80, 2 * px), 240)
    ImageDraw.Draw(im).text((40, px // 2), text, fill=25, font=font)
    return np.asarray(im)


LINES = [
    ("Invoice No. 4471", "4471"),
    ("Total: 1,234.56 EUR", "123456"),
    ("Meter reading 26855 kWh", "26855"),
    ("Account 00123456", "00123456"),
    ("Date: 12/03/2024", "12032024"),
]


@pytest.mark.parametrize("font_file", ["DejaVuSerif.ttf", "cmr10.ttf", "STIXGeneral.ttf"])
@pytest.mark.parametrize(("text", "digits"), LINES)
def test_labels_and_units_are_not_read_as_digits(text: str, digits: str, font_file: str) -> None:
    assert read_image(_printed(text, font_file), engine="auto").text == digits


def test_the_model_alone_drops_words_and_slashes() -> None:
    """ "Date:" is a word of letters, and the slashes lean and reach below the digits."""
    assert read_image(_printed("Date: 12/03/2024", "cmr10.ttf"), engine="model").text == "12032024"


def _comb(text: str, cell: int, px: int) -> np.ndarray:
    """A comb field of a form: one box per digit, the digits printed in the boxes."""
    img = np.full((cell + 60, cell * len(text) + 60), 240, np.uint8)
    font = ImageFont.truetype(str(synth.font_dir() / "DejaVuSans.ttf"), px)
    for i, ch in enumerate(text):
        x = 30 + i * cell
        img[30 : 32 + cell, x : x + 2] = 40  # the box's left side (the last box's right one below)
        im = Image.new("L", (cell, cell), 240)
        left, top, right, bottom = font.getbbox(ch)
        at = ((cell - right - left) // 2, (cell - bottom - top) // 2)
        ImageDraw.Draw(im).text(at, ch, fill=30, font=font)
        box = img[31 : 31 + cell, x + 1 : x + 1 + cell]
        np.minimum(box, np.asarray(im), out=box)
    img[30 : 32 + cell, 30 + cell * len(text) : 32 + cell * len(text)] = 40
    img[30:32, 30 : 32 + cell * len(text)] = 40  # top and bottom
    img[30 + cell : 32 + cell, 30 : 32 + cell * len(text)] = 40
    return img


@pytest.mark.parametrize(("text", "cell", "px"), [("90210", 70, 44), ("12345678", 60, 36), ("4711", 90, 50)])
def test_digits_in_the_boxes_of_a_comb_field(text: str, cell: int, px: int) -> None:
    """The boxes' sides are not 1s, and the digits of the boxes are one number."""
    assert read_image(_comb(text, cell, px), engine="model").text == text


def test_the_numbers_in_the_cells_of_a_table_row_stay_apart() -> None:
    """Cells wider than high, evenly spaced between two long lines, hold a number each: their
    sides go, as a comb field's do, but the numbers are not joined."""
    img = np.full((140, 760), 245, np.uint8)
    cv2.line(img, (20, 30), (740, 30), 40, 2)
    cv2.line(img, (20, 110), (740, 110), 40, 2)
    for x in range(20, 741, 180):
        cv2.line(img, (x, 30), (x, 110), 40, 2)
    for i, number in enumerate(["12", "345", "6", "7890"]):
        cv2.putText(img, number, (40 + 180 * i, 90), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 20, 3, cv2.LINE_AA)
    assert read_image(img, engine="model").text == "12 345 6 7890"
