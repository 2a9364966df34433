"""Training data from the user: labelled folders of digit crops or labelled images, and MNIST."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from . import normalize
from .binarize import binarize
from .errors import BadArgumentsError, DigitOcrError, MissingDependencyError
from .load import load_image
from .segment import segment

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".pgm", ".ppm", ".gif"}
Log = Callable[[str], None]
T = TypeVar("T")


def _crop_canvas(path: Path) -> np.ndarray | None:
    """The canvas of a single-digit crop: all of its ink is the digit."""
    ink = binarize(load_image(path)).ink
    if not ink.any():
        return None
    return normalize.canvas_of(ink > 0)


def _page_canvases(path: Path, label: str) -> list[np.ndarray] | None:
    """The canvas of each digit of a labelled image, or None when the digits found don't match the label."""
    digits = [ch for ch in label if ch.isdigit()]
    cands = [c for line in segment(binarize(load_image(path)).ink) for c in line.items]
    if len(cands) != len(digits):
        return None
    return [normalize.canvas_of(c.ink) for c in cands]


def _attempt(read: Callable[[], T | None], path: Path, empty: str, log: Log) -> T | None:
    """``read()``, or None after saying why ``path`` is skipped (unreadable, or ``empty``)."""
    try:
        out = read()
    except DigitOcrError as exc:
        log(f"skipped {path}: {exc}")
        return None
    if out is None:
        log(f"skipped {path}: {empty}")
    return out


def load_folder(folder: str | os.PathLike[str], log: Log = print) -> tuple[np.ndarray, np.ndarray]:
    """Read a user's labelled folder: subfolders ``0``..``9`` of single-digit crops and/or a
    ``labels.csv`` (``file,label``) of images whose digits are segmented and kept when their
    count matches the label. Every skipped entry is reported through ``log``. Returns the
    digits' canvases (:func:`digit_ocr.normalize.canvas_of`) and labels."""
    root = Path(folder)
    if not root.is_dir():
        raise BadArgumentsError(f"--data {root}: not a folder")
    X: list[np.ndarray] = []
    y: list[int] = []
    skipped = 0
    for d in range(10):
        sub = root / str(d)
        if not sub.is_dir():
            continue
        for p in sorted(sub.iterdir()):
            if p.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            f = _attempt(lambda p=p: _crop_canvas(p), p, "no ink found", log)
            if f is None:
                skipped += 1
                continue
            X.append(f)
            y.append(d)
    labels = root / "labels.csv"
    if labels.is_file():
        with open(labels, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not {"file", "label"} <= set(reader.fieldnames):
                raise BadArgumentsError(f"{labels}: needs the columns file,label")
            for row in reader:
                name, label = (row.get("file") or "").strip(), (row.get("label") or "").strip()
                p = root / name
                if not name or not label or not all(ch.isdigit() or ch.isspace() for ch in label):
                    log(f"skipped {labels} row {name!r}: label {label!r} is not a digit string")
                    skipped += 1
                    continue
                feats = _attempt(
                    lambda p=p, label=label: _page_canvases(p, label),
                    p,
                    f"the digits found don't match the label {label!r}",
                    log,
                )
                if feats is None:
                    skipped += 1
                    continue
                X.extend(feats)
                y.extend(int(ch) for ch in label if ch.isdigit())
    if not X:
        raise BadArgumentsError(f"--data {root}: no usable digits (subfolders 0..9 or labels.csv)")
    log(f"{root}: {len(X)} digits, {skipped} entries skipped")
    return np.stack(X).astype(np.uint8), np.array(y, np.int64)


def cache_dir() -> Path:
    """Where downloaded data sets are kept (``DIGIT_OCR_CACHE``, else ``~/.cache/digit-ocr``)."""
    env = os.environ.get("DIGIT_OCR_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "digit-ocr"


def mnist_images(log: Log = print) -> tuple[np.ndarray, np.ndarray]:
    """MNIST as (n, 28, 28) uint8 images and labels, from the cache or fetched once from OpenML."""
    cache = cache_dir() / "mnist.npz"
    if cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as z:
                images, labels = z["images"], z["labels"]
        except (OSError, ValueError, KeyError) as exc:
            raise BadArgumentsError(
                f"{cache}: not a readable MNIST cache ({exc})", "delete it to fetch again"
            ) from None
        if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(labels):
            raise BadArgumentsError(f"{cache}: images of shape {images.shape}, expected (n, 28, 28)")
        return images.astype(np.uint8), labels.astype(np.int64)
    log("fetching MNIST from OpenML (once; about 15 MB) ...")
    try:
        from sklearn.datasets import fetch_openml

        data = fetch_openml(
            "mnist_784", version=1, as_frame=False, parser="liac-arff", data_home=str(cache_dir() / "openml")
        )
    except Exception as exc:  # noqa: BLE001 - any network or parse failure means: not available
        raise MissingDependencyError(
            f"cannot fetch MNIST ({type(exc).__name__}: {str(exc)[:120]})",
            "connect to the internet once, or train without --dataset mnist",
        ) from None
    images = np.asarray(data.data, dtype=np.uint8).reshape(-1, 28, 28)
    labels = np.asarray(data.target).astype(np.int64)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, images=images, labels=labels)
    return images, labels


def mnist_canvases(limit: int = 20000, log: Log = print) -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits (the first ``limit``) normalized like every other digit, as canvases."""
    images, labels = mnist_images(log)
    images, labels = images[:limit], labels[:limit]
    return np.stack([normalize.canvas_of(img > 127) for img in images]), labels
