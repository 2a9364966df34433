"""The work behind ``POST /api/read``, free of any web framework.

The reading is :func:`digit_ocr.reader.read_image`'s, as ``read --format json`` prints it;
on top of it each digit gets the 8x8 grid the model saw (``features``, kept by the reader)
and the response an annotated PNG. A digit that only Tesseract found gets the features of
the ink inside its box.
"""

from __future__ import annotations

import base64
import copy
import time
from typing import Any

import cv2
import numpy as np

from .. import normalize
from ..annotate import draw
from ..binarize import binarize
from ..load import LoadedImage, open_image
from ..model import Model
from ..reader import LOW_CONFIDENCE, _work_image, read_image
from ..result import Reading

#: The annotated image is shrunk to at most this many pixels on its long side.
ANNOTATED_MAX_SIDE = 1280


def digit_features(loaded: LoadedImage, reading: Reading) -> list[np.ndarray | None]:
    """The 8x8 features (0..16) of each digit of ``reading``, in ``reading.digits`` order."""
    missing = [d for d in reading.digits if d.features is None]
    ink = None
    scale = 1.0
    if missing:
        work, scale = _work_image(loaded)
        ink = binarize(work).ink
    out: list[np.ndarray | None] = []
    for d in reading.digits:
        if d.features is not None:
            out.append(np.asarray(d.features)[:64].reshape(8, 8))
            continue
        x, y, w, h = (v / scale for v in d.box)
        bitmap = ink[int(y) : int(np.ceil(y + h)), int(x) : int(np.ceil(x + w))] > 0
        out.append(normalize.features(bitmap).reshape(8, 8) if np.any(bitmap) else None)
    return out


def _transformed(reading: Reading, f: float, top: int = 0) -> Reading:
    """A copy of ``reading`` with size and boxes scaled by ``f``, then moved down by ``top`` pixels."""
    out = copy.deepcopy(reading)
    out.width, out.height = max(1, round(reading.width * f)), max(1, round(reading.height * f)) + top
    for d in out.digits:
        x, y, w, h = d.box
        d.box = (round(x * f), round(y * f) + top, max(1, round(w * f)), max(1, round(h * f)))
    return out


def annotated_png(image: np.ndarray, reading: Reading, max_side: int = ANNOTATED_MAX_SIDE) -> bytes:
    """PNG bytes of ``image`` with every digit boxed and labelled, at most ``max_side`` pixels long.

    Where a digit touches the top edge, white is added above so that its label fits there.
    """
    f = min(1.0, max_side / max(reading.width, reading.height, 1))
    size = (max(1, round(reading.width * f)), max(1, round(reading.height * f)))
    if (image.shape[1], image.shape[0]) != size:
        interp = cv2.INTER_AREA if f < 1.0 else cv2.INTER_LINEAR
        image = cv2.resize(image, size, interpolation=interp)
    top = 0
    if reading.digits:
        # The label height that annotate.draw gives digits of this size (its font scale is height / 40).
        font = max(0.4, float(np.median([d.box[3] for d in reading.digits])) * f / 40.0)
        (_, label), _ = cv2.getTextSize("0", cv2.FONT_HERSHEY_SIMPLEX, font, max(1, round(font * 1.5)))
        top = max(0, int(np.ceil(label + 6 - min(d.box[1] for d in reading.digits) * f)))
        top = min(top, max_side // 4)
    reading = _transformed(reading, f, top)
    if top:
        image = cv2.copyMakeBorder(image, top, 0, 0, 0, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    ok, buf = cv2.imencode(".png", draw(image, reading, LOW_CONFIDENCE))
    if not ok:  # pragma: no cover - encoding an 8-bit BGR array does not fail
        raise RuntimeError("cannot encode the annotated image")
    return buf.tobytes()


def analyze(
    data: bytes,
    *,
    engine: str = "auto",
    model: Model | str | None = None,
    tesseract_timeout: float = 10.0,
    filename: str | None = None,
    annotate: bool = True,
) -> dict[str, Any]:
    """Read encoded image bytes: ``read --format json``'s record plus ``features`` and ``annotated_png``.

    Raises the reader's errors (:class:`~digit_ocr.errors.UnreadableInputError` and others).
    """
    reading = read_image(data, engine=engine, model=model, tesseract_timeout=tesseract_timeout)
    record = reading.to_dict()
    record["status"] = "ok" if reading.digits else "no_digits"
    record["filename"] = filename
    t0 = time.perf_counter()
    loaded = open_image(data)
    feats = digit_features(loaded, reading)
    t1 = time.perf_counter()
    digit_dicts = [dd for line in record["lines"] for dd in line["digits"]]
    for dd, f in zip(digit_dicts, feats):
        dd["features"] = f.astype(int).tolist() if f is not None else None
    record["timing_ms"]["features"] = round((t1 - t0) * 1000.0, 2)
    if annotate:
        png = annotated_png(loaded.image, reading)
        record["annotated_png"] = base64.b64encode(png).decode("ascii")
        record["timing_ms"]["annotate"] = round((time.perf_counter() - t1) * 1000.0, 2)
    return record
