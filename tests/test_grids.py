"""Grids and tables are read cell by cell, row by row; rulings are never read; empty cells are
skipped. Pages without a grid (ruled paper, graph paper with writing across it) are read as
before. The images are drawn by :mod:`tests.grids`."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from digit_ocr import read_image
from digit_ocr.binarize import binarize, faint
from digit_ocr.grid import cell_lines, find_lattice

from . import grids
from .conftest import require_tesseract, run_cli

PUZZLE = [
    "53..7....",
    "6..195...",
    ".98....6.",
    "8...6...3",
    "4..8.3..1",
    "7...2...6",
    ".6....28.",
    "...419..5",
    "....8..79",
]
SHADED = ((0, 2), (3, 4), (3, 5), (3, 6), (8, 0))


def _read(img: np.ndarray, engine: str = "model"):
    return read_image(img, engine=engine)


def test_a_sudoku_is_read_row_by_row_a_value_a_cell() -> None:
    reading = _read(grids.sudoku(PUZZLE))
    assert reading.text == grids.expected(PUZZLE)
    assert reading.grid is not None and (reading.grid["rows"], reading.grid["columns"]) == (9, 9)
    assert [line.row for line in reading.lines] == list(range(9))
    cells = [d.cell for d in reading.digits]
    expected = [(r, c) for r, row in enumerate(PUZZLE) for c, ch in enumerate(row) if ch != "."]
    assert cells == expected


@pytest.mark.parametrize(
    "look",
    [
        {"angle": 2.0, "noise": 4.0, "jpeg": 80},
        {"angle": -1.5, "noise": 3.0, "jpeg": 85},
        {"bend": 8.0, "tilt": 0.04, "noise": 4.0, "jpeg": 80},
        {"bend": -6.0, "angle": 1.0, "jpeg": 75},
    ],
    ids=["rotated", "rotated-back", "bent-in-perspective", "bent-rotated"],
)
def test_a_photographed_sudoku_rotated_or_bent(look: dict) -> None:
    """Rulings are curves fitted along the page's tilt: a slight rotation, a perspective and
    a sagging page keep each cell's digit in its row."""
    img = grids.photographed(grids.sudoku(PUZZLE, shaded=SHADED), **look)
    assert _read(img).text == grids.expected(PUZZLE)


def test_shaded_cells_and_faint_thin_rulings() -> None:
    """Grey cells are not digits; thin rulings too faint for the ink mask still separate cells."""
    img = grids.sudoku(PUZZLE, shaded=SHADED, thin_level=195)
    reading = _read(img)
    assert reading.text == grids.expected(PUZZLE)
    assert (reading.grid["rows"], reading.grid["columns"]) == (9, 9)


def test_rulings_of_an_empty_grid_are_never_read() -> None:
    """No 1 from any ruling, thin or heavy, even with noise and JPEG."""
    img = grids.photographed(grids.sudoku(["." * 9] * 9, shaded=SHADED), angle=1.0, noise=4.0, jpeg=80)
    reading = _read(img)
    assert reading.text == ""
    assert reading.grid is not None


def test_a_table_keeps_each_cells_number_whole_and_apart() -> None:
    rows = [["12", "345", "6"], ["7890", "", "42"], ["5", "61", "808"], ["", "3", "2024"]]
    reading = _read(grids.table(rows, [150, 180, 160]))
    assert reading.text == grids.expected(rows)
    assert [d.cell for d in reading.lines[1].digits] == [(1, 0)] * 4 + [(1, 2)] * 2


def test_handwritten_entries_in_a_grid() -> None:
    rows = ["3.7.", ".1.4", "9..2", ".56."]
    img = grids.photographed(grids.sudoku(rows, handwritten=True, seed=1), angle=1.0, noise=3.0, jpeg=85)
    assert _read(img).text == grids.expected(rows)


def test_what_stands_around_a_grid_is_read_in_its_place() -> None:
    """A number above the grid and one below it are read before and after its rows."""
    img = grids.sudoku(PUZZLE)
    page = np.full((img.shape[0] + 200, img.shape[1] + 100), grids.PAPER, np.uint8)
    page[120 : 120 + img.shape[0], 50 : 50 + img.shape[1]] = img
    cv2.putText(page, "2444", (60, 80), cv2.FONT_HERSHEY_SIMPLEX, 1.5, 25, 3, cv2.LINE_AA)
    cv2.putText(page, "17", (300, page.shape[0] - 25), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 25, 3, cv2.LINE_AA)
    reading = _read(page)
    assert reading.text == "\n".join(["2444", grids.expected(PUZZLE), "17"])
    assert [line.row for line in reading.lines] == [None, *range(9), None]


def test_a_large_photo_of_a_grid() -> None:
    """A page with a probe (over 640 pixels) is looked at on it first; the grid is read on the
    working copy."""
    img = grids.sudoku(PUZZLE, cell=110, px=66, thick=7, thin=2)
    img = grids.photographed(img, angle=1.0, noise=4.0, jpeg=85)
    reading = _read(img)
    assert reading.text == grids.expected(PUZZLE)
    assert reading.grid["box"][2] > 900  # in the original image's pixels


def test_graph_paper_is_not_a_table() -> None:
    """Small squares that the writing runs across make a lattice, but no table of cells: the
    page is read as any page is."""
    page = grids.graph_paper("28", level=140)
    b = faint(binarize(page, False))  # as the grid stage looks for rulings
    lattice = find_lattice(b.ink, None, b.flat)
    assert lattice is not None and min(lattice.shape) > 20  # a lattice it is ...
    assert cell_lines(b.ink, lattice, b.flat) is None  # ... of no cells
    reading = _read(page)
    assert reading.grid is None
    assert reading.text == "28"


def test_light_graph_paper_reads_as_before() -> None:
    reading = _read(grids.graph_paper("1375"))
    assert reading.grid is None
    assert reading.text == "1375"


def test_ruled_paper_has_no_grid() -> None:
    """Long horizontal rulings and a margin line are no lattice."""
    page = grids.ruled_paper("4096")
    assert find_lattice(faint(binarize(page, False)).ink) is None
    assert _read(page).grid is None


def test_text_pages_have_no_grid() -> None:
    from .conftest import render

    assert _read(render("4096\n317 52018")).grid is None


def test_json_carries_rows_cells_and_the_grid(tmp_path) -> None:
    path = tmp_path / "sudoku.png"
    cv2.imwrite(str(path), grids.sudoku(PUZZLE))
    r = run_cli("read", "-e", "model", "-f", "json", str(path))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["grid"]["rows"] == 9 and out["grid"]["columns"] == 9
    assert [line["row"] for line in out["lines"]] == list(range(9))
    assert out["lines"][0]["digits"][1]["cell"] == [0, 1]
    assert out["text"] == grids.expected(PUZZLE)


def test_auto_keeps_the_grid_reading() -> None:
    """Tesseract reads rulings as 1s: it adds nothing within the grid and never turns a row
    into text."""
    require_tesseract()
    img = grids.photographed(grids.sudoku(PUZZLE, shaded=SHADED), angle=1.0, noise=3.0, jpeg=85)
    assert _read(img, "auto").text == grids.expected(PUZZLE)
