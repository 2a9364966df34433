"""The benchmark's per-set machinery that needs neither the evaluation data nor RapidOCR."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import devsets, rapidocr_peer  # noqa: E402


def box(x0: float, y0: float, x1: float, y1: float, text: str) -> list:
    return [[[x0, y0], [x1, y0], [x1, y1], [x0, y1]], text, 0.99]


def test_reading_order_groups_rows_top_to_bottom_and_boxes_left_to_right() -> None:
    boxes = [
        box(300, 62, 320, 90, "7"),  # second row, slightly higher than its neighbour
        box(20, 10, 40, 40, "3"),
        box(110, 12, 130, 41, "9"),
        box(20, 60, 40, 92, "6"),
        box(200, 110, 260, 140, "kWh"),  # no digit: the row is dropped
        box(60, 160, 200, 190, "1.234,5"),
    ]
    assert rapidocr_peer.reading_order(boxes) == "39 67 12345"


def test_reading_order_of_nothing_is_empty() -> None:
    assert rapidocr_peer.reading_order([]) == ""


def test_peer_cache_keeps_answers_by_identity(tmp_path: Path) -> None:
    cache = devsets.PeerCache("tesseract", {"version": "5.3", "args": ["--psm", "6"]}, folder=tmp_path)
    cache.put("abc", {"got": "12", "seconds": 0.5, "error": None})
    again = devsets.PeerCache("tesseract", {"version": "5.3", "args": ["--psm", "6"]}, folder=tmp_path)
    assert again.get("abc") == {"got": "12", "seconds": 0.5, "error": None}
    other = devsets.PeerCache("tesseract", {"version": "5.4", "args": ["--psm", "6"]}, folder=tmp_path)
    assert other.get("abc") is None
    ignored = devsets.PeerCache("tesseract", {"version": "5.3", "args": ["--psm", "6"]}, False, tmp_path)
    assert ignored.get("abc") is None


def test_groups_split_sets_read_per_kind(tmp_path: Path) -> None:
    def im(s: str, kind: str) -> devsets.Image:
        return devsets.Image(s, "f", kind, "1", tmp_path / "f")

    images = [im("cheques", "handwritten"), im("photos", "printed"), im("photos", "sevenseg")]
    assert devsets.groups_of(images) == ["cheques", "photos printed", "photos sevenseg", "photos overall"]
    scored = devsets.score(images[0], {"got": "1", "seconds": 0.1, "error": None})
    assert scored["exact"] and scored["char_accuracy"] == 1.0
    assert devsets.in_group(images[2], "photos overall") and not devsets.in_group(images[0], "photos overall")


def test_main_checkout_of_a_worktree(tmp_path: Path) -> None:
    from bench.run import main_checkout

    main = tmp_path / "main"
    (main / ".git" / "worktrees" / "wt").mkdir(parents=True)
    wt = tmp_path / "wt"
    wt.mkdir()
    (wt / ".git").write_text(f"gitdir: {main / '.git' / 'worktrees' / 'wt'}\n", encoding="utf-8")
    assert main_checkout(wt) == main
    assert main_checkout(main) == main
