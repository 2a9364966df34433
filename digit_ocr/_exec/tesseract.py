"""Run the external ``tesseract`` binary on an image and read back digits with boxes and confidences.

One subprocess call per image: the image is PNG-encoded in memory and piped on stdin, and the
hOCR output (``hocr_char_boxes=1``) is parsed with :mod:`html.parser` into per-character results.
pytesseract is not used, so importing this module costs nothing beyond the standard library.
"""

from __future__ import annotations

import contextlib
import functools
import html.parser
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import BadArgumentsError, DigitOcrError, ExitCode, MissingDependencyError
from . import tesserocr_api

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "MIN_VERSION",
    "TessChar",
    "TesseractError",
    "find_tesseract",
    "parse_hocr",
    "parse_version",
    "read_digits",
    "read_text",
    "version",
]

#: Environment variables naming the tesseract executable, checked in this order.
ENV_OVERRIDES = ("DIGIT_OCR_TESSERACT", "TESSERACT_CMD")
#: ``tessedit_char_whitelist`` is honoured by the LSTM engine from 4.1 on.
MIN_VERSION = (4, 1, 0)
#: Border added around the image, of the colour of the image's own edge when that is light (its
#: paper), else white: Tesseract misses glyphs that touch the edge, and a white border around
#: grey paper makes it take the whole page for ink (it then reads nothing).
PAD = 10
DIGITS = "0123456789"

_INSTALL_HINT = (
    "install Tesseract 4.1 or newer: `apt-get install tesseract-ocr` or `brew install tesseract`, "
    "or point DIGIT_OCR_TESSERACT at the executable"
)
_LANG_HINT = "install the English model: `apt-get install tesseract-ocr-eng` (brew's tesseract includes it)"
_VERSION_RE = re.compile(r"tesseract\s+v?(\d+)\.(\d+)(?:\.(\d+))?", re.IGNORECASE)
_BARE_VERSION_RE = re.compile(r"^\s*v?(\d+)\.(\d+)(?:\.(\d+))?")
_LINE_CLASSES = frozenset({"ocr_line", "ocr_header", "ocr_textfloat", "ocr_caption"})
#: stderr lines that say nothing about what went wrong.
_NOISE = re.compile(
    r"^(error during processing\.?|empty page!*|estimating resolution as \d+|"
    r"warning: invalid resolution .*|detected \d+ diacritics)$",
    re.IGNORECASE,
)


class TesseractError(DigitOcrError):
    """The tesseract process failed, crashed, timed out or wrote output that cannot be parsed."""

    exit_code = ExitCode.ENGINE_FAILED


@dataclass(frozen=True)
class TessChar:
    """One recognised digit: the character, Tesseract's confidence in 0..1, and its (x, y, w, h) box."""

    char: str
    conf: float
    box: tuple[int, int, int, int]


# --------------------------------------------------------------------------- locating and versioning


def find_tesseract() -> str | None:
    """The tesseract executable to run, or None when there is none.

    ``DIGIT_OCR_TESSERACT`` (then ``TESSERACT_CMD``) overrides the PATH lookup; an override that does
    not name an executable gives None rather than silently falling back to PATH.
    """
    for var in ENV_OVERRIDES:
        value = os.environ.get(var, "").strip()
        if value:
            if os.sep in value or (os.altsep and os.altsep in value):
                return value if os.path.isfile(value) and os.access(value, os.X_OK) else None
            return shutil.which(value)
    return shutil.which("tesseract")


def _require_tesseract() -> str:
    exe = find_tesseract()
    if exe is not None:
        return exe
    for var in ENV_OVERRIDES:
        value = os.environ.get(var, "").strip()
        if value:
            raise MissingDependencyError(
                f"tesseract not found: {var}={value} is not an executable", _INSTALL_HINT
            )
    raise MissingDependencyError("tesseract not found on PATH", _INSTALL_HINT)


def parse_version(text: str) -> tuple[int, int, int] | None:
    """Parse ``tesseract --version`` output ("tesseract 5.3.0", "tesseract v5.0.0-alpha-20201231", ...)."""
    match = _VERSION_RE.search(text) or _BARE_VERSION_RE.search(text)
    if match is None:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


@functools.lru_cache(maxsize=8)
def _version_at(exe: str) -> tuple[int, int, int]:
    proc = _run([exe, "--version"], b"", timeout=10.0)
    # 3.x/4.0 print the version on stderr, later releases on stdout.
    text = proc.stdout.decode("utf-8", "replace") + "\n" + proc.stderr.decode("utf-8", "replace")
    found = parse_version(text)
    if found is None:
        raise MissingDependencyError(
            f"{exe} is not a working tesseract: `--version` printed {_last_line(text) or 'nothing'!r}",
            _INSTALL_HINT,
        )
    if found < MIN_VERSION:
        have = ".".join(map(str, found))
        raise MissingDependencyError(
            f"tesseract {have} at {exe} is too old; digit-ocr needs 4.1 or newer", _INSTALL_HINT
        )
    return found


def version() -> tuple[int, int, int]:
    """The (major, minor, patch) version of the tesseract that would run; cached per executable.

    Raises :class:`MissingDependencyError` when tesseract is missing, broken or older than 4.1.
    """
    return _version_at(_require_tesseract())


# --------------------------------------------------------------------------- running


def _run(args: list[str], data: bytes, *, timeout: float) -> subprocess.CompletedProcess[bytes]:
    """Run ``args`` with ``data`` on stdin; on timeout kill its whole process group."""
    env = dict(os.environ)
    # OpenMP threads make one small page ~2x slower, not faster.
    env.setdefault("OMP_THREAD_LIMIT", "1")
    posix = os.name == "posix"
    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=posix,
        )
    except OSError as exc:
        raise MissingDependencyError(f"cannot run {args[0]}: {exc.strerror or exc}", _INSTALL_HINT) from None
    with proc:
        try:
            out, err = proc.communicate(data, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(proc, posix)
            raise TesseractError(f"tesseract timed out after {timeout:g}s") from None
        except BaseException:  # KeyboardInterrupt: the child is in its own session and did not get it
            _kill(proc, posix)
            raise
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def _kill(proc: subprocess.Popen[bytes], posix: bool) -> None:
    if posix:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.kill()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    proc.wait()


def _last_line(text: str) -> str:
    """The last line of tesseract's chatter that says something, shortened to one line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    meaningful = [line for line in lines if not _NOISE.match(line)]
    line = (meaningful or lines or [""])[-1]
    return line if len(line) <= 200 else line[:197] + "..."


def _failure(proc: subprocess.CompletedProcess[bytes]) -> DigitOcrError:
    stderr = proc.stderr.decode("utf-8", "replace")
    detail = _last_line(stderr)
    if "failed loading language" in stderr.lower() or "error opening data file" in stderr.lower():
        return MissingDependencyError(f"tesseract cannot load its English model: {detail}", _LANG_HINT)
    if proc.returncode < 0:
        try:
            name = signal.Signals(-proc.returncode).name
        except ValueError:
            name = f"signal {-proc.returncode}"
        what = f"tesseract crashed ({name})"
    else:
        what = f"tesseract failed (exit status {proc.returncode})"
    return TesseractError(f"{what}: {detail}" if detail else what)


# --------------------------------------------------------------------------- hOCR parsing


def _title_field(title: str, key: str) -> list[str] | None:
    """The values of ``key`` in an hOCR ``title`` ("bbox 1 2 3 4; x_conf 97.1" -> ["1", "2", "3", "4"])."""
    for part in title.split(";"):
        fields = part.split()
        if fields and fields[0] == key:
            return fields[1:]
    return None


_Entry = tuple[str, list[str] | None, float | None]  # (text, x0 y0 x1 y1 strings, conf 0..100)


class _HocrParser(html.parser.HTMLParser):
    """Collect ``ocrx_cinfo`` characters, grouped by hOCR line, as (text, bbox, conf) entries.

    A word without ``ocrx_cinfo`` children (a build that ignores ``hocr_char_boxes``) becomes one
    entry with the word's box and ``x_wconf``.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.saw_page = False
        self.lines: list[list[_Entry]] = []
        self._stack: list[tuple[str, str]] = []  # (tag, hOCR class)
        self._line: list[_Entry] | None = None
        self._word: tuple[list[str] | None, float | None] | None = None  # (bbox, conf)
        self._word_text: list[str] = []
        self._word_has_chars = False
        self._char: tuple[list[str] | None, float | None] | None = None
        self._char_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        cls = (attr.get("class") or "").split()
        kind = cls[0] if cls else ""
        title = attr.get("title") or ""
        self._stack.append((tag, kind))
        if kind == "ocr_page":
            self.saw_page = True
        elif kind in _LINE_CLASSES:
            self._line = []
        elif kind == "ocrx_word":
            self._word = (_title_field(title, "bbox"), _title_conf(title, "x_wconf"))
            self._word_text = []
            self._word_has_chars = False
        elif kind == "ocrx_cinfo":
            conf = _title_conf(title, "x_conf")
            if conf is None and self._word is not None:
                conf = self._word[1]
            self._char = (_title_field(title, "x_bboxes"), conf)
            self._char_text = []
            self._word_has_chars = True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass  # <meta/>, <br/>: nothing to collect

    def handle_data(self, data: str) -> None:
        if self._char is not None:
            self._char_text.append(data)
        elif self._word is not None:
            self._word_text.append(data)

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            open_tag, kind = self._stack.pop()
            self._close(kind)
            if open_tag == tag:
                break

    def close(self) -> None:
        super().close()
        while self._stack:
            self._close(self._stack.pop()[1])

    def _close(self, kind: str) -> None:
        if kind == "ocrx_cinfo" and self._char is not None:
            if self._line is not None:
                self._line.append(("".join(self._char_text), *self._char))
            self._char = None
        elif kind == "ocrx_word" and self._word is not None:
            text = "".join(self._word_text).strip()
            if not self._word_has_chars and text and self._line is not None:
                self._line.append((text, *self._word))
            self._word = None
        elif kind in _LINE_CLASSES and self._line is not None:
            self.lines.append(self._line)
            self._line = None


def _title_conf(title: str, key: str) -> float | None:
    values = _title_field(title, key)
    return _to_float(values[0]) if values else None


def _to_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def parse_hocr(text: str, *, shift: int = 0, size: tuple[int, int] | None = None) -> list[list[TessChar]]:
    """Turn hOCR with ``hocr_char_boxes=1`` into lines of digit :class:`TessChar`.

    Boxes are moved by ``-shift`` pixels and, when ``size`` (width, height) is given, clipped to it.
    Non-digit characters and lines left empty are dropped.
    """
    parser = _HocrParser()
    try:
        parser.feed(text)
        parser.close()
    except Exception as exc:  # html.parser is lenient; anything it raises means garbage
        raise TesseractError(f"tesseract wrote unreadable hOCR: {exc}") from None
    if not parser.saw_page:
        snippet = _last_line(text[:500]) or "no output"
        raise TesseractError(f"tesseract wrote no hOCR page: {snippet!r}")
    lines: list[list[TessChar]] = []
    for raw_line in parser.lines:
        line: list[TessChar] = []
        for chars, bbox, conf in raw_line:
            digits = [c for c in chars if c in DIGITS]
            if not digits:
                continue
            try:
                x0, y0, x1, y1 = (int(v) for v in bbox or ())
            except ValueError:
                raise TesseractError(f"tesseract wrote a bad character box: {bbox!r}") from None
            x0, y0, x1, y1 = x0 - shift, y0 - shift, x1 - shift, y1 - shift
            if size is not None:
                width, height = size
                x0, y0 = min(max(x0, 0), width - 1), min(max(y0, 0), height - 1)
                x1, y1 = min(max(x1, x0 + 1), width), min(max(y1, y0 + 1), height)
            score = min(max((conf or 0.0) / 100.0, 0.0), 1.0)
            # A word without character boxes (or a multi-character cinfo) is split evenly.
            step = (x1 - x0) / len(digits)
            for i, digit in enumerate(digits):
                left, right = x0 + round(i * step), x0 + round((i + 1) * step)
                line.append(TessChar(digit, score, (left, y0, max(right - left, 1), max(y1 - y0, 1))))
        if line:
            lines.append(line)
    return lines


# --------------------------------------------------------------------------- public entry points


def _check_args(psm: int, timeout: float, dpi: int) -> None:
    if psm not in range(1, 14) or psm == 2:
        raise BadArgumentsError(f"tesseract page segmentation mode must be 1 or 3..13, not {psm}")
    if not timeout > 0:
        raise BadArgumentsError(f"tesseract timeout must be positive, not {timeout}")
    if not 70 <= dpi <= 2400:
        raise BadArgumentsError(f"tesseract DPI hint must be in 70..2400, not {dpi}")


def _pad(image: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """Pad an 8-bit gray/BGR(A) image with the median colour of its edge; also return its (width, height)."""
    import cv2
    import numpy as np

    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError(f"expected an 8-bit image array, got {getattr(image, 'dtype', type(image))}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise ValueError(f"expected a gray or BGR image, got shape {image.shape}")
    height, width = image.shape[:2]
    if height == 0 or width == 0:
        raise ValueError("empty image")
    edge = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    paper = np.median(edge, axis=0)
    if float(np.mean(paper)) < 128:  # light ink on a dark ground: Tesseract reads it better on white
        paper = np.full_like(paper, 255)
    value = int(paper) if image.ndim == 2 else tuple(int(v) for v in paper)
    return cv2.copyMakeBorder(image, PAD, PAD, PAD, PAD, cv2.BORDER_CONSTANT, value=value), (width, height)


def _encode(image: np.ndarray) -> tuple[bytes, tuple[int, int]]:
    """Pad an 8-bit gray/BGR(A) image with white and PNG-encode it; also return its (width, height)."""
    import cv2

    padded, size = _pad(image)
    ok, buf = cv2.imencode(".png", padded, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise TesseractError("could not encode the image as PNG for tesseract")
    return buf.tobytes(), size


def read_digits(
    image: np.ndarray, *, psm: int = 6, timeout: float = 10.0, dpi: int = 300
) -> list[list[TessChar]]:
    """Read the digits in ``image`` (8-bit gray or BGR) with one tesseract call.

    Returns the text lines top to bottom, each a list of :class:`TessChar` with boxes in ``image``'s
    pixel coordinates. Raises :class:`MissingDependencyError` (no/old tesseract, no English model)
    or :class:`TesseractError` (timeout, failure, crash, unparseable output).
    """
    _check_args(psm, timeout, dpi)
    exe = _require_tesseract()
    _version_at(exe)
    if tesserocr_api.use_in_process(binary_named=any(os.environ.get(v, "").strip() for v in ENV_OVERRIDES)):
        padded, size = _pad(image)
        hocr = tesserocr_api.read_hocr(padded, psm=psm, dpi=dpi, timeout=timeout)
        return parse_hocr(hocr, shift=PAD, size=size)
    data, size = _encode(image)
    args = [
        exe, "-", "-",
        "-l", "eng",
        "--psm", str(psm),
        "--dpi", str(dpi),
        "-c", f"tessedit_char_whitelist={DIGITS}",
        "-c", "load_system_dawg=0",
        "-c", "load_freq_dawg=0",
        "-c", "tessedit_create_hocr=1",
        "-c", "hocr_char_boxes=1",
    ]  # fmt: skip
    proc = _run(args, data, timeout=timeout)
    if proc.returncode != 0:
        raise _failure(proc)
    return parse_hocr(proc.stdout.decode("utf-8", "replace"), shift=PAD, size=size)


def read_text(image: np.ndarray, *, psm: int = 6, timeout: float = 10.0) -> str:
    """The digits Tesseract reads in ``image``, one line of text per line found, joined by newlines."""
    return "\n".join("".join(c.char for c in line) for line in read_digits(image, psm=psm, timeout=timeout))
