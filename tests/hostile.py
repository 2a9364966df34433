"""A corpus of hostile and broken inputs, built on the fly in a folder (nothing binary is committed).

:func:`build_corpus` writes every case and returns what ``digit-ocr read`` must do with it: print
digits (exit 0), say "no digits" (exit 1), or fail with a one-line error and its exit code.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .conftest import render

OK, NO_DIGITS, UNREADABLE = 0, 1, 3
#: Clean encodings of the page most cases are made from, written next to the cases.
REFERENCE_PNG, REFERENCE_JPG = "reference.png", "reference.jpg"
#: Decodable pages whose content is garbage may give digits or none; both are defined outcomes.
ANY_READING = frozenset({OK, NO_DIGITS})


@dataclass
class Case:
    """One hostile input and the outcome ``digit-ocr read`` must give for it."""

    name: str
    path: Path
    exit_codes: frozenset[int]
    #: When exit 0 is required: "png" or "jpg" - print exactly what the clean PNG or JPEG of the same
    #: page prints (same pixels, same reading); "4" - print four digits (pixels differ, e.g. palette).
    same_as: str | None = None
    message: str | None = None  # a phrase the one-line error must contain
    skip: str | None = None  # why this case cannot be built or checked here
    tags: set[str] = field(default_factory=set)


# --------------------------------------------------------------------------- byte-level builders


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk with a correct CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(width: int, height: int, rows: bytes, *, bit_depth: int = 8, colour: int = 0) -> bytes:
    """A PNG from raw filtered scanlines (each prefixed with its filter byte)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(rows, 9))
        + png_chunk(b"IEND", b"")
    )


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A few hundred bytes declaring a ``width`` x ``height`` gray image (the first rows are all zero)."""
    rows = (b"\x00" + bytes(width)) * 4
    return png_bytes(width, height, rows)


def encode(ext: str, img: np.ndarray, params: list[int] | None = None) -> bytes:
    ok, buf = cv2.imencode(ext, img, params or [])
    assert ok, ext
    return buf.tobytes()


def tiff_header_only(width: int, height: int) -> bytes:
    """A little-endian TIFF whose one IFD declares ``width`` x ``height`` 8-bit gray with a 16-byte strip."""
    entries = [
        (256, 4, 1, width),  # ImageWidth, LONG
        (257, 4, 1, height),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample
        (259, 3, 1, 1),  # Compression: none
        (262, 3, 1, 1),  # Photometric: min-is-black
        (273, 4, 1, 8 + 2 + 12 * 9 + 4),  # StripOffsets: just after the IFD
        (277, 3, 1, 1),  # SamplesPerPixel
        (278, 4, 1, height),  # RowsPerStrip
        (279, 4, 1, 16),  # StripByteCounts
    ]
    ifd = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        packed = struct.pack("<H", value) + b"\x00\x00" if typ == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, typ, count) + packed
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + bytes(16)


def with_app1(jpeg: bytes, payload: bytes) -> bytes:
    """Insert an APP1 segment (EXIF) right after the JPEG SOI marker."""
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def exif_orientation(value: int) -> bytes:
    """An EXIF payload holding only the orientation tag (big-endian TIFF)."""
    tiff = b"MM\x00\x2a\x00\x00\x00\x08" + b"\x00\x01" + b"\x01\x12\x00\x03\x00\x00\x00\x01"
    return b"Exif\x00\x00" + tiff + struct.pack(">H", value) + b"\x00\x00" + b"\x00\x00\x00\x00"


def exif_truncated() -> bytes:
    """An EXIF payload whose IFD claims 40 entries and points far past the segment's end."""
    return b"Exif\x00\x00" + b"II\x2a\x00\x08\x00\x00\x00" + b"\x28\x00" + b"\x12\x01\x03\x00\xff\xff\xff\x7f"


def set_jpeg_size(jpeg: bytes, width: int, height: int) -> bytes:
    """Rewrite the frame size in the first SOF marker of a baseline JPEG."""
    i = jpeg.index(b"\xff\xc0")
    return jpeg[: i + 5] + struct.pack(">HH", height, width) + jpeg[i + 9 :]


def bmp_absurd() -> bytes:
    """A BMP header declaring 2**31-1 x 2**31-1 pixels at 24 bits with 12 bytes of pixels."""
    info = struct.pack("<IiiHHIIiiII", 40, 0x7FFFFFFF, 0x7FFFFFFF, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + 12, 0, 0, 54) + info + bytes(12)


def bmp_bad_bits() -> bytes:
    """A small BMP with 7 bits per pixel and an unknown compression method."""
    info = struct.pack("<IiiHHIIiiII", 40, 16, 16, 1, 7, 99, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + 64, 0, 0, 54) + info + bytes(64)


def pillow_bytes(make: Callable[[], object], fmt: str, **kwargs: object) -> bytes:
    """Encode a Pillow image built by ``make`` (Pillow is a test-only dependency)."""
    buf = io.BytesIO()
    make().save(buf, fmt, **kwargs)  # type: ignore[attr-defined]
    return buf.getvalue()


def _have_pillow() -> bool:
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------- the corpus


def build_corpus(root: Path) -> list[Case]:
    """Write every hostile input under ``root`` and return the cases (at least 30)."""
    root.mkdir(parents=True, exist_ok=True)
    page = render("4096")
    png, jpg = encode(".png", page), encode(".jpg", page, [cv2.IMWRITE_JPEG_QUALITY, 95])
    (root / REFERENCE_PNG).write_bytes(png)
    (root / REFERENCE_JPG).write_bytes(jpg)
    cases: list[Case] = []

    def add(name: str, data: bytes | None, exit_codes: frozenset[int] | set[int] | int, **kw: object) -> Path:
        path = root / name
        if data is not None:
            path.write_bytes(data)
        codes = frozenset({exit_codes}) if isinstance(exit_codes, int) else frozenset(exit_codes)
        cases.append(Case(name, path, codes, **kw))  # type: ignore[arg-type]
        return path

    # Files that are not images, or not there.
    add("zero-bytes.jpg", b"", UNREADABLE, message="empty file")
    add("text-named.jpg", b"meter reading: 4096\n" * 20, UNREADABLE, message="not a readable image")
    add("html-named.png", b"<!doctype html><html><body><img src=x></body></html>", UNREADABLE)
    add("random-bytes.png", np.random.default_rng(1).bytes(300_000), UNREADABLE)
    add("missing.png", None, UNREADABLE, message="no such file")
    (root / "a-folder.png").mkdir()
    add("a-folder.png", None, UNREADABLE, message="directory")
    loop = root / "loop.jpg"
    loop.symlink_to(loop)
    add("loop.jpg", None, UNREADABLE, message="symbolic links")
    (root / "dangling.png").symlink_to(root / "nowhere.png")
    add("dangling.png", None, UNREADABLE, message="no such file")
    os.mkfifo(root / "fifo.jpg")  # reading a FIFO would block forever
    add("fifo.jpg", None, UNREADABLE, message="not a regular file")
    (root / "dev-zero.jpg").symlink_to("/dev/zero")  # endless bytes
    add("dev-zero.jpg", None, UNREADABLE, message="not a regular file")
    locked = add("no-permission.png", png, UNREADABLE, message="permission denied", tags={"chmod000"})
    locked.chmod(0)

    # Wrong names for good files: the content decides.
    add("png-named.jpg", png, OK, same_as="png")
    add("jpeg-named.png", jpg, OK, same_as="jpg")
    odd = root / "scans – März 2024" / "zähler №1 (copy).jpg"
    odd.parent.mkdir()
    add(str(odd.relative_to(root)), jpg, OK, same_as="jpg")

    # Truncated and corrupt encodings.
    add("truncated-header.jpg", jpg[:200], UNREADABLE)
    add("truncated-half.jpg", jpg[: len(jpg) // 2], ANY_READING | {UNREADABLE})
    add("truncated.png", png[: len(png) // 2], UNREADABLE)
    add("signature-only.png", png[:8], UNREADABLE)
    idat = png.index(b"IDAT")
    crc_at = idat + 4 + struct.unpack(">I", png[idat - 4 : idat])[0]
    add("bad-crc.png", png[:crc_at] + bytes(b ^ 0xFF for b in png[crc_at : crc_at + 4]) + png[crc_at + 4 :],
        UNREADABLE)  # fmt: skip
    add("zero-width.png", png_bytes(0, 10, b"\x00" * 10), UNREADABLE)
    webp = encode(".webp", page)
    add("truncated.webp", webp[: len(webp) // 3], UNREADABLE)
    add("bmp-absurd-header.bmp", bmp_absurd(), UNREADABLE, message="over the limit")
    add("bmp-bad-bits.bmp", bmp_bad_bits(), UNREADABLE)
    add("tiff-zero-pages.tif", b"II*\x00\x00\x00\x00\x00", UNREADABLE)
    add("jpeg-zero-size.jpg", set_jpeg_size(jpg, 0, 0), UNREADABLE)

    # Decompression bombs: a tiny file declaring a huge image.
    over = {"message": "over the limit", "tags": {"bomb"}}
    add("bomb-100000x100000.png", png_bomb(), UNREADABLE, **over)
    add("bomb-65535x65535.gif", b"GIF89a\xff\xff\xff\xff\x00\x00\x00;", UNREADABLE, **over)
    add("bomb-tiff-100000x100000.tif", tiff_header_only(100_000, 100_000), UNREADABLE, **over)
    add("bomb-pgm-60000x60000.pgm", b"P5\n60000 60000\n255\n" + bytes(64), UNREADABLE, **over)
    add("bomb-pfm-30000x30000.pfm", b"Pf\n30000 30000\n-1.0\n" + bytes(64), UNREADABLE, **over)
    big_chunk = png[:33] + struct.pack(">I", 0x80000F00) + png[37:]  # IDAT claims 2 GiB (found by fuzzing)
    add("png-chunk-claims-2gib.png", big_chunk, UNREADABLE, message="claims")
    add("bigtiff-100000x100000.tif", b"II+\x00\x08\x00\x00\x00" + struct.pack("<QQ", 16, 2)
        + struct.pack("<HHQQ", 256, 16, 1, 100_000) + struct.pack("<HHQQ", 257, 16, 1, 100_000), UNREADABLE,
        **over)  # fmt: skip
    siz = b"\xff\x4f\xff\x51\x00\x29\x00\x00" + struct.pack(
        ">IIIIIIII", 100_000, 100_000, 0, 0, 100_000, 100_000, 0, 0
    )
    add("j2k-100000x100000.j2k", siz + b"\x00\x01\x07\x01\x01" + bytes(32), UNREADABLE, **over)
    # JPEG decodes at 1/8 size: a huge frame header is decoded reduced (damaged-data warning) or refused.
    add("huge-header-60000x60000.jpg", set_jpeg_size(jpg, 60000, 60000), ANY_READING | {UNREADABLE},
        tags={"bomb"})  # fmt: skip
    add("huge-header-30000x20000.jpg", set_jpeg_size(jpg, 30000, 20000), ANY_READING | {UNREADABLE},
        tags={"bomb"})  # fmt: skip

    # Degenerate but valid pictures.
    add("one-pixel.png", encode(".png", np.full((1, 1), 128, np.uint8)), NO_DIGITS)
    add("one-row-20000.png", encode(".png", np.full((1, 20000), 200, np.uint8)), NO_DIGITS)
    add("one-column-20000.png", encode(".png", np.full((20000, 1), 200, np.uint8)), NO_DIGITS)
    add("all-white.png", encode(".png", np.full((600, 800), 255, np.uint8)), NO_DIGITS)
    add("all-black.png", encode(".png", np.zeros((600, 800), np.uint8)), NO_DIGITS)
    noise = np.random.default_rng(7).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    add("pure-noise.png", encode(".png", noise), ANY_READING)

    # Unusual sample formats: must still read.
    add("gray16.tif", encode(".tif", page.astype(np.uint16) * 257), OK, same_as="png")
    add("float32.tif", encode(".tif", page.astype(np.float32) / 255.0), OK, same_as="png")
    add("float32-nan.tif", encode(".tif", np.full((200, 300), np.nan, np.float32)), NO_DIGITS)
    add("float32-inf.tif", encode(".tif", np.full((200, 300), np.inf, np.float32)), NO_DIGITS)
    mixed = np.full((200, 300), np.inf, np.float32)
    mixed[50:150, 100:200], mixed[60:70, :] = -np.inf, np.nan
    add("float32-inf-nan-mixed.tif", encode(".tif", mixed * 3e38), ANY_READING)
    add("float64-huge.tif", encode(".tif", page.astype(np.float64) * 1e300), OK, same_as="png")

    # Formats recognised but not supported: a one-line error naming the fix.
    add("photo.heic", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64), UNREADABLE,
        message="HEIC")  # fmt: skip
    add("scan.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", UNREADABLE, message="PDF")

    # EXIF: bogus orientation and a truncated EXIF segment are ignored.
    add("exif-orientation-99.jpg", with_app1(jpg, exif_orientation(99)), OK, same_as="jpg")
    add("exif-truncated.jpg", with_app1(jpg, exif_truncated()), OK, same_as="jpg")

    # Pillow-made variants (Pillow is a test-only dependency).
    if _have_pillow():
        from PIL import Image

        gray = Image.fromarray(page)
        add("cmyk.jpg", pillow_bytes(lambda: gray.convert("CMYK"), "JPEG", quality=95), OK, same_as="4")

        def palette() -> object:
            p = Image.fromarray(np.where(page < 128, 1, 0).astype(np.uint8), mode="P")
            p.putpalette([255, 0, 0, 0, 0, 0] + [0] * 762)  # 0: red (transparent), 1: black ink
            return p

        add("palette-transparent.png", pillow_bytes(palette, "PNG", transparency=0), OK, same_as="4")

        frames = [Image.fromarray(render(t)).convert("P") for t in ("4096", "1234", "777")]
        gif = io.BytesIO()
        frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
        add("animated.gif", gif.getvalue(), OK, same_as="4")  # the first frame is read
    else:
        for name in ("cmyk.jpg", "palette-transparent.png", "animated.gif"):
            cases.append(Case(name, root / name, frozenset({OK}), skip="Pillow is not installed"))
    return cases
