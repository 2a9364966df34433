"""``digit-ocr batch``: read a whole folder into a CSV or JSON Lines file.

Imported when the CLI starts, so it stays light: rich, joblib and the pipeline are imported
inside the command.
"""

from __future__ import annotations

import signal
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from .main import Engine, app


class OutputFormat(str, Enum):
    csv = "csv"
    jsonl = "jsonl"


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@app.command()
def batch(
    folder: Annotated[Path, typer.Argument(help="Folder of images (and PDFs) to read.", show_default=False)],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Results file: .csv or .jsonl.", show_default=False)
    ],
    fmt: Annotated[
        OutputFormat | None,
        typer.Option("--format", "-f", help="Output format (default: from the extension of --output)."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Keep the records already in --output; read only the rest.")
    ] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing --output.")] = False,
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Go into sub-folders.")] = False,
    glob: Annotated[
        list[str] | None,
        typer.Option(
            "--glob", "-g", metavar="PATTERN", help="Only images whose name or path matches (repeatable)."
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", metavar="N", help="Worker processes (default: all cores)."),
    ] = None,
    engine: Annotated[Engine, typer.Option("--engine", "-e", help="Which reader to use.")] = Engine.auto,
    model: Annotated[
        Path | None,
        typer.Option("--model", "-m", help="Model file (default: the shipped one)."),
    ] = None,
    review: Annotated[
        Path | None,
        typer.Option("--review", help="Save uncertain digits and digit-less images here, with labels.csv."),
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds Tesseract may take per image.")] = 10.0,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            metavar="ADDRESS",
            envvar="DASK_SCHEDULER_ADDRESS",
            help="Run on a dask.distributed cluster (tcp://host:8786).",
            show_default=False,
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress and no summary.")] = False,
) -> None:
    """Read every image in FOLDER into one CSV or JSON Lines file.

    Exit status: 0 when every file was read (files without digits included), 123 when some
    could not be read (they are recorded with status "error"), 130 when interrupted; the
    output holds every finished image and can be continued with --resume.
    """
    from ..batch import BatchReport, run_batch
    from .output import Messages

    msgs = Messages(quiet=quiet)
    tty = sys.stderr.isatty() and not quiet
    report = BatchReport()
    progress: Any = None
    task: Any = None

    def on_start(total: int | None, writer: Any) -> None:
        nonlocal progress, task
        if writer.dropped_bytes:
            msgs.warn(f"{output}: dropped a partly written last record ({writer.dropped_bytes} bytes)")
        if report.skipped and tty:
            msgs.info(f"resuming: {report.skipped} images already in {output}")
        if tty:
            progress = _progress()
            progress.start()
            task = progress.add_task("reading", total=total)

    def on_file(records: list[dict[str, Any]]) -> None:
        if progress is None:
            return
        for rec in records:
            if rec["status"] == "error":
                line = f"error: {rec['path']}: {rec['error']}"
                progress.console.print(line, style="red", markup=False, highlight=False)
        progress.advance(task)

    old = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        report = run_batch(
            folder,
            output,
            fmt=fmt.value if fmt is not None else None,
            resume=resume,
            overwrite=overwrite,
            recursive=recursive,
            globs=tuple(glob or ()),
            n_jobs=-1 if jobs is None else jobs,
            engine=engine.value,
            model=model,
            timeout=timeout,
            review=review,
            scheduler=scheduler or None,
            report=report,
            on_start=on_start,
            on_file=on_file,
            count_first=tty,
        )
    except KeyboardInterrupt:  # while opening or counting: nothing half-written
        report.interrupted = True
    finally:
        signal.signal(signal.SIGTERM, old)
        if progress is not None:
            progress.stop()
    if report.records == 0 and not report.interrupted and not report.skipped:
        hint = "" if recursive else " (add --recursive for sub-folders)"
        msgs.warn(f"no images found in {folder}{hint}")
    if tty:
        _summary_table(report, output)
    elif not quiet:
        sys.stderr.write(f"digit-ocr batch: {report.summary()}\n")
    raise typer.Exit(int(report.exit_code))


def _progress() -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:.1f} files/s" if speed else "- files/s", style="progress.data.speed")

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )


def _summary_table(report: Any, output: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    title = "digit-ocr batch" + (" (interrupted)" if report.interrupted else "")
    table = Table(title=title, show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("files", str(report.files))
    table.add_row("images (pages)", str(report.records))
    table.add_row("read", str(report.read))
    table.add_row("without digits", str(report.no_digits))
    table.add_row("failed", f"[red]{report.failed}[/red]" if report.failed else "0")
    table.add_row("digits", str(report.digits))
    table.add_row("low-confidence digits", str(report.low_confidence))
    if report.skipped:
        table.add_row("already done (resume)", str(report.skipped))
        if report.skipped_failed:
            table.add_row("failed earlier", f"[red]{report.skipped_failed}[/red]")
    if report.review_items:
        table.add_row("saved for review", str(report.review_items))
    table.add_row("time", f"{report.elapsed:.1f}s ({report.rate:.1f} images/s)")
    table.add_row("output", str(output))
    Console(stderr=True).print(table)
