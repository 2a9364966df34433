"""Classify stage: 8x8 features to a digit, its probability and the runner-up."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import Model


@dataclass(frozen=True)
class Prediction:
    """The model's vote for one candidate."""

    digit: str
    confidence: float
    runner_up: str
    runner_up_confidence: float


def classify(model: Model, features: np.ndarray) -> list[Prediction]:
    """Predict every row of ``features`` (n, 64)."""
    if len(features) == 0:
        return []
    proba = model.predict_proba(features)
    order = np.argsort(-proba, axis=1)
    out = []
    for row, idx in zip(proba, order):
        a, b = int(idx[0]), int(idx[1])
        out.append(Prediction(str(model.classes[a]), float(row[a]), str(model.classes[b]), float(row[b])))
    return out
