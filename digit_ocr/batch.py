"""Read every image of a folder into one CSV or JSON Lines file (the core of ``digit-ocr batch``).

Nothing here prints. The pieces:

* :func:`iter_jobs` walks the folder lazily in a stable sorted order (one directory listing in
  memory at a time), skipping what an earlier run already recorded;
* :func:`process_job` reads one file in a worker: one record per image, or per page of a
  multi-page TIFF or a PDF;
* :class:`ResultWriter` appends records as they come, flushed to the OS after each one and
  fsync'ed every few records or seconds, so a run stopped in any way (Ctrl-C, ``kill -9``)
  leaves a valid file; on ``resume`` it drops a partially written last record and returns the
  keys already recorded;
* :class:`ReviewWriter` saves the crops of uncertain digits and the images without digits,
  with a ``labels.csv`` stub for correcting them;
* :func:`run_batch` ties them together (joblib processes, or a dask.distributed cluster) and
  fills a :class:`BatchReport`.

Records carry ``path`` (relative to the folder, ``/``-separated), ``page`` (None for a
single-page file, else 1-based), ``text``, ``digits`` (count), ``mean_confidence``,
``min_confidence``, ``engines`` (the engines whose digits were kept, ``+``-joined), ``status``
(``ok``, ``no_digits`` or ``error``) and ``error``. JSON Lines records add ``reading``: the full
:meth:`Reading.to_dict` (None for errors).

CSV is UTF-8 with a byte-order mark, records end with CRLF (RFC 4180), and every text field is
quoted while numbers are not: ``"0042"`` keeps its zeros for every CSV reader that takes strings
as strings (Python's csv, pandas with ``dtype=str``), and in LibreOffice with "Format quoted
field as text"; Excel drops leading zeros of any number-like cell on a plain open, so import the
file there (Data > From Text/CSV) with the ``text`` column set to Text. No ``="0042"`` formula
trick: it would corrupt the value for every other consumer. A text of several lines keeps its
line breaks inside the quoted field. A text cell that starts with ``= + - @``, a tab or a
carriage return (a file named ``=cmd.jpg``, say) is written with a leading ``'`` so that no
spreadsheet runs it as a formula; ``--resume`` takes the quote off again (:func:`restore`).
JSON Lines records hold the values as they are.
"""

from __future__ import annotations

import contextlib
import csv
import fnmatch
import json
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import (
    BadArgumentsError,
    BadModelError,
    DigitOcrError,
    ExitCode,
    MissingDependencyError,
    UnreadableInputError,
)

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".gif", ".pgm", ".ppm"}
)
PDF_EXTENSIONS = frozenset({".pdf"})
TIFF_EXTENSIONS = frozenset({".tif", ".tiff"})
COLUMNS = (
    "path", "page", "text", "digits", "mean_confidence", "min_confidence", "engines", "status", "error",
)
STATUSES = ("ok", "no_digits", "error")
FORMATS = ("csv", "jsonl")
PDF_DPI = 300
PDF_HINT = "pip install 'digit-ocr[pdf]'"
DASK_HINT = "pip install 'digit-ocr[dask]'"
#: fsync the output after this many records or seconds, whichever comes first (and on close).
FSYNC_RECORDS = 50
FSYNC_SECONDS = 2.0
REVIEW_LABELS = "labels.csv"
#: Exceptions of these kinds stop the whole batch (every file would fail the same way).
_FATAL = (BadArgumentsError, BadModelError, MissingDependencyError)

Key = tuple[str, int | None]


# --------------------------------------------------------------------------- the walk


@dataclass(frozen=True)
class Job:
    """One file to read: its record path, where to read it (or its bytes), and pages already done."""

    path: str
    source: str
    data: bytes | None = None
    skip_pages: frozenset[int] = frozenset()
    error: str | None = None


def record_path(rel: str) -> str:
    """The printable, reversible form of a relative path (undecodable bytes as ``\\xNN``)."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def format_for(output: str | os.PathLike[str], fmt: str | None = None) -> str:
    """The output format: ``fmt`` when given, else from the file extension."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise BadArgumentsError(f"unknown format {fmt!r}", f"choose one of {', '.join(FORMATS)}")
        return fmt
    ext = Path(output).suffix.lower()
    if ext == ".csv":
        return "csv"
    if ext in (".jsonl", ".ndjson"):
        return "jsonl"
    raise BadArgumentsError(
        f"{output}: cannot tell the format from the extension {ext or '(none)'!r}",
        "name it .csv or .jsonl, or give --format csv|jsonl",
    )


def _wanted(name: str, rel: str, globs: tuple[str, ...]) -> bool:
    ext = os.path.splitext(name)[1].lower()
    if ext not in IMAGE_EXTENSIONS and ext not in PDF_EXTENSIONS:
        return False
    return not globs or any(fnmatch.fnmatchcase(name, g) or fnmatch.fnmatchcase(rel, g) for g in globs)


def iter_files(
    folder: str | os.PathLike[str],
    *,
    recursive: bool = False,
    globs: Iterable[str] = (),
    exclude: Iterable[str | os.PathLike[str]] = (),
) -> Iterator[tuple[str, str, str | None]]:
    """Yield ``(relative path, full path, error)`` for each image or PDF, sorted by name per folder.

    Hidden files and folders (name starting with ``.``) are skipped, and so are the ``exclude``
    paths (the output file, the review folder). Symbolic links are followed, loops cut. A folder
    that cannot be listed yields one entry with an error.
    """
    root = Path(folder)
    if not root.is_dir():
        raise BadArgumentsError(f"{folder}: not a folder")
    pats = tuple(globs)
    skip = {os.path.realpath(p) for p in exclude}
    seen: set[tuple[int, int]] = set()

    def walk(directory: str, prefix: str) -> Iterator[tuple[str, str, str | None]]:
        try:
            st = os.stat(directory)
            if (st.st_dev, st.st_ino) in seen:
                return
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(directory) as it:
                names = sorted(e.name for e in it)
        except OSError as exc:
            yield prefix.rstrip("/") or ".", directory, f"cannot list folder: {exc.strerror or exc}"
            return
        for name in names:
            if name.startswith("."):
                continue
            full = os.path.join(directory, name)
            rel = prefix + name
            try:
                mode = os.stat(full).st_mode
            except OSError:
                mode = 0  # a dangling link: recorded as an error if it looks like an image
            if skip and os.path.realpath(full) in skip:
                continue
            if stat.S_ISDIR(mode):
                if recursive:
                    yield from walk(full, rel + "/")
            elif _wanted(name, rel, pats):
                yield rel, full, None

    yield from walk(str(root), "")


def iter_jobs(
    folder: str | os.PathLike[str],
    *,
    recursive: bool = False,
    globs: Iterable[str] = (),
    done: set[Key] | None = None,
    exclude: Iterable[str | os.PathLike[str]] = (),
    send_bytes: bool = False,
) -> Iterator[Job]:
    """The files still to read: those without a record in ``done`` (pages of partly done files skipped)."""
    done = done or set()
    done_pages: dict[str, set[int]] = {}
    for path, page in done:
        if page is not None:
            done_pages.setdefault(path, set()).add(page)
    for rel, full, error in iter_files(folder, recursive=recursive, globs=globs, exclude=exclude):
        path = record_path(rel)
        if (path, None) in done:
            continue
        data = None
        if send_bytes and error is None:
            try:
                from .load import read_bytes

                data = read_bytes(full)
            except UnreadableInputError as exc:
                error = exc.message.removeprefix(f"{full}: ")
        yield Job(path, full, data, frozenset(done_pages.get(path, ())), error)


# --------------------------------------------------------------------------- reading one file


@dataclass(frozen=True)
class ReadOptions:
    """How each file is read (picklable: it travels to the workers)."""

    engine: str = "auto"
    model: Any = None
    timeout: float = 10.0
    review: bool = False
    #: OpenCV threads per worker (None: OpenCV's default).
    cv_threads: int | None = None


@dataclass(frozen=True)
class ReviewItem:
    """An image for a person to label: its file name in the review folder, PNG bytes, predicted label."""

    name: str
    png: bytes
    label: str


def engines_of(reading: Any) -> str:
    """The engines whose digits were kept, sorted and ``+``-joined (``both`` counts as both)."""
    used: set[str] = set()
    for d in reading.digits:
        used.update(("model", "tesseract") if d.engine == "both" else (d.engine,))
    return "+".join(sorted(used))


def make_record(path: str, page: int | None, reading: Any = None, error: str | None = None) -> dict[str, Any]:
    """The record of one image or page: a reading, or an error message."""
    if reading is None:
        return {
            "path": path, "page": page, "text": "", "digits": 0, "mean_confidence": None,
            "min_confidence": None, "engines": "", "status": "error", "error": error or "unknown error",
            "reading": None,
        }
    detail = reading.to_dict()
    return {
        "path": path,
        "page": page,
        "text": reading.text,
        "digits": detail["digit_count"],
        "mean_confidence": detail["mean_confidence"],
        "min_confidence": detail["min_confidence"],
        "engines": engines_of(reading),
        "status": "ok" if reading.digits else "no_digits",
        "error": None,
        "reading": detail,
    }


def _review_stem(path: str, page: int | None) -> str:
    stem = path.replace("/", "__")
    if stem[:1] in FORMULA_STARTS:  # the review labels.csv names it: no spreadsheet formula
        stem = "_" + stem
    return f"{stem}.p{page}" if page is not None else stem


def review_items(
    path: str, page: int | None, reading: Any, image: Any, scale: float, low: float
) -> list[ReviewItem]:
    """Crops of the digits under ``low`` confidence, or the whole image when no digit was read.

    ``image`` holds the pixels the reading was made on; ``scale`` maps them to the original
    image's pixels (the boxes' frame).
    """
    import cv2

    stem = _review_stem(path, page)
    if not reading.digits:
        ok, buf = cv2.imencode(".png", image)
        return [ReviewItem(f"{stem}.png", buf.tobytes(), "")] if ok else []
    items = []
    h, w = image.shape[:2]
    for i, d in enumerate(reading.digits, 1):
        if d.confidence >= low:
            continue
        x, y, bw, bh = (v / scale for v in d.box)
        pad = 0.15 * max(bw, bh) + 2
        x0, y0 = max(0, int(x - pad)), max(0, int(y - pad))
        x1, y1 = min(w, int(x + bw + pad + 1)), min(h, int(y + bh + pad + 1))
        if x1 <= x0 or y1 <= y0:
            continue
        ok, buf = cv2.imencode(".png", image[y0:y1, x0:x1])
        if ok:
            items.append(ReviewItem(f"{stem}.d{i}.png", buf.tobytes(), d.digit))
    return items


def _open_pdf(source: bytes | str) -> Any:
    import pypdfium2 as pdfium

    return pdfium.PdfDocument(source)


def _render_pdf_page(doc: Any, index: int) -> Any:
    """Page ``index`` (0-based) rendered at :data:`PDF_DPI` as an 8-bit grayscale array."""
    page = doc[index]
    try:
        return page.render(scale=PDF_DPI / 72.0, grayscale=True).to_numpy().copy()
    finally:
        page.close()


def _tiff_pages(data: bytes, name: str) -> list[Any] | None:
    """All pages of a TIFF as 8-bit arrays, or None when OpenCV cannot decode it as multi-page."""
    import cv2
    import numpy as np

    from .load import max_pixels, to_8bit

    try:
        ok, mats = cv2.imdecodemulti(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        return None
    if not ok or not mats:
        return None
    limit = max_pixels()
    for m in mats:
        if m.shape[0] * m.shape[1] > limit:
            raise UnreadableInputError(
                f"{name}: a page is {m.shape[1]}x{m.shape[0]} pixels, over the limit of {limit:,}",
                "raise DIGIT_OCR_MAX_PIXELS to read it",
            )
    return [to_8bit(m) for m in mats]


def _error_text(exc: BaseException, source: str) -> str:
    """The message of a per-file error without the file name (the record names the file)."""
    msg = str(exc)
    for prefix in (f"{source}: ", "<bytes>: "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    return msg


def _setup_opencv(threads: int | None) -> None:
    """Once per process: silence OpenCV warnings (a broken file is recorded, not printed); set its threads."""
    global _opencv_ready
    if not _opencv_ready:
        import cv2

        with contextlib.suppress(AttributeError):  # builds without the logging module
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        if threads is not None:
            cv2.setNumThreads(threads)
        _opencv_ready = True


_opencv_ready = False


def process_job(job: Job, options: ReadOptions) -> list[dict[str, Any]]:
    """Read one file; return its records (one per page), each with ``_review`` items if asked.

    Per-file failures become error records; failures that would hit every file (a missing
    engine, a bad model) are raised.
    """
    from .reader import LOW_CONFIDENCE, read_image

    _setup_opencv(options.cv_threads)
    if job.error is not None:
        return [make_record(job.path, None, error=job.error)]

    def read(page: int | None, source: Any, pixels: Any = None, scale: float = 1.0) -> dict[str, Any]:
        try:
            reading = read_image(source, engine=options.engine, model=options.model,
                                 tesseract_timeout=options.timeout)
        except _FATAL:
            raise
        except DigitOcrError as exc:
            return make_record(job.path, page, error=_error_text(exc, job.source))
        except Exception as exc:  # noqa: BLE001 - one odd file must not stop a batch of thousands
            return make_record(job.path, page, error=f"internal error: {type(exc).__name__}: {exc}")
        reading.path = job.path
        record = make_record(job.path, page, reading)
        uncertain = not reading.digits or any(d.confidence < LOW_CONFIDENCE for d in reading.digits)
        if options.review and uncertain:
            if pixels is None:
                from .load import open_image

                loaded = open_image(source)
                pixels, scale = loaded.image, loaded.scale
            record["_review"] = review_items(job.path, page, reading, pixels, scale, LOW_CONFIDENCE)
        return record

    ext = os.path.splitext(job.path)[1].lower()
    try:
        if ext in PDF_EXTENSIONS:
            try:
                import pypdfium2  # noqa: F401
            except ImportError:
                return [make_record(job.path, None, error=f"reading PDF files needs pypdfium2 ({PDF_HINT})")]
            src: bytes | str = job.data if job.data is not None else job.source
            try:
                doc = _open_pdf(src)
                count = len(doc)
            except Exception as exc:  # noqa: BLE001 - pdfium raises its own PdfiumError on bad files
                return [make_record(job.path, None, error=f"not a readable PDF: {exc}")]
            try:
                if count == 0:
                    return [make_record(job.path, None, error="PDF without pages")]
                out = []
                for i in range(1, count + 1):
                    if i in job.skip_pages:
                        continue
                    page = i if count > 1 else None
                    try:
                        pixels = _render_pdf_page(doc, i - 1)
                    except Exception as exc:  # noqa: BLE001 - one bad page must not lose the others
                        out.append(make_record(job.path, page, error=f"cannot render PDF page {i}: {exc}"))
                        continue
                    out.append(read(page, pixels, pixels))
                return out
            finally:
                doc.close()
        from .load import read_bytes

        data = job.data if job.data is not None else read_bytes(job.source)
        if ext in TIFF_EXTENSIONS or data[:4] in (b"II*\x00", b"MM\x00*"):
            from .load import decode

            decode(data, job.source)  # the loader's size and structure checks, on the first page
            pages = _tiff_pages(data, job.source)
            if pages is not None and len(pages) > 1:
                return [read(i, p, p) for i, p in enumerate(pages, 1) if i not in job.skip_pages]
        return [read(None, data)]
    except _FATAL:
        raise
    except DigitOcrError as exc:
        return [make_record(job.path, None, error=_error_text(exc, job.source))]


# --------------------------------------------------------------------------- writing results


def _q(value: str) -> str:
    return '"' + value.replace("\r", " ").replace('"', '""') + '"'


#: A spreadsheet takes a cell that starts with one of these for a formula (or a field separator).
FORMULA_STARTS = frozenset("=+-@\t\r")


def neutralise(value: str) -> str:
    """A CSV cell that no spreadsheet runs as a formula: a text starting with ``= + - @``, a tab or
    a carriage return gets a leading ``'`` (and so does one starting with ``'``, so that
    :func:`restore` gives back exactly the original: a file named ``'=x.jpg`` stays itself)."""
    return "'" + value if value[:1] in FORMULA_STARTS or value[:1] == "'" else value


def restore(cell: str) -> str:
    """The original text of a cell written through :func:`neutralise`."""
    if cell[:1] == "'" and (cell[1:2] in FORMULA_STARTS or cell[1:2] == "'"):
        return cell[1:]
    return cell


def csv_line(record: dict[str, Any]) -> str:
    """One CSV record, CRLF-terminated: text fields quoted and neutralised against formula
    injection (:func:`neutralise`), numbers bare, None empty."""
    cells = []
    for col in COLUMNS:
        v = record.get(col)
        if v is None:
            cells.append("")
        elif isinstance(v, str):
            cells.append(_q(neutralise(v)))
        else:
            cells.append(str(v))
    return ",".join(cells) + "\r\n"


CSV_HEADER = ",".join(COLUMNS) + "\r\n"


def jsonl_line(record: dict[str, Any]) -> str:
    """One JSON Lines record."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}


@dataclass
class ExistingOutput:
    """What an earlier run left: the keys recorded, the bytes that are whole records, and the file size."""

    keys: set[Key]
    good_bytes: int
    size: int
    errors: int = 0

    @property
    def dropped_bytes(self) -> int:
        return self.size - self.good_bytes


def _page(value: Any, where: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        page = int(value)
    except (TypeError, ValueError):
        raise UnreadableInputError(f"{where}: page {value!r} is not a number") from None
    return page


def _chunks(f: Any, terminator: bytes) -> Iterator[tuple[bytes, int]]:
    """Records of a binary file split at ``terminator`` (kept), with each one's start offset."""
    pos = 0
    pending = b""
    for line in f:
        pending += line
        if pending.endswith(terminator):
            yield pending, pos
            pos += len(pending)
            pending = b""
    if pending:
        yield pending, pos


def scan_output(path: str | os.PathLike[str], fmt: str) -> ExistingOutput:
    """Read an earlier run's output: keys of its records and where its last whole record ends.

    A last record without its line terminator (a run killed while writing) is not counted;
    any other malformed record is an error, since appending after it would hide the damage.
    """
    p = Path(path)
    size = p.stat().st_size
    keys: set[Key] = set()
    errors = 0
    good = 0
    term = b"\r\n" if fmt == "csv" else b"\n"
    with open(p, "rb") as f:
        for n, (chunk, start) in enumerate(_chunks(f, term), 1):
            where = f"{p}: record {n}"
            if not chunk.endswith(term):
                break  # the partial tail
            try:
                text = chunk.decode("utf-8")
            except UnicodeDecodeError:
                raise UnreadableInputError(f"{where} is not UTF-8 text", "move the file aside") from None
            if fmt == "csv":
                if n == 1:
                    if text.removeprefix("\ufeff") != CSV_HEADER:
                        raise UnreadableInputError(
                            f"{p}: not a digit-ocr batch CSV (header differs)", "choose another --output"
                        )
                    good = start + len(chunk)
                    continue
                rows = list(csv.reader([text[: -len(term)]]))
                if len(rows) != 1 or len(rows[0]) != len(COLUMNS) or rows[0][7] not in STATUSES:
                    raise UnreadableInputError(f"{where} is malformed", "move the file aside")
                keys.add((restore(rows[0][0]), _page(rows[0][1], where)))
                errors += rows[0][7] == "error"
            else:
                try:
                    obj = json.loads(text)
                except ValueError:
                    obj = None
                valid = isinstance(obj, dict) and isinstance(obj.get("path"), str)
                if not valid or obj.get("status") not in STATUSES:
                    raise UnreadableInputError(
                        f"{where} is not a digit-ocr batch record", "move the file aside"
                    ) from None
                keys.add((obj["path"], _page(obj.get("page"), where)))
                errors += obj["status"] == "error"
            good = start + len(chunk)
    return ExistingOutput(keys, good, size, errors)


class ResultWriter:
    """Append records to a CSV or JSONL file, each one flushed as written, fsync'ed now and then.

    With ``resume`` an existing file is scanned (:attr:`done` holds its keys) and a partial last
    record is cut off; without it an existing non-empty file is refused unless ``overwrite``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fmt: str,
        *,
        resume: bool = False,
        overwrite: bool = False,
        fsync_records: int = FSYNC_RECORDS,
        fsync_seconds: float = FSYNC_SECONDS,
    ) -> None:
        self.path = Path(path)
        self.fmt = fmt
        self.done: set[Key] = set()
        self.done_errors = 0
        self.dropped_bytes = 0
        self.fsync_records, self.fsync_seconds = fsync_records, fsync_seconds
        exists = self.path.is_file() and self.path.stat().st_size > 0
        if self.path.exists() and not self.path.is_file():
            raise BadArgumentsError(f"{self.path}: not a regular file")
        if exists and not resume and not overwrite:
            raise BadArgumentsError(
                f"{self.path} already exists", "add --resume to continue it, or --overwrite to start again"
            )
        if self.path.parent and not self.path.parent.is_dir():
            raise BadArgumentsError(f"{self.path}: folder {self.path.parent} does not exist")
        header = False
        if exists and resume:
            found = scan_output(self.path, fmt)
            self.done = found.keys
            self.done_errors = found.errors
            self.dropped_bytes = found.dropped_bytes
            if found.dropped_bytes:
                os.truncate(self.path, found.good_bytes)
            header = fmt == "csv" and found.good_bytes == 0
        else:
            header = fmt == "csv"
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (0 if resume else os.O_TRUNC)
            self._fd = os.open(self.path, flags, 0o644)
        except OSError as exc:
            raise BadArgumentsError(f"{self.path}: cannot write ({exc.strerror or exc})") from None
        self._unsynced = 0
        self._last_sync = time.monotonic()
        if header:
            self._write(("\ufeff" + CSV_HEADER).encode("utf-8"))
            self.sync()

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]

    def write(self, record: dict[str, Any]) -> None:
        """Append one record (its ``_``-prefixed keys are dropped)."""
        rec = _public(record)
        line = csv_line(rec) if self.fmt == "csv" else jsonl_line(rec)
        self._write(line.encode("utf-8"))
        self._unsynced += 1
        if self._unsynced >= self.fsync_records or time.monotonic() - self._last_sync >= self.fsync_seconds:
            self.sync()

    def sync(self) -> None:
        """Force what was written onto the disk."""
        os.fsync(self._fd)
        self._unsynced = 0
        self._last_sync = time.monotonic()

    def close(self) -> None:
        if self._fd < 0:
            return
        try:
            self.sync()
        finally:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ReviewWriter:
    """Save review images into a folder and list them in its ``labels.csv`` (``file,label``).

    Rows already in an existing ``labels.csv`` are not written again (a resumed batch).
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadArgumentsError(f"--review {folder}: cannot create ({exc.strerror or exc})") from None
        self.labels = self.folder / REVIEW_LABELS
        self.listed: set[str] = set()
        if self.labels.is_file():
            self._cut_partial_row()
        new = not self.labels.is_file() or self.labels.stat().st_size == 0
        if not new:
            with open(self.labels, newline="", encoding="utf-8", errors="replace") as f:
                for row in csv.reader(f):
                    if row and row[0] != "file":
                        self.listed.add(row[0])
        self._f = open(self.labels, "a", newline="", encoding="utf-8")  # noqa: SIM115 - closed in close()
        if new:
            self._f.write("file,label\r\n")
            self._f.flush()
        self.count = 0

    def _cut_partial_row(self) -> None:
        """Drop a row cut off by a killed run (its image is read again, so its row comes back)."""
        with open(self.labels, "rb") as f:
            data = f.read()
        if data and not data.endswith(b"\n"):
            os.truncate(self.labels, data.rfind(b"\n") + 1)

    def add(self, items: Iterable[ReviewItem]) -> None:
        for item in items:
            (self.folder / item.name).write_bytes(item.png)
            if item.name not in self.listed:
                self._f.write(f"{_q(item.name)},{_q(item.label)}\r\n")
                self.listed.add(item.name)
            self.count += 1
        self._f.flush()

    def close(self) -> None:
        self._f.close()


# --------------------------------------------------------------------------- the report


@dataclass
class BatchReport:
    """Counts of a batch run, its exit code and a one-line summary.

    Files without digits do not fail a batch: they are recorded as ``no_digits`` and the exit
    code stays 0. Errors (unreadable files) give 123, an interruption 130. A resumed run
    counts the errors already in the output (``skipped_failed``), so that it exits as one
    uninterrupted run would have.
    """

    read: int = 0
    no_digits: int = 0
    failed: int = 0
    files: int = 0
    skipped: int = 0
    skipped_failed: int = 0
    digits: int = 0
    low_confidence: int = 0
    review_items: int = 0
    interrupted: bool = False
    low_threshold: float = 0.60
    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None

    def add(self, record: dict[str, Any]) -> None:
        """Count one record."""
        status = record.get("status")
        if status == "error":
            self.failed += 1
            return
        if status == "ok":
            self.read += 1
        else:
            self.no_digits += 1
        self.digits += int(record.get("digits") or 0)
        detail = record.get("reading") or {}
        for line in detail.get("lines", ()):
            self.low_confidence += sum(1 for d in line["digits"] if d["confidence"] < self.low_threshold)

    @property
    def records(self) -> int:
        return self.read + self.no_digits + self.failed

    @property
    def elapsed(self) -> float:
        return (self.finished if self.finished is not None else time.perf_counter()) - self.started

    @property
    def rate(self) -> float:
        """Records per second."""
        return self.records / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def exit_code(self) -> ExitCode:
        if self.interrupted:
            return ExitCode.INTERRUPTED
        if self.failed or self.skipped_failed:
            return ExitCode.SOME_FILES_FAILED
        return ExitCode.OK

    def summary(self) -> str:
        def n(count: int, word: str) -> str:
            return f"{count} {word}{'' if count == 1 else 's'}"

        parts = [
            f"{n(self.records, 'image')} in {n(self.files, 'file')}: {self.read} read, "
            f"{self.no_digits} without digits, {self.failed} failed",
            f"{n(self.digits, 'digit')} ({self.low_confidence} low-confidence)",
        ]
        if self.skipped:
            earlier = f", {self.skipped_failed} of them failed" if self.skipped_failed else ""
            parts.append(f"{self.skipped} already done{earlier}")
        if self.review_items:
            parts.append(f"{self.review_items} for review")
        parts.append(f"{self.elapsed:.1f}s ({self.rate:.1f} images/s)")
        text = "; ".join(parts)
        return f"interrupted after {text}" if self.interrupted else text


# --------------------------------------------------------------------------- running


def _parallel(jobs: Iterable[Job], options: ReadOptions, n_jobs: int) -> Iterator[list[dict[str, Any]]]:
    if n_jobs == 1:
        for job in jobs:
            yield process_job(job, options)
        return
    from joblib import Parallel, delayed

    yield from Parallel(n_jobs=n_jobs, return_as="generator")(delayed(process_job)(j, options) for j in jobs)


def connect_dask(address: str, timeout: float = 10.0) -> Any:
    """A ``distributed.Client`` on the scheduler at ``address``."""
    try:
        from distributed import Client
    except ImportError:
        raise MissingDependencyError("--scheduler needs dask.distributed", DASK_HINT) from None
    try:
        return Client(address, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise BadArgumentsError(
            f"cannot reach the dask scheduler at {address}: {exc}",
            "check --scheduler / DASK_SCHEDULER_ADDRESS",
        ) from None


def _on_dask(
    jobs: Iterable[Job], options: ReadOptions, n_jobs: int, client: Any
) -> Iterator[list[dict[str, Any]]]:
    from joblib import Parallel, delayed, parallel_config

    with parallel_config(backend="dask", client=client, wait_for_workers_timeout=30):
        tasks = (delayed(process_job)(j, options) for j in jobs)
        yield from Parallel(n_jobs=n_jobs, return_as="generator")(tasks)


def run_batch(
    folder: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    recursive: bool = False,
    globs: Iterable[str] = (),
    n_jobs: int = -1,
    engine: str = "auto",
    model: Any = None,
    timeout: float = 10.0,
    review: str | os.PathLike[str] | None = None,
    scheduler: str | None = None,
    report: BatchReport | None = None,
    on_start: Callable[[int | None, ResultWriter], None] | None = None,
    on_file: Callable[[list[dict[str, Any]]], None] | None = None,
    count_first: bool = False,
) -> BatchReport:
    """Read every image under ``folder`` into ``output``; return the :class:`BatchReport`.

    ``on_start(total, writer)`` is called once the output is open (``total``: files still to
    read when ``count_first``, else None); ``on_file(records)`` after each file is written.
    Ctrl-C stops the run cleanly: the report says ``interrupted`` and the file stays valid.
    """
    from .reader import ENGINES, LOW_CONFIDENCE, get_model

    report = report or BatchReport()
    report.low_threshold = LOW_CONFIDENCE
    fmt = format_for(output, fmt)
    if engine not in ENGINES:
        raise BadArgumentsError(f"unknown engine {engine!r}", f"choose one of {', '.join(ENGINES)}")
    if timeout <= 0:
        raise BadArgumentsError("--timeout must be positive")
    if resume and overwrite:
        raise BadArgumentsError("--resume and --overwrite contradict each other", "choose one")
    if n_jobs == 0 or n_jobs < -1:
        raise BadArgumentsError(f"--jobs must be a positive number or -1 (all cores), not {n_jobs}")
    if not Path(folder).is_dir():
        raise BadArgumentsError(f"{folder}: not a folder")
    client = connect_dask(scheduler) if scheduler else None
    try:
        loaded = get_model(model) if engine != "tesseract" else None  # fails fast on a bad model
        if engine == "tesseract":
            from ._exec import tesseract

            tesseract.version()  # fails fast without a usable tesseract
        # Local workers load the model file themselves, once per process; remote ones get it sent.
        model_arg = loaded if client is not None else (None if model is None else str(model))
        # One OpenCV thread per worker, --jobs 1 too: a page's operations are too small for
        # OpenCV's threads to pay for their hand-offs (wall time and CPU both grow with them).
        options = ReadOptions(engine, model_arg, timeout, review is not None, cv_threads=1)
        exclude = [output] + ([review] if review is not None else [])
        writer = ResultWriter(output, fmt, resume=resume, overwrite=overwrite)
        try:
            reviewer = ReviewWriter(review) if review is not None else None
            report.skipped = len(writer.done)
            report.skipped_failed = writer.done_errors
            walk = {"recursive": recursive, "globs": tuple(globs), "done": writer.done, "exclude": exclude}
            total = sum(1 for _ in iter_jobs(folder, **walk)) if count_first else None
            if on_start is not None:
                on_start(total, writer)
            jobs = iter_jobs(folder, **walk, send_bytes=client is not None)
            results = _on_dask(jobs, options, n_jobs, client) if client is not None else _parallel(
                jobs, options, n_jobs
            )
            try:
                for records in results:
                    for rec in records:
                        items = rec.pop("_review", None)
                        if items and reviewer is not None:
                            reviewer.add(items)
                            report.review_items += len(items)
                        writer.write(rec)
                        report.add(rec)
                    report.files += 1
                    if on_file is not None:
                        on_file(records)
            except KeyboardInterrupt:
                report.interrupted = True
            finally:
                if reviewer is not None:
                    reviewer.close()
        finally:
            writer.close()
    finally:
        if client is not None:
            client.close()
    report.finished = time.perf_counter()
    return report
