"""What a reading returns: digits with boxes and confidences, grouped into lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Box = tuple[int, int, int, int]


@dataclass
class Digit:
    """One digit read: value, confidence (0..1), box (x, y, w, h in the original image), engine."""

    digit: str
    confidence: float
    box: Box
    engine: str = "model"
    runner_up: str | None = None
    runner_up_confidence: float | None = None
    votes: dict[str, dict[str, Any]] = field(default_factory=dict)
    agreed: bool | None = None
    space_before: bool = False
    #: The cell (row, column) of the grid the digit was read in, counted from 0 (None: no grid).
    cell: tuple[int, int] | None = None
    #: The features the model classified (:mod:`digit_ocr.normalize`; the first 64 are the 8x8
    #: counts of the normalized digit, 0..16); None for Tesseract-only digits.
    features: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "digit": self.digit,
            "confidence": round(self.confidence, 4),
            "box": list(self.box),
            "engine": self.engine,
        }
        if self.runner_up is not None:
            out["runner_up"] = self.runner_up
            out["runner_up_confidence"] = round(self.runner_up_confidence or 0.0, 4)
        if self.votes:
            out["votes"] = self.votes
        if self.agreed is not None:
            out["agreed"] = self.agreed
        if self.cell is not None:
            out["cell"] = list(self.cell)
        return out


@dataclass
class Dropped:
    """A mark the reader left out, and why (see :data:`digit_ocr.explain.REASONS`)."""

    box: Box
    reason: str
    #: What the stage knew: the model's best digit and its "not a digit" probability, ...
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"box": list(self.box), "reason": self.reason, **self.detail}


@dataclass
class Line:
    """A text line: its digits left to right; a space separates clearly separated groups."""

    digits: list[Digit] = field(default_factory=list)
    #: How many characters of the line the model took for letters: a line of printed text
    #: ("Total: 1,234.56 EUR"), where Tesseract reads better.
    letters: int = field(default=0, repr=False, compare=False)
    #: The row of the grid the line is (counted from 0), when it was read from a grid's cells.
    row: int | None = None

    @property
    def text(self) -> str:
        return "".join((" " if d.space_before and i else "") + d.digit for i, d in enumerate(self.digits))

    @property
    def box(self) -> Box:
        return union([d.box for d in self.digits])

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text, "box": list(self.box)}
        if self.row is not None:
            out["row"] = self.row
        out["digits"] = [d.to_dict() for d in self.digits]
        return out


@dataclass
class Reading:
    """Everything read from one image."""

    path: str | None
    width: int
    height: int
    lines: list[Line] = field(default_factory=list)
    engine: str = "auto"
    timing: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: With ``engine="both"``: each engine's own reading (text), beside the combined one.
    alternatives: dict[str, str] = field(default_factory=dict)
    #: The grid read cell by cell, when the image has one: ``rows``, ``columns`` and ``box``.
    grid: dict[str, Any] | None = None
    #: With ``explain=True``: the marks left out, and why.
    dropped: list[Dropped] | None = None

    def uncertain(self, below: float) -> list[Digit]:
        """Digits a person should check: the engines disagreed, or the confidence is under ``below``."""
        return [d for d in self.digits if d.agreed is False or d.confidence < below]

    @property
    def text(self) -> str:
        """The digits, one line of text per line read."""
        return "\n".join(line.text for line in self.lines)

    @property
    def digits(self) -> list[Digit]:
        return [d for line in self.lines for d in line.digits]

    def to_dict(self) -> dict[str, Any]:
        digits = self.digits
        return {
            "path": self.path,
            "width": self.width,
            "height": self.height,
            "engine": self.engine,
            "text": self.text,
            "digit_count": len(digits),
            "mean_confidence": round(sum(d.confidence for d in digits) / len(digits), 4) if digits else None,
            "min_confidence": round(min(d.confidence for d in digits), 4) if digits else None,
            "lines": [line.to_dict() for line in self.lines],
            **({"readings": dict(self.alternatives)} if self.alternatives else {}),
            **({"grid": dict(self.grid)} if self.grid else {}),
            **({"dropped": [d.to_dict() for d in self.dropped]} if self.dropped is not None else {}),
            "warnings": list(self.warnings),
            "timing_ms": {k: round(v * 1000.0, 2) for k, v in self.timing.items()},
        }


def union(boxes: list[Box]) -> Box:
    """The smallest box holding all ``boxes``."""
    if not boxes:
        return (0, 0, 0, 0)
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    return (x0, y0, x1 - x0, y1 - y0)
