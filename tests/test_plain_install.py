"""A plain ``pip install digit-ocr`` (no extras): ``digit-ocr train`` trains on what is installed.

A fresh virtual environment of its own (not ``--system-site-packages``: it must not see the extras
of the environment running the tests), this checkout installed into it with the versions of
requirements.lock and no extra, and the real CLI run there. It needs PyPI, or pip's cache holding
the locked wheels (as after the Quick start); when neither can be had it is skipped, except in CI,
where it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from digit_ocr.model import load_model

from .conftest import ROOT

pytestmark = pytest.mark.network

FONT_PACKAGES = ["font-caladea", "font-source-serif-pro", "font-lato", "font-amatic-sc", "font-intuitive"]
#: matplotlib's own TTF families that render digits (synth._TTF_FAMILIES), less the held-out one.
MATPLOTLIB_FAMILIES = {"DejaVuSans", "DejaVuSansMono", "DejaVuSerif", "STIX"}


def _run(cmd: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def plain_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The ``bin`` folder of a new environment with digit-ocr installed without extras (removed
    afterwards: it is some 400 MB)."""
    base = tmp_path_factory.mktemp("plain")
    # A copy of what the package is built from: pip builds in the source tree, which stays clean.
    src = base / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("digit_ocr", "models"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    venv = base / "venv"
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "-c", str(ROOT / "requirements.lock"), str(src)],
    ]
    for cmd in steps:
        proc = _run(cmd, base, timeout=900)
        if proc.returncode != 0:
            msg = f"{' '.join(cmd[-3:])} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
            if os.environ.get("CI") == "true":
                pytest.fail(msg)
            pytest.skip(f"no plain environment (PyPI unreachable?): {msg}")
    yield venv / "bin"
    shutil.rmtree(base, ignore_errors=True)


def test_the_plain_install_has_no_extras(plain_env: Path) -> None:
    proc = _run([str(plain_env / "python"), "-m", "pip", "list", "--format", "freeze"], ROOT, 120)
    installed = {line.split("==")[0].lower() for line in proc.stdout.split()}
    assert "digit-ocr" in installed and "opencv-python-headless" in installed
    assert not installed & {*FONT_PACKAGES, "pytest", "fastapi", "dask", "tesserocr", "pypdfium2"}


def test_a_plain_install_reads_a_sample(plain_env: Path) -> None:
    cmd = [str(plain_env / "digit-ocr"), "read", "--engine", "model", "samples/meter_mono.jpg"]
    proc = _run(cmd, ROOT, 120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "048273"


def test_train_on_a_plain_install_uses_what_is_installed(plain_env: Path, tmp_path: Path) -> None:
    """load_digits (the seed's flow: logistic regression, report, confusion matrix, sample
    pictures, saved model) and the fonts source, from matplotlib's fonts alone: said on stderr,
    recorded in the model and in the report."""
    model, report = tmp_path / "m.npz", tmp_path / "report"
    cmd = [str(plain_env / "digit-ocr"), "train", "--source", "load_digits", "--source", "fonts",
           "--output", str(model), "--report", str(report)]
    proc = _run(cmd, tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stderr
    said = proc.stderr
    assert "warning: fonts: " + ", ".join(FONT_PACKAGES) + " not installed" in said
    assert "made with matplotlib's fonts alone" in said and "pip install 'digit-ocr[train]'" in said

    for name in ("confusion_matrix.png", "samples.png", "report.txt"):
        assert (report / name).stat().st_size > 1000, name
    assert model.is_file() and model.with_suffix(".sha256").is_file()
    assert "held-out accuracy" in proc.stdout and "confusion matrix" in proc.stdout
    for text in (proc.stdout, (report / "report.txt").read_text(encoding="utf-8")):
        assert "trained on:" in text and "fonts: 6000 samples" in text
        assert "without " + ", ".join(FONT_PACKAGES) + " (the train extra)" in text

    meta = load_model(model).meta
    fonts = meta["training_data"]["fonts"]
    assert fonts["missing_packages"] == FONT_PACKAGES and fonts["extra"] == "train"
    assert set(fonts["font_families"]) == MATPLOTLIB_FAMILIES
    instead = "matplotlib's fonts alone"
    assert meta["skipped"] == [dict(source="fonts", packages=FONT_PACKAGES, extra="train", instead=instead)]
    assert meta["training_data"]["load_digits"]["samples"] == 1797
    assert meta["metrics"]["per_source"]["load_digits"] >= 0.95
