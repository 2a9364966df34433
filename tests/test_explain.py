"""Why marks were left out: ``read_image(explain=True)``, ``read --explain`` and ``--annotate``.

Pages drawn here with the project's own fonts: a label beside a number, a number with a long
line drawn under it, specks of dirt. The reasons given must be the ones a person sees: the
word is text, the line is a ruling, the dirt is specks; and the digits read stay the same.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from digit_ocr import read_image, synth
from digit_ocr.explain import REASONS
from tests.conftest import render, run_cli


def _labelled(text: str, px: int = 44) -> np.ndarray:
    font = ImageFont.truetype(str(synth.font_dir() / "DejaVuSans.ttf"), px)
    im = Image.new("L", (int(px * 0.7 * len(text)) + 80, 2 * px), 240)
    ImageDraw.Draw(im).text((40, px // 2), text, fill=25, font=font)
    return np.asarray(im)


def _underlined(digits: str) -> np.ndarray:
    img = render(digits)
    h, w = img.shape
    cv2.line(img, (20, h - 30), (w - 20, h - 30), 30, 4)
    return img


def _specked(digits: str, seed: int = 3) -> np.ndarray:
    img = render(digits)
    rng = np.random.default_rng(seed)
    h, w = img.shape
    for _ in range(40):
        x, y = int(rng.integers(5, w - 5)), int(rng.integers(5, 25))  # in the top margin
        cv2.circle(img, (x, y), 1, 30, -1)
    return img


def _left_of(box: tuple[int, int, int, int], other: tuple[int, int, int, int]) -> bool:
    return box[0] + box[2] <= other[0] + 2


def test_nothing_is_recorded_unless_asked() -> None:
    reading = read_image(_labelled("Invoice 4471"), engine="model")
    assert reading.dropped is None
    assert "dropped" not in reading.to_dict()


@pytest.mark.parametrize("text", ["Account 802", "Account 31"])
def test_a_label_beside_a_number_is_dropped_as_text(text: str) -> None:
    """The model alone: the letters it is sure of make the word text."""
    reading = read_image(_labelled(text), engine="model", explain=True)
    assert reading.text == text.split()[-1]
    first = reading.digits[0].box
    judged = [d for d in reading.dropped or [] if d.reason in ("word", "not_a_digit")]
    assert len(judged) >= 3  # most of the word's letters
    assert all(_left_of(d.box, first) for d in judged)
    assert all("digit" in d.detail and 0.0 <= float(d.detail["not_a_digit"]) <= 1.0 for d in judged)


def test_letters_tesseract_reads_as_text_are_dropped_as_such(real_tesseract: str) -> None:
    """auto: the model takes the I, n, o and i of "Invoice" for digits; Tesseract reads the line
    as printed text, and those are dropped as not among its digits."""
    reading = read_image(_labelled("Invoice 4471"), engine="auto", explain=True)
    assert reading.text == "4471"
    first = reading.digits[0].box
    by_tesseract = [d for d in reading.dropped or [] if d.reason == "tesseract_text"]
    assert len(by_tesseract) >= 3
    assert all(_left_of(d.box, first) and "digit" in d.detail for d in by_tesseract)


@pytest.mark.parametrize("digits", ["4096", "31415"])
def test_a_line_under_the_number_is_dropped_as_a_ruling(digits: str) -> None:
    img = _underlined(digits)
    reading = read_image(img, engine="model", explain=True)
    assert reading.text == digits
    rulings = [d for d in reading.dropped or [] if d.reason == "ruling"]
    assert rulings
    widest = max(rulings, key=lambda d: d.box[2])
    assert widest.box[2] > 0.8 * reading.lines[0].box[2]  # the line, about as long as the number
    assert widest.box[1] > reading.lines[0].box[1] + reading.lines[0].box[3] // 2  # below the digits


def test_dirt_in_the_margin_is_dropped_as_specks() -> None:
    reading = read_image(_specked("2718"), engine="model", explain=True)
    assert reading.text == "2718"
    specks = [d for d in reading.dropped or [] if d.reason == "speck"]
    assert len(specks) >= 10
    top = reading.lines[0].box[1]
    assert all(d.box[1] + d.box[3] <= top for d in specks)


def test_every_reason_is_documented() -> None:
    readings = [
        read_image(img, engine="model", explain=True)
        for img in (_labelled("Invoice 4471"), _underlined("4096"), _specked("2718"))
    ]
    assert {d.reason for r in readings for d in r.dropped or []} <= set(REASONS)


def test_cli_explain_json_and_text(tmp_path: Path) -> None:
    path = tmp_path / "underlined.png"
    cv2.imwrite(str(path), _underlined("4096"))
    plain = run_cli("read", "--engine", "model", "-f", "json", str(path))
    assert plain.returncode == 0
    assert "dropped" not in json.loads(plain.stdout)
    out = run_cli("read", "--engine", "model", "-f", "json", "--explain", str(path))
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert record["text"] == "4096"
    assert any(d["reason"] == "ruling" and len(d["box"]) == 4 for d in record["dropped"])
    text = run_cli("read", "--engine", "model", "--explain", str(path))
    assert text.returncode == 0
    assert text.stdout == "4096\n"  # results alone on stdout
    assert "ruling" in text.stderr and "left out" in text.stderr


def test_annotate_draws_what_was_left_out(tmp_path: Path) -> None:
    path = tmp_path / "specked.png"
    img = _specked("2718")
    cv2.imwrite(str(path), img)
    out = tmp_path / "annotated.png"
    result = run_cli("read", "--engine", "model", "--annotate", str(out), str(path))
    assert result.returncode == 0, result.stderr
    drawn = cv2.imread(str(out))
    assert drawn.shape[:2] == img.shape
    # The specks in the margin are boxed: far more of the margin changed than the specks cover.
    before = cv2.cvtColor(img[:30], cv2.COLOR_GRAY2BGR).astype(int)
    changed = (np.abs(drawn[:30].astype(int) - before) > 40).any(axis=2)
    assert changed.sum() > 2 * (img[:30] < 128).sum()
