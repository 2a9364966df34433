"""Measure reading accuracy on a folder of labelled images (the core of ``digit-ocr eval DIR``).

The folder holds images and a ``labels.csv`` with columns ``file,label`` and optionally ``kind``.
Every column is read as a string, so labels keep their leading zeros. A label lists the digits in
reading order; spaces (between lines or groups) are ignored when scoring.
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import BadArgumentsError, DigitOcrError, UnreadableInputError

if TYPE_CHECKING:
    from .model import Model

__all__ = [
    "LABELS_FILE",
    "EvalItem",
    "EvalReport",
    "KindStats",
    "LabelRow",
    "char_accuracy",
    "evaluate",
    "levenshtein",
    "load_labels",
    "squash",
]

LABELS_FILE = "labels.csv"
#: Kind given to rows of a labels file without a ``kind`` column (or with an empty cell).
DEFAULT_KIND = "all"
#: Name of the summary row over every kind.
OVERALL = "overall"


def squash(text: str) -> str:
    """``text`` without any whitespace (spaces between groups, newlines between lines)."""
    return "".join(text.split())


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions) between two strings."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def char_accuracy(expected: str, got: str) -> float:
    """``1 - edit distance / len(expected)`` with whitespace removed, floored at 0.

    An empty ``expected`` scores 1.0 when nothing was read and 0.0 otherwise.
    """
    e, g = squash(expected), squash(got)
    if not e:
        return 0.0 if g else 1.0
    return max(0.0, 1.0 - levenshtein(e, g) / len(e))


@dataclass(frozen=True)
class LabelRow:
    """One row of ``labels.csv``: image file (relative to the folder), kind, expected digits."""

    file: str
    kind: str
    label: str


def _labels_path(folder: str | os.PathLike[str]) -> Path:
    p = Path(folder)
    if p.is_file() and p.suffix.lower() == ".csv":
        return p
    if not p.exists():
        raise BadArgumentsError(f"{p}: no such folder", "pass a folder holding images and a labels.csv")
    if not p.is_dir():
        raise BadArgumentsError(f"{p}: not a folder", "pass a folder holding images and a labels.csv")
    csv_path = p / LABELS_FILE
    if not csv_path.is_file():
        raise UnreadableInputError(
            f"{p}: no {LABELS_FILE} in this folder", "add a labels.csv with columns file,label (and kind)"
        )
    return csv_path


def load_labels(folder: str | os.PathLike[str]) -> list[LabelRow]:
    """Read ``labels.csv`` of ``folder`` (or a CSV path) into rows, in file order.

    Raises :class:`BadArgumentsError` for a missing folder and :class:`UnreadableInputError` for a
    missing, unreadable or malformed CSV (missing columns, empty file names, labels with
    characters other than digits and spaces, duplicate files).
    """
    csv_path = _labels_path(folder)
    fix = "labels.csv needs a header with columns file,label (kind optional) and one row per image"
    try:
        with open(csv_path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in ("file", "label") if c not in header]
            if missing:
                raise UnreadableInputError(f"{csv_path}: missing column(s) {', '.join(missing)}", fix)
            reader.fieldnames = header
            raw = list(reader)
    except UnicodeDecodeError:
        raise UnreadableInputError(f"{csv_path}: not UTF-8 text", fix) from None
    except csv.Error as exc:
        raise UnreadableInputError(f"{csv_path}: malformed CSV ({exc})", fix) from None
    except OSError as exc:
        raise UnreadableInputError(f"{csv_path}: cannot read ({exc.strerror or exc})") from None
    rows: list[LabelRow] = []
    seen: set[str] = set()
    for lineno, rec in enumerate(raw, 2):
        file = (rec.get("file") or "").strip()
        label = " ".join((rec.get("label") or "").split())
        kind = (rec.get("kind") or "").strip() or DEFAULT_KIND
        if not file and not label:
            continue  # blank line
        if not file:
            raise UnreadableInputError(f"{csv_path}:{lineno}: empty file name", fix)
        if not all(ch.isdigit() and ch.isascii() or ch == " " for ch in label):
            raise UnreadableInputError(
                f"{csv_path}:{lineno}: label {label!r} of {file} holds characters other than digits",
                "a label lists only the digits 0-9, lines and groups separated by one space",
            )
        if file in seen:
            raise UnreadableInputError(f"{csv_path}:{lineno}: {file} is listed twice", fix)
        seen.add(file)
        rows.append(LabelRow(file, kind, label))
    if not rows:
        raise UnreadableInputError(f"{csv_path}: no labelled images", fix)
    return rows


@dataclass
class EvalItem:
    """The result for one image."""

    file: str
    kind: str
    expected: str
    got: str
    char_accuracy: float
    seconds: float
    error: str | None = None

    @property
    def exact(self) -> bool:
        """Whether every digit was read and nothing else (spaces and line breaks ignored)."""
        return self.error is None and squash(self.expected) == squash(self.got)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "kind": self.kind,
            "expected": self.expected,
            "got": self.got,
            "exact": self.exact,
            "char_accuracy": round(self.char_accuracy, 4),
            "seconds": round(self.seconds, 4),
            "error": self.error,
        }


@dataclass
class KindStats:
    """Summary over the images of one kind (or all of them)."""

    kind: str
    n: int
    exact_rate: float
    char_accuracy: float
    seconds_per_image: float
    errors: int

    @classmethod
    def of(cls, kind: str, items: list[EvalItem]) -> KindStats:
        n = len(items)
        if not n:
            return cls(kind, 0, 0.0, 0.0, 0.0, 0)
        return cls(
            kind,
            n,
            sum(i.exact for i in items) / n,
            sum(i.char_accuracy for i in items) / n,
            sum(i.seconds for i in items) / n,
            sum(i.error is not None for i in items),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "exact_rate": round(self.exact_rate, 4),
            "char_accuracy": round(self.char_accuracy, 4),
            "seconds_per_image": round(self.seconds_per_image, 4),
            "errors": self.errors,
        }


@dataclass
class EvalReport:
    """Per-image results with summaries per kind and overall."""

    folder: str
    engine: str
    items: list[EvalItem] = field(default_factory=list)

    @property
    def kinds(self) -> list[str]:
        """Kinds in order of first appearance in labels.csv."""
        return list(dict.fromkeys(i.kind for i in self.items))

    @property
    def by_kind(self) -> dict[str, KindStats]:
        return {k: KindStats.of(k, [i for i in self.items if i.kind == k]) for k in self.kinds}

    @property
    def overall(self) -> KindStats:
        return KindStats.of(OVERALL, self.items)

    def worst(self, n: int = 10) -> list[EvalItem]:
        """The ``n`` images with the lowest character accuracy (errors first among equals)."""
        order = sorted(self.items, key=lambda i: (i.char_accuracy, i.error is None, i.file))
        return order[:n]

    def to_dict(self, worst: int = 10) -> dict[str, Any]:
        """Everything as JSON-ready values."""
        return {
            "folder": self.folder,
            "engine": self.engine,
            "overall": self.overall.to_dict(),
            "by_kind": {k: s.to_dict() for k, s in self.by_kind.items()},
            "worst": [i.to_dict() for i in self.worst(worst)],
            "items": [i.to_dict() for i in self.items],
        }

    def _summary_rows(self) -> list[tuple[str, ...]]:
        stats = [*self.by_kind.values()]
        if len(stats) != 1 or stats[0].kind != OVERALL:
            stats.append(self.overall)
        return [
            (
                s.kind,
                str(s.n),
                f"{s.exact_rate:.1%}",
                f"{s.char_accuracy:.1%}",
                f"{s.seconds_per_image:.3f}",
                str(s.errors),
            )
            for s in stats
        ]

    def _worst_rows(self, n: int) -> list[tuple[str, ...]]:
        return [
            (
                i.file,
                i.kind,
                i.expected,
                _clip(f"error: {i.error}" if i.error else " ".join(i.got.split())) or "-",
                f"{i.char_accuracy:.0%}",
            )
            for i in self.worst(n)
            if not i.exact
        ]

    def format_table(self, *, worst: int = 5, plain: bool = False) -> Any:
        """A summary table per kind (+ overall) and the ``worst`` cases.

        Returns a rich renderable (``Console.print`` it), or a plain-text string when ``plain``
        is true or rich is not installed.
        """
        head = ("kind", "n", "exact", "char acc", "s/image", "errors")
        whead = ("file", "kind", "expected", "got", "char acc")
        rows, wrows = self._summary_rows(), self._worst_rows(worst) if worst > 0 else []
        title = f"{self.engine} on {self.folder}"
        if not plain:
            try:
                from rich.console import Group
                from rich.table import Table
            except ImportError:
                plain = True
        if plain:
            text = [title, _plain_table(head, rows, right=range(1, len(head)))]
            if wrows:
                text += ["", "worst cases", _plain_table(whead, wrows, right=[len(whead) - 1])]
            return "\n".join(text)
        table = Table(title=title)
        for i, h in enumerate(head):
            table.add_column(h, justify="left" if i == 0 else "right")
        for r in rows:
            table.add_row(*r, style="bold" if r[0] == OVERALL else None)
        if not wrows:
            return table
        wtable = Table(title="worst cases")
        for h in whead:
            wtable.add_column(h, justify="right" if h == "char acc" else "left", overflow="fold")
        for r in wrows:
            wtable.add_row(*r)
        return Group(table, wtable)


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _plain_table(head: tuple[str, ...], rows: Iterable[tuple[str, ...]], right: Iterable[int] = ()) -> str:
    """Columns padded with spaces; columns numbered in ``right`` are right-aligned."""
    rows, right = list(rows), set(right)
    widths = [max(len(str(c)) for c in col) for col in zip(head, *rows, strict=True)]
    fmt = "  ".join(f"{{:>{w}}}" if i in right else f"{{:<{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*head), "  ".join("-" * w for w in widths)]
    lines += [fmt.format(*r) for r in rows]
    return "\n".join(lines)


def evaluate(
    folder: str | os.PathLike[str],
    *,
    engine: str = "auto",
    model: Model | str | os.PathLike[str] | None = None,
    read: Callable[[Path], str] | None = None,
    rows: list[LabelRow] | None = None,
    name: str | None = None,
    on_item: Callable[[EvalItem], None] | None = None,
) -> EvalReport:
    """Read every labelled image of ``folder`` and score it.

    Images are read with :func:`digit_ocr.reader.read_image` (``engine``, ``model``), or with
    ``read(path) -> text`` when given. A :class:`DigitOcrError` for one image counts that image
    as wrong and records the error; other exceptions propagate. ``rows`` evaluates a subset of
    :func:`load_labels` ``(folder)``; ``name`` labels the report (default: the engine);
    ``on_item`` is called after each image (progress display).
    """
    base = Path(folder)
    if base.is_file():
        base = base.parent
    if rows is None:
        rows = load_labels(folder)
    label = name or (engine if read is None else "custom")
    if read is None:
        from .reader import ENGINES, get_model, read_image

        if engine not in ENGINES:
            raise BadArgumentsError(f"unknown engine {engine!r}", f"choose one of {', '.join(ENGINES)}")
        loaded_model = get_model(model) if engine != "tesseract" else None

        def read(path: Path) -> str:
            return read_image(path, engine=engine, model=loaded_model).text

    report = EvalReport(str(folder), label)
    for row in rows:
        t0 = time.perf_counter()
        error: str | None = None
        try:
            got = read(base / row.file)
        except DigitOcrError as exc:
            got, error = "", str(exc)
        seconds = time.perf_counter() - t0
        acc = 0.0 if error else char_accuracy(row.label, got)
        item = EvalItem(row.file, row.kind, row.label, got, acc, seconds, error)
        report.items.append(item)
        if on_item is not None:
            on_item(item)
    return report
