"""``python -m digit_ocr``."""

from .cli.entry import run

run()
