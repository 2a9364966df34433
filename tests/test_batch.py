"""Tests of ``digit-ocr batch`` on folders of images the tests draw themselves."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from digit_ocr.batch import (
    COLUMNS,
    PDF_HINT,
    BatchReport,
    Job,
    ReadOptions,
    ResultWriter,
    ReviewItem,
    ReviewWriter,
    iter_files,
    process_job,
    scan_output,
)
from digit_ocr.errors import ExitCode, UnreadableInputError
from digit_ocr.reader import LOW_CONFIDENCE, read_image

ROOT = Path(__file__).resolve().parents[1]
FONT = cv2.FONT_HERSHEY_SIMPLEX
#: Texts drawn (leading zeros included). Expected readings come from ``read_image`` on the same
#: pixels, so the tests hold whatever model is shipped.
TEXTS = ["0042", "0244", "3000", "5555", "867"]



def _loopback_cluster():  # noqa: ANN202
    """A real dask.distributed cluster on loopback: one in-process worker with two threads."""
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, protocol="tcp", host="127.0.0.1",
        dashboard_address=None,
    )  # fmt: skip

def _render(lines: list[str], width: int = 520) -> np.ndarray:
    img = np.full((90 * len(lines) + 40, width, 3), 255, np.uint8)
    for i, text in enumerate(lines):
        cv2.putText(img, text, (30, 90 + 90 * i), FONT, 2.2, (0, 0, 0), 5, cv2.LINE_AA)
    return img


def _write(path: Path, img: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)
    return path


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    return env


def _cli() -> list[str]:
    """``python -m digit_ocr``; before main.py imports the batch command, a stand-in that imports it."""
    if "batch_cmd" in (ROOT / "digit_ocr" / "cli" / "main.py").read_text(encoding="utf-8"):
        return [sys.executable, "-m", "digit_ocr"]
    code = "import digit_ocr.cli.batch_cmd; from digit_ocr.cli.main import run; run()"
    return [sys.executable, "-c", code]


def batch(*args: Any, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_cli(), "batch", *map(str, args)], capture_output=True, text=True, env=_env(), timeout=timeout
    )


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of a CSV or JSONL output, all values as the file holds them."""
    if path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8-sig") as f:
            return list(csv.DictReader(f))
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def comparable(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records without timings, sorted by (path, page)."""
    out = []
    for r in records:
        r = dict(r)
        if isinstance(r.get("reading"), dict):
            r["reading"] = {k: v for k, v in r["reading"].items() if k != "timing_ms"}
        out.append(r)
    return sorted(out, key=lambda r: (r["path"], str(r["page"] or "")))


@pytest.fixture
def scans(tmp_path: Path) -> Path:
    folder = tmp_path / "scans"
    for i, text in enumerate(TEXTS):
        _write(folder / f"img{i}.png", _render([text]))
    _write(folder / "blank.png", np.full((120, 400), 255, np.uint8))
    _write(folder / "photo.jpg", _render(["3000"]))
    return folder


# --------------------------------------------------------------------------- outputs


def test_csv_output(scans: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.csv"
    proc = batch(scans, "-o", out, "--engine", "model", "--jobs", "1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert "7 images" in proc.stderr and "0 failed" in proc.stderr
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfpath,page,text,")
    assert raw.endswith(b"\r\n")
    rows = read_records(out)
    names = [f"img{i}.png" for i in range(len(TEXTS))]
    assert [r["path"] for r in rows] == ["blank.png", *names, "photo.jpg"]
    assert list(rows[0]) == list(COLUMNS)
    by_path = {r["path"]: r for r in rows}
    for i in range(len(TEXTS)):
        row = by_path[f"img{i}.png"]
        expected = read_image(scans / f"img{i}.png", engine="model")
        assert row["text"] == expected.text  # a string: leading zeros kept
        assert f'"{expected.text}"'.encode() in raw  # quoted
        assert row["status"] == "ok" and row["page"] == "" and row["error"] == ""
        assert int(row["digits"]) == len(expected.digits)
        assert row["engines"] == "model"
        assert 0 < float(row["min_confidence"]) <= float(row["mean_confidence"]) <= 1
    assert by_path["blank.png"]["status"] == "no_digits"
    assert by_path["blank.png"]["digits"] == "0" and by_path["blank.png"]["mean_confidence"] == ""
    # the text column is quoted, numbers are not
    first = read_image(scans / "img0.png", engine="model")
    assert f'"img0.png",,"{first.text}",{len(first.digits)},'.encode() in raw


def test_jsonl_output_carries_the_reading(scans: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    proc = batch(scans, "-o", out, "--engine", "model", "-j", "2")
    assert proc.returncode == 0, proc.stderr
    recs = read_records(out)
    assert len(recs) == 7
    by_path = {r["path"]: r for r in recs}
    rec = by_path["img1.png"]
    expected = read_image(scans / "img1.png", engine="model")
    assert rec["text"] == expected.text and rec["status"] == "ok"
    assert rec["page"] is None and rec["error"] is None
    detail = rec["reading"]
    assert detail["path"] == "img1.png" and detail["text"] == expected.text
    assert detail["digit_count"] == len(expected.digits) == rec["digits"]
    got = [d["digit"] for line in detail["lines"] for d in line["digits"]]
    assert got == [d.digit for d in expected.digits]
    assert by_path["blank.png"]["status"] == "no_digits" and by_path["blank.png"]["reading"]["lines"] == []


def test_format_option_and_refusals(scans: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.txt"
    assert batch(scans, "-o", out).returncode == ExitCode.BAD_ARGS  # format unknown from the extension
    proc = batch(scans, "-o", out, "--format", "jsonl", "--engine", "model", "-j", "1")
    assert proc.returncode == 0, proc.stderr
    assert len(out.read_text().splitlines()) == 7
    again = batch(scans, "-o", out, "--format", "jsonl", "--engine", "model")
    assert again.returncode == ExitCode.BAD_ARGS and "--resume" in again.stderr
    assert len(out.read_text().splitlines()) == 7  # untouched
    proc = batch(scans, "-o", out, "--format", "jsonl", "--engine", "model", "-j", "1", "--overwrite")
    assert proc.returncode == 0 and len(out.read_text().splitlines()) == 7
    assert batch(tmp_path / "nowhere", "-o", tmp_path / "x.csv").returncode == ExitCode.BAD_ARGS
    assert batch(scans, "-o", tmp_path / "x.csv", "--jobs", "0").returncode == ExitCode.BAD_ARGS
    assert batch(scans, "-o", out, "--resume", "--overwrite").returncode == ExitCode.BAD_ARGS


def test_bad_files_are_recorded_and_fail_the_batch(scans: Path, tmp_path: Path) -> None:
    good = (scans / "img0.png").read_bytes()
    (scans / "corrupt.png").write_bytes(good[: len(good) // 3])
    (scans / "empty.png").write_bytes(b"")
    (scans / "notes.jpg").write_text("these are not pixels\n")
    out = tmp_path / "results.csv"
    proc = batch(scans, "-o", out, "--engine", "model", "-j", "2")
    assert proc.returncode == ExitCode.SOME_FILES_FAILED, proc.stderr
    assert "3 failed" in proc.stderr
    assert "WARN" not in proc.stderr  # OpenCV's own chatter is silenced
    by_path = {r["path"]: r for r in read_records(out)}
    assert len(by_path) == 10
    for name in ("corrupt.png", "empty.png", "notes.jpg"):
        assert by_path[name]["status"] == "error" and by_path[name]["error"], name
        assert name not in by_path[name]["error"]  # the record names the file; the message need not
    assert "empty" in by_path["empty.png"]["error"]
    assert sum(r["status"] == "ok" for r in by_path.values()) == 6


def test_every_image_extension(tmp_path: Path) -> None:
    folder = tmp_path / "formats"
    exts = ["jpg", "jpeg", "png", "tif", "tiff", "bmp", "webp", "gif", "pgm", "ppm", "JPG"]
    for ext in exts:
        img = _render(["0042"])
        if ext == "pgm":
            img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        _write(folder / f"a_{ext.lower()}.{ext}", img)
    out = tmp_path / "r.csv"
    proc = batch(folder, "-o", out, "--engine", "model", "-j", "1")
    assert proc.returncode == 0, proc.stderr
    rows = read_records(out)
    assert len(rows) == len(exts)
    expected = read_image(_render(["0042"]), engine="model").text
    assert {r["status"] for r in rows} == {"ok"}
    lossless = ("png", "bmp", "tif", "tiff", "ppm")  # the same BGR pixels as the array
    assert {r["text"] for r in rows if r["path"].endswith(lossless)} == {expected}


def test_walk_order_recursive_glob_hidden(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    names = ["b.png", "a.PNG", "sub/c.png", "sub/deeper/d.tif", ".hidden.png", "z/.x/e.png", "notes.txt"]
    names.append("f.pdf")
    for rel in names:
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    flat = [rel for rel, _, _ in iter_files(folder)]
    assert flat == ["a.PNG", "b.png", "f.pdf"]
    deep = [rel for rel, _, _ in iter_files(folder, recursive=True)]
    assert deep == ["a.PNG", "b.png", "f.pdf", "sub/c.png", "sub/deeper/d.tif"]
    assert [rel for rel, _, _ in iter_files(folder, recursive=True, globs=["*.tif"])] == ["sub/deeper/d.tif"]
    assert [rel for rel, _, _ in iter_files(folder, recursive=True, globs=["sub/*"])] == [
        "sub/c.png",
        "sub/deeper/d.tif",
    ]
    assert [rel for rel, _, _ in iter_files(folder, recursive=True, exclude=[folder / "sub"])] == [
        "a.PNG",
        "b.png",
        "f.pdf",
    ]


# --------------------------------------------------------------------------- resume and interruption


@pytest.mark.parametrize("ext", ["csv", "jsonl"])
def test_resume_after_a_partial_last_record(scans: Path, tmp_path: Path, ext: str) -> None:
    full = tmp_path / f"full.{ext}"
    assert batch(scans, "-o", full, "--engine", "model", "-j", "1").returncode == 0
    data = full.read_bytes()
    term = b"\r\n" if ext == "csv" else b"\n"
    ends = [i + len(term) for i in range(len(data)) if data.startswith(term, i)]
    cut = ends[3] + (ends[4] - ends[3]) // 2  # three or four whole records, then half of the next
    part = tmp_path / f"part.{ext}"
    part.write_bytes(data[:cut])
    before = scan_output(part, ext)
    assert before.dropped_bytes > 0 and len(before.keys) == (3 if ext == "csv" else 4)
    proc = batch(scans, "-o", part, "--engine", "model", "-j", "2", "--resume")
    assert proc.returncode == 0, proc.stderr
    assert "partly written" in proc.stderr
    assert comparable(read_records(part)) == comparable(read_records(full))
    # resuming a complete output reads nothing and changes nothing
    size = part.stat().st_size
    proc = batch(scans, "-o", part, "--engine", "model", "--resume")
    assert proc.returncode == 0 and part.stat().st_size == size
    assert "7 already done" in proc.stderr


#: File names a spreadsheet would take for formulas (and one that starts with the escape itself).
RISKY_NAMES = ["=cmd.jpg", "+1.png", "-2+3.png", "@SUM(A1).png", "\tlead-tab.png", "'=quoted.png"]


def test_csv_cells_cannot_start_a_formula_and_resume_still_matches(tmp_path: Path) -> None:
    folder = tmp_path / "risky"
    for i, name in enumerate(RISKY_NAMES):
        _write(folder / name, _render([TEXTS[i % len(TEXTS)]]))
    (folder / "=empty.png").write_bytes(b"")  # an error record too
    names = sorted([*RISKY_NAMES, "=empty.png"])
    out = tmp_path / "r.csv"
    proc = batch(folder, "-o", out, "--engine", "model", "-j", "1")
    assert proc.returncode == ExitCode.SOME_FILES_FAILED, proc.stderr
    with open(out, newline="", encoding="utf-8-sig") as f:
        cells = [cell for row in csv.reader(f) for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    rows = read_records(out)
    assert [r["path"] for r in rows] == ["'" + n for n in names]  # each one neutralised
    assert {r["status"] for r in rows} == {"ok", "error"}
    # JSON Lines holds the names as they are
    jl = tmp_path / "r.jsonl"
    batch(folder, "-o", jl, "--engine", "model", "-j", "1")
    assert [r["path"] for r in read_records(jl)] == names
    # resume matches the recorded (neutralised) paths to the files: nothing read twice
    data = out.read_bytes()
    ends = [i + 2 for i in range(len(data)) if data.startswith(b"\r\n", i)]
    out.write_bytes(data[: ends[3]])  # the header and three records
    assert {k for k, _ in scan_output(out, "csv").keys} == set(names[:3])
    proc = batch(folder, "-o", out, "--engine", "model", "-j", "2", "--resume")
    assert proc.returncode == ExitCode.SOME_FILES_FAILED, proc.stderr
    assert "3 already done" in proc.stderr
    assert out.read_bytes() == data
    proc = batch(folder, "-o", out, "--engine", "model", "--resume")
    assert f"{len(names)} already done" in proc.stderr and out.read_bytes() == data


def test_csv_line_neutralises_every_text_cell() -> None:
    from digit_ocr.batch import csv_line, neutralise, restore

    rec = {"path": "a.png", "page": None, "text": "", "digits": 0, "status": "error",
           "error": "=HYPERLINK(\"http://x\")", "engines": "", "mean_confidence": None,
           "min_confidence": None}  # fmt: skip
    row = next(csv.reader(io.StringIO(csv_line(rec))))
    assert row[COLUMNS.index("error")] == "'=HYPERLINK(\"http://x\")"
    for value in ["=1", "+1", "-1", "@a", "\tx", "\ry", "'=z", "''", "'a", "a=1", "0042", ""]:
        assert restore(neutralise(value)) == value
        assert neutralise(value)[:1] not in ("=", "+", "-", "@", "\t", "\r")


def test_resume_refuses_a_damaged_or_foreign_file(scans: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    out.write_text('{"path":"a.png","page":null,"status":"ok"}\nnot json\n{"path":"b.png","status":"ok"}\n')
    proc = batch(scans, "-o", out, "--resume")
    assert proc.returncode == ExitCode.UNREADABLE_INPUT and "record 2" in proc.stderr
    other = tmp_path / "r.csv"
    other.write_bytes(b"a,b\r\n1,2\r\n")
    assert batch(scans, "-o", other, "--resume").returncode == ExitCode.UNREADABLE_INPUT
    assert other.read_bytes() == b"a,b\r\n1,2\r\n"


def _photo_folder(folder: Path, n: int) -> None:
    """``n`` large images with many digits (slow enough to be interrupted mid-way)."""
    rng = np.random.default_rng(7)
    for i in range(n):
        img = np.full((900, 1200), 255, np.uint8)
        for j in range(6):
            text = "".join(str(d) for d in rng.integers(0, 10, 10))
            cv2.putText(img, text, (40, 120 + 130 * j), FONT, 2.6, 0, 6, cv2.LINE_AA)
        _write(folder / f"p{i:02d}.png", img)


def _wait_for_records(path: Path, n: int, proc: subprocess.Popen[bytes], limit: float = 120) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit and proc.poll() is None:
        if path.exists() and path.read_bytes().count(b"\n") >= n:
            return
        time.sleep(0.01)


def test_kill_9_then_resume_loses_and_repeats_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    _photo_folder(folder, 40)
    ref = tmp_path / "ref.jsonl"
    assert batch(folder, "-o", ref, "--engine", "model", "-j", "2").returncode == 0
    out = tmp_path / "killed.jsonl"
    proc = subprocess.Popen(
        [*_cli(), "batch", str(folder), "-o", str(out), "--engine", "model", "--jobs", "1"],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_records(out, 2, proc)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    done = len(scan_output(out, "jsonl").keys)
    assert 2 <= done < 40, "the run was not interrupted mid-way"
    resumed = batch(folder, "-o", out, "--engine", "model", "-j", "2", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"{done} already done" in resumed.stderr
    assert comparable(read_records(out)) == comparable(read_records(ref))


def test_interrupt_stops_cleanly_with_130(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    _photo_folder(folder, 30)
    out = tmp_path / "r.csv"
    proc = subprocess.Popen(
        [*_cli(), "batch", str(folder), "-o", str(out), "--engine", "model", "--jobs", "2"],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for_records(out, 3, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert "interrupted" in err
    found = scan_output(out, "csv")
    assert found.dropped_bytes == 0 and 1 <= len(found.keys) < 30
    proc2 = batch(folder, "-o", out, "--engine", "model", "--resume", "-j", "2")
    assert proc2.returncode == 0, proc2.stderr
    assert sorted(r["path"] for r in read_records(out)) == [f"p{i:02d}.png" for i in range(30)]


def test_writer_fsyncs_and_tolerates_a_cut_header(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    out.write_bytes(b"\xef\xbb\xbfpath,pa")  # killed while writing the header
    with ResultWriter(out, "csv", resume=True, fsync_records=1) as w:
        assert w.done == set() and w.dropped_bytes == len(b"\xef\xbb\xbfpath,pa")
        w.write({"path": "a.png", "page": None, "text": "0\n1", "digits": 2, "status": "ok", "error": None})
    text = out.read_text(encoding="utf-8-sig")
    assert text.startswith("path,page,") and '"a.png",,"0\n1",2,' in text
    assert scan_output(out, "csv").keys == {("a.png", None)}


# --------------------------------------------------------------------------- pages, review, report


def test_multipage_tiff_gives_one_record_per_page(tmp_path: Path) -> None:
    folder = tmp_path / "tiffs"
    folder.mkdir()
    pages = [cv2.cvtColor(_render([t]), cv2.COLOR_BGR2GRAY) for t in ("0042", "3000", "5555")]
    assert cv2.imwritemulti(str(folder / "doc.tif"), pages)
    _write(folder / "single.tiff", _render(["0244"]))
    out = tmp_path / "r.csv"
    proc = batch(folder, "-o", out, "--engine", "model", "-j", "1")
    assert proc.returncode == 0, proc.stderr
    rows = read_records(out)
    texts = [read_image(p, engine="model").text for p in pages]
    single = read_image(folder / "single.tiff", engine="model").text
    assert [(r["path"], r["page"], r["text"]) for r in rows] == [
        ("doc.tif", "1", texts[0]),
        ("doc.tif", "2", texts[1]),
        ("doc.tif", "3", texts[2]),
        ("single.tiff", "", single),
    ]
    assert all(r["status"] == "ok" for r in rows)
    # resuming with page 2 missing reads page 2 only
    lines = out.read_bytes().split(b"\r\n")
    out.write_bytes(b"\r\n".join(lines[:2] + lines[3:]))
    proc = batch(folder, "-o", out, "--engine", "model", "--resume", "-j", "1")
    assert proc.returncode == 0, proc.stderr
    assert sorted((r["path"], r["page"]) for r in read_records(out)) == [
        ("doc.tif", "1"),
        ("doc.tif", "2"),
        ("doc.tif", "3"),
        ("single.tiff", ""),
    ]


def _make_pdf(path: Path, texts: list[str]) -> None:
    pdfium = pytest.importorskip("pypdfium2")
    doc = pdfium.PdfDocument.new()
    for text in texts:
        img = _render([text])
        page = doc.new_page(img.shape[1] * 72 / 150, img.shape[0] * 72 / 150)  # 150 dpi
        image = pdfium.PdfImage.new(doc)
        ok, jpeg = cv2.imencode(".jpg", img)
        image.load_jpeg(io.BytesIO(jpeg.tobytes()))
        image.set_matrix(pdfium.PdfMatrix().scale(page.get_width(), page.get_height()))
        page.insert_obj(image)
        page.gen_content()
    doc.save(str(path))


def _pdf_texts(path: Path) -> list[str]:
    """What the model reads on each page rendered at 300 dpi, as the batch renders it."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(path))
    try:
        pages = [doc[i].render(scale=300 / 72, grayscale=True).to_numpy().copy() for i in range(len(doc))]
    finally:
        doc.close()
    return [read_image(p, engine="model").text for p in pages]


def test_pdf_pages(tmp_path: Path) -> None:
    folder = tmp_path / "pdfs"
    folder.mkdir()
    _make_pdf(folder / "two.pdf", ["0042", "3000"])
    _make_pdf(folder / "one.pdf", ["5555"])
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 nothing else")
    out = tmp_path / "r.jsonl"
    proc = batch(folder, "-o", out, "--engine", "model", "-j", "1")
    assert proc.returncode == ExitCode.SOME_FILES_FAILED, proc.stderr
    recs = [(r["path"], r["page"], r["text"], r["status"]) for r in read_records(out)]
    assert recs[0][:2] == ("broken.pdf", None) and recs[0][3] == "error"
    one, two = _pdf_texts(folder / "one.pdf"), _pdf_texts(folder / "two.pdf")
    assert recs[1:] == [
        ("one.pdf", None, one[0], "ok"),
        ("two.pdf", 1, two[0], "ok"),
        ("two.pdf", 2, two[1], "ok"),
    ]


def test_pdf_without_the_extra_is_a_recorded_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    monkeypatch.setitem(sys.modules, "pypdfium2", None)  # import now fails
    recs = process_job(Job("a.pdf", str(pdf)), ReadOptions(engine="model"))
    assert len(recs) == 1 and recs[0]["status"] == "error" and PDF_HINT in recs[0]["error"]


def _unsure_model(tmp_path: Path, image: Path) -> Path:
    """A copy of the shipped model made less sure (a higher softmax temperature), so that some
    digits of ``image`` fall under LOW_CONFIDENCE whatever the shipped model is."""
    from digit_ocr.model import Model, load_model

    base = load_model()
    for factor in (1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48):
        meta = dict(base.meta)
        calibration = dict(meta.get("calibration") or {})
        meta["calibration"] = {**calibration, "temperature": base.temperature * factor}
        path = tmp_path / "models" / f"unsure{factor}.npz"
        Model(base.coef, base.intercept, base.classes, meta, arrays=base.arrays).save(path)
        digits = read_image(image, engine="model", model=path).digits
        if digits and any(d.confidence < LOW_CONFIDENCE for d in digits):
            return path
    pytest.fail("no temperature makes the model unsure of the test image")


def test_review_writes_crops_and_a_labels_stub(scans: Path, tmp_path: Path) -> None:
    model = _unsure_model(tmp_path, scans / "img4.png")
    review = tmp_path / "review"
    out = tmp_path / "r.csv"
    proc = batch(scans, "-o", out, "--engine", "model", "-j", "2", "--review", review, "--model", model)
    assert proc.returncode == 0, proc.stderr
    with open(review / "labels.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows and list(rows[0]) == ["file", "label"]
    labels = {r["file"]: r["label"] for r in rows}
    assert labels["blank.png.png"] == ""  # the whole image, label to fill in
    crops = {name: label for name, label in labels.items() if ".d" in name}
    expected = {
        f"{name}.d{j}.png": d.digit
        for name in [*(f"img{i}.png" for i in range(len(TEXTS))), "photo.jpg"]
        for j, d in enumerate(read_image(scans / name, engine="model", model=model).digits, 1)
        if d.confidence < LOW_CONFIDENCE
    }
    assert expected and crops == expected
    for name in labels:
        img = cv2.imread(str(review / name), cv2.IMREAD_UNCHANGED)
        assert img is not None and img.size > 0, name
    assert cv2.imread(str(review / "blank.png.png")).shape[:2] == (120, 400)
    # running again into the same folder does not list a file twice
    proc = batch(scans, "-o", out, "--engine", "model", "--overwrite", "--review", review, "--model", model)
    with open(review / "labels.csv", newline="", encoding="utf-8") as f:
        assert len(list(csv.DictReader(f))) == len(rows)


def test_review_writer_drops_a_cut_off_row(tmp_path: Path) -> None:
    review = tmp_path / "review"
    review.mkdir()
    (review / "labels.csv").write_bytes(b'file,label\r\n"a.png.d1.png","7"\r\n"b.png.d2.p')
    writer = ReviewWriter(review)
    writer.add([ReviewItem("b.png.d2.png", b"png", "3"), ReviewItem("a.png.d1.png", b"png", "7")])
    writer.close()
    with open(review / "labels.csv", newline="", encoding="utf-8") as f:
        assert list(csv.reader(f)) == [["file", "label"], ["a.png.d1.png", "7"], ["b.png.d2.png", "3"]]


def test_report_exit_codes_and_summary() -> None:
    report = BatchReport()
    report.add({"status": "ok", "digits": 3, "reading": {"lines": [{"digits": [{"confidence": 0.3}] * 3}]}})
    report.add({"status": "no_digits", "digits": 0, "reading": {"lines": []}})
    report.files = 2
    assert report.exit_code == ExitCode.OK
    assert report.digits == 3 and report.low_confidence == 3 and report.records == 2
    assert "2 images in 2 files: 1 read, 1 without digits, 0 failed" in report.summary()
    report.add({"status": "error", "error": "x"})
    assert report.exit_code == ExitCode.SOME_FILES_FAILED and report.failed == 1
    report.interrupted = True
    assert report.exit_code == ExitCode.INTERRUPTED and report.summary().startswith("interrupted")


def test_scan_output_rejects_unknown_statuses(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    out.write_text('{"path":"a.png","page":null,"status":"maybe"}\n')
    with pytest.raises(UnreadableInputError):
        scan_output(out, "jsonl")


# --------------------------------------------------------------------------- dask


def _dask_available() -> bool:
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(
    not _dask_available() and os.environ.get("CI") != "true", reason="dask.distributed is not installed"
)
def test_dask_cluster_gives_the_same_output(scans: Path, tmp_path: Path) -> None:
    (scans / "empty.png").write_bytes(b"")
    local = tmp_path / "local.jsonl"
    assert batch(scans, "-o", local, "--engine", "model", "-j", "2").returncode == ExitCode.SOME_FILES_FAILED
    remote = tmp_path / "dask.jsonl"
    with _loopback_cluster() as cluster:
        proc = batch(scans, "-o", remote, "--engine", "model", "--scheduler", cluster.scheduler_address)
        assert proc.returncode == ExitCode.SOME_FILES_FAILED, proc.stderr
        # the same resume guarantees: cut the file, resume on the cluster
        data = remote.read_bytes()
        remote.write_bytes(data[: len(data) // 2])
        env_run = subprocess.run(
            [*_cli(), "batch", str(scans), "-o", str(remote), "--engine", "model", "--resume"],
            capture_output=True,
            text=True,
            env={**_env(), "DASK_SCHEDULER_ADDRESS": cluster.scheduler_address},
            timeout=300,
        )
        assert env_run.returncode == ExitCode.SOME_FILES_FAILED, env_run.stderr
    assert comparable(read_records(remote)) == comparable(read_records(local))


def test_scheduler_without_dask_exits_4(scans: Path, tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['distributed'] = None; "
        "import digit_ocr.cli.batch_cmd; from digit_ocr.cli.main import run; run()"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "batch",
            str(scans),
            "-o",
            str(tmp_path / "r.csv"),
            "--scheduler",
            "tcp://x:1",
        ],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert proc.returncode == ExitCode.MISSING_DEPENDENCY, proc.stderr
    assert "digit-ocr[dask]" in proc.stderr
    assert not (tmp_path / "r.csv").exists()


@pytest.mark.skipif(
    not _dask_available() and os.environ.get("CI") != "true", reason="dask.distributed is not installed"
)
def test_review_on_a_dask_cluster_matches_a_local_run(scans: Path, tmp_path: Path) -> None:
    model = _unsure_model(tmp_path, scans / "img4.png")
    local_review, remote_review = tmp_path / "review-local", tmp_path / "review-dask"
    common = ("-e", "model", "-m", model)
    local = batch(scans, "-o", tmp_path / "l.csv", *common, "-j", "2", "--review", local_review)
    assert local.returncode == 0, local.stderr
    with _loopback_cluster() as cluster:
        address = cluster.scheduler_address
        extra = ("--review", remote_review, "--scheduler", address)
        remote = batch(scans, "-o", tmp_path / "d.csv", *common, *extra)
        assert remote.returncode == 0, remote.stderr

    def labels(folder: Path) -> list[list[str]]:
        with open(folder / "labels.csv", newline="", encoding="utf-8") as f:
            return sorted(csv.reader(f))

    assert labels(remote_review) == labels(local_review)
    assert len(labels(local_review)) > 2  # the header, the blank page and some uncertain digits
    files = sorted(p.name for p in local_review.iterdir())
    assert sorted(p.name for p in remote_review.iterdir()) == files
    for name in files:
        assert (remote_review / name).read_bytes() == (local_review / name).read_bytes(), name
    assert comparable(read_records(tmp_path / "d.csv")) == comparable(read_records(tmp_path / "l.csv"))


def test_review_labels_never_start_a_formula(scans: Path, tmp_path: Path) -> None:
    """File names come from the scanned paths: ``=1+2.png`` must not become a formula when a
    person opens the review folder's labels.csv in a spreadsheet."""
    model = _unsure_model(tmp_path, scans / "img4.png")
    hostile = tmp_path / "hostile"
    hostile.mkdir()
    for name in ("=1+2.png", "-5.png", "@A1.png"):
        shutil.copy(scans / "img4.png", hostile / name)
    review = tmp_path / "review"
    proc = batch(hostile, "-o", tmp_path / "r.csv", "-e", "model", "-m", model, "--review", review)
    assert proc.returncode == 0, proc.stderr
    with open(review / "labels.csv", newline="", encoding="utf-8") as f:
        names = [row["file"] for row in csv.DictReader(f)]
    assert {n.split(".png.d")[0] for n in names} == {"_=1+2", "_-5", "_@A1"}
    for name in names:
        assert name[0] not in "=+-@\t\r" and (review / name).is_file()
