"""Every failure to one line on stderr and an exit code (shared by the Typer app and the quick path)."""

from __future__ import annotations

import contextlib
import os
import sys
import traceback

from ..errors import DigitOcrError, ExitCode
from .output import Messages


def exit_code_for(exc: BaseException, msgs: Messages, debug: bool) -> ExitCode:
    """Report ``exc`` as digit-ocr reports errors, and return the exit code it maps to."""
    if isinstance(exc, DigitOcrError):
        if debug:
            traceback.print_exc()
        msgs.error(str(exc))
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        msgs.error("interrupted")
        return ExitCode.INTERRUPTED
    if isinstance(exc, BrokenPipeError):
        with contextlib.suppress(OSError):  # the reader of our output went away: not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.OK
    if isinstance(exc, OSError) and exc.filename is None:
        # Standard output could not be written (disk full, a failing stream).
        msgs.error(f"cannot write output: {exc.strerror or exc}")
        with contextlib.suppress(OSError):  # so that the flush at exit does not fail a second time
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.BAD_ARGS
    # A file error that escaped its module, or anything else: a bug.
    if debug:
        traceback.print_exc()
    msgs.error(
        f"internal error: {type(exc).__name__}: {exc} (run with --debug for details; please report it)"
    )
    return ExitCode.INTERNAL_ERROR
