"""RapidOCR as a peer of digit-ocr in the benchmark (bench only: never a dependency of digit-ocr).

Usage::

    python bench/rapidocr_peer.py --setup            # make its venv (pip install rapidocr-onnxruntime==1.4.4)
    python bench/rapidocr_peer.py IMAGE...           # read images: digits in reading order, time per image
    VENV/bin/python bench/rapidocr_peer.py --worker  # (what the bench starts) JSON lines on stdin/stdout

``rapidocr-onnxruntime`` ships PP-OCR detection, angle and recognition models in its wheel and
runs them on the CPU with ONNX Runtime. It needs ``opencv-python``, which cannot share an
environment with digit-ocr's ``opencv-python-headless``, so it lives in a venv of its own
(``$DIGIT_OCR_RAPIDOCR_VENV``, default ``~/.cache/digit-ocr/rapidocr-onnxruntime-1.4.4``) and the
bench talks to a long-lived worker process in it: the models load once (start-up, measured
apart), then each image costs only its own reading (measured in the worker).

Settings: the package's defaults (``config.yaml`` of 1.4.4: detector thresh 0.3, box_thresh 0.5,
unclip_ratio 1.6; angle classifier on, ``use_cls``; text_score 0.5; images longer than 2000 px
shrunk), except that ONNX Runtime runs on one thread per worker (the bench runs one worker per
core, as it runs its other engines; the per-image times are those of one core). An image smaller
than 200 px on a side is first padded to 200 px on that side with its border colour (the median
of its outermost pixels): the detector misses text that fills the image. The answer keeps every
box (corners, text, score); :func:`reading_order` turns them into digits: boxes grouped into rows
by their vertical extent, rows top to bottom, boxes left to right, digits only, a space between
rows.

This file runs under two interpreters: the bench's (only the standard library is used at import
time) and the RapidOCR venv's (``--worker``, which imports rapidocr, OpenCV and NumPy).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PACKAGE = "rapidocr-onnxruntime"
VERSION = "1.4.4"
VENV_ENV = "DIGIT_OCR_RAPIDOCR_VENV"
#: Images smaller than this on a side are padded to it on that side.
MIN_SIDE = 200
#: What the bench passes to RapidOCR() beside the defaults: one ONNX Runtime thread per worker.
THREADS = 1
#: Everything that changes what RapidOCR reads (part of the bench's cache key).
SETTINGS = {
    "package": f"{PACKAGE}=={VERSION}",
    "config": "package defaults (use_cls, text_score 0.5, box_thresh 0.5, unclip_ratio 1.6)",
    "pad": f"sides under {MIN_SIDE} px padded to {MIN_SIDE} with the median border colour",
    "intra_op_num_threads": THREADS,
}
DIGITS = "0123456789"
#: Seconds to wait for the worker's start-up and for one image.
STARTUP_TIMEOUT = 120.0
IMAGE_TIMEOUT = 120.0


def default_venv() -> Path:
    raw = os.environ.get(VENV_ENV)
    if raw:
        return Path(raw).expanduser()
    return Path.home() / ".cache" / "digit-ocr" / f"{PACKAGE}-{VERSION}"


def venv_python(venv: Path | None = None) -> Path:
    return (venv or default_venv()) / "bin" / "python"


def installed_versions(venv: Path | None = None) -> dict[str, str] | None:
    """Versions of rapidocr-onnxruntime and onnxruntime in the venv (from their dist-info), or None
    when the venv lacks the pinned package."""
    site = sorted((venv or default_venv()).glob("lib/python*/site-packages"))
    if not site or not venv_python(venv).exists():
        return None
    found: dict[str, str] = {}
    for dist in site[-1].glob("*.dist-info"):
        name, _, version = dist.name.removesuffix(".dist-info").partition("-")
        name = name.lower().replace("_", "-")
        if name in (PACKAGE, "onnxruntime", "opencv-python", "numpy"):
            found[name] = version
    return found if found.get(PACKAGE) == VERSION else None


def unavailable_reason(venv: Path | None = None) -> str | None:
    """None when the worker can run, else why not (with the command that fixes it)."""
    venv = venv or default_venv()
    if installed_versions(venv) is None:
        return f"no {PACKAGE}=={VERSION} venv at {venv} (make it with: python bench/rapidocr_peer.py --setup)"
    return None


def setup(venv: Path) -> int:
    """Create ``venv`` and install the pinned package in it; 0 on success."""
    print(f"creating {venv} with {sys.executable} ...", flush=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [
            str(venv_python(venv)),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            f"{PACKAGE}=={VERSION}",
        ],
    ]
    for cmd in steps:
        if subprocess.run(cmd, check=False).returncode != 0:
            print(f"failed: {' '.join(cmd)}", file=sys.stderr)
            return 1
    versions = installed_versions(venv)
    if versions is None:
        print(f"{venv}: {PACKAGE}=={VERSION} not found after install", file=sys.stderr)
        return 1
    with RapidOcrWorker(venv) as worker:
        print(f"ready: {versions}; worker start-up {worker.startup_seconds:.2f} s")
    return 0


# --------------------------------------------------------------------------- reading order


def reading_order(boxes: list[list[Any]]) -> str:
    """RapidOCR's boxes ``[[corners], text, score]`` as digits in reading order.

    A box joins the row whose vertical extent its centre falls in (else it starts a row); rows are
    read top to bottom, a row's boxes left to right; every non-digit is dropped; rows that keep no
    digit are dropped; one space separates rows.
    """
    spans = []
    for corners, text, _score in boxes:
        ys = [float(p[1]) for p in corners]
        xs = [float(p[0]) for p in corners]
        spans.append((min(ys), max(ys), min(xs), text))
    rows: list[dict[str, Any]] = []
    for top, bottom, left, text in sorted(spans, key=lambda s: (s[0] + s[1]) / 2):
        centre = (top + bottom) / 2
        for row in rows:
            if row["top"] <= centre <= row["bottom"] or top <= row["centre"] <= bottom:
                row["boxes"].append((left, text))
                break
        else:
            rows.append({"top": top, "bottom": bottom, "centre": centre, "boxes": [(left, text)]})
    rows.sort(key=lambda r: r["centre"])
    out = []
    for row in rows:
        digits = "".join(ch for _, text in sorted(row["boxes"]) for ch in text if ch in DIGITS)
        if digits:
            out.append(digits)
    return " ".join(out)


# --------------------------------------------------------------------------- the worker (RapidOCR's venv)


def _pad(img: Any) -> Any:
    import cv2
    import numpy as np

    h, w = img.shape[:2]
    if h >= MIN_SIDE and w >= MIN_SIDE:
        return img
    edge = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]]).reshape(-1, img.shape[2])
    colour = [float(v) for v in np.median(edge, axis=0)]
    dy, dx = max(0, MIN_SIDE - h), max(0, MIN_SIDE - w)
    return cv2.copyMakeBorder(
        img, dy // 2, dy - dy // 2, dx // 2, dx - dx // 2, cv2.BORDER_CONSTANT, value=colour
    )


def worker() -> int:
    """Load RapidOCR once, then answer each ``{"id", "path"}`` line of stdin with a line
    ``{"id", "boxes", "seconds", "error"}`` on stdout."""
    out = sys.stdout
    sys.stdout = sys.stderr  # whatever the library prints must not break the protocol
    t0 = time.perf_counter()
    import importlib.metadata as md

    import cv2
    import numpy as np
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR(intra_op_num_threads=THREADS, inter_op_num_threads=THREADS)
    warm = np.full((MIN_SIDE, MIN_SIDE, 3), 235, np.uint8)
    cv2.putText(warm, "1234", (20, 120), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (20, 20, 20), 4)
    engine(warm)  # the first call allocates; it belongs to start-up, not to the first image
    versions = {p: md.version(p) for p in (PACKAGE, "onnxruntime", "opencv-python", "numpy")}
    ready = {"ready": True, "startup_seconds": time.perf_counter() - t0, "versions": versions}
    out.write(json.dumps(ready) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        t = time.perf_counter()
        boxes: list[Any] = []
        error = None
        try:
            img = cv2.imread(req["path"], cv2.IMREAD_COLOR)
            if img is None:
                raise ValueError(f"cannot decode {req['path']}")
            result, _ = engine(_pad(img))
            boxes = [[[[float(v) for v in p] for p in c], str(text), float(s)] for c, text, s in result or []]
        except Exception as exc:  # one bad image is that image's error, not the worker's end
            error = f"{type(exc).__name__}: {exc}"
        reply = {"id": req.get("id"), "boxes": boxes, "seconds": time.perf_counter() - t, "error": error}
        out.write(json.dumps(reply) + "\n")
        out.flush()
    return 0


# --------------------------------------------------------------------------- the client (the bench's side)


class WorkerError(RuntimeError):
    pass


class RapidOcrWorker:
    """A RapidOCR worker process in its venv: ``read(path)`` returns its answer for one image."""

    def __init__(self, venv: Path | None = None) -> None:
        python = venv_python(venv)
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [str(python), str(Path(__file__).resolve()), "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            env={**os.environ, "OMP_NUM_THREADS": str(THREADS)},
        )
        ready = self._reply(STARTUP_TIMEOUT)
        #: Seconds from starting the process to its being ready (interpreter, imports, models, a
        #: warm-up image), seen from outside; ``load_seconds`` is the same seen from inside.
        self.startup_seconds = time.perf_counter() - t0
        self.load_seconds = float(ready.get("startup_seconds", 0.0))
        self.versions: dict[str, str] = ready.get("versions", {})
        self._next = 0

    def _reply(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.close()
            raise WorkerError("the RapidOCR worker " + ("timed out" if not ready else "ended"))
        return json.loads(line)

    def read(self, path: Path | str) -> dict[str, Any]:
        """``{"boxes", "seconds", "error"}`` for one image (``seconds`` measured in the worker)."""
        assert self.proc.stdin is not None
        self._next += 1
        self.proc.stdin.write(json.dumps({"id": self._next, "path": str(path)}) + "\n")
        self.proc.stdin.flush()
        reply = self._reply(IMAGE_TIMEOUT)
        if reply.get("id") != self._next:
            raise WorkerError(f"the RapidOCR worker answered request {reply.get('id')}, not {self._next}")
        return {"boxes": reply["boxes"], "seconds": reply["seconds"], "error": reply["error"]}

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> RapidOcrWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], prog="bench/rapidocr_peer.py")
    ap.add_argument("--setup", action="store_true", help=f"create the venv and install {PACKAGE}=={VERSION}")
    ap.add_argument("--venv", type=Path, help=f"the venv (default ${VENV_ENV} or {default_venv()})")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("images", nargs="*", type=Path, help="images to read")
    args = ap.parse_args(argv)
    if args.worker:
        return worker()
    venv = args.venv or default_venv()
    if args.setup:
        return setup(venv)
    if not args.images:
        ap.error("give --setup or images to read")
    reason = unavailable_reason(venv)
    if reason:
        print(reason, file=sys.stderr)
        return 1
    with RapidOcrWorker(venv) as w:
        print(f"start-up {w.startup_seconds:.2f} s ({w.versions})", file=sys.stderr)
        for path in args.images:
            r = w.read(path.resolve())
            text = r["error"] or reading_order(r["boxes"])
            print(f"{path}\t{text}\t{r['seconds']:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
