"""The model path's working resolution: chosen from the characters, boxes still in original pixels."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from digit_ocr import read_image
from digit_ocr.binarize import to_gray
from digit_ocr.load import open_image
from digit_ocr.reader import TARGET_CHAR_H, model_view

from .conftest import render


def _ink_columns(img: np.ndarray) -> tuple[int, int]:
    cols = np.nonzero((img < 128).any(axis=0))[0]
    return int(cols[0]), int(cols[-1])


@pytest.mark.parametrize(("text", "scale", "thickness"), [("2409", 9.0, 22), ("75163", 6.0, 14)])
def test_large_characters_are_read_reduced_with_boxes_in_original_pixels(
    tmp_path: Path, text: str, scale: float, thickness: int
) -> None:
    img = render(text, scale=scale, thickness=thickness)
    img = cv2.copyMakeBorder(img, 300, 300, 200, 200, cv2.BORDER_CONSTANT, value=235)
    p = tmp_path / "big.jpg"
    cv2.imwrite(str(p), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
    gray = to_gray(open_image(p).image)
    _view, f, _pols, _bg, _done, expected = model_view(gray)
    assert f >= 2.0, "a page of characters this large is worked on reduced"
    assert max(expected.values()) < 2 * TARGET_CHAR_H

    reading = read_image(p, engine="model")
    assert reading.text == text
    assert (reading.width, reading.height) == (img.shape[1], img.shape[0])
    first, last = _ink_columns(img)
    boxes = [d.box for d in reading.digits]
    assert abs(boxes[0][0] - first) <= f + 1
    assert abs(boxes[-1][0] + boxes[-1][2] - 1 - last) <= f + 1
    ink_rows = np.nonzero((img < 128).any(axis=1))[0]
    for _x, y, _w, h in boxes:
        assert abs(y - ink_rows[0]) <= f + 2 and abs(y + h - 1 - ink_rows[-1]) <= f + 2


def test_small_print_on_a_large_page_is_not_reduced(tmp_path: Path) -> None:
    text = "\n".join(["31415 92653", "58979 32384", "62643 38327", "95028 84197"] * 3)
    img = render(text, scale=1.2, thickness=2, size=(1600, 1200))
    p = tmp_path / "small_print.png"
    cv2.imwrite(str(p), img)
    gray = to_gray(open_image(p).image)
    _view, f, *_rest = model_view(gray)
    assert f == 1.0
    lines = read_image(p, engine="model").text.split("\n")
    assert [line.replace(" ", "") for line in lines] == [t.replace(" ", "") for t in text.split("\n")]
