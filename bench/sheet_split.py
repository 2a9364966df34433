"""The classifier alone on OpenCV's sheet of handwritten digits, split into a dev and a test part.

Usage::

    python bench/sheet_split.py [--model PATH] [--test] [--json PATH]

The sheet (``opencv_digits/digits.png`` of the evaluation data) has 50 rows x 100 columns of
20x20 cells, rows 5k..5k+4 holding digit k. Columns 0-49 of every row are the *dev* part (250
digits of each class), to look at while improving the model; columns 50-99 are the *test* part,
reported only with ``--test``, for a final figure nobody tuned on. Each cell is thresholded and
normalized as the ``normalize`` bench section does (``cell > 100``, ``normalize.features``) and
classified by the model's ten digit classes (``not a digit`` ignored, as that section does).
Prints the accuracy, the recall per digit and the confusion matrix of each part.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # measure this checkout, installed or not

from bench.run import SHEET, load_sheet, resolve_data  # noqa: E402
from digit_ocr.model import Model, load_model  # noqa: E402
from digit_ocr.normalize import features  # noqa: E402

#: Sheet columns of each part.
PARTS = {"dev": range(0, 50), "test": range(50, 100)}


def part_indices(part: str) -> np.ndarray:
    """Cell indices (row-major over the 50x100 sheet) of the columns of ``part``."""
    cols = np.array(list(PARTS[part]))
    return (np.arange(50)[:, None] * 100 + cols[None, :]).ravel()


def sheet_features(sheet: Path) -> tuple[np.ndarray, np.ndarray]:
    """The 64 features and the digit of every one of the 5,000 cells."""
    cells, labels = load_sheet(sheet)
    return np.stack([features(c > 100) for c in cells]), labels


def score(model: Model, X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Accuracy, recall per digit, confusion matrix (rows true, columns predicted) and the wrong cells."""
    proba = model.predict_proba(X)
    digit_cols = [i for i, c in enumerate(model.classes) if int(c) != 10]
    pred = np.asarray(model.classes)[digit_cols][proba[:, digit_cols].argmax(axis=1)]
    cm = np.zeros((10, 10), int)
    np.add.at(cm, (y, pred), 1)
    return {
        "n": int(len(y)),
        "accuracy": float((pred == y).mean()),
        "recall": {str(k): float(cm[k, k] / max(1, cm[k].sum())) for k in range(10)},
        "confusion": cm.tolist(),
        "pred": pred,
    }


def evaluate_parts(model: Model, sheet: Path, parts: tuple[str, ...] = ("dev",)) -> dict[str, Any]:
    """:func:`score` of each named part of the sheet."""
    X, y = sheet_features(sheet)
    return {p: score(model, X[part_indices(p)], y[part_indices(p)]) for p in parts}


def format_part(name: str, r: dict[str, Any]) -> str:
    """One part's figures as text."""
    recall = " ".join(f"{k}:{v:.1%}" for k, v in r["recall"].items())
    rows = [f"  {k} " + " ".join(f"{v:4d}" for v in row) for k, row in enumerate(r["confusion"])]
    return "\n".join(
        [f"{name}: {r['accuracy']:.2%} of {r['n']} cells", f"  recall {recall}", "  confusion (rows true):"]
        + ["    " + " ".join(f"{k:4d}" for k in range(10))]
        + rows
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], prog="bench/sheet_split.py")
    ap.add_argument("--model", metavar="PATH", help="model file (default: the shipped model)")
    ap.add_argument("--test", action="store_true", help="also report the test part (columns 50-99)")
    ap.add_argument("--data", metavar="DIR", help="evaluation data folder (default ../shared/data)")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = ap.parse_args(argv)
    sheet = resolve_data(args.data) / SHEET
    if not sheet.is_file():
        print(f"{sheet} not found", file=sys.stderr)
        return 2
    model = load_model(args.model)
    parts = ("dev", "test") if args.test else ("dev",)
    results = evaluate_parts(model, sheet, parts)
    for name, r in results.items():
        print(format_part(name, r))
    if args.json:
        out = {p: {k: v for k, v in r.items() if k != "pred"} for p, r in results.items()}
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
