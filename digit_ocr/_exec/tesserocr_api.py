"""Tesseract in-process through tesserocr (the optional ``tesserocr`` extra).

The subprocess path starts a process and loads Tesseract's English model on every call; here
the model is loaded once per process and kept, which makes every later call several times
cheaper (batches, the web server) but the first one dearer (import and model load). Chosen by
``DIGIT_OCR_TESSERACT_BACKEND``: ``process`` (the default: the ``tesseract`` executable, the
engine the shipped calibration was fitted on) or ``tesserocr``. A tesseract executable named by
``DIGIT_OCR_TESSERACT``/``TESSERACT_CMD`` is always run as a process.
"""

from __future__ import annotations

import functools
import glob
import os
import threading
from typing import TYPE_CHECKING, Any

from ..errors import BadArgumentsError, DigitOcrError, ExitCode, MissingDependencyError

if TYPE_CHECKING:
    import numpy as np

BACKEND_ENV = "DIGIT_OCR_TESSERACT_BACKEND"
BACKENDS = ("process", "tesserocr")
_HINT = "pip install 'digit-ocr[tesserocr]', or set DIGIT_OCR_TESSERACT_BACKEND=process"

_lock = threading.Lock()  # one Tesseract API object is not safe to share between threads
_apis: dict[int, Any] = {}


class InProcessError(DigitOcrError):
    """In-process Tesseract gave up (timeout) or failed."""

    exit_code = ExitCode.ENGINE_FAILED


def tessdata_dir() -> str | None:
    """The folder holding ``eng.traineddata``: ``TESSDATA_PREFIX``, then the usual install places."""
    return _tessdata_dir(os.environ.get("TESSDATA_PREFIX", "").strip())


@functools.lru_cache(maxsize=4)
def _tessdata_dir(prefix: str) -> str | None:  # looked up once per process, not per image
    places = []
    if prefix:
        places += [prefix, os.path.join(prefix, "tessdata")]
    places += sorted(glob.glob("/usr/share/tesseract-ocr/*/tessdata"), reverse=True)
    places += ["/usr/share/tessdata", "/usr/local/share/tessdata", "/opt/homebrew/share/tessdata"]
    for place in places:
        if os.path.isfile(os.path.join(place, "eng.traineddata")):
            return place.rstrip("/") + "/"
    return None


def use_in_process(binary_named: bool) -> bool:
    """Whether to run Tesseract in-process (see the module's docstring)."""
    choice = os.environ.get(BACKEND_ENV, "").strip().lower() or "process"
    if choice not in BACKENDS:
        raise BadArgumentsError(f"{BACKEND_ENV}={choice} is not one of {', '.join(BACKENDS)}")
    if choice == "process" or binary_named:
        return False
    try:
        import tesserocr  # noqa: F401
    except ImportError:
        what = f"{BACKEND_ENV}=tesserocr, but tesserocr is not installed"
        raise MissingDependencyError(what, _HINT) from None
    if tessdata_dir() is None:
        raise MissingDependencyError("tesserocr cannot find eng.traineddata", "set TESSDATA_PREFIX")
    return True


def _api(psm: int) -> Any:
    import tesserocr

    api = _apis.get(psm)
    if api is None:
        variables = {
            "tessedit_char_whitelist": "0123456789",
            "load_system_dawg": "0",
            "load_freq_dawg": "0",
            "hocr_char_boxes": "1",
        }
        api = tesserocr.PyTessBaseAPI(path=tessdata_dir(), lang="eng", psm=psm, variables=variables)
        _apis[psm] = api
    return api


def read_hocr(padded: np.ndarray, *, psm: int, dpi: int, timeout: float) -> str:
    """hOCR of an 8-bit gray or BGR image, recognised in this process."""
    import cv2

    image = padded if padded.ndim == 2 else cv2.cvtColor(padded, cv2.COLOR_BGR2RGB)
    height, width = image.shape[:2]
    depth = 1 if image.ndim == 2 else 3
    with _lock:
        api = _api(psm)
        api.SetImageBytes(image.tobytes(), width, height, depth, width * depth)
        api.SetSourceResolution(dpi)
        if not api.Recognize(timeout=max(1, int(timeout * 1000))):
            raise InProcessError(f"tesseract (in-process) gave up: over {timeout:g} s, or failed")
        return str(api.GetHOCRText(0))
