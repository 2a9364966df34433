"""Shared fixtures: real images made on the fly, the CLI run as a real subprocess."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


def render(
    text: str,
    *,
    scale: float = 3.0,
    thickness: int = 6,
    size: tuple[int, int] | None = None,
    font: int = cv2.FONT_HERSHEY_SIMPLEX,
    ink: int = 20,
    paper: int = 235,
) -> np.ndarray:
    """A grayscale page with ``text`` (lines split on newlines) printed dark on light."""
    lines = text.split("\n")
    (tw, th), _ = cv2.getTextSize(max(lines, key=len), font, scale, thickness)
    w, h = size or (tw + 80, (th + 40) * len(lines) + 60)
    img = np.full((h, w), paper, np.uint8)
    for i, line in enumerate(lines):
        cv2.putText(img, line, (40, 40 + th + i * (th + 40)), font, scale, ink, thickness, cv2.LINE_AA)
    return img


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m digit_ocr ARGS`` and capture its output."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "digit_ocr", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or ROOT,
        timeout=timeout,
    )


def sample_rows() -> list[dict[str, str]]:
    """The bundled samples and their expected digits."""
    with open(SAMPLES / "labels.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def require_tesseract() -> None:
    """Skip without a tesseract binary, except in CI, where its absence is a failure."""
    if shutil.which("tesseract"):
        return
    if os.environ.get("CI") == "true":
        pytest.fail("tesseract is not installed, but CI must run the Tesseract tests")
    pytest.skip("tesseract not installed")


@pytest.fixture
def real_tesseract() -> str:
    """The tesseract executable (skipped without one, except in CI)."""
    require_tesseract()
    return str(shutil.which("tesseract"))


@pytest.fixture
def printed_png(tmp_path: Path) -> Path:
    p = tmp_path / "printed.png"
    cv2.imwrite(str(p), render("4096"))
    return p
