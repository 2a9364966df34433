"""Tests for digit_ocr._exec.tesseract against the real binary and small fake ones."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from digit_ocr._exec import tesseract as tess
from digit_ocr.errors import BadArgumentsError, MissingDependencyError

FONT = cv2.FONT_HERSHEY_SIMPLEX
posix_only = pytest.mark.skipif(os.name != "posix", reason="fake tesseract is a /bin/sh script")


@pytest.fixture(autouse=True)
def _no_override(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in tess.ENV_OVERRIDES:
        monkeypatch.delenv(var, raising=False)


def render(
    lines: list[str], *, scale: float = 2.0, thickness: int = 4, bgr: bool = False
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """White image with ``lines`` drawn in black; returns it and each line's glyph (x, y, w, h) box."""
    (_, text_h), _ = cv2.getTextSize("0", FONT, scale, thickness)
    step = int(text_h * 2.2)
    width = max(cv2.getTextSize(t, FONT, scale, thickness)[0][0] for t in lines) + 80
    img = np.full((step * len(lines) + 40, width), 255, np.uint8)
    boxes = []
    for i, text in enumerate(lines):
        (w, _), _ = cv2.getTextSize(text, FONT, scale, thickness)
        org = (40, 20 + text_h + i * step + (step - text_h) // 2)
        cv2.putText(img, text, org, FONT, scale, 0, thickness, cv2.LINE_AA)
        boxes.append((org[0], org[1] - text_h, w, text_h))
    return (cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if bgr else img), boxes


def assert_on_ink(img: np.ndarray, ch: tess.TessChar) -> None:
    x, y, w, h = ch.box
    gray = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    assert x >= 0 and y >= 0 and x + w <= gray.shape[1] and y + h <= gray.shape[0]
    assert (gray[y : y + h, x : x + w] < 128).mean() > 0.1, f"{ch} does not cover a glyph"
    assert 0.0 <= ch.conf <= 1.0


def write_fake(tmp_path: Path, body: str) -> Path:
    exe = tmp_path / "fake-tesseract"
    script = (
        '#!/bin/sh\nPATH="/usr/bin:/bin:$PATH"\n'
        'if [ "$1" = "--version" ]; then echo "tesseract 5.3.0"; exit 0; fi\n' + body + "\n"
    )
    exe.write_text(script)
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return exe


# --------------------------------------------------------------------------- real binary


def test_version(real_tesseract: str) -> None:
    assert tess.find_tesseract() == real_tesseract
    v = tess.version()
    assert v >= (4, 1, 0)
    assert tess.version() is v  # cached


def test_single_line(real_tesseract: str) -> None:
    img, (line_box,) = render(["4096"])
    lines = tess.read_digits(img)
    assert ["".join(c.char for c in line) for line in lines] == ["4096"]
    lx, ly, lw, lh = line_box
    prev_x = -1
    for ch in lines[0]:
        assert_on_ink(img, ch)
        x, y, w, h = ch.box
        assert lx - 5 <= x and x + w <= lx + lw + 5 and ly - 5 <= y and y + h <= ly + lh + 15
        assert x > prev_x
        prev_x = x
    assert min(c.conf for c in lines[0]) > 0.5


def test_two_lines_bgr(real_tesseract: str) -> None:
    img, boxes = render(["12 34", "5678"], bgr=True)
    lines = tess.read_digits(img)
    assert ["".join(c.char for c in line) for line in lines] == ["1234", "5678"]
    for line, (_, ly, _, lh) in zip(lines, boxes, strict=True):
        for ch in line:
            assert_on_ink(img, ch)
            assert ly - 5 <= ch.box[1] <= ly + lh
    assert tess.read_text(img) == "1234\n5678"


def test_glyphs_touching_the_edge(real_tesseract: str) -> None:
    img, _ = render(["4096"])
    ys, xs = np.nonzero(img < 128)
    tight = np.ascontiguousarray(img[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])
    lines = tess.read_digits(tight)
    assert tess.read_text(tight) == "4096"
    for ch in lines[0]:
        assert_on_ink(tight, ch)


@pytest.mark.parametrize("paper", [170, 150])
def test_grey_paper(real_tesseract: str, paper: int) -> None:
    """A photo of a page is grey, not white: the border added around the image is of its paper
    (a white one made Tesseract take the whole page for ink and read nothing)."""
    img, _ = render(["4096", "1234"], scale=1.0, thickness=2)
    noise = np.random.default_rng(0).normal(0, 3, img.shape)
    grey = np.clip(np.where(img > 128, paper, img) + noise, 0, 255).astype(np.uint8)
    assert tess.read_text(grey) == "4096\n1234"


def test_blank_image(real_tesseract: str) -> None:
    assert tess.read_digits(np.full((60, 80), 255, np.uint8)) == []
    assert tess.read_text(np.full((60, 80, 3), 255, np.uint8)) == ""


def test_bad_arguments(real_tesseract: str) -> None:
    img = np.full((20, 20), 255, np.uint8)
    with pytest.raises(BadArgumentsError):
        tess.read_digits(img, psm=2)
    with pytest.raises(BadArgumentsError):
        tess.read_digits(img, timeout=0)
    with pytest.raises(ValueError):
        tess.read_digits(img.astype(np.float32))


# --------------------------------------------------------------------------- fakes and failures


@posix_only
def test_timeout_kills_the_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exe = write_fake(tmp_path, "sleep 30")  # not exec'd: the sleep child must die with the script
    monkeypatch.setenv("DIGIT_OCR_TESSERACT", str(exe))
    start = time.monotonic()
    with pytest.raises(tess.TesseractError, match=r"tesseract timed out after 0\.5s"):
        tess.read_digits(np.full((20, 20), 255, np.uint8), timeout=0.5)
    assert time.monotonic() - start < 5


@posix_only
def test_nonzero_exit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exe = write_fake(
        tmp_path,
        "cat >/dev/null\necho 'Tesseract Open Source OCR Engine' >&2\necho '@@ segfault-ish garbage' >&2\n"
        "echo 'Error during processing.' >&2\nexit 1",
    )
    monkeypatch.setenv("TESSERACT_CMD", str(exe))
    with pytest.raises(tess.TesseractError) as info:
        tess.read_text(np.full((20, 20), 255, np.uint8))
    assert str(info.value) == "tesseract failed (exit status 1): @@ segfault-ish garbage"
    assert "\n" not in str(info.value)


@posix_only
def test_garbage_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exe = write_fake(tmp_path, "cat >/dev/null\necho 'not hocr at all'\nexit 0")
    monkeypatch.setenv("DIGIT_OCR_TESSERACT", str(exe))
    with pytest.raises(tess.TesseractError, match="no hOCR page"):
        tess.read_digits(np.full((20, 20), 255, np.uint8))


@posix_only
def test_too_old(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exe = tmp_path / "old-tesseract"
    exe.write_text("#!/bin/sh\necho 'tesseract 4.0.0' >&2\n")
    exe.chmod(0o755)
    monkeypatch.setenv("DIGIT_OCR_TESSERACT", str(exe))
    with pytest.raises(MissingDependencyError, match="4.0.0 .* too old"):
        tess.version()


def test_missing_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGIT_OCR_TESSERACT", str(tmp_path / "no-such-tesseract"))
    assert tess.find_tesseract() is None
    with pytest.raises(MissingDependencyError) as info:
        tess.version()
    assert info.value.hint and "apt-get install tesseract-ocr" in info.value.hint
    with pytest.raises(MissingDependencyError):
        tess.read_digits(np.full((20, 20), 255, np.uint8))


def test_missing_from_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert tess.find_tesseract() is None
    with pytest.raises(MissingDependencyError, match="not found on PATH"):
        tess.version()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tesseract 5.3.0\n leptonica-1.82.0", (5, 3, 0)),
        ("tesseract 4.1.1", (4, 1, 1)),
        ("tesseract v5.0.0-alpha-20201231", (5, 0, 0)),
        ("tesseract 4.1.1-rc2-21-gf4ef", (4, 1, 1)),
        ("tesseract 4.00.00alpha", (4, 0, 0)),
        ("tesseract 5.3", (5, 3, 0)),
        ("no version here", None),
    ],
)
def test_parse_version(text: str, expected: tuple[int, int, int] | None) -> None:
    assert tess.parse_version(text) == expected


def test_parse_hocr_shifts_clips_and_drops_non_digits() -> None:
    hocr = (
        "<div class='ocr_page' title='bbox 0 0 120 60'>"
        "<span class='ocr_line' title='bbox 10 10 110 50'><span class='ocrx_word' title='x_wconf 80'>"
        "<span class='ocrx_cinfo' title='x_bboxes 5 10 30 50; x_conf 97.5'>7</span>"
        "<span class='ocrx_cinfo' title='x_bboxes 30 10 50 50'>x</span>"
        "<span class='ocrx_cinfo' title='x_bboxes 50 10 70 50'>1</span>"
        "</span></span><span class='ocr_line' title='bbox 0 0 1 1'></span></div>"
    )
    lines = tess.parse_hocr(hocr, shift=10, size=(80, 30))
    assert lines == [[tess.TessChar("7", 0.975, (0, 0, 20, 30)), tess.TessChar("1", 0.8, (40, 0, 20, 30))]]


def test_parse_hocr_without_char_boxes_splits_words() -> None:
    hocr = (
        "<div class='ocr_page'><p class='ocr_par'><span class='ocr_line' title='bbox 0 0 50 20'>"
        "<span class='ocrx_word' title='bbox 0 0 40 20; x_wconf 90'><strong>12</strong></span>"
        "<span class='ocrx_word' title='bbox 44 0 50 20; x_wconf 50'>-</span></span></p></div>"
    )
    assert tess.parse_hocr(hocr) == [
        [tess.TessChar("1", 0.9, (0, 0, 20, 20)), tess.TessChar("2", 0.9, (20, 0, 20, 20))]
    ]


def test_parse_hocr_rejects_garbage() -> None:
    with pytest.raises(tess.TesseractError):
        tess.parse_hocr("Segmentation fault")
    with pytest.raises(tess.TesseractError, match="bad character box"):
        tess.parse_hocr(
            "<div class='ocr_page'><span class='ocr_line'><span class='ocrx_cinfo' title='x_bboxes 1 a'>3"
        )
