"""Tesseract in-process through tesserocr (DIGIT_OCR_TESSERACT_BACKEND=tesserocr)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from digit_ocr._exec import tesseract as tess
from digit_ocr._exec import tesserocr_api

from .conftest import render, require_tesseract, run_cli
from .test_tesseract_exec import assert_on_ink, write_fake
from .test_tesseract_exec import render as render_lines

ENV = tesserocr_api.BACKEND_ENV


@pytest.fixture
def in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """tesserocr chosen (it is in the test extra, so CI has it; elsewhere skipped without it)."""
    require_tesseract()
    try:
        import tesserocr  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("tesserocr is not installed, but CI must test the in-process backend")
        pytest.skip("tesserocr not installed")
    for var in tess.ENV_OVERRIDES:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv(ENV, "tesserocr")


def test_reads_lines_with_boxes_on_the_glyphs(in_process: None) -> None:
    img, _ = render_lines(["12 34", "5678"], bgr=True)
    lines = tess.read_digits(img)
    assert ["".join(c.char for c in line) for line in lines] == ["1234", "5678"]
    for line in lines:
        for ch in line:
            assert_on_ink(img, ch)


def test_same_digits_as_the_process(in_process: None, monkeypatch: pytest.MonkeyPatch) -> None:
    img = render("30571\n864")
    inproc = tess.read_text(img)
    monkeypatch.setenv(ENV, "process")
    assert inproc == tess.read_text(img) == "30571\n864"


def test_timeout_is_an_engine_failure(in_process: None) -> None:
    rng = np.random.default_rng(0)
    page = np.full((2400, 2400), 255, np.uint8)
    for _ in range(400):  # a page full of digits takes far longer than a millisecond
        x, y = int(rng.integers(0, 2300)), int(rng.integers(40, 2400))
        cv2.putText(page, str(int(rng.integers(0, 10**6))), (x, y), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 0, 2)
    with pytest.raises(tesserocr_api.InProcessError) as info:
        tess.read_digits(page, timeout=0.001)
    assert info.value.exit_code == 7


def test_cli_in_process(in_process: None, printed_png: Path) -> None:
    proc = run_cli("read", "--engine", "tesseract", str(printed_png), env={ENV: "tesserocr"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "4096"


def test_a_named_binary_is_run_as_a_process(in_process: None, tmp_path: Path, printed_png: Path) -> None:
    fake = write_fake(tmp_path, "echo 'segfault' >&2; kill -SEGV $$")
    env = {ENV: "tesserocr", "DIGIT_OCR_TESSERACT": str(fake)}
    proc = run_cli("read", "--engine", "tesseract", str(printed_png), env=env)
    assert proc.returncode == 7, proc.stderr  # the fake binary ran, and crashed
    assert "crashed" in proc.stderr


def test_unknown_backend_is_a_bad_argument(printed_png: Path) -> None:
    require_tesseract()
    proc = run_cli("read", "--engine", "tesseract", str(printed_png), env={ENV: "gpu"})
    assert proc.returncode == 2
    assert "DIGIT_OCR_TESSERACT_BACKEND=gpu" in proc.stderr
    assert "Traceback" not in proc.stderr
