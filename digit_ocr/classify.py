"""Classify stage: 8x8 features to a digit, its probability and the runner-up."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import Model

#: The class label of "not a digit" in models trained with negative examples.
NOT_A_DIGIT = 10


@dataclass(frozen=True)
class Prediction:
    """The model's vote for one candidate: the two likeliest digits and how likely it is no digit."""

    digit: str
    confidence: float
    runner_up: str
    runner_up_confidence: float
    not_a_digit: float = 0.0


def classify(model: Model, features: np.ndarray) -> list[Prediction]:
    """Predict every row of ``features`` (n, 64)."""
    if len(features) == 0:
        return []
    proba = model.predict_proba(features)
    classes = [int(c) for c in model.classes]
    reject_col = classes.index(NOT_A_DIGIT) if NOT_A_DIGIT in classes else None
    digit_cols = [i for i, c in enumerate(classes) if c != NOT_A_DIGIT]
    digits = proba[:, digit_cols]
    # Plain Python numbers once for all rows (tolist), not a NumPy scalar per field: the same values.
    order = np.argsort(-digits, axis=1)[:, :2].tolist()
    rows = digits.tolist()
    rejects = proba[:, reject_col].tolist() if reject_col is not None else [0.0] * len(rows)
    names = [str(classes[c]) for c in digit_cols]
    return [
        Prediction(names[a], row[a], names[b], row[b], reject)
        for row, (a, b), reject in zip(rows, order, rejects)
    ]
