"""The `digit-ocr read` command as a user runs it: digits printed, JSON schema, annotate, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from .conftest import SAMPLES, render, require_tesseract, run_cli, sample_rows


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


@pytest.mark.parametrize(
    "row", sample_rows() if (SAMPLES / "labels.csv").exists() else [], ids=lambda r: r["file"]
)
def test_reads_each_bundled_sample(row: dict[str, str]) -> None:
    r = run_cli("read", str(SAMPLES / row["file"]))
    assert r.returncode == 0, r.stderr
    # The label separates lines and wide gaps alike with one space.
    assert " ".join(r.stdout.split()) == row["label"]


def test_text_output_of_several_images_is_headed_by_path(tmp_path: Path) -> None:
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    cv2.imwrite(str(a), render("315"))
    cv2.imwrite(str(b), render("72\n808"))
    r = run_cli("read", "-e", "model", str(a), str(b))
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{a}:\n315\n{b}:\n72\n808\n"


def test_json_lines_schema(tmp_path: Path) -> None:
    p = tmp_path / "two lines.png"
    cv2.imwrite(str(p), render("2048\n17"))
    r = run_cli("read", "--format", "json", "--engine", "model", str(p), str(p))
    assert r.returncode == 0, r.stderr
    records = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(records) == 2
    rec = records[0]
    assert rec["path"] == str(p) and rec["status"] == "ok"
    assert rec["text"] == "2048\n17"
    assert [line["text"] for line in rec["lines"]] == ["2048", "17"]
    h, w = cv2.imread(str(p)).shape[:2]
    assert (rec["width"], rec["height"]) == (w, h)
    for line in rec["lines"]:
        assert len(line["box"]) == 4
        for d in line["digits"]:
            assert set(d) >= {"digit", "confidence", "box", "engine"}
            assert d["engine"] == "model" and 0.0 <= d["confidence"] <= 1.0
            x, y, bw, bh = d["box"]
            assert 0 <= x < w and 0 <= y < h and bw > 0 and bh > 0
    assert rec["digit_count"] == 6 and rec["timing_ms"]["total"] > 0


def test_boxes_are_in_original_pixels_for_small_images(tmp_path: Path) -> None:
    img = render("38", scale=1.2, thickness=2)
    p = tmp_path / "small.png"
    cv2.imwrite(str(p), img)
    rec = json.loads(run_cli("read", "-f", "json", "-e", "model", str(p)).stdout)
    ink_x = np.nonzero((img < 128).any(axis=0))[0]
    boxes = [d["box"] for d in rec["lines"][0]["digits"]]
    assert abs(boxes[0][0] - ink_x[0]) <= 2
    assert abs(boxes[-1][0] + boxes[-1][2] - ink_x[-1] - 1) <= 2


def test_annotate_writes_a_different_image(tmp_path: Path, printed_png: Path) -> None:
    out = tmp_path / "annotated.png"
    r = run_cli("read", "-e", "model", str(printed_png), "--annotate", str(out))
    assert r.returncode == 0, r.stderr
    drawn = cv2.imread(str(out))
    original = cv2.imread(str(printed_png))
    assert drawn.shape == original.shape
    assert np.count_nonzero(np.abs(drawn.astype(int) - original.astype(int)).sum(axis=2)) > 200


def test_exit_code_no_digits_on_blank_page(tmp_path: Path) -> None:
    p = tmp_path / "blank.png"
    cv2.imwrite(str(p), np.full((300, 400), 240, np.uint8))
    r = run_cli("read", "-e", "model", str(p))
    assert r.returncode == 1 and r.stdout == ""


def test_exit_code_bad_arguments() -> None:
    r = run_cli("read", "--engine", "nonsense", "x.png")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and r.stderr.startswith("digit-ocr: error:")


def test_exit_code_unreadable_input(tmp_path: Path, printed_png: Path) -> None:
    bad = tmp_path / "notes.jpg"
    bad.write_text("this is not an image")
    r = run_cli("read", "-e", "model", str(bad))
    assert r.returncode == 3
    assert r.stderr.strip().count("\n") == 0 and "not a readable image" in r.stderr
    # With several images the good ones are still read and printed.
    r = run_cli("read", "-e", "model", str(bad), str(printed_png))
    assert r.returncode == 3 and "4096" in r.stdout


def test_exit_code_missing_tesseract(printed_png: Path) -> None:
    env = {"DIGIT_OCR_TESSERACT": "/nonexistent/tesseract"}
    r = run_cli("read", "--engine", "tesseract", str(printed_png), env=env)
    assert r.returncode == 4 and "apt-get install tesseract-ocr" in r.stderr
    # auto still works with the model alone and says so once.
    r = run_cli("read", str(printed_png), str(printed_png), env=env)
    assert r.returncode == 0 and r.stdout.count("4096") == 2
    assert r.stderr.count("model alone") <= 1


def test_exit_code_bad_model(tmp_path: Path, printed_png: Path) -> None:
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"PK\x03\x04 truncated")
    r = run_cli("read", "--model", str(broken), str(printed_png))
    assert r.returncode == 5 and "digit-ocr train" in r.stderr and "Traceback" not in r.stderr


def test_tesseract_engine_reads_printed_digits(printed_png: Path) -> None:
    require_tesseract()
    r = run_cli("read", "--engine", "tesseract", "-f", "json", str(printed_png))
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    assert rec["text"] == "4096"
    assert {d["engine"] for d in rec["lines"][0]["digits"]} == {"tesseract"}


def test_version_and_help() -> None:
    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("digit-ocr ")
    r = run_cli("read", "--help")
    assert r.returncode == 0 and "--annotate" in r.stdout


def test_engine_both_shows_each_reading(printed_png: Path) -> None:
    require_tesseract()
    r = run_cli("read", "--engine", "both", str(printed_png))
    assert r.returncode == 0, r.stderr
    rows = dict(line.split(":", 1) for line in r.stdout.splitlines())
    assert set(rows) == {"combined", "model", "tesseract"}
    assert rows["combined"].strip() == "4096" and rows["tesseract"].strip() == "4096"
    rec = json.loads(run_cli("read", "-e", "both", "-f", "json", str(printed_png)).stdout)
    assert set(rec["readings"]) == {"model", "tesseract"}
    for d in rec["lines"][0]["digits"]:
        assert set(d["votes"]) == {"model", "tesseract"} and isinstance(d["agreed"], bool)


def test_strict_exit_code_for_uncertain_digits(tmp_path: Path) -> None:
    # A smudge that is not clearly any digit: read, but not with confidence.
    img = np.full((200, 200), 235, np.uint8)
    cv2.ellipse(img, (100, 100), (30, 55), 20, 0, 300, 30, 9)
    cv2.line(img, (70, 60), (140, 150), 30, 7)
    p = tmp_path / "smudge.png"
    cv2.imwrite(str(p), img)
    plain = run_cli("read", "-e", "model", "-f", "json", str(p))
    rec = json.loads(plain.stdout)
    strict = run_cli("read", "-e", "model", "--strict", str(p))
    if rec["digit_count"] and rec["min_confidence"] < 0.6:
        assert strict.returncode == 6
    else:
        assert strict.returncode == plain.returncode
    confident = run_cli("read", "-e", "model", "--strict", str(SAMPLES / "meter_mono.jpg"))
    assert confident.returncode == 0


@pytest.mark.parametrize(
    "args",
    [
        ["-e", "model", "{png}"],
        ["-f", "json", "-e", "model", "{png}"],
        ["{png}", "--engine", "model", "--strict"],
        ["-e", "model", "{missing}", "{png}"],
        ["-e", "model", "--timeout", "0", "{png}"],
        ["-e", "model", "--format", "xml", "{png}"],
    ],
)
def test_quick_read_path_matches_the_full_cli(args: list[str], printed_png: Path, tmp_path: Path) -> None:
    """A plain `read` skips Typer for start-up time; it must behave exactly like the Typer app."""
    argv = [a.format(png=printed_png, missing=tmp_path / "missing.png") for a in args]
    quick = run_cli("read", *argv)
    full = run_cli("read", *argv, env={"DIGIT_OCR_FULL_CLI": "1"})

    def same(stdout: str) -> list[object]:
        if not stdout.startswith("{"):
            return [stdout]
        records = [json.loads(x) for x in stdout.splitlines()]
        for r in records:
            r.pop("timing_ms", None)  # timings differ run to run; nothing else may
        return records

    assert (quick.returncode, same(quick.stdout)) == (full.returncode, same(full.stdout))
    assert quick.stderr.splitlines()[:1] == full.stderr.splitlines()[:1]
