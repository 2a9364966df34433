"""`digit-ocr read`: the command's work, and a quick option parser for its common case.

Typer (with pydantic) takes about a tenth of a second to import and to build its option
parsers, which is as long as reading a photo: scripts that run `digit-ocr read` thousands of
times pay it every time. So a plain `digit-ocr read ...` is parsed here with argparse and run
without importing Typer; anything else (help, a mistake in the options, other commands) goes
through the Typer app, which defines the options and prints the messages. A test checks that
both paths give the same results.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import BadArgumentsError, DigitOcrError, ExitCode
from .output import Messages, dropped_summary, error_record, json_line, text_block

FORMATS = ("text", "json")
ENGINES = ("auto", "model", "tesseract", "both")


def read_images(
    images: list[Path],
    fmt: str = "text",
    engine: str = "auto",
    model: Path | None = None,
    annotate: Path | None = None,
    timeout: float = 10.0,
    strict: bool = False,
    explain: bool = False,
) -> ExitCode:
    """Read each image and print its digits; the exit code for the whole run."""
    from ..annotate import draw, write_image
    from ..load import load_image
    from ..reader import LOW_CONFIDENCE, read_image

    msgs = Messages()
    if timeout <= 0:
        raise BadArgumentsError("--timeout must be positive")
    if annotate is not None and len(images) > 1 and not annotate.is_dir():
        raise BadArgumentsError(f"--annotate {annotate}: with several images, give an existing folder")
    out = sys.stdout
    worst = ExitCode.OK
    for path in images:
        try:
            # --annotate draws what was left out too.
            why = explain or annotate is not None
            reading = read_image(path, engine=engine, model=model, tesseract_timeout=timeout, explain=why)
        except DigitOcrError as exc:
            if exc.exit_code is not ExitCode.UNREADABLE_INPUT:
                raise  # not about this one file: stop with its own exit code
            msgs.error(str(exc))
            if fmt == "json":
                out.write(json_line(error_record(str(path), int(exc.exit_code), str(exc))))
            worst = ExitCode.UNREADABLE_INPUT
            continue
        for w in reading.warnings:
            msgs.warn(w)
        if explain and fmt == "text":
            msgs.info(dropped_summary(reading))
        if fmt == "json":
            record = reading.to_dict()
            if not explain:
                record.pop("dropped", None)
            record["status"] = "ok" if reading.digits else "no_digits"
            out.write(json_line(record))
        else:
            out.write(text_block(reading, header=len(images) > 1))
        out.flush()
        if not reading.digits and worst == ExitCode.OK:
            worst = ExitCode.NO_DIGITS
        if strict and reading.uncertain(LOW_CONFIDENCE) and worst in (ExitCode.OK, ExitCode.NO_DIGITS):
            worst = ExitCode.UNCERTAIN
        if annotate is not None:
            target = annotate / f"{path.stem}.annotated.png" if annotate.is_dir() else annotate
            write_image(target, draw(load_image(path), reading, LOW_CONFIDENCE))
    return worst


class _Refuse(Exception):
    """The quick parser hands the command line over to the Typer app."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _Refuse(message)


def quick_parse(args: list[str]) -> dict[str, object] | None:
    """The options of a well-formed `read` command line, or None to let the Typer app handle it."""
    if any(a in ("--help", "-h") for a in args):
        return None
    p = _Parser(add_help=False, allow_abbrev=False)
    p.add_argument("images", nargs="+", type=Path)
    p.add_argument("-f", "--format", dest="fmt", choices=FORMATS, default="text")
    p.add_argument("-e", "--engine", choices=ENGINES, default="auto")
    p.add_argument("-m", "--model", type=Path)
    p.add_argument("-a", "--annotate", type=Path)
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--strict", action="store_true")
    p.add_argument("--explain", action="store_true")
    try:
        ns = p.parse_intermixed_args(args)
    except (_Refuse, SystemExit):
        return None
    return vars(ns)
