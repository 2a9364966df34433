"""Combining the model's digits with Tesseract's: matching by box, agreement, disagreement, additions."""

from __future__ import annotations

from pathlib import Path

import cv2

from digit_ocr.crosscheck import combine, cross_check
from digit_ocr.result import Digit, Line

from .conftest import render


def _line(*digits: tuple[str, float, int]) -> Line:
    return Line([Digit(d, c, (x, 10, 30, 50), "model") for d, c, x in digits])


def _tess(*digits: tuple[str, float, int]) -> Line:
    return Line([Digit(d, c, (x + 2, 12, 28, 48), "tesseract") for d, c, x in digits])


def test_agreement_raises_confidence_and_is_flagged() -> None:
    out = combine([_line(("4", 0.7, 0), ("2", 0.9, 40))], [_tess(("4", 0.8, 0), ("2", 0.9, 40))])
    a, b = out[0].digits
    assert a.digit == "4" and a.agreed is True and a.engine == "both" and a.confidence > 0.8
    assert a.votes == {
        "model": {"digit": "4", "confidence": 0.7},
        "tesseract": {"digit": "4", "confidence": 0.8},
    }


def test_disagreement_goes_to_the_more_confident_engine_with_lower_confidence() -> None:
    out = combine([_line(("5", 0.55, 0), ("7", 0.95, 40))], [_tess(("6", 0.9, 0), ("1", 0.99, 40))])
    a, b = out[0].digits
    assert (a.digit, a.engine, a.agreed, a.runner_up) == ("6", "tesseract", False, "5")
    assert a.confidence < 0.9
    assert (b.digit, b.engine, b.agreed, b.runner_up) == ("7", "model", False, "1")
    assert b.confidence < 0.95


def test_missing_on_one_side() -> None:
    # Tesseract sees nothing where the model read a 3 (handwriting): the model's digit stays.
    out = combine([_line(("3", 0.8, 0))], [Line([])])
    assert out[0].digits[0].digit == "3" and out[0].digits[0].agreed is False
    # Beside the model's digits, an extra Tesseract digit is not added (a misread mark, mostly).
    out = combine([_line(("1", 0.9, 0))], [_tess(("1", 0.9, 0), ("8", 0.95, 80))])
    assert out[0].text == "1"
    # Nor a line of its own beside the model's lines (a stroke it misread, on the dev scenes)...
    lower = Line([Digit("8", 0.95, (0, 200, 28, 48), "tesseract")])
    assert [line.text for line in combine([_line(("1", 0.9, 0))], [lower])] == ["1"]
    # ...but where the model read nothing at all, a digit Tesseract is sure of is added...
    out = combine([], [lower])
    assert [line.text for line in out] == ["8"] and out[0].digits[0].engine == "tesseract"
    # ...and not one it is unsure of.
    unsure = Line([Digit("8", 0.3, (0, 200, 28, 48), "tesseract")])
    assert combine([], [unsure]) == []


def test_missing_tesseract_is_a_warning_not_a_failure(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DIGIT_OCR_TESSERACT", str(tmp_path / "nope"))
    warnings: list[str] = []
    lines = [_line(("4", 0.3, 0))]
    img = cv2.cvtColor(render("4"), cv2.COLOR_GRAY2BGR)
    assert cross_check(lines, img, 1.0, warnings, 5.0) is lines
    assert len(warnings) == 1 and "model alone" in warnings[0]


def test_tesseract_boxes_that_span_the_image_are_ignored() -> None:
    whole = Line(
        [Digit("5", 0.99, (0, 0, 500, 300), "tesseract"), Digit("0", 0.99, (480, 0, 16, 300), "tesseract")]
    )
    out = combine([_line(("2", 0.9, 0), ("5", 0.9, 40))], [whole])
    assert out[0].text == "25"


def test_a_line_of_text_is_read_as_tesseract_reads_it() -> None:
    """ "Invoice 4471": the model took the o of Invoice for a 0 and its i for a 1 (and was sure
    of some letters); Tesseract read the same 4471 and no letters: its reading stands, with the
    model's boxes where both read a digit."""
    model = _line(("1", 0.9, 0), ("0", 0.95, 40), ("1", 0.8, 80), ("4", 0.99, 200), ("4", 0.99, 240),
                  ("7", 0.9, 280), ("1", 0.97, 320))  # fmt: skip
    model.letters = 4
    # Tesseract's boxes swallow the letters beside its digits: the first 4 spans the word.
    wide = Digit("4", 0.9, (0, 12, 228, 48), "tesseract")
    tess = Line([wide, *_tess(("4", 0.9, 240), ("7", 0.9, 280), ("1", 0.9, 320)).digits])
    (line,) = combine([model], [tess])
    assert line.text == "4471"
    assert [d.box for d in line.digits] == [(x, 10, 30, 50) for x in (200, 240, 280, 320)]
    assert all(d.agreed and d.engine == "both" for d in line.digits)


def test_handwriting_keeps_the_digits_tesseract_missed() -> None:
    """The same readings on a line with no letters (handwriting): Tesseract misses digits there,
    so the model's stand."""
    model = _line(("1", 0.9, 0), ("0", 0.95, 40), ("4", 0.99, 200), ("4", 0.99, 240), ("7", 0.9, 280))
    (line,) = combine([model], [_tess(("4", 0.9, 200), ("4", 0.9, 240), ("7", 0.9, 280))])
    assert line.text == "10447"


def _printed_line(text: str, y: int, letters: int = 0, height: int = 50) -> Line:
    return Line([Digit(ch, 0.95, (40 * i, y, 30, height), "model") for i, ch in enumerate(text)], letters)


def _tess_at(text: str, y: int, start: int) -> Line:
    boxes = [(40 * (start + k) + 2, y + 2, 28, 46) for k in range(len(text))]
    return Line([Digit(ch, 0.9, box, "tesseract") for ch, box in zip(text, boxes)])


def test_a_page_of_print_reads_its_labels_as_text() -> None:
    """Line 1 has letters the model was sure of, line 2 none ("Date" read as "0812"): both are
    printed (digits of one height) and Tesseract read their numbers alone, so the page is print
    and line 2's extra digits are letters too."""
    model = [_printed_line("1044711", 0, letters=3), _printed_line("081225072021", 100)]
    tess = [_tess_at("4471", 0, 2), _tess_at("25072021", 100, 4)]
    assert [line.text for line in combine(model, tess)] == ["4471", "25072021"]


def test_handwriting_on_a_page_of_print_keeps_its_digits() -> None:
    """The same second line, handwritten (digits of uneven heights): it stays as the model read it."""
    uneven = _printed_line("081225072021", 100)
    for k, d in enumerate(uneven.digits):
        d.box = (d.box[0], 100, 30, 44 + 4 * (k % 4))
    model = [_printed_line("1044711", 0, letters=3), uneven]
    tess = [_tess_at("4471", 0, 2), _tess_at("25072021", 100, 4)]
    assert [line.text for line in combine(model, tess)] == ["4471", "081225072021"]
