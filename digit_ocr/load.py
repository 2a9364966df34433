"""Load stage: decode an image file (or accept an array) into an 8-bit BGR or grayscale array."""

from __future__ import annotations

import os
from dataclasses import dataclass
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

_JPEG_MAGIC = b"\xff\xd8\xff"


@dataclass
class LoadedImage:
    """A decoded image and the factor from its pixels back to the original file's pixels."""

    image: np.ndarray
    scale: float = 1.0

    @property
    def original_size(self) -> tuple[int, int]:
        h, w = self.image.shape[:2]
        return int(round(w * self.scale)), int(round(h * self.scale))


def max_pixels() -> int:
    """The configured pixel limit."""
    value = os.environ.get("DIGIT_OCR_MAX_PIXELS", "")
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_MAX_PIXELS


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """Read a file's bytes, turning OS errors into one-line :class:`UnreadableInputError`."""
    p = Path(path)
    try:
        if p.is_dir():
            raise UnreadableInputError(f"{p}: is a directory, not an image file")
        data = p.read_bytes()
    except UnreadableInputError:
        raise
    except FileNotFoundError:
        raise UnreadableInputError(f"{p}: no such file") from None
    except PermissionError:
        raise UnreadableInputError(f"{p}: permission denied") from None
    except OSError as exc:
        raise UnreadableInputError(f"{p}: cannot read ({exc.strerror or exc})") from None
    if not data:
        raise UnreadableInputError(f"{p}: empty file (0 bytes)")
    return data


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a JPEG, PNG, GIF, BMP or WebP header, without decoding; None if unknown."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if data[:2] == b"BM" and len(data) >= 26:
        return abs(int.from_bytes(data[18:22], "little", signed=True)), abs(
            int.from_bytes(data[22:26], "little", signed=True)
        )
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        chunk = data[12:16]
        if chunk == b"VP8X":
            return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
        if chunk == b"VP8L" and len(data) >= 25:
            bits = int.from_bytes(data[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if chunk == b"VP8 " and len(data) >= 30:
            return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(
                data[28:30], "little"
            ) & 0x3FFF
    if data[:3] == _JPEG_MAGIC:
        return _jpeg_size(data)
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


def decode(data: bytes, name: str = "<image>") -> LoadedImage:
    """Decode image bytes to an 8-bit grayscale or BGR array (alpha composited on white).

    JPEG files are decoded with their EXIF orientation applied, and at reduced
    size when they are much larger than needed.
    """
    size = image_size(data)
    limit = max_pixels()
    if size is not None and size[0] * size[1] > limit:
        w, h = size
        if data[:3] != _JPEG_MAGIC or w * h > limit * 64:
            raise UnreadableInputError(
                f"{name}: image is {w}x{h} pixels, over the limit of {limit:,}",
                "raise DIGIT_OCR_MAX_PIXELS to read it",
            )
    buf = np.frombuffer(data, dtype=np.uint8)
    img = None
    try:
        if data[:3] == _JPEG_MAGIC:
            flag = cv2.IMREAD_COLOR
            if size is not None:
                pixels = size[0] * size[1]
                for reduced, factor in (
                    (cv2.IMREAD_REDUCED_COLOR_8, 64),
                    (cv2.IMREAD_REDUCED_COLOR_4, 16),
                    (cv2.IMREAD_REDUCED_COLOR_2, 4),
                ):
                    if pixels / factor >= WORKING_PIXELS:
                        flag = reduced
                        break
            img = cv2.imdecode(buf, flag)
        else:
            img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    except cv2.error:
        img = None
    if img is None or img.size == 0:
        raise UnreadableInputError(f"{name}: not a readable image (unknown format, corrupt or truncated)")
    if img.shape[0] * img.shape[1] > limit:
        raise UnreadableInputError(
            f"{name}: image is {img.shape[1]}x{img.shape[0]} pixels, over the limit of {limit:,}",
            "raise DIGIT_OCR_MAX_PIXELS to read it",
        )
    img = to_8bit(img)
    scale = 1.0
    if size is not None and max(size) > 1.5 * max(img.shape[:2]):  # decoded at 1/2, 1/4 or 1/8
        scale = max(size) / max(img.shape[:2])
    if img.shape[0] * img.shape[1] > 4 * WORKING_PIXELS:
        f = (WORKING_PIXELS / (img.shape[0] * img.shape[1])) ** 0.5
        img = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        scale /= f
    return LoadedImage(img, scale)


def to_8bit(img: np.ndarray) -> np.ndarray:
    """Convert any decoded array (16-bit, float, alpha, 2-channel) to 8-bit gray or BGR."""
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.dtype != np.uint8:
        a = img.astype(np.float32)
        if img.dtype == np.uint16:
            a /= 257.0
        elif np.issubdtype(img.dtype, np.floating):
            a = np.nan_to_num(a, nan=0.0, posinf=1.0, neginf=0.0)
            hi = float(a.max()) if a.size else 1.0
            a *= 255.0 if hi <= 1.0 else 255.0 / hi
        else:
            lo, hi = float(a.min()), float(a.max())
            a = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
        img = np.clip(a, 0, 255).astype(np.uint8)
    if img.ndim == 3 and img.shape[2] == 2:  # gray + alpha
        gray, alpha = img[:, :, 0].astype(np.float32), img[:, :, 1].astype(np.float32) / 255.0
        return (gray * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    if img.ndim == 3 and img.shape[2] == 4:
        bgr, alpha = img[:, :, :3].astype(np.float32), img[:, :, 3:4].astype(np.float32) / 255.0
        return (bgr * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    if img.ndim == 3 and img.shape[2] > 4:
        return np.ascontiguousarray(img[:, :, :3])
    return img


def open_image(source: str | os.PathLike[str] | np.ndarray | bytes) -> LoadedImage:
    """Load a path (any name, non-ASCII included), encoded bytes, or an array."""
    if isinstance(source, np.ndarray):
        if source.ndim not in (2, 3) or source.size == 0 or min(source.shape[:2]) < 1:
            raise UnreadableInputError(f"array of shape {source.shape} is not an image")
        return LoadedImage(to_8bit(source))
    if isinstance(source, bytes):
        if not source:
            raise UnreadableInputError("<bytes>: empty")
        return decode(source, "<bytes>")
    return decode(read_bytes(source), str(source))


def load_image(source: str | os.PathLike[str] | np.ndarray | bytes) -> np.ndarray:
    """Load a path, bytes or array and return the 8-bit gray or BGR pixels."""
    return open_image(source).image
