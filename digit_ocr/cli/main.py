"""The ``digit-ocr`` command: option parsing and printing only; the work is in the core modules."""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from ..errors import ExitCode
from .guard import exit_code_for
from .output import Messages

app = typer.Typer(
    name="digit-ocr",
    help="Read the digits in photos and scans.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class Format(str, Enum):
    text = "text"
    json = "json"


class Engine(str, Enum):
    auto = "auto"
    model = "model"
    tesseract = "tesseract"
    both = "both"


_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"digit-ocr {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of internal errors.")] = False,
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = None,
) -> None:
    """Read the digits in photos and scans."""
    _state["debug"] = debug or bool(os.environ.get("DIGIT_OCR_DEBUG"))


@app.command()
def read(
    images: Annotated[
        list[Path],
        # readable=False: an unreadable file is reported by the loader (exit 3, one line), like a missing one.
        typer.Argument(help="Image files to read.", show_default=False, metavar="IMAGE", readable=False),
    ],
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="text: digits line by line; json: JSON Lines.")
    ] = (Format.text),
    engine: Annotated[Engine, typer.Option("--engine", "-e", help="Which reader to use.")] = Engine.auto,
    model: Annotated[
        Path | None,
        typer.Option("--model", "-m", metavar="PATH", help="Model file (default: the shipped one)."),
    ] = None,
    annotate: Annotated[
        Path | None,
        typer.Option(
            "--annotate",
            "-a",
            metavar="PATH",
            help="Write a copy with the digits boxed (a folder with several images).",
        ),
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds Tesseract may take per image.")] = 10.0,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Exit with code 6 when a digit is uncertain or the engines disagree."),
    ] = False,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Say which marks were left out and why: JSON 'dropped', a count per reason on stderr.",
        ),
    ] = False,
) -> None:
    """Read the digits in IMAGES and print them (text or JSON Lines)."""
    from .read_cmd import read_images

    code = read_images(images, fmt.value, engine.value, model, annotate, timeout, strict, explain)
    raise typer.Exit(int(code))


class Dataset(str, Enum):
    mnist = "mnist"


class Features(str, Enum):
    full = "full"
    classic = "8x8"


@app.command()
def train(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="PATH",
            help="Where to save the model (default: the shipped model file).",
        ),
    ] = None,
    report: Annotated[
        Path, typer.Option("--report", metavar="DIR", help="Folder for the evaluation report and pictures.")
    ] = Path("report"),
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source",
            "-s",
            metavar="NAME",
            help="Built-in sources to use (repeatable): load_digits, mnist, fonts, hershey, scribble, "
            "sevenseg, negatives. Default: all, each made from what is installed (see the train extra).",
        ),
    ] = None,
    data: Annotated[
        list[Path] | None,
        typer.Option(
            "--data",
            "-d",
            metavar="DIR",
            help="Your labelled folder: subfolders 0..9 of crops and/or labels.csv.",
        ),
    ] = None,
    dataset: Annotated[
        Dataset | None,
        typer.Option("--dataset", help="Also train on a public data set (fetched once, then cached)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the split.")] = 0,
    features: Annotated[
        Features,
        typer.Option(
            "--features",
            help="full: 8x8 counts and gradient histograms, random Fourier features (the default "
            "model); 8x8: the classic load_digits counts, a plain logistic regression.",
        ),
    ] = Features.full,
) -> None:
    """Rebuild the model, evaluate it on held-out digits, and save it."""
    from .. import train as training
    from ..model import default_model_path

    msgs = Messages()
    target = output or default_model_path()
    msgs.info("training: building data sets ...")
    skipped: list[training.Skipped] = []
    sources = training.build_sources(
        source, data or [], dataset.value if dataset else None, log=msgs.info, skipped=skipped, warn=msgs.warn
    )
    result = training.train(sources, seed=seed, features=features.value, log=msgs.info, skipped=skipped)
    print(training.describe_training_data(result.model.meta))
    print()
    print(f"held-out accuracy: {result.accuracy:.4f}")
    for name, acc in result.per_source.items():
        print(f"  {name}: {acc:.4f}")
    if result.rejection:
        print("not-a-digit samples rejected, by kind:")
        for kind, share in result.rejection.items():
            print(f"  {kind}: {share:.4f}")
    print()
    print(result.report)
    print(training.format_confusion(result))
    files = training.write_report(result, report)
    result.model.save(target)
    msgs.info(f"report: {', '.join(str(f) for f in files)}")
    msgs.info(f"model saved: {target}")


@app.command(name="eval")
def eval_(
    folder: Annotated[
        Path, typer.Argument(help="A folder of images with labels.csv (file,kind,label).", metavar="DIR")
    ],
    fmt: Annotated[Format, typer.Option("--format", "-f", help="text: tables; json: one JSON document.")] = (
        Format.text
    ),
    engine: Annotated[Engine, typer.Option("--engine", "-e", help="Which reader to use.")] = Engine.auto,
    model: Annotated[
        Path | None,
        typer.Option("--model", "-m", metavar="PATH", help="Model file (default: the shipped one)."),
    ] = None,
    worst: Annotated[int, typer.Option("--worst", help="How many of the worst cases to list.")] = 5,
) -> None:
    """Measure exact-match and character accuracy on a labelled folder, per kind and overall."""
    import json

    from ..evaluate import evaluate

    report = evaluate(folder, engine=engine.value, model=model)
    if fmt is Format.json:
        sys.stdout.write(json.dumps(report.to_dict(worst=worst), ensure_ascii=False, indent=1) + "\n")
    else:
        table = report.format_table(worst=worst)
        if isinstance(table, str):
            sys.stdout.write(table + "\n")
        else:
            from rich.console import Console

            Console(file=sys.stdout, soft_wrap=True).print(table)


def run(argv: list[str] | None = None) -> None:
    """Entry point: run the app and turn every failure into a one-line message and an exit code."""
    msgs = Messages()
    try:
        rv = app(args=argv, standalone_mode=False, prog_name="digit-ocr")
        code = int(rv) if isinstance(rv, int) else 0
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        msgs.error("interrupted")
        code = ExitCode.INTERRUPTED
    except typer.TyperException as exc:  # usage errors: unknown option, bad value, missing argument
        text = exc.format_message() or str(exc)
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `digit-ocr`: show the help
            sys.stderr.write(text.rstrip() + "\n")
            sys.exit(int(ExitCode.BAD_ARGS))
        msgs.error(text.strip().splitlines()[0] if text.strip() else "bad arguments")
        ctx = getattr(exc, "ctx", None)
        if ctx is not None:
            sys.stderr.write(f"Try '{ctx.command_path} --help' for help.\n")
        code = ExitCode.BAD_ARGS
    except BaseException as exc:  # noqa: BLE001 - the last line of defence: no traceback for users
        if isinstance(exc, SystemExit):
            raise
        code = exit_code_for(exc, msgs, _state["debug"])
    sys.exit(int(code))


# Commands defined in their own modules register themselves on `app` (light imports only).
from . import batch_cmd, serve_cmd  # noqa: E402, F401
