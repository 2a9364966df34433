"""The digit model: a logistic regression over a fixed feature map, stored as plain arrays.

A model file is a NumPy ``.npz`` archive holding only numeric arrays and one JSON
string of metadata, read with ``allow_pickle=False``: loading it cannot run code
(unlike a pickle or joblib file) and needs neither scikit-learn nor joblib, which
keeps ``digit-ocr read`` quick to start.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import BadModelError
from .normalize import FEATURE_VERSION

MODEL_FORMAT = 1
DEFAULT_MODEL_NAME = "digits.npz"
_FEATURE_MAPS = ("linear", "poly2")


def default_model_path() -> Path:
    """Where the shipped model is: inside the installed package, or ``models/`` of a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "models" / DEFAULT_MODEL_NAME, here.parent / "models" / DEFAULT_MODEL_NAME):
        if candidate.is_file():
            return candidate
    return here.parent / "models" / DEFAULT_MODEL_NAME


def feature_map(X: np.ndarray, kind: str) -> np.ndarray:
    """Apply the model's fixed feature map to 64-value ``load_digits`` features (0..16)."""
    Z = np.asarray(X, dtype=np.float32).reshape(-1, 64) / 16.0
    if kind == "linear":
        return Z
    if kind == "poly2":
        i, j = np.triu_indices(64)
        return np.hstack([Z, Z[:, i] * Z[:, j]])
    raise BadModelError(f"unknown feature map {kind!r}", "rebuild the model with `digit-ocr train`")


@dataclass
class Model:
    """Weights plus metadata; :meth:`predict_proba` needs NumPy alone."""

    coef: np.ndarray
    intercept: np.ndarray
    classes: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def feature_map(self) -> str:
        return str(self.meta.get("feature_map", "linear"))

    @property
    def temperature(self) -> float:
        """Softmax temperature from calibration on held-out data (1.0 when uncalibrated)."""
        return float(self.meta.get("calibration", {}).get("temperature", 1.0))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (n, 10) for features (n, 64)."""
        F = feature_map(X, self.feature_map)
        logits = (F @ self.coef.T + self.intercept) / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model atomically (a temporary file renamed into place)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        meta = dict(self.meta, model_format=MODEL_FORMAT)
        with open(tmp, "wb") as fh:
            np.savez_compressed(
                fh,
                coef=self.coef.astype(np.float32),
                intercept=self.intercept.astype(np.float32),
                classes=self.classes.astype(np.int64),
                meta=np.array(json.dumps(meta, sort_keys=True)),
            )
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return path


def load_model(path: str | os.PathLike[str] | None = None) -> Model:
    """Load and check a model file; every failure is a :class:`BadModelError` naming the fix."""
    p = Path(path) if path is not None else default_model_path()
    fix = (
        "rebuild it with `digit-ocr train`"
        if path is None
        else f"rebuild it with `digit-ocr train --output {p}`"
    )
    if not p.is_file():
        raise BadModelError(f"model file {p} not found", fix)
    try:
        with np.load(p, allow_pickle=False) as z:
            coef, intercept, classes = z["coef"], z["intercept"], z["classes"]
            meta = json.loads(str(z["meta"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, json.JSONDecodeError) as exc:
        reason = "it holds pickled objects" if "pickle" in str(exc) else "truncated or not a digit-ocr model"
        raise BadModelError(f"cannot load model {p}: {reason}", fix) from None
    if meta.get("model_format") != MODEL_FORMAT or meta.get("feature_version") != FEATURE_VERSION:
        raise BadModelError(
            f"model {p} has format {meta.get('model_format')}/features {meta.get('feature_version')}, "
            f"this digit-ocr needs {MODEL_FORMAT}/{FEATURE_VERSION}",
            fix,
        )
    if meta.get("feature_map") not in _FEATURE_MAPS:
        raise BadModelError(f"model {p} uses an unknown feature map {meta.get('feature_map')!r}", fix)
    width = feature_map(np.zeros((1, 64), np.float32), meta["feature_map"]).shape[1]
    if coef.ndim != 2 or coef.shape != (len(classes), width) or intercept.shape != (len(classes),):
        raise BadModelError(f"model {p} has weights of the wrong shape {coef.shape}", fix)
    return Model(coef.astype(np.float32), intercept.astype(np.float32), classes, meta, p)
