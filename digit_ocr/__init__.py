"""digit-ocr: read the digits in photos and scans.

Library use::

    from digit_ocr import read_image
    reading = read_image("meter.jpg")
    print(reading.text)
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

# Defence in depth behind the loader's own header checks: OpenCV's decoders refuse images over
# the same pixel limit (it reads this variable when it first decodes, so set it before cv2 runs).
_limit = os.environ.get("DIGIT_OCR_MAX_PIXELS", "")
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", _limit if _limit.isdigit() else str(80_000_000))

__version__ = "0.1.0"
__all__ = ["read_image", "Reading", "__version__"]

if TYPE_CHECKING:
    from .reader import read_image
    from .result import Reading


def __getattr__(name: str) -> Any:
    # Lazy, so that `import digit_ocr` stays cheap for the CLI.
    if name == "read_image":
        from .reader import read_image

        return read_image
    if name == "Reading":
        from .result import Reading

        return Reading
    raise AttributeError(name)
