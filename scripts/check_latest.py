"""Would digit-ocr still pass, and read the same, on the newest versions its ranges allow?

A check beside CI, not part of it: CI installs the pinned versions of ``requirements.lock``; this
script builds a second, temporary environment with the NEWEST versions that pyproject.toml's
ranges allow (what ``pip install digit-ocr`` gives a user today), runs the test suite there, and
reads a fixed corpus of images in both environments to report which readings changed:

* the bundled ``samples/*.jpg``;
* images the project's own tests and benchmark draw (wheel crops, LCD strips, printed lines,
  forms, batch-benchmark photos...), drawn ONCE in the locked environment and saved as PNG, so
  that both environments read the same pixels (OpenCV's text drawing itself changes between
  releases: a reading that changes here is the reader's doing, not the drawing's);
* with ``--dev-data [DIR]``, the labelled dev sets and photos of the evaluation data when present
  (``$DIGIT_OCR_DATA``, else ``../shared/data``, as for bench/run.py; read only, never trained on).

Each environment reads the corpus in a subprocess that dumps every ``read_image(...).to_dict()``
(less its timing) to JSON, always with this checkout's code; the two dumps are compared for
texts, digits (value and box) and confidences, and the package versions that differ are listed.

    python scripts/check_latest.py                  # build both environments, test, compare
    python scripts/check_latest.py --no-tests       # readings only (a few minutes less)
    python scripts/check_latest.py --locked-python .venv/bin/python   # reuse a locked environment
    python scripts/check_latest.py --dev-data --engine model          # add the dev sets (~4,000 images)

Exit status: 0 when the suite passed on the newest versions and no reading changed; otherwise the
sum of 1 (readings changed), 2 (tests failed on the newest versions) and 4 (an environment could
not be built or a corpus could not be read). Needs PyPI (pip) and about 1.5 GB of disk for the
two environments, which are removed afterwards unless ``--keep DIR`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
#: A confidence that moves by more than this counts as a changed reading.
CONF_TOL = 0.01

# ----------------------------------------------------------------------------- environments


def _run(cmd: list[str], log: Path | None = None, **kw: Any) -> int:
    """Run a command from the repository root; its output goes to ``log`` (or through)."""
    if log is None:
        return subprocess.run(cmd, cwd=ROOT, **kw).returncode
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(f"$ {' '.join(cmd)}\n")
        fh.flush()
        return subprocess.run(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, **kw).returncode


def extras() -> list[str]:
    """Every optional-dependency group of pyproject.toml (the lock covers them all)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib

        return sorted(tomllib.loads(text)["project"].get("optional-dependencies", {}))
    except ImportError:  # Python 3.10: the keys of the [project.optional-dependencies] table
        block = text.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
        return sorted(re.findall(r"^([A-Za-z0-9_-]+)\s*=", block, re.M))


def make_env(where: Path, python: str, locked: bool, log: Path) -> Path:
    """A fresh virtual environment with this checkout and all its extras installed: the versions
    of requirements.lock (``locked``) or the newest ones pyproject.toml's ranges allow."""
    if _run([python, "-m", "venv", str(where)], log) != 0:
        raise RuntimeError(f"could not create a virtual environment in {where} (see {log})")
    py = str(where / "bin" / "python")
    spec = f".[{','.join(extras())}]"
    if locked:
        steps = [
            [py, "-m", "pip", "install", "-c", str(LOCK), "pip"],
            [py, "-m", "pip", "install", "-c", str(LOCK), "--build-constraint", str(LOCK), spec],
        ]
    else:
        steps = [
            [py, "-m", "pip", "install", "--upgrade", "pip"],
            [py, "-m", "pip", "install", "--upgrade", "--upgrade-strategy", "eager", spec],
        ]
    for cmd in steps:
        if _run(cmd, log) != 0:
            raise RuntimeError(f"{' '.join(cmd[2:5])} ... failed in {where} (see {log})")
    return where / "bin" / "python"


def versions(python: Path | str) -> dict[str, str]:
    """The installed distributions of an environment and their versions."""
    out = subprocess.run(
        [str(python), "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {d["name"].lower().replace("_", "-"): d["version"] for d in json.loads(out)}


# ----------------------------------------------------------------------------- the corpus


def drawn_images() -> Iterator[tuple[str, Callable[[], Any]]]:
    """Images that the project's tests and benchmark draw, by name (a maker of each)."""
    from bench.batch_bench import photo
    from tests import test_forms as forms
    from tests import test_hard_photos as hard
    from tests.conftest import render

    for d in "0123456789":
        yield f"wheel_crop_{d}", lambda d=d: hard._wheel_crop(d, "2", "7")
        yield f"big_digit_beside_ticks_{d}", lambda d=d: hard._big_digit_beside_ticks(d)
    for text in ("123", "456", "789"):
        for w in (0.15, 0.25):
            yield f"tick_below_{text}_{w}", lambda t=text, w=w: hard._digits_with_a_tick_below(t, w)
    for seed in (0, 1, 2):
        yield f"faint_lcd_{seed}", lambda s=seed: hard._sevenseg_strip("70945", (195, 220), 240, s)
    for text, seed in (("23173", 0), ("58214", 1), ("90640", 2)):
        yield f"lcd_glare_{text}", lambda t=text, s=seed: hard._lcd_with_glare(t, s)
    for text, seed in (("61847", 1), ("16722", 4), ("31126", 15)):
        yield f"lcd_dark_edge_{text}", lambda t=text, s=seed: hard._lcd_with_dark_edge(t, s)
    for deg in (-10, -7, 8, 11):
        yield f"tilted_{deg}", lambda g=deg: hard._tilted(["4815162342", "2718281828", "3141592653"], g)
    for pitch in (38, 42, 46):
        yield f"slanted_ten_{pitch}", lambda p=pitch: hard._slanted_ten(p)
    for drop in (0.2, 0.35):
        yield f"flagged_one_{drop}", lambda r=drop: hard._flagged_one(0.4, r)
    yield "ruled_271828", lambda: hard._ruled("271828")
    yield "broken_zero_8048", hard._broken_zero_line
    yield "descending_4127", hard._descending_line
    for text, tilt, dashed in (("10628", 0.01, True), ("2749", -0.01, False)):
        yield f"baseline_{text}", lambda t=text, a=tilt, b=dashed: hard._underlined(t, a, b)
    for font in ("DejaVuSans-Bold.ttf", "STIXGeneralBol.ttf", "cmb10.ttf"):
        yield f"bold_ones_{font}", lambda f=font: hard._printed("10110", f, 40)
    for font in hard.FONTS_WITH_CLOSE_ONES:
        yield f"close_ones_{font}", lambda f=font: hard._printed("4118", f, 48)
    for font in ("DejaVuSerif.ttf", "cmr10.ttf", "STIXGeneral.ttf"):
        for k, (text, _) in enumerate(forms.LINES):
            yield f"form_{font}_{k}", lambda t=text, f=font: forms._printed(t, f)
    for text in ("4096", "0123456789", "31\n4159"):
        yield f"render_{text.replace(chr(10), '_')}", lambda t=text: render(t)
    for i in range(40):
        yield f"batch_photo_{i:03d}", lambda i=i: photo(i)[0]


def draw(folder: Path) -> int:
    """Write the drawn corpus into ``folder`` as PNG files, the batch benchmark's photos as JPEG
    (run in the locked environment)."""
    import cv2

    sys.path.insert(0, str(ROOT))
    folder.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name, make in drawn_images():
        try:
            if name.startswith("batch_photo"):  # as the batch benchmark writes them
                cv2.imwrite(str(folder / f"{name}.jpg"), make(), [cv2.IMWRITE_JPEG_QUALITY, 85])
            else:
                cv2.imwrite(str(folder / f"{name}.png"), make())
        except Exception as exc:  # noqa: BLE001 - a renamed test helper must not stop the check
            print(f"check_latest: could not draw {name}: {exc!r}", file=sys.stderr)
            failed += 1
    return failed


def dev_images(data: Path) -> list[Path]:
    """The labelled dev sets and photos of the evaluation data (``labels.csv`` of each folder)."""
    import csv

    out = []
    for labels in sorted([*data.glob("dev/*/labels.csv"), *data.glob("photos/labels.csv")]):
        with open(labels, newline="", encoding="utf-8") as fh:
            out += [labels.parent / row["file"] for row in csv.DictReader(fh)]
    return out


def _read_one(args: tuple[str, str]) -> tuple[str, dict[str, Any]]:
    path, engine = args
    from digit_ocr import read_image

    try:
        d = read_image(path, engine=engine).to_dict()
        d.pop("timing_ms", None)
    except Exception as exc:  # noqa: BLE001 - recorded as a reading of its own
        d = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
    return path, d


def dump(listing: Path, out: Path, engine: str, jobs: int) -> None:
    """Read every image listed in ``listing`` with this checkout's code; write the readings as JSON."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    paths = listing.read_text(encoding="utf-8").split("\n")
    tasks = [(p, engine) for p in paths if p]
    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(jobs) as ex:
            results = dict(ex.map(_read_one, tasks, chunksize=8))
    else:
        results = dict(map(_read_one, tasks))
    import cv2
    import numpy

    meta = {"python": sys.version.split()[0], "opencv": cv2.__version__, "numpy": numpy.__version__}
    out.write_text(json.dumps({"meta": meta, "readings": results}), encoding="utf-8")


# ----------------------------------------------------------------------------- comparing


def _digits(r: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for line in r.get("lines", []) for d in line["digits"]]


def compare(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]], tol: float) -> list[str]:
    """One line per image whose reading differs between ``a`` (locked) and ``b`` (newest)."""
    out = []
    for path in sorted(set(a) | set(b)):
        ra, rb = a.get(path), b.get(path)
        name = os.path.relpath(path, ROOT) if path.startswith(str(ROOT)) else path
        if ra is None or rb is None:
            out.append(f"{name}: read in one environment only")
            continue
        if ra.get("status") == "error" or rb.get("status") == "error":
            if ra.get("error") != rb.get("error"):
                out.append(f"{name}: error {ra.get('error')!r} -> {rb.get('error')!r}")
            continue
        if ra["text"] != rb["text"]:
            out.append(f"{name}: text {ra['text']!r} -> {rb['text']!r}")
            continue
        da, db = _digits(ra), _digits(rb)
        moved = [
            k for k, (x, y) in enumerate(zip(da, db)) if (x["box"], x["engine"]) != (y["box"], y["engine"])
        ]
        if moved:
            k = moved[0]
            out.append(
                f"{name}: same text, {len(moved)} digit(s) found differently, e.g. {da[k]['digit']!r} "
                f"box {da[k]['box']} ({da[k]['engine']}) -> {db[k]['box']} ({db[k]['engine']})"
            )
            continue
        deltas = [(abs(x["confidence"] - y["confidence"]), x, y) for x, y in zip(da, db)]
        big = [t for t in deltas if t[0] > tol]
        if big:
            _, x, y = max(big, key=lambda t: t[0])
            out.append(
                f"{name}: same digits, {len(big)} confidence(s) moved by more than {tol}, most: "
                f"{x['digit']!r} {x['confidence']:.3f} -> {y['confidence']:.3f}"
            )
    return out


# ----------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keep", type=Path, help="build the environments and corpus here, and keep them")
    ap.add_argument("--python", default=sys.executable, help="the interpreter to make the environments from")
    ap.add_argument("--locked-python", help="an existing environment installed from requirements.lock")
    ap.add_argument("--no-tests", action="store_true", help="compare the readings only")
    ap.add_argument(
        "--dev-data",
        nargs="?",
        const=os.environ.get("DIGIT_OCR_DATA") or str(ROOT.parent / "shared" / "data"),
        help="also read the dev sets and photos of this folder (default: $DIGIT_OCR_DATA, else "
        "../shared/data as for bench/run.py), when present",
    )
    ap.add_argument("--engine", default="auto", choices=["auto", "model", "tesseract", "both"])
    ap.add_argument("--jobs", type=int, default=2, help="processes reading the corpus (default 2)")
    ap.add_argument("--tol", type=float, default=CONF_TOL, help=f"confidence tolerance (default {CONF_TOL})")
    # internal: what each environment runs
    ap.add_argument("--draw", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--dump", nargs=2, type=Path, help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    if a.draw:
        return 4 if draw(a.draw) else 0
    if a.dump:
        dump(a.dump[0], a.dump[1], a.engine, a.jobs)
        return 0

    work = a.keep or Path(tempfile.mkdtemp(prefix="digit-ocr-latest-"))
    work.mkdir(parents=True, exist_ok=True)
    log = work / "setup.log"
    say = lambda m: print(f"check_latest: {m}", file=sys.stderr, flush=True)  # noqa: E731
    code = 0
    try:
        t0 = time.time()
        if a.locked_python:
            locked_py = Path(a.locked_python).absolute()
        else:
            say(f"building the locked environment in {work / 'locked'} (log: {log})")
            locked_py = make_env(work / "locked", a.python, True, log)
        say(f"building the newest environment in {work / 'latest'}")
        latest_py = make_env(work / "latest", a.python, False, log)
        say(f"environments ready ({time.time() - t0:.0f} s)")

        va, vb = versions(locked_py), versions(latest_py)
        changed = sorted(n for n in set(va) | set(vb) if va.get(n) != vb.get(n) and n != "digit-ocr")

        say("drawing the corpus in the locked environment")
        drawn = work / "drawn"
        if _run([str(locked_py), str(Path(__file__).resolve()), "--draw", str(drawn)]) != 0:
            code |= 4
        images = sorted((ROOT / "samples").glob("*.jpg")) + sorted(drawn.glob("*.*"))
        if a.dev_data:
            data = Path(a.dev_data)
            if data.is_dir():
                images += dev_images(data)
            else:
                say(f"no evaluation data at {data}: left out")
        listing = work / "corpus.txt"
        listing.write_text("\n".join(str(p) for p in images) + "\n", encoding="utf-8")

        dumps = {}
        for label, py in (("locked", locked_py), ("latest", latest_py)):
            say(f"reading {len(images)} images in the {label} environment (--engine {a.engine})")
            out = work / f"readings-{label}.json"
            cmd = [str(py), str(Path(__file__).resolve()), "--dump", str(listing), str(out)]
            if _run([*cmd, "--engine", a.engine, "--jobs", str(a.jobs)]) != 0 or not out.exists():
                say(f"the {label} environment could not read the corpus")
                code |= 4
                continue
            dumps[label] = json.loads(out.read_text(encoding="utf-8"))

        tests = None
        if not a.no_tests:
            say("running the test suite on the newest versions")
            tests = _run([str(latest_py), "-m", "pytest", "-q", "-p", "no:cacheprovider"])
            if tests != 0:
                code |= 2

        diffs: list[str] = []
        if len(dumps) == 2:
            diffs = compare(dumps["locked"]["readings"], dumps["latest"]["readings"], a.tol)
            if diffs:
                code |= 1

        print()
        print("== versions that differ (locked -> newest)")
        for n in changed:
            print(f"  {n}: {va.get(n, '-')} -> {vb.get(n, '-')}")
        if not changed:
            print("  none: the lock holds the newest versions")
        print(f"== readings of {len(images)} images that changed (--engine {a.engine})")
        for line in diffs:
            print(f"  {line}")
        if len(dumps) == 2 and not diffs:
            print("  none")
        print("== summary")
        if tests is not None:
            verdict = "passed" if tests == 0 else f"FAILED (pytest exit {tests})"
            print(f"  tests on the newest versions: {verdict}")
        if len(dumps) == 2:
            print(f"  readings: {len(diffs)} of {len(images)} changed")
        if code & 4:
            print("  an environment could not be built or could not read the corpus")
        print(f"  exit status {code}" + ("" if a.keep else " (environments removed; --keep DIR keeps them)"))
        return code
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        say(str(exc))
        if log.exists():
            print("".join(log.read_text(encoding="utf-8").splitlines(True)[-40:]), file=sys.stderr)
        return code | 4
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
