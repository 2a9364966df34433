"""Load stage: decode an image file (or accept an array) into an 8-bit BGR or grayscale array.

Input may be hostile, so: only regular files are opened (a FIFO or device would block or never end),
and no larger than an image within the pixel limit can be; only formats whose header states the
image size are handed to a codec, and a size over the limit is refused before anything is
decoded (a decompression bomb declares a huge size in a tiny file); what the C codecs print on
stderr is captured and folded into the one-line error (or a warning) instead of leaking out.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import struct
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .errors import UnreadableInputError

#: Images with more pixels than this are refused before they are decoded in full
#: (a decompression bomb declares a huge size in a tiny file). Override with
#: the ``DIGIT_OCR_MAX_PIXELS`` environment variable.
DEFAULT_MAX_PIXELS = 80_000_000
#: Photos larger than this are decoded at 1/2, 1/4 or 1/8 size when the codec allows it.
WORKING_PIXELS = 6_000_000
#: A file may hold at most this many bytes per allowed pixel (16-bit RGBA, uncompressed), plus
#: :data:`FILE_SLACK` for metadata: anything larger cannot be an image within the pixel limit.
MAX_BYTES_PER_PIXEL = 8
FILE_SLACK = 16 << 20
#: Capture what libpng, libjpeg, libtiff and OpenCV print on stderr while decoding (they write to
#: file descriptor 2 directly). Decodes are then serialised by a lock; set False to leave fd 2 alone.
CAPTURE_CODEC_MESSAGES = True

_JPEG_MAGIC = b"\xff\xd8\xff"
_FORMAT_NAMES = {
    "png": "PNG", "jpeg": "JPEG", "gif": "GIF", "bmp": "BMP", "webp": "WebP", "tiff": "TIFF",
    "pnm": "PNM", "pfm": "PFM", "sunras": "Sun raster", "hdr": "Radiance HDR", "jp2": "JPEG 2000",
    "j2k": "JPEG 2000", "avif": "AVIF",
}  # fmt: skip
#: Recognised but not decodable here: (name, fix).
_UNSUPPORTED = {
    "heic": ("HEIC/HEIF", "convert it to JPEG or PNG"),
    "pdf": ("PDF", "export the page as PNG"),
    "exr": ("OpenEXR", "convert it to PNG or TIFF"),
    "svg": ("SVG", "render it to PNG"),
}
_CHATTER_PREFIX = re.compile(r"^\[\s*\w+:\d+@[\d.]+\]\s+(global\s+)?\S+\s+\S+\s+")
_JPEG_CORRUPT = re.compile(r"corrupt jpeg data|premature end of jpeg", re.IGNORECASE)
_stderr_lock = threading.Lock()


@dataclass
class LoadedImage:
    """A decoded image, the factor from its pixels back to the original file's pixels, and load warnings."""

    image: np.ndarray
    scale: float = 1.0
    warnings: list[str] = field(default_factory=list)

    @property
    def original_size(self) -> tuple[int, int]:
        h, w = self.image.shape[:2]
        return int(round(w * self.scale)), int(round(h * self.scale))


def max_pixels() -> int:
    """The configured pixel limit."""
    value = os.environ.get("DIGIT_OCR_MAX_PIXELS", "")
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_MAX_PIXELS


def max_file_bytes() -> int:
    """The largest file :func:`read_bytes` reads: the pixel limit at 8 bytes a pixel, plus 16 MiB."""
    return max_pixels() * MAX_BYTES_PER_PIXEL + FILE_SLACK


# --------------------------------------------------------------------------- reading files


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """Read a regular file's bytes; every failure is a one-line :class:`UnreadableInputError`.

    FIFOs, sockets and devices are refused without blocking (``O_NONBLOCK``, then ``fstat`` on
    the opened descriptor, so a file swapped after a check cannot slip through), and so are files
    larger than :func:`max_file_bytes`.
    """
    p = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        if p.is_dir():
            raise UnreadableInputError(f"{p}: is a directory, not an image file")
        fd = os.open(p, flags)
    except UnreadableInputError:
        raise
    except FileNotFoundError:
        raise UnreadableInputError(f"{p}: no such file") from None
    except PermissionError:
        raise UnreadableInputError(f"{p}: permission denied") from None
    except OSError as exc:
        raise UnreadableInputError(f"{p}: cannot read ({exc.strerror or exc})") from None
    limit = max_file_bytes()
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise UnreadableInputError(f"{p}: is a directory, not an image file")
        if not stat.S_ISREG(st.st_mode):
            raise UnreadableInputError(f"{p}: not a regular file (a device, FIFO or socket)")
        if st.st_size > limit:
            raise UnreadableInputError(
                f"{p}: file is {st.st_size:,} bytes, too large for an image within the pixel limit",
                "raise DIGIT_OCR_MAX_PIXELS to read it",
            )
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(st.st_size + 1)  # read(n) allocates n bytes up front: never more than the file
    except UnreadableInputError:
        raise
    except OSError as exc:
        raise UnreadableInputError(f"{p}: cannot read ({exc.strerror or exc})") from None
    except MemoryError:
        raise UnreadableInputError(f"{p}: not enough memory to read {st.st_size:,} bytes") from None
    finally:
        os.close(fd)
    if not data:
        raise UnreadableInputError(f"{p}: empty file (0 bytes)")
    if len(data) > st.st_size:
        raise UnreadableInputError(f"{p}: the file changed while it was being read")
    return data


# --------------------------------------------------------------------------- sniffing headers


def image_format(data: bytes) -> str | None:
    """The format named by the first bytes ("png", "jpeg", "tiff", ...); None when unknown.

    Formats recognised but not decodable here ("heic", "pdf", "exr", "svg") are named too.
    """
    head = data[:16]
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:3] == _JPEG_MAGIC:
        return "jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:2] == b"BM":
        return "bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if len(head) >= 3 and head[:1] == b"P" and head[1] in b"1234567" and head[2:3].isspace():
        return "pnm"
    if head[:2] in (b"PF", b"Pf") and head[2:3].isspace():
        return "pfm"
    if head[:4] == b"\x59\xa6\x6a\x95":
        return "sunras"
    if head[:6] == b"#?RGBE" or head[:10] == b"#?RADIANCE":
        return "hdr"
    if head[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n":
        return "jp2"
    if head[:4] == b"\xff\x4f\xff\x51":
        return "j2k"
    if head[4:8] == b"ftyp":
        brands = data[8 : min(len(data), 8 + max(0, int.from_bytes(head[:4], "big") - 8))]
        if b"avif" in brands or b"avis" in brands:
            return "avif"
        if any(b in brands for b in (b"heic", b"heix", b"mif1", b"msf1", b"heis", b"hevc")):
            return "heic"
    if head[:5] == b"%PDF-":
        return "pdf"
    if head[:4] == b"\x76\x2f\x31\x01":
        return "exr"
    if b"<svg" in data[:512].lower():
        return "svg"
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the header of any decodable format, without decoding; None if unknown."""
    try:
        return _SIZERS[image_format(data) or ""](data)
    except (KeyError, IndexError, ValueError, OverflowError, struct.error):
        return None


def _png_size(data: bytes) -> tuple[int, int] | None:
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _gif_size(data: bytes) -> tuple[int, int] | None:
    if len(data) < 10:
        return None
    return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")


def _bmp_size(data: bytes) -> tuple[int, int] | None:
    if len(data) < 26:
        return None
    if int.from_bytes(data[14:18], "little") == 12:  # OS/2 BITMAPCOREHEADER: 16-bit fields
        return int.from_bytes(data[18:20], "little"), int.from_bytes(data[20:22], "little")
    w = int.from_bytes(data[18:22], "little", signed=True)
    h = int.from_bytes(data[22:26], "little", signed=True)
    return abs(w), abs(h)


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and len(data) >= 30:
        return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i, n = 2, len(data)
    while i + 9 < n:
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(data[i + 5 : i + 7], "big")
        i += 2 + length
    return None


def _tiff_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of the first page (the one a single-image decode reads), classic or BigTIFF."""
    e = "<" if data[:2] == b"II" else ">"
    big = struct.unpack_from(e + "H", data, 2)[0] == 43
    if big:
        offset = struct.unpack_from(e + "Q", data, 8)[0]
        count, entry, head, inline = struct.unpack_from(e + "Q", data, offset)[0], 20, 8, 12
    else:
        offset = struct.unpack_from(e + "I", data, 4)[0]
        count, entry, head, inline = struct.unpack_from(e + "H", data, offset)[0], 12, 2, 8
    found: dict[int, int] = {}
    for k in range(min(count, 4096)):
        at = offset + head + k * entry
        tag, typ = struct.unpack_from(e + "HH", data, at)
        if tag in (256, 257):
            fmt = {3: "H", 4: "I", 16: "Q"}.get(typ)
            if fmt is None:
                return None
            found[tag] = struct.unpack_from(e + fmt, data, at + inline)[0]
    if 256 in found and 257 in found:
        return found[256], found[257]
    return None


def _header_tokens(data: bytes, skip: int, count: int) -> list[int]:
    """The first ``count`` integers of a Netpbm-style header after ``skip`` bytes (``#`` comments allowed)."""
    text = re.sub(rb"#[^\n\r]*", b" ", data[skip:1024])
    return [int(t) for t in text.split()[:count]]


def _pnm_size(data: bytes) -> tuple[int, int] | None:
    if data[1:2] == b"7":  # PAM: "WIDTH n" and "HEIGHT n" lines
        w = re.search(rb"\bWIDTH\s+(\d+)", data[:1024])
        h = re.search(rb"\bHEIGHT\s+(\d+)", data[:1024])
        return (int(w.group(1)), int(h.group(1))) if w and h else None
    w, h = _header_tokens(data, 2, 2)
    return w, h


def _pfm_size(data: bytes) -> tuple[int, int] | None:
    w, h = _header_tokens(data, 2, 2)
    return w, h


def _sunras_size(data: bytes) -> tuple[int, int] | None:
    return int.from_bytes(data[4:8], "big"), int.from_bytes(data[8:12], "big")


def _hdr_size(data: bytes) -> tuple[int, int] | None:
    m = re.search(rb"\n([-+])([XY]) +(\d+) +([-+])([XY]) +(\d+)", data[:4096])
    if m is None:
        return None
    first, second = int(m.group(3)), int(m.group(6))
    return (second, first) if m.group(2) == b"Y" else (first, second)


def _j2k_size(data: bytes) -> tuple[int, int] | None:
    """Image size from the SIZ marker of a JPEG 2000 codestream (bare, or inside a JP2 file)."""
    at = data.find(b"\xff\x4f\xff\x51")
    if at < 0:
        return None
    xsiz, ysiz, x0, y0 = struct.unpack_from(">IIII", data, at + 8)
    return max(0, xsiz - x0), max(0, ysiz - y0)


def _avif_size(data: bytes) -> tuple[int, int] | None:
    """The largest ``ispe`` (image spatial extents) property: the grid or primary image."""
    best: tuple[int, int] | None = None
    at = data.find(b"ispe")
    for _ in range(64):
        if at < 0 or at + 16 > len(data):
            break
        w, h = struct.unpack_from(">II", data, at + 8)
        if best is None or w * h > best[0] * best[1]:
            best = (w, h)
        at = data.find(b"ispe", at + 4)
    return best


_SIZERS = {
    "png": _png_size, "jpeg": _jpeg_size, "gif": _gif_size, "bmp": _bmp_size, "webp": _webp_size,
    "tiff": _tiff_size, "pnm": _pnm_size, "pfm": _pfm_size, "sunras": _sunras_size, "hdr": _hdr_size,
    "jp2": _j2k_size, "j2k": _j2k_size, "avif": _avif_size,
}  # fmt: skip


# --------------------------------------------------------------------------- structure checks
# Some codecs trust a length field and allocate it before they read: checked here first.


def _no_check(data: bytes) -> str:
    return ""


def _png_check(data: bytes) -> str:
    """Every chunk must fit in the file (OpenCV 5.0 allocates a chunk's declared length up front)."""
    i, n = 8, len(data)
    while i < n:
        if i + 12 > n:
            return "the file ends inside a chunk header"
        length, kind = int.from_bytes(data[i : i + 4], "big"), data[i + 4 : i + 8]
        if length > 0x7FFFFFFF or i + 12 + length > n:
            return f"chunk {kind.decode('latin-1')!r} claims {length:,} bytes, {max(0, n - i - 12):,} remain"
        if kind == b"IEND":
            return ""
        i += 12 + length
    return ""  # no IEND: the codec decides


_STRUCTURE_CHECKS = {"png": _png_check}


# --------------------------------------------------------------------------- decoding


@contextlib.contextmanager
def _codec_messages() -> Iterator[list[str]]:
    """Send what C code writes to file descriptor 2 into a temporary file; yield the list of its lines.

    While it is active, anything else the process writes to fd 2 is captured too (and dropped).
    """
    lines: list[str] = []
    if not CAPTURE_CODEC_MESSAGES:
        yield lines
        return
    with _stderr_lock, contextlib.ExitStack() as stack:
        try:
            tmp = stack.enter_context(tempfile.TemporaryFile())
            saved = os.dup(2)
        except OSError:  # no fd 2, or no room for a temporary file: decode without capturing
            yield lines
            return
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(tmp.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            with contextlib.suppress(OSError):
                tmp.seek(0)
                text = tmp.read(65536).decode("utf-8", "replace")
                lines.extend(_CHATTER_PREFIX.sub("", ln).strip() for ln in text.splitlines() if ln.strip())


def _codec_detail(lines: list[str]) -> str:
    """The most telling codec message, shortened to one line ("" when there is none)."""
    useful = [ln for ln in lines if "OpenCV(" not in ln and not ln.startswith("imdecode")]
    errors = [ln for ln in useful if "error" in ln.lower()]
    line = (errors or useful or [""])[-1]
    return line if len(line) <= 120 else line[:117] + "..."


def _unreadable(name: str, why: str, hint: str | None = None) -> UnreadableInputError:
    return UnreadableInputError(f"{name}: not a readable image ({why})", hint)


def _over_limit(name: str, w: int, h: int, limit: int) -> UnreadableInputError:
    return UnreadableInputError(
        f"{name}: image is {w}x{h} pixels, over the limit of {limit:,}",
        "raise DIGIT_OCR_MAX_PIXELS to read it",
    )


#: The codec's reduced decodes (1/8, 1/4, 1/2 a side) and their pixel factors, by ``gray``.
_JPEG_REDUCED = {
    gray: [(getattr(cv2, f"IMREAD_REDUCED_{'GRAYSCALE' if gray else 'COLOR'}_{k}"), k * k) for k in (8, 4, 2)]
    for gray in (False, True)
}


def decode(data: bytes, name: str = "<image>", gray: bool = False) -> LoadedImage:
    """Decode image bytes to an 8-bit grayscale or BGR array (alpha composited on white).

    JPEG files are decoded with their EXIF orientation applied, and at reduced size when they are
    much larger than needed; with ``gray``, straight to their luminance (the codec then skips
    the colour planes' transforms and the colour conversion: a third less time). Every failure
    is an :class:`UnreadableInputError` with a one-line message.
    """
    fmt = image_format(data)
    if fmt is None:
        raise _unreadable(name, "unknown format, corrupt or truncated")
    if fmt in _UNSUPPORTED:
        what, fix = _UNSUPPORTED[fmt]
        raise _unreadable(name, f"{what} is not supported", fix)
    kind = _FORMAT_NAMES[fmt]
    size = image_size(data)
    if size is None or min(size) < 1:
        raise _unreadable(name, f"{kind} header is corrupt or truncated")
    limit = max_pixels()
    w, h = size
    broken = _STRUCTURE_CHECKS.get(fmt, _no_check)(data)
    if broken:
        raise _unreadable(name, f"{kind} data is corrupt or truncated: {broken}")
    if w * h > limit and (fmt != "jpeg" or w * h > limit * 64):
        raise _over_limit(name, w, h, limit)
    buf = np.frombuffer(data, dtype=np.uint8)
    flag = cv2.IMREAD_UNCHANGED
    if fmt == "jpeg":
        flag = cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR
        for reduced, factor in _JPEG_REDUCED[gray]:
            if w * h / factor >= WORKING_PIXELS:
                flag = reduced
                break
    img = None
    failure = ""
    with _codec_messages() as chatter:
        try:
            img = cv2.imdecode(buf, flag)
        except cv2.error as exc:
            failure = str(exc)
        except MemoryError:
            failure = "insufficient memory"
    if "insufficient memory" in failure.lower() or "failed to allocate" in failure.lower():
        raise _unreadable(name, f"not enough memory to decode {w}x{h} pixels")
    if img is None or img.size == 0 or img.ndim not in (2, 3):
        detail = _codec_detail(chatter)
        raise _unreadable(name, f"{kind} data is corrupt or truncated" + (f": {detail}" if detail else ""))
    if img.shape[0] * img.shape[1] > limit:
        raise _over_limit(name, img.shape[1], img.shape[0], limit)
    warnings = []
    corrupt = [ln for ln in chatter if _JPEG_CORRUPT.search(ln)]
    if corrupt:
        warnings.append(f"{name}: JPEG data is damaged ({corrupt[0].rstrip('.')}); parts may be missing")
    try:
        img = to_8bit(img)
    except MemoryError:
        raise _unreadable(name, f"not enough memory to convert {w}x{h} pixels") from None
    scale = 1.0
    if max(size) > 1.5 * max(img.shape[:2]):  # decoded at 1/2, 1/4 or 1/8
        scale = max(size) / max(img.shape[:2])
    if img.shape[0] * img.shape[1] > 4 * WORKING_PIXELS:
        f = (WORKING_PIXELS / (img.shape[0] * img.shape[1])) ** 0.5
        img = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        scale /= f
    return LoadedImage(img, scale, warnings)


def to_8bit(img: np.ndarray) -> np.ndarray:
    """Convert any decoded array (16-bit, float with NaN/inf, alpha, 2-channel) to 8-bit gray or BGR."""
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.dtype == np.uint16 and (img.ndim == 2 or img.shape[2] <= 4):
        img = cv2.convertScaleAbs(img, alpha=1.0 / 257.0)  # no float copy of a large 16-bit page
    elif img.dtype != np.uint8:
        img = _scaled_to_8bit(img)
    if img.ndim == 3 and img.shape[2] == 2:  # gray + alpha
        gray, alpha = img[:, :, 0].astype(np.float32), img[:, :, 1].astype(np.float32) / 255.0
        return (gray * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    if img.ndim == 3 and img.shape[2] == 4:
        bgr, alpha = img[:, :, :3].astype(np.float32), img[:, :, 3:4].astype(np.float32) / 255.0
        return (bgr * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    if img.ndim == 3 and img.shape[2] > 4:
        return np.ascontiguousarray(img[:, :, :3])
    return img


def _scaled_to_8bit(img: np.ndarray) -> np.ndarray:
    """Floats (NaN and inf included: 0..1 or 0..max) and other integer types, scaled into 0..255."""
    with np.errstate(all="ignore"):  # inf * 255 and the like must not print RuntimeWarnings
        if np.issubdtype(img.dtype, np.floating):
            hi = float(np.max(img, where=np.isfinite(img), initial=-np.inf))
            a = (img * (255.0 / hi if hi > 1.0 else 255.0)).astype(np.float32)  # scaled in its own dtype
            np.nan_to_num(a, copy=False, nan=0.0, posinf=255.0, neginf=0.0)
        else:
            a = img.astype(np.float32)
            lo, hi = float(a.min()), float(a.max())
            a = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
        return np.clip(a, 0, 255, out=a).astype(np.uint8)


def open_image(source: str | os.PathLike[str] | np.ndarray | bytes, gray: bool = False) -> LoadedImage:
    """Load a path (any name, non-ASCII included), encoded bytes, or an array. ``gray``: a JPEG
    may be decoded straight to grayscale (other images and arrays keep their colours)."""
    if isinstance(source, np.ndarray):
        if source.ndim not in (2, 3) or source.size == 0 or min(source.shape[:2]) < 1:
            raise UnreadableInputError(f"array of shape {source.shape} is not an image")
        return LoadedImage(to_8bit(source))
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if not data:
            raise UnreadableInputError("<bytes>: empty")
        return decode(data, "<bytes>", gray)
    return decode(read_bytes(source), str(source), gray)


def load_image(source: str | os.PathLike[str] | np.ndarray | bytes) -> np.ndarray:
    """Load a path, bytes or array and return the 8-bit gray or BGR pixels."""
    return open_image(source).image
