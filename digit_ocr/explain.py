"""Why marks were not read: what each stage dropped, recorded only when asked for.

``read_image(..., explain=True)`` (``digit-ocr read --explain``, ``--annotate``) collects a
:class:`~digit_ocr.result.Dropped` record for each mark a stage left out: its box in the
original image and the reason (:data:`REASONS`). Without it nothing is recorded and nothing is
computed: :func:`active` is False and every call here returns at once.

The reader tries several readings of a page (polarities, sizes, text regions or the whole
page, the sheet or the whole photo) and keeps one: each attempt collects into its own list
(:func:`collect`), and the kept attempt's records are passed on (:func:`keep`). Stages note
boxes in the pixels of the image they work on; :func:`frame` says how those map to the
original image.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import cv2
import numpy as np

from .result import Box, Dropped

#: The reasons a mark is dropped, as JSON and ``--annotate`` give them.
REASONS = {
    "not_a_digit": "the model's 'not a digit' class is all but sure",
    "word": "part of a word of letters",
    "slash": "a slash between digits (a date)",
    "tesseract_text": "on a line Tesseract read as text, and not one of its digits",
    "speck": "far smaller than the characters",
    "size": "far taller, wider or smaller than the characters of its line",
    "ruling": "a ruling, an underline, a box's side or a line drawn across",
    "frame": "a frame or an outline around the digits",
    "edge": "cut off by the image's edge (a neighbour's sliver, a display's frame)",
    "clutter": "a stray stroke or a lone mark beside lines of text",
    "outside_text": "outside the page's text regions",
}

#: At most this many records a reason per attempt: a page of texture has thousands of specks.
MAX_PER_REASON = 200

class _Records(list[Dropped]):
    """An attempt's records, with a count per reason (for :data:`MAX_PER_REASON`)."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[str, int] = {}

    def add(self, d: Dropped) -> None:
        self.append(d)
        self.counts[d.reason] = self.counts.get(d.reason, 0) + 1


_SINK: ContextVar[_Records | None] = ContextVar("digit_ocr_dropped", default=None)
_FRAME: ContextVar[tuple[float, int, int]] = ContextVar("digit_ocr_frame", default=(1.0, 0, 0))


def active() -> bool:
    """Whether drops are being recorded."""
    return _SINK.get() is not None


@contextmanager
def collect(on: bool | None = None) -> Iterator[list[Dropped] | None]:
    """Record into a fresh list for the ``with`` block (when ``on``, by default when recording
    already): None, and nothing recorded, otherwise."""
    if not (active() if on is None else on):
        yield None
        return
    records = _Records()
    token = _SINK.set(records)
    try:
        yield records
    finally:
        _SINK.reset(token)


def keep(records: list[Dropped] | None) -> None:
    """Pass an attempt's records on to the enclosing collection."""
    sink = _SINK.get()
    if sink is not None and records:
        for d in records:
            sink.add(d)


@contextmanager
def frame(scale: float, origin: tuple[int, int] = (0, 0)) -> Iterator[None]:
    """Boxes noted in the block are in an image ``scale`` times smaller than the original
    (see ``reader._to_original``), of a part whose corner lies at ``origin`` in it."""
    token = _FRAME.set((scale, int(origin[0]), int(origin[1])))
    try:
        yield
    finally:
        _FRAME.reset(token)


@contextmanager
def shift(dx: int, dy: int) -> Iterator[None]:
    """Boxes noted in the block are in a part of the current frame's image whose corner lies at
    ``(dx, dy)`` in it."""
    s, ox, oy = _FRAME.get()
    token = _FRAME.set((s, ox + int(dx), oy + int(dy)))
    try:
        yield
    finally:
        _FRAME.reset(token)


def note(box: Box, reason: str, **detail: object) -> None:
    """Record one mark dropped for ``reason`` (``box`` in the current :func:`frame`)."""
    sink = _SINK.get()
    if sink is None:
        return
    if sink.counts.get(reason, 0) >= MAX_PER_REASON:
        return
    s, ox, oy = _FRAME.get()
    x, y, w, h = box
    x0, y0 = int(round((x + ox) * s)), int(round((y + oy) * s))
    x1, y1 = int(round((x + w + ox) * s)), int(round((y + h + oy) * s))
    sink.add(Dropped((x0, y0, max(1, x1 - x0), max(1, y1 - y0)), reason, dict(detail)))


def note_removed(before: np.ndarray, after: np.ndarray, reason: str, min_side: int = 2) -> None:
    """Record the marks of the ink mask ``before`` that a step erased in ``after`` (pixels of
    rulings, frames, bands): each connected piece of what was erased, ``min_side`` pixels or
    more across."""
    if not active() or before is after:
        return
    gone = cv2.subtract(before, after)
    if not cv2.countNonZero(gone):
        return
    n, _, stats, _ = cv2.connectedComponentsWithStats(gone, connectivity=8)
    order = np.argsort(-stats[1:, cv2.CC_STAT_AREA]) + 1
    for i in order[:MAX_PER_REASON]:
        x, y, w, h = (int(v) for v in stats[i, :4])
        if max(w, h) >= min_side:
            note((x, y, w, h), reason)
