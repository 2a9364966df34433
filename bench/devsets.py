"""Labelled image sets read by every engine: digit-ocr's own and the peers (Tesseract, RapidOCR).

The ``dev`` and ``photos`` sections of ``bench/run.py`` use this: it loads a set's ``labels.csv``,
reads each image with each engine and scores it; ``run.py`` prints the tables. Our engines run in
a pool of processes (each image is independent) and are always recomputed; the peers' answers are
cached in ``bench/out/peer_cache/`` by file content, peer version and settings, so re-running the
bench after a change to digit-ocr only reads with digit-ocr again. Every time is the time of one
image in one process (the pool's start-up and model loading left out), measured where the image
is read.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import rapidocr_peer  # noqa: E402
from digit_ocr.errors import DigitOcrError  # noqa: E402
from digit_ocr.evaluate import char_accuracy, load_labels, squash  # noqa: E402

DIGITS = "0123456789"
#: Raw Tesseract on a page: one block of text, digits only (as for the photos since the start).
TESS_PAGE = ["--psm", "6", "-c", f"tessedit_char_whitelist={DIGITS}"]
#: Raw Tesseract where another page segmentation mode reads the set better: each one-digit set gets
#: the best of ``--psm 6`` (a block), ``8`` (a word) and ``10`` (a character) on every 5th Semeion
#: and every 3rd seven-segment image: Semeion 16.3% / 14.4% / 12.2% -> 6 (the default above),
#: seven-segment 15.4% / 22.9% / 15.4% -> 8.
TESS_BY_SET = {"sevenseg_digits": ["--psm", "8", "-c", f"tessedit_char_whitelist={DIGITS}"]}
#: Set name -> folder under the evaluation data.
FOLDERS = {
    "semeion": "dev/semeion",
    "sevenseg_digits": "dev/sevenseg_digits",
    "cheques": "dev/cheques",
    "sudoku": "dev/sudoku",
    "scenes": "dev/scenes",
    "photos": "photos",
}
DEV_SETS = ("semeion", "sevenseg_digits", "cheques", "sudoku", "scenes")
#: Sets of one digit per image: exact match is the digit accuracy, char accuracy says nothing more.
SINGLE = frozenset({"semeion", "sevenseg_digits", "mnist_heldout"})
#: Sets reported per kind (``kind`` column), and those with an overall row too.
BY_KIND = frozenset({"scenes", "photos"})
WITH_OVERALL = frozenset({"photos"})
OURS = ("model", "auto")
PEERS = ("tesseract", "rapidocr")
CACHE_DIR = REPO / "bench" / "out" / "peer_cache"


def run_tesseract(
    exe: str, image: Path, extra: list[str], timeout: float = 60.0, env: dict[str, str] | None = None
) -> str:
    """Raw ``tesseract IMAGE stdout EXTRA...``; failures raise DigitOcrError (counted per image)."""
    try:
        proc = subprocess.run(
            [exe, str(image), "stdout", *extra],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise DigitOcrError(f"tesseract timed out after {timeout:.0f}s on {image.name}") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise DigitOcrError(f"tesseract exit {proc.returncode} on {image.name}: {last}")
    return proc.stdout


def digits_only(text: str) -> str:
    """The digits of ``text``, lines kept, other characters dropped."""
    lines = ("".join(ch for ch in line if ch in DIGITS) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def tesseract_version(exe: str | None) -> str | None:
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    first = (out.stdout or out.stderr).strip().splitlines()
    return first[0] if first else None


# --------------------------------------------------------------------------- sets


@dataclass
class Image:
    set: str
    file: str
    kind: str
    expected: str
    path: Path
    _key: str | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        """SHA-256 of the file's bytes (the peers' cache key)."""
        if self._key is None:
            self._key = hashlib.sha256(self.path.read_bytes()).hexdigest()
        return self._key

    @property
    def group(self) -> str:
        return f"{self.set} {self.kind}" if self.set in BY_KIND else self.set


def load_set(data: Path, name: str, stride: int = 1) -> list[Image] | str:
    """Every ``stride``-th labelled image of set ``name``, or why it cannot be read."""
    folder = data / FOLDERS[name]
    if not (folder / "labels.csv").is_file():
        return f"{folder / 'labels.csv'} not found"
    rows = load_labels(folder)[::stride]
    return [Image(name, r.file, r.kind, r.label, folder / r.file) for r in rows]


def groups_of(images: list[Image]) -> list[str]:
    """Report rows in order: a set, or its kinds (and its overall row) for the sets read per kind."""
    ordered: list[str] = []
    for name in dict.fromkeys(im.set for im in images):
        ordered += dict.fromkeys(im.group for im in images if im.set == name)
        if name in WITH_OVERALL:
            ordered.append(f"{name} overall")
    return ordered


def in_group(im: Image, group: str) -> bool:
    return im.group == group or group == f"{im.set} overall"


# --------------------------------------------------------------------------- our engines


_READ: Callable[[str], str] | None = None


def _warm_image() -> bytes:
    import cv2
    import numpy as np

    img = np.full((120, 320), 230, np.uint8)
    cv2.putText(img, "4071", (20, 85), cv2.FONT_HERSHEY_SIMPLEX, 2.2, 30, 5)
    return cv2.imencode(".png", img)[1].tobytes()


def _init_ours(repo: str, engine: str) -> None:
    """Pool initializer: this checkout's reader, its model loaded, one image read (start-up)."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if repo not in sys.path:
        sys.path.insert(0, repo)
    from digit_ocr.reader import get_model, read_image

    model = get_model(None)

    def read(path: str | bytes) -> str:
        return read_image(path, engine=engine, model=model).text

    global _READ
    _READ = read
    read(_warm_image())


def _read_ours(path: str) -> dict[str, Any]:
    assert _READ is not None
    t0 = time.perf_counter()
    got, error = "", None
    try:
        got = _READ(path)
    except DigitOcrError as exc:
        error = str(exc)
    return {"got": got, "seconds": time.perf_counter() - t0, "error": error}


def run_ours(engine: str, images: list[Image], jobs: int) -> list[dict[str, Any]]:
    """``read_image(path, engine=engine)`` on every image, ``jobs`` processes."""
    paths = [str(im.path) for im in images]
    if jobs <= 1:
        _init_ours(str(REPO), engine)
        return [_read_ours(p) for p in paths]
    with ProcessPoolExecutor(jobs, initializer=_init_ours, initargs=(str(REPO), engine)) as ex:
        return list(ex.map(_read_ours, paths, chunksize=4))


# --------------------------------------------------------------------------- peers and their cache


class PeerCache:
    """A peer's answers by image content, in one JSON Lines file per peer identity (version and
    settings). ``use=False`` ignores what is stored (every image read again) but still stores."""

    def __init__(self, peer: str, identity: dict[str, Any], use: bool = True, folder: Path = CACHE_DIR):
        blob = json.dumps(identity, sort_keys=True)
        self.path = folder / f"{peer}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}.jsonl"
        self.identity = identity
        self.entries: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        if use and self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by an interrupted run
                if "key" in rec:
                    self.entries[rec["key"]] = rec["result"]

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    def put(self, key: str, result: dict[str, Any]) -> None:
        with self._lock:
            self.entries[key] = result
            self.path.parent.mkdir(parents=True, exist_ok=True)
            new = not self.path.exists()
            with self.path.open("a", encoding="utf-8") as fh:
                if new:
                    fh.write(json.dumps({"identity": self.identity}) + "\n")
                fh.write(json.dumps({"key": key, "result": result}) + "\n")


def tesseract_args(image: Image) -> list[str]:
    return TESS_BY_SET.get(image.set, TESS_PAGE)


def run_tesseract_peer(
    exe: str, version: str | None, images: list[Image], jobs: int, use_cache: bool
) -> list[dict[str, Any]]:
    """Raw Tesseract (one thread: ``OMP_THREAD_LIMIT=1``) on every image, ``jobs`` at a time."""
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    caches: dict[tuple[str, ...], PeerCache] = {}

    def cache_for(args: list[str]) -> PeerCache:
        k = tuple(args)
        if k not in caches:
            caches[k] = PeerCache("tesseract", {"version": version, "args": args, "threads": 1}, use_cache)
        return caches[k]

    def read(im: Image) -> dict[str, Any]:
        cache = cache_for(tesseract_args(im))
        hit = cache.get(im.key)
        if hit is not None:
            return {**hit, "cached": True}
        t0 = time.perf_counter()
        got, error = "", None
        try:
            got = digits_only(run_tesseract(exe, im.path, tesseract_args(im), env=env))
        except DigitOcrError as exc:
            error = str(exc)
        res = {"got": got, "seconds": time.perf_counter() - t0, "error": error}
        cache.put(im.key, res)
        return {**res, "cached": False}

    with ThreadPoolExecutor(max(1, jobs)) as ex:
        return list(ex.map(read, images))


@dataclass
class RapidInfo:
    """What a RapidOCR run tells beside its answers."""

    available: bool
    reason: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    startup_seconds: list[float] = field(default_factory=list)
    load_seconds: list[float] = field(default_factory=list)
    workers: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "reason": self.reason,
            "versions": self.versions,
            "settings": rapidocr_peer.SETTINGS,
            "workers": self.workers,
            "startup_seconds": [round(s, 3) for s in self.startup_seconds],
            "load_seconds_in_worker": [round(s, 3) for s in self.load_seconds],
        }


def _rapid_result(raw: dict[str, Any], cached: bool) -> dict[str, Any]:
    got = "" if raw["error"] else rapidocr_peer.reading_order(raw["boxes"])
    return {
        "got": got,
        "seconds": raw["seconds"],
        "error": raw["error"],
        "boxes": raw["boxes"],
        "cached": cached,
    }


def run_rapidocr_peer(
    images: list[Image], jobs: int, use_cache: bool, on_progress: Callable[[int], None] | None = None
) -> tuple[list[dict[str, Any]] | None, RapidInfo]:
    """RapidOCR on every image through ``jobs`` workers; (None, info) when its venv is absent."""
    reason = rapidocr_peer.unavailable_reason()
    if reason:
        return None, RapidInfo(False, reason)
    versions = rapidocr_peer.installed_versions() or {}
    identity = {"versions": versions, "settings": rapidocr_peer.SETTINGS}
    cache = PeerCache("rapidocr", identity, use_cache)
    info = RapidInfo(True, versions=versions)
    results: list[dict[str, Any] | None] = [None] * len(images)
    todo: queue.Queue[int] = queue.Queue()
    for i, im in enumerate(images):
        hit = cache.get(im.key)
        if hit is not None:
            results[i] = _rapid_result(hit, True)
        else:
            todo.put(i)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def drive() -> None:
        try:
            with rapidocr_peer.RapidOcrWorker() as worker:
                with lock:
                    info.startup_seconds.append(worker.startup_seconds)
                    info.load_seconds.append(worker.load_seconds)
                    info.workers += 1
                while True:
                    try:
                        i = todo.get_nowait()
                    except queue.Empty:
                        return
                    raw = worker.read(images[i].path)
                    cache.put(images[i].key, raw)
                    results[i] = _rapid_result(raw, False)
                    if on_progress:
                        on_progress(1)
        except BaseException as exc:  # noqa: BLE001 - re-raised below, after the other workers end
            errors.append(exc)

    n_todo = todo.qsize()
    if n_todo:
        threads = [threading.Thread(target=drive) for _ in range(max(1, min(jobs, n_todo)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    return [r for r in results if r is not None], info


# --------------------------------------------------------------------------- scoring


def score(image: Image, result: dict[str, Any]) -> dict[str, Any]:
    """The result with ``exact`` and ``char_accuracy`` against the image's label."""
    ok = result["error"] is None
    exact = ok and squash(image.expected) == squash(result["got"])
    acc = char_accuracy(image.expected, result["got"]) if ok else 0.0
    return {**result, "exact": exact, "char_accuracy": acc}


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(results)
    if not n:
        return {"n": 0}
    return {
        "n": n,
        "exact_rate": sum(r["exact"] for r in results) / n,
        "char_accuracy": sum(r["char_accuracy"] for r in results) / n,
        "seconds_per_image": sum(r["seconds"] for r in results) / n,
        "errors": sum(r["error"] is not None for r in results),
        "cached": sum(bool(r.get("cached")) for r in results),
    }
