"""Throughput and memory of ``digit-ocr batch`` on a folder of photo-like JPEGs it draws itself.

Usage::

    python bench/batch_bench.py [--n 1000] [--quick] [--skip-rss] [--keep DIR]

Measures, on N deterministic ~1 MP JPEGs with digits (in a temporary folder), all in the
same run so that the ratios hold whatever else the machine is doing:

* the share of images read exactly and the digit accuracy of each batch run (the script
  draws the digits, so it knows them; kept in ``truth.json`` beside the images), so that a
  faster batch can never come from reading less;
* the floor: decoding every image with ``cv2.imread`` (full size, colour), in 1 process and
  in 2 processes (each decoding its share; OpenCV limited to one thread per process); and the
  same decoding straight to gray, which is all the reader decodes of a JPEG (its luminance),
  so that the batch is also compared with the least decoding it could do; when the optional
  ``simplejpeg`` package is installed, also libjpeg-turbo's own decoding through it (1 process,
  colour and gray), which can be faster than OpenCV's build;
* ``digit-ocr batch --engine model`` with ``--jobs 1`` and ``--jobs 2`` (wall time of the
  whole command, interpreter start-up and model loading included);
* ``tesseract IMG stdout --psm 6`` per image, 1 at a time and 2 at a time, on a subset of 50;
* peak RSS of a 100-image batch and of a 10 x N-image one (the N files linked into ten
  sub-folders, read with ``--recursive``): flat memory means the two peaks are close.

Each batch figure is compared with the floor and with Tesseract at the same number of
processes (``--jobs 1`` with 1 process, ``--jobs 2`` with 2). CPU time per image (of every
process a command starts) is printed too: unlike wall time it hardly changes when other work
shares the machine.

``--quick``: N = 200, so the large batch has 2,000 images.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # measure this checkout, installed or not

import cv2  # noqa: E402
import numpy as np  # noqa: E402

W, H = 1152, 864  # ~1.0 MP
FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_PLAIN,
)
TESSERACT_SUBSET = 50


def photo(i: int) -> tuple[np.ndarray, list[str]]:
    """Image ``i``: a lit, noisy, slightly blurred scene with a panel of digits and clutter;
    and its lines of digits, top to bottom."""
    rng = np.random.default_rng(1000 + i)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    base = rng.uniform(120, 200)
    light = base + rng.uniform(-50, 50) * (xx / W) + rng.uniform(-40, 40) * (yy / H)
    tint = rng.uniform(0.85, 1.15, 3).astype(np.float32)
    img = np.clip(np.repeat(light[:, :, None], 3, axis=2) * tint, 0, 255).astype(np.uint8)
    for _ in range(rng.integers(3, 8)):  # clutter: shapes and lines
        c = tuple(float(v) for v in rng.uniform(0, 255, 3))
        p1 = (int(rng.integers(0, W)), int(rng.integers(0, H)))
        p2 = (int(rng.integers(0, W)), int(rng.integers(0, H)))
        if rng.random() < 0.5:
            cv2.rectangle(img, p1, p2, c, int(rng.integers(2, 10)))
        else:
            cv2.line(img, p1, p2, c, int(rng.integers(1, 6)))
    # a bright panel holding one or two lines of digits
    pw, ph = int(rng.integers(500, 800)), int(rng.integers(160, 300))
    x0, y0 = int(rng.integers(20, W - pw - 20)), int(rng.integers(20, H - ph - 20))
    cv2.rectangle(img, (x0, y0), (x0 + pw, y0 + ph), (235, 235, 235), -1)
    font = FONTS[int(rng.integers(0, len(FONTS)))]
    lines = 1 if ph < 230 else 2
    truth = []
    for k in range(lines):
        text = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(3, 9))))
        truth.append(text)
        scale = (ph / lines) / (40 if font != cv2.FONT_HERSHEY_PLAIN else 18) * rng.uniform(0.7, 0.9)
        thick = max(2, int(scale * 2))
        (tw, th), _ = cv2.getTextSize(text, font, scale, thick)
        if tw > pw - 20:
            scale *= (pw - 20) / tw
            thick = max(2, int(scale * 2))
            (tw, th), _ = cv2.getTextSize(text, font, scale, thick)
        org = (x0 + 10, y0 + int((k + 1) * ph / lines - (ph / lines - th) / 2))
        ink = tuple(float(v) for v in rng.uniform(0, 60, 3))
        cv2.putText(img, text, org, font, scale, ink, thick, cv2.LINE_AA)
    angle = float(rng.uniform(-4, 4))
    m = cv2.getRotationMatrix2D((W / 2, H / 2), angle, 1.0)
    img = cv2.warpAffine(img, m, (W, H), borderMode=cv2.BORDER_REPLICATE)
    img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.5, 1.5))).astype(np.float32)
    img += rng.normal(0, rng.uniform(3, 9), img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8), truth


TRUTH = "truth.json"


def make_folder(folder: Path, n: int) -> tuple[list[Path], dict[str, str]]:
    """Draw images 0..n-1 into ``folder`` (those already there are kept); their paths and the
    digits of each (lines joined by newlines, by file name), also kept in ``folder/truth.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    known_file = folder / TRUTH
    known: dict[str, str] = json.loads(known_file.read_text(encoding="utf-8")) if known_file.exists() else {}
    paths, truth = [], {}
    for i in range(n):
        p = folder / f"photo_{i:05d}.jpg"
        if not p.exists() or p.name not in known:
            img, lines = photo(i)
            if not p.exists():
                cv2.imwrite(str(p), img, [cv2.IMWRITE_JPEG_QUALITY, 85])
            known[p.name] = "\n".join(lines)
        truth[p.name] = known[p.name]
        paths.append(p)
    known_file.write_text(json.dumps(known, indent=0, sort_keys=True), encoding="utf-8")
    return paths, truth


def accuracy(out: Path, truth: dict[str, str]) -> tuple[float, float]:
    """The share of images whose digits a batch output read exactly (spaces and line breaks
    ignored), and its digit accuracy (1 - edit distance / digits, over all images)."""
    from digit_ocr.evaluate import levenshtein, squash

    with out.open(encoding="utf-8-sig", newline="") as f:
        got = {row["path"]: row["text"] for row in csv.DictReader(f)}
    exact = errors = digits = 0
    for name, want in truth.items():
        w, g = squash(want), squash(got.get(name, ""))
        exact += w == g
        errors += min(len(w), levenshtein(w, g))
        digits += len(w)
    return exact / len(truth), 1.0 - errors / digits


def cli() -> list[str]:
    """``python -m digit_ocr``, or a stand-in that imports the batch command while main.py does not."""
    if "batch_cmd" in (REPO / "digit_ocr" / "cli" / "main.py").read_text(encoding="utf-8"):
        return [sys.executable, "-m", "digit_ocr"]
    return [sys.executable, "-c", "import digit_ocr.cli.batch_cmd; from digit_ocr.cli.main import run; run()"]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO) + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    e.pop("DASK_SCHEDULER_ADDRESS", None)
    return e


class RssSampler:
    """Peak RSS of a process and of its whole tree (with psutil; else the largest process, at exit)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.main_peak, self.tree_peak = pid, 0, 0
        self._stop = threading.Event()
        try:
            import psutil

            self._psutil = psutil
        except ImportError:
            self._psutil = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        if self._psutil is None:
            return
        try:
            proc = self._psutil.Process(self.pid)
        except self._psutil.Error:
            return
        while not self._stop.is_set():
            try:
                main = proc.memory_info().rss
                tree = main
                for child in proc.children(recursive=True):
                    with contextlib.suppress(self._psutil.Error):
                        tree += child.memory_info().rss
            except self._psutil.Error:
                break
            self.main_peak, self.tree_peak = max(self.main_peak, main), max(self.tree_peak, tree)
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def children_cpu() -> float:
    """CPU seconds (user + system) of every finished child process so far, their children included."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_batch(folder: Path, out: Path, jobs: int, *extra: str) -> tuple[float, int, int, int, float]:
    """Wall seconds, exit code, peak RSS of the main process and of the tree (bytes), CPU seconds."""
    if out.exists():
        out.unlink()
    cpu0 = children_cpu()
    cmd = [*cli(), "batch", str(folder), "-o", str(out), "--engine", "model", "--jobs", str(jobs), *extra]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    sampler = RssSampler(proc.pid)
    _, err = proc.communicate()
    elapsed = time.perf_counter() - t0
    sampler.stop()
    if proc.returncode not in (0, 123):
        sys.stderr.write(err)
        raise SystemExit(f"batch failed with exit {proc.returncode}")
    if not sampler.main_peak:  # no psutil: the largest finished child process, in KiB on Linux
        sampler.main_peak = sampler.tree_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return elapsed, proc.returncode, sampler.main_peak, sampler.tree_peak, children_cpu() - cpu0


def _decode_all(paths: list[str], flag: int = cv2.IMREAD_COLOR) -> float:
    """Decode each file (``flag``: colour or gray); the CPU seconds it took this process."""
    cv2.setNumThreads(1)
    c0 = time.process_time()
    for p in paths:
        img = cv2.imread(p, flag)
        assert img is not None, p
    return time.process_time() - c0


def simplejpeg_floor(paths: list[Path], colorspace: str) -> tuple[float, float] | None:
    """Wall and CPU seconds to read and decode every image (1 process) with libjpeg-turbo through
    simplejpeg (``colorspace``: "BGR" or "GRAY"), when that optional package is installed: a
    decoder that OpenCV's build may not match, so that the floor is not flattered by our codec."""
    try:
        import simplejpeg
    except ImportError:
        return None
    for p in paths[:5]:
        simplejpeg.decode_jpeg(p.read_bytes(), colorspace=colorspace)
    t0, c0 = time.perf_counter(), time.process_time()
    for p in paths:
        simplejpeg.decode_jpeg(p.read_bytes(), colorspace=colorspace)
    return time.perf_counter() - t0, time.process_time() - c0


def decode_floor(paths: list[Path], processes: int = 1, flag: int = cv2.IMREAD_COLOR) -> tuple[float, float]:
    """Wall and CPU seconds to decode every image (``flag``: colour or gray), split evenly over
    ``processes`` worker processes (started before the clock)."""
    names = [str(p) for p in paths]
    if processes == 1:
        _decode_all(names[:5], flag)  # warm the page cache and the codec like the pool does
        t0 = time.perf_counter()
        cpu = _decode_all(names, flag)
        return time.perf_counter() - t0, cpu
    shares = [names[k::processes] for k in range(processes)]
    flags = [flag] * processes
    with ProcessPoolExecutor(processes) as pool:
        list(pool.map(_decode_all, [share[:5] for share in shares], flags))  # workers up and warm
        t0 = time.perf_counter()
        cpu = sum(pool.map(_decode_all, shares, flags))
        return time.perf_counter() - t0, cpu


def tesseract_time(paths: list[Path], processes: int = 1) -> tuple[float, float] | None:
    """Wall and CPU seconds to run ``tesseract IMG stdout --psm 6`` on each image, ``processes``
    at a time."""
    exe = shutil.which("tesseract")
    if exe is None:
        return None
    cpu0 = children_cpu()

    def one(p: Path) -> None:
        subprocess.run([exe, str(p), "stdout", "--psm", "6"], capture_output=True, check=False, timeout=120)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(processes) as pool:
        list(pool.map(one, paths))
    return time.perf_counter() - t0, children_cpu() - cpu0


def mb(n: int) -> str:
    return f"{n / 2**20:.0f} MB"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], prog="bench/batch_bench.py")
    ap.add_argument("--n", type=int, help="images to draw (default 1000, --quick 200)")
    ap.add_argument("--quick", action="store_true", help="N = 200 (the RSS run reads 2,000 images)")
    ap.add_argument("--skip-rss", action="store_true", help="skip the 100 vs 10 x N image memory runs")
    ap.add_argument("--keep", metavar="DIR", help="draw the images into DIR and keep them (reused next time)")
    args = ap.parse_args(argv)
    n = args.n or (200 if args.quick else 1000)
    tmp = Path(tempfile.mkdtemp(prefix="digit-ocr-batch-bench-"))
    try:
        folder = Path(args.keep) if args.keep else tmp / "photos"
        t0 = time.perf_counter()
        paths, truth = make_folder(folder, n)
        print(f"{n} images of {W}x{H} in {folder} (drawn in {time.perf_counter() - t0:.1f}s); "
              f"{os.cpu_count()} CPUs", flush=True)
        floor: dict[int, float] = {}
        gray_floor: dict[int, float] = {}
        batch: dict[int, float] = {}
        tess: dict[int, float] = {}
        acc: dict[int, tuple[float, float]] = {}  # exact share, digit accuracy
        cpu: dict[str, float] = {}  # CPU milliseconds per image, all processes of the command
        for k in (1, 2):
            secs, c = decode_floor(paths, k)
            floor[k], cpu[f"decode floor, {k} process{'es' if k > 1 else ''}"] = n / secs, 1000 * c / n
            print(f"decode floor, {k} process{'es' if k > 1 else ''}: {floor[k]:.1f} images/s", flush=True)
        for k in (1, 2):
            secs, c = decode_floor(paths, k, cv2.IMREAD_GRAYSCALE)
            what = f"gray decode, {k} process{'es' if k > 1 else ''}"
            gray_floor[k], cpu[what] = n / secs, 1000 * c / n
            print(f"{what}: {gray_floor[k]:.1f} images/s", flush=True)
        turbo: dict[str, float] = {}
        for cs in ("BGR", "GRAY"):
            timed = simplejpeg_floor(paths, cs)
            if timed is not None:
                what = f"simplejpeg {'colour' if cs == 'BGR' else 'gray'} decode, 1 process"
                turbo[cs], cpu[what] = n / timed[0], 1000 * timed[1] / n
                print(f"{what}: {turbo[cs]:.1f} images/s", flush=True)
        batch_folder = folder
        if sorted(folder.glob("*.jpg")) != paths:  # a kept folder holding more: link just these
            batch_folder = tmp / "these"
            batch_folder.mkdir()
            for p in paths:
                (batch_folder / p.name).symlink_to(p.resolve())
        for k in (1, 2):
            secs, code, _, _, c = run_batch(batch_folder, tmp / f"out{k}.csv", k)
            batch[k], cpu[f"batch --jobs {k}"] = n / secs, 1000 * c / n
            acc[k] = accuracy(tmp / f"out{k}.csv", truth)
            print(f"batch --jobs {k}: {batch[k]:.1f} images/s (exit {code}); read exactly "
                  f"{acc[k][0]:.1%} of images, digit accuracy {acc[k][1]:.1%}", flush=True)
        sub = paths[:TESSERACT_SUBSET]
        for k in (1, 2):
            timed = tesseract_time(sub, k)
            if timed is not None:
                tess[k], cpu[f"tesseract, {k} at a time"] = len(sub) / timed[0], 1000 * timed[1] / len(sub)
                print(f"tesseract, {k} at a time: {tess[k]:.2f} images/s on {len(sub)} images", flush=True)
        print()
        print(f"{'processes':>9} {'decode floor':>13} {'batch':>9} {'tesseract':>10} {'batch/floor':>12} "
              f"{'batch/tesseract':>16} {'batch exact':>12} {'digit acc':>10}   (images/s)")
        for k in (1, 2):
            t = f"{tess[k]:10.2f}" if k in tess else f"{'-':>10}"
            ratio = f"{batch[k] / tess[k]:15.1f}x" if k in tess else f"{'-':>16}"
            print(f"{k:9d} {floor[k]:13.1f} {batch[k]:9.1f} {t} {batch[k] / floor[k]:11.3f}x {ratio} "
                  f"{acc[k][0]:12.1%} {acc[k][1]:10.1%}")
        print("against the gray decode (all the reader decodes of a JPEG): "
              + ", ".join(f"{k} process{'es' if k > 1 else ''} {gray_floor[k]:.1f} images/s, batch/gray "
                          f"{batch[k] / gray_floor[k]:.3f}x" for k in (1, 2)))
        if turbo:
            print("against libjpeg-turbo through simplejpeg, 1 process: "
                  + ", ".join(f"{'colour' if cs == 'BGR' else 'gray'} {v:.1f} images/s, batch/it "
                              f"{batch[1] / v:.3f}x" for cs, v in turbo.items()))
        else:
            print("(pip install simplejpeg to measure libjpeg-turbo's own decoding beside OpenCV's)")
        if 1 in tess:
            print(f"batch --jobs 2 against tesseract 1 at a time: {batch[2] / tess[1]:.1f}x; "
                  f"against the 1-process floor: {batch[2] / floor[1]:.3f}x")
        # CPU time does not depend on what else the machine is running as wall time does.
        print()
        print(f"{'CPU per image (every process of the command)':48} {'ms':>8} {'vs decode':>10}")
        base = cpu["decode floor, 1 process"]
        for what, ms in cpu.items():
            print(f"{what:48} {ms:8.1f} {ms / base:9.1f}x")
        if not args.skip_rss:
            print()
            small = tmp / "small"
            small.mkdir()
            for p in paths[:100]:  # fewer when N < 100
                (small / p.name).symlink_to(p.resolve())
            big = tmp / "big"
            for k in range(10):
                d = big / f"part{k}"
                d.mkdir(parents=True)
                for p in paths:
                    (d / p.name).symlink_to(p.resolve())
            rss = []
            few = min(100, n)
            for name, where, count in ((f"{few} images", small, few), (f"{10 * n:,} images", big, 10 * n)):
                out = tmp / f"{where.name}.jsonl"
                secs, code, main_peak, tree_peak, _ = run_batch(where, out, 2, "--recursive")
                rss.append((name, count, secs, main_peak, tree_peak))
                print(f"RSS run {name}: {secs:.1f}s", flush=True)
            head = f"{'batch --jobs 2 --recursive':28} {'images/s':>9} {'peak RSS main':>14} {'tree':>14}"
            print(head)
            for name, count, secs, main_peak, tree_peak in rss:
                print(f"{name:28} {count / secs:9.1f} {mb(main_peak):>14} {mb(tree_peak):>14}")
            print(f"ratio large/small: main {rss[1][3] / rss[0][3]:.2f}x, tree {rss[1][4] / rss[0][4]:.2f}x "
                  f"for {10 * n / few:.0f}x the images")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
