"""Text regions: a page is read in the parts that hold its text, and reads at least as the whole page does."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from digit_ocr import read_image, reader, regions
from digit_ocr.binarize import background, flatten
from digit_ocr.result import Reading

from .conftest import SAMPLES, render, sample_rows

#: An ink mask and where it lies in the image.
Placed = tuple[np.ndarray, tuple[int, int]]

#: Photos drawn by the batch benchmark (bench/batch_bench.py) that the whole page reads right too
#: (2 to 39: since the segmenter drops frames and lines drawn across a scene itself, which only
#: the text regions kept out before).
BOTH_RIGHT = [2, 3, 5, 7, 8, 9, 11, 12, 13, 14, 15, 21, 28, 35, 39]
#: ... and that only the text regions read right: the whole page also reads a piece of a line
#: drawn across the scene as a 0.
ONLY_REGIONS_RIGHT = [18]


def _bench_photo(index: int) -> tuple[bytes, str]:
    from bench.batch_bench import photo

    img, lines = photo(index)
    ok, jpeg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])  # as the bench writes it
    assert ok
    return jpeg.tobytes(), "\n".join(lines)


@pytest.fixture
def region_pixels(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, int, int]]]:
    """Records each text-region binarization: the pixels binarized, and the image's height and width."""
    seen: list[tuple[int, int, int]] = []
    original = regions.region_ink

    def spy(image: np.ndarray, f: float, found: list[regions.Region], *rest: object) -> Placed:
        out = original(image, f, found, *rest)  # type: ignore[arg-type]
        h, w = image.shape
        area = 0
        for r in found:
            x0, y0, x1, y1 = int(r.x0 * f), int(r.y0 * f), int(np.ceil(r.x1 * f)), int(np.ceil(r.y1 * f))
            area += (min(w, x1) - x0) * (min(h, y1) - y0)
        seen.append((area, h, w))
        return out

    monkeypatch.setattr(regions, "region_ink", spy)
    yield seen


def _whole_page(source: object, monkeypatch: pytest.MonkeyPatch) -> Reading:
    with monkeypatch.context() as m:
        m.setattr(reader, "READ_REGIONS", False)
        return read_image(source, engine="model")  # type: ignore[arg-type]


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(0, w) * max(0, h)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


@pytest.mark.parametrize("index", BOTH_RIGHT)
def test_a_label_photo_is_read_from_its_text_regions_as_from_the_whole_page(
    index: int, monkeypatch: pytest.MonkeyPatch, region_pixels: list[tuple[int, int, int]]
) -> None:
    data, truth = _bench_photo(index)
    got = read_image(data, engine="model")
    assert got.text == truth
    assert region_pixels, "the label's lines were told apart from the scene"
    area, h, w = region_pixels[0]
    assert area <= regions.MAX_SHARE * h * w
    whole = _whole_page(data, monkeypatch)
    assert whole.text == truth
    for a, b in zip(got.digits, whole.digits, strict=True):
        assert _iou(a.box, b.box) >= 0.75, "boxes in the original image's pixels, as from the whole page"


@pytest.mark.parametrize("index", ONLY_REGIONS_RIGHT)
def test_frames_and_lines_away_from_the_text_are_not_read(
    index: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, truth = _bench_photo(index)
    assert read_image(data, engine="model").text == truth
    assert _whole_page(data, monkeypatch).text != truth  # what the regions are for


@pytest.mark.parametrize("row", sample_rows(), ids=lambda r: r["file"])
def test_the_samples_read_as_from_the_whole_page(
    row: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = SAMPLES / row["file"]
    got = read_image(path, engine="model")
    assert got.text.replace("\n", " ") == row["label"]
    assert got.text == _whole_page(path, monkeypatch).text


def test_a_page_of_text_is_read_whole(region_pixels: list[tuple[int, int, int]]) -> None:
    text = "\n".join(["31415 92653", "58979 32384", "62643 38327", "95028 84197"])
    page = render(text, scale=4.0, thickness=8)
    assert read_image(page, engine="model").text.replace(" ", "") == text.replace(" ", "")
    assert not region_pixels, "text over much of the page: the whole page is read"


def test_a_weak_reading_of_the_regions_is_read_again_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    data, truth = _bench_photo(BOTH_RIGHT[0])

    def nothing(image: np.ndarray, f: float, found: list[regions.Region], *rest: object) -> Placed:
        return np.zeros((8, 8), np.uint8), (0, 0)  # the regions hold no ink

    monkeypatch.setattr(regions, "region_ink", nothing)
    assert read_image(data, engine="model").text == truth


def test_regions_hold_the_lines_of_characters_not_pieces_of_clutter() -> None:
    ink = np.zeros((240, 320), np.uint8)
    for k, x in enumerate(range(40, 160, 16)):  # a line of eight characters, 14 high
        cv2.rectangle(ink, (x, 100), (x + 9, 114), 255, 2 + k % 2)
    cv2.rectangle(ink, (250, 180), (259, 194), 255, 2)  # a character alone, as high
    cv2.line(ink, (280, 30), (280, 44), 255, 2)  # a piece of a line, as high
    cv2.rectangle(ink, (200, 30), (206, 38), 255, 2)  # a small box, lower
    cv2.rectangle(ink, (10, 140), (300, 230), 255, 1)  # a frame
    found = regions.find_regions(ink, 15.0)
    assert found is not None and len(found) == 2
    line, alone = found
    assert line.x0 <= 40 and line.x1 >= 160 and line.y0 <= 100 and line.y1 >= 115
    assert alone.x0 <= 250 and alone.x1 >= 260 and alone.y0 <= 180 and alone.y1 >= 195
    assert line.y0 > 44 and line.x1 < 200, "neither the stroke nor the box seeds a region"


def test_a_region_is_flattened_against_its_part_of_the_page_background() -> None:
    gray = np.clip(np.add.outer(np.linspace(60, 220, 480), np.linspace(0, 30, 640)), 0, 255).astype(np.uint8)
    bg = background(gray)
    box = (200, 120, 390, 260)
    part = regions.crop_background(bg, gray.shape, box)
    whole = cv2.resize(bg.level, (640, 480), interpolation=cv2.INTER_LINEAR)[120:260, 200:390]
    assert part.level is not None and part.level.shape == whole.shape
    assert np.abs(part.level.astype(int) - whole.astype(int)).max() <= 1
    sub = gray[120:260, 200:390]
    assert np.abs(flatten(sub, part.level).astype(int) - flatten(gray, bg.level)[120:260, 200:390]).max() <= 3


@pytest.mark.parametrize("index", [43, 58])
def test_the_polarity_whose_probe_shows_no_lines_of_characters_is_not_read(
    index: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both polarities are worth trying on these photos (dark print on a white label in a dark
    scene), but only one shows lines of characters: the other's ink is the label itself."""
    data, truth = _bench_photo(index)
    readings: list[float] = []
    score = reader.reading_score
    monkeypatch.setattr(reader, "reading_score", lambda lines: readings.append(score(lines)) or readings[-1])
    assert read_image(data, engine="model").text == truth
    assert len(readings) == 1
    readings.clear()
    assert _whole_page(data, monkeypatch).text == truth
    assert len(readings) == 2, "the whole page is read in both polarities"
