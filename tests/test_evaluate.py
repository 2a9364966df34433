"""Tests for digit_ocr.evaluate on folders the tests draw themselves."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from digit_ocr.errors import BadArgumentsError, DigitOcrError, UnreadableInputError
from digit_ocr.evaluate import (
    EvalReport,
    LabelRow,
    char_accuracy,
    evaluate,
    levenshtein,
    load_labels,
)

FONT = cv2.FONT_HERSHEY_SIMPLEX
#: file, kind, label, lines drawn
SAMPLES = [
    ("a.png", "printed", "12345", ["12345"]),
    ("b.png", "printed", "0042", ["0042"]),
    ("c.png", "groups", "709 318", ["709   318"]),
    ("d.png", "groups", "31 56", ["31", "56"]),
]


def _render(lines: list[str], path: Path) -> None:
    img = np.full((90 * len(lines) + 40, 520, 3), 255, np.uint8)
    for i, text in enumerate(lines):
        cv2.putText(img, text, (30, 90 + 90 * i), FONT, 2.2, (0, 0, 0), 5, cv2.LINE_AA)
    assert cv2.imwrite(str(path), img)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    rows = ["file,kind,label,source"]
    for file, kind, label, lines in SAMPLES:
        _render(lines, tmp_path / file)
        rows.append(f"{file},{kind},{label},drawn by the test")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("expected", "got", "acc"),
    [
        ("12345", "12345", 1.0),
        ("12 345", "123\n45", 1.0),  # spaces and line breaks ignored
        ("12345", "12335", 0.8),  # one substitution
        ("12345", "1234", 0.8),  # one deletion
        ("12345", "123456", 0.8),  # one insertion
        ("0042", "42", 0.5),  # leading zeros count
        ("12", "99999999", 0.0),  # floored at 0
        ("1234", "", 0.0),
        ("", "", 1.0),
        (" ", "", 1.0),
        ("", "7", 0.0),
    ],
)
def test_char_accuracy(expected: str, got: str, acc: float) -> None:
    assert char_accuracy(expected, got) == pytest.approx(acc)


def test_levenshtein() -> None:
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("", "abc") == 3
    assert levenshtein("abc", "") == 3
    assert levenshtein("1234", "2143") == levenshtein("2143", "1234") == 3


def test_load_labels_keeps_strings_and_defaults_kind(tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text(
        "\ufefffile,label\nx.png,007\ny.png, 12  34 \n\nz.png,\n", encoding="utf-8"
    )
    assert load_labels(tmp_path) == [
        LabelRow("x.png", "all", "007"),
        LabelRow("y.png", "all", "12 34"),
        LabelRow("z.png", "all", ""),
    ]
    assert load_labels(tmp_path / "labels.csv")[0].label == "007"


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("name,label\nx.png,1\n", "missing column(s) file"),
        ("file,kind\nx.png,printed\n", "missing column(s) label"),
        ("file,label\n", "no labelled images"),
        ("", "missing column(s) file, label"),
        ("file,label\nx.png,12a\n", "characters other than digits"),
        ("file,label\nx.png,1\nx.png,2\n", "listed twice"),
        ("file,label\n,12\n", "empty file name"),
    ],
)
def test_load_labels_malformed(tmp_path: Path, content: str, needle: str) -> None:
    (tmp_path / "labels.csv").write_text(content, encoding="utf-8")
    with pytest.raises(UnreadableInputError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        load_labels(tmp_path)


def test_load_labels_missing(tmp_path: Path) -> None:
    with pytest.raises(UnreadableInputError, match="no labels.csv"):
        load_labels(tmp_path)
    with pytest.raises(BadArgumentsError, match="no such folder"):
        load_labels(tmp_path / "nope")
    (tmp_path / "labels.csv").write_bytes(b"file,label\nx.png,\xff\xfe1\n")
    with pytest.raises(UnreadableInputError, match="not UTF-8"):
        load_labels(tmp_path)


def test_evaluate_custom_reader_exact_metrics(folder: Path) -> None:
    answers = {"a.png": "12345", "b.png": "42", "c.png": "709\n318", "d.png": None}
    seen: list[str] = []

    def read(path: Path) -> str:
        assert path.parent == folder and path.is_file()
        got = answers[path.name]
        if got is None:
            raise UnreadableInputError(f"{path.name}: cannot decode")
        return got

    report = evaluate(folder, read=read, on_item=lambda item: seen.append(item.file))
    assert seen == ["a.png", "b.png", "c.png", "d.png"]
    assert report.engine == "custom"
    assert [i.exact for i in report.items] == [True, False, True, False]
    assert [i.char_accuracy for i in report.items] == pytest.approx([1.0, 0.5, 1.0, 0.0])
    assert report.items[3].error == "d.png: cannot decode"
    by_kind = report.by_kind
    assert list(by_kind) == ["printed", "groups"]
    assert by_kind["printed"].n == 2
    assert by_kind["printed"].exact_rate == pytest.approx(0.5)
    assert by_kind["printed"].char_accuracy == pytest.approx(0.75)
    assert by_kind["groups"].errors == 1
    assert report.overall.n == 4
    assert report.overall.exact_rate == pytest.approx(0.5)
    assert report.overall.char_accuracy == pytest.approx(0.625)
    assert report.overall.seconds_per_image >= 0.0
    assert [i.file for i in report.worst(2)] == ["d.png", "b.png"]

    data = json.loads(json.dumps(report.to_dict()))
    assert data["overall"]["n"] == 4 and data["overall"]["exact_rate"] == 0.5
    assert data["by_kind"]["groups"]["char_accuracy"] == 0.5
    assert data["worst"][0]["error"] == "d.png: cannot decode"
    assert len(data["items"]) == 4

    text = report.format_table(plain=True)
    assert "overall" in text and "62.5%" in text and "d.png" in text and "worst cases" in text


def test_evaluate_other_errors_propagate(folder: Path) -> None:
    def read(path: Path) -> str:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        evaluate(folder, read=read)


def test_evaluate_subset_and_name(folder: Path) -> None:
    rows = [r for r in load_labels(folder) if r.kind == "groups"]
    report = evaluate(folder, read=lambda p: "", rows=rows, name="blank")
    assert report.engine == "blank"
    assert [i.file for i in report.items] == ["c.png", "d.png"]
    assert report.overall.char_accuracy == 0.0


def test_evaluate_bad_engine(folder: Path) -> None:
    with pytest.raises(BadArgumentsError):
        evaluate(folder, engine="magic")


def test_evaluate_with_tesseract(folder: Path, real_tesseract: str) -> None:
    (folder / "labels.csv").write_text(
        (folder / "labels.csv").read_text(encoding="utf-8") + "missing.png,printed,1,none\n", encoding="utf-8"
    )
    report = evaluate(folder, engine="tesseract")
    assert isinstance(report, EvalReport) and report.engine == "tesseract"
    assert report.overall.n == 5
    missing = report.items[-1]
    assert missing.error and not missing.exact and missing.char_accuracy == 0.0
    drawn = report.items[:-1]
    assert all(i.error is None for i in drawn)
    # Large, clean, printed digits: Tesseract reads nearly all of them.
    assert sum(i.char_accuracy for i in drawn) / len(drawn) >= 0.75
    assert report.overall.errors == 1
    assert all(i.seconds > 0 for i in report.items)


def test_format_table_rich(folder: Path) -> None:
    rich = pytest.importorskip("rich")
    from rich.console import Console

    report = evaluate(folder, read=lambda p: "1")
    console = Console(record=True, width=120)
    console.print(report.format_table(worst=3))
    out = console.export_text()
    assert rich is not None and "overall" in out and "worst cases" in out
    assert isinstance(report.format_table(worst=0, plain=True), str)


def test_custom_reader_raising_digit_ocr_error_subclass(folder: Path) -> None:
    class Boom(DigitOcrError):
        pass

    report = evaluate(folder, read=lambda p: (_ for _ in ()).throw(Boom("boom")))
    assert report.overall.errors == 4 and report.overall.exact_rate == 0.0
