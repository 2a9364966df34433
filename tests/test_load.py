"""The load stage on real files: formats, bit depths, alpha, EXIF orientation, odd paths, bad files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from digit_ocr import load
from digit_ocr.errors import ExitCode, UnreadableInputError
from digit_ocr.load import image_size, load_image, open_image

from .conftest import SAMPLES, render


@pytest.mark.parametrize("ext", [".png", ".jpg", ".tif", ".bmp", ".webp"])
def test_formats_decode_to_8bit(tmp_path: Path, ext: str) -> None:
    img = render("123")
    p = tmp_path / f"x{ext}"
    assert cv2.imwrite(str(p), img)
    out = load_image(p)
    assert out.dtype == np.uint8
    assert out.shape[:2] == img.shape


def test_sixteen_bit_and_alpha(tmp_path: Path) -> None:
    img16 = render("7").astype(np.uint16) * 257
    p = tmp_path / "deep.png"
    cv2.imwrite(str(p), img16)
    out = load_image(p)
    assert out.dtype == np.uint8 and abs(int(out.max()) - 235) <= 1

    # Black digits on a transparent background: must come out dark on white, not black on black.
    rgba = np.zeros((100, 100, 4), np.uint8)
    cv2.putText(rgba, "5", (20, 80), cv2.FONT_HERSHEY_SIMPLEX, 2.5, (0, 0, 0, 255), 8)
    p = tmp_path / "alpha.png"
    cv2.imwrite(str(p), rgba)
    out = load_image(p)
    assert out[2, 2].min() == 255 and out.min() == 0


def test_non_ascii_path_with_spaces(tmp_path: Path) -> None:
    d = tmp_path / "scans – März ünïcödé"
    d.mkdir()
    p = d / "zähler 1.png"
    ok, buf = cv2.imencode(".png", render("42"))
    p.write_bytes(buf.tobytes())
    assert load_image(p).shape[:2] == render("42").shape


def _with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """Insert a minimal EXIF APP1 segment carrying the orientation tag after SOI."""
    tiff = (
        b"MM\x00\x2a\x00\x00\x00\x08"
        + b"\x00\x01"
        + b"\x01\x12\x00\x03\x00\x00\x00\x01"
        + orientation.to_bytes(2, "big")
        + b"\x00\x00"
        + b"\x00\x00\x00\x00"
    )
    payload = b"Exif\x00\x00" + tiff
    app1 = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    return jpeg[:2] + app1 + jpeg[2:]


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = np.full((60, 200), 255, np.uint8)
    ok, buf = cv2.imencode(".jpg", img)
    p = tmp_path / "rotated.jpg"
    p.write_bytes(_with_exif_orientation(buf.tobytes(), 6))  # 6 = rotate 90 degrees clockwise
    assert load_image(p).shape[:2] == (200, 60)
    assert open_image(p, gray=True).image.shape == (200, 60)  # decoded straight to gray: turned too


def test_a_jpeg_decoded_gray_is_its_luminance(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader decodes JPEGs straight to gray: the luminance of the colour decode, to a level
    or two (the codec skips the colour planes' upsampling and conversion), at reduced size too."""
    data = (SAMPLES / "led_red.jpg").read_bytes()
    colour, gray = open_image(data).image, open_image(data, gray=True).image
    assert colour.ndim == 3 and gray.ndim == 2 and gray.shape == colour.shape[:2]
    diff = np.abs(gray.astype(int) - cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY).astype(int))
    assert np.percentile(diff, 99) <= 3
    monkeypatch.setattr(load, "WORKING_PIXELS", colour.size // 3 // 4)  # so large it is decoded at half size
    loaded = open_image(data, gray=True)
    assert loaded.image.shape == (colour.shape[0] // 2, colour.shape[1] // 2) and loaded.scale == 2.0


def test_header_size_matches_decoded(tmp_path: Path) -> None:
    img = render("9", size=(321, 123))
    for ext in (".png", ".jpg", ".bmp", ".webp"):
        ok, buf = cv2.imencode(ext, img)
        assert image_size(buf.tobytes()) == (321, 123), ext


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "empty file"),
        (b"not an image at all", "not a readable image"),
        (b"\x89PNG\r\n\x1a\n\x00", "not a readable"),
    ],
)
def test_bad_files_raise_one_line_errors(tmp_path: Path, content: bytes, message: str) -> None:
    p = tmp_path / "bad.jpg"
    p.write_bytes(content)
    with pytest.raises(UnreadableInputError) as info:
        load_image(p)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert info.value.exit_code == ExitCode.UNREADABLE_INPUT


def test_truncated_jpeg_and_missing_file_and_directory(tmp_path: Path) -> None:
    ok, buf = cv2.imencode(".jpg", render("1234"))
    p = tmp_path / "cut.jpg"
    p.write_bytes(buf.tobytes()[:200])
    with pytest.raises(UnreadableInputError):
        load_image(p)
    with pytest.raises(UnreadableInputError, match="no such file"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(UnreadableInputError, match="directory"):
        load_image(tmp_path)


def test_decompression_bomb_is_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGIT_OCR_MAX_PIXELS", "10000")
    p = tmp_path / "big.png"
    cv2.imwrite(str(p), np.zeros((200, 200), np.uint8))
    with pytest.raises(UnreadableInputError, match="over the limit"):
        load_image(p)


def test_large_jpeg_is_decoded_reduced_with_scale(tmp_path: Path) -> None:
    big = np.full((4000, 6000), 200, np.uint8)
    ok, buf = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, 50])
    loaded = open_image(buf.tobytes())
    assert loaded.image.shape[1] < 6000
    assert loaded.original_size == (6000, 4000)
