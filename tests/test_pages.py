"""Whole scanned pages that are nearly all paper: a few digits on a form, dust and dots.

The images are drawn here (a 300-dpi A4 page is 2480x3508 pixels) and read through the library.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from digit_ocr import read_image

A4 = (3508, 2480)


def _page(fields: list[tuple[tuple[int, int], str, float]], dots: int = 0, radius: int = 0) -> np.ndarray:
    """A scanned page: grey-white paper with sensor noise, digits printed at the given places and
    sizes (Hershey font scale), and ``dots`` round specks of ``radius`` pixels (dust, bullets)."""
    rng = np.random.default_rng(7)
    img = np.clip(235 + rng.normal(0, 4, A4), 0, 255).astype(np.uint8)
    for (x, y), text, scale in fields:
        thick = max(2, int(2 * scale))
        cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, 30, thick, cv2.LINE_AA)
    for k in range(dots):  # scattered over a grid, one to a cell of 300 pixels, apart from the digits
        x = 150 + 300 * (k % 8) + int(rng.integers(-100, 100))
        y = 900 + 300 * (k // 8) + int(rng.integers(-100, 100))
        cv2.circle(img, (x, y), radius, 40, -1, cv2.LINE_AA)
    return img


@pytest.mark.parametrize("scale", [0.8, 1.2])
def test_one_line_of_small_digits_on_a_blank_page_is_read(scale: float) -> None:
    """The ink is a few hundredths of a percent of the page: no page-wide statistic may
    take the page for blank."""
    assert read_image(_page([((300, 600), "4815162342", scale)]), engine="model").text == "4815162342"


def test_two_fields_far_apart_are_two_lines() -> None:
    page = _page([((300, 600), "12345", 1.5), ((1500, 2900), "987654", 1.5)])
    assert read_image(page, engine="model").text == "12345\n987654"


@pytest.mark.parametrize("radius", [2, 4, 6, 9, 15])
def test_dots_are_not_read_as_digits(radius: int) -> None:
    """Dust and bullet dots: a dot is never cut into slices that read as 1s."""
    assert read_image(_page([], dots=30, radius=radius), engine="model").text == ""


@pytest.mark.parametrize("radius", [4, 6])
def test_digits_among_dots_are_read_alone(radius: int) -> None:
    page = _page([((300, 600), "4815162342", 1.2)], dots=30, radius=radius)
    assert read_image(page, engine="model").text == "4815162342"
