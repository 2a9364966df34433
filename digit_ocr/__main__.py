"""``python -m digit_ocr``."""

from .cli.main import run

run()
