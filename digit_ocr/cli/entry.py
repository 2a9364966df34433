"""The `digit-ocr` entry point: a plain `read` runs without importing Typer, the rest through the app."""

from __future__ import annotations

import os
import sys


def run(argv: list[str] | None = None) -> None:
    """Run a command line and exit with its code."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["read"] and not os.environ.get("DIGIT_OCR_FULL_CLI"):
        from .read_cmd import quick_parse

        opts = quick_parse(args[1:])
        if opts is not None:
            from .guard import exit_code_for
            from .output import Messages
            from .read_cmd import read_images

            try:
                code = read_images(**opts)  # type: ignore[arg-type]
            except BaseException as exc:  # noqa: BLE001 - every failure becomes a message and a code
                if isinstance(exc, SystemExit):
                    raise
                code = exit_code_for(exc, Messages(), bool(os.environ.get("DIGIT_OCR_DEBUG")))
            sys.exit(int(code))
    from .main import run as run_app

    run_app(args)
