"""Bounded-time fuzzing of the image loader and the model pipeline.

Valid PNG, JPEG, TIFF, BMP, WebP, GIF (and PNM, PFM, Sun raster, HDR, JPEG 2000, AVIF) seeds are
mutated - bit flips, truncations, inserted and deleted runs, splices, header fields set to edge
values, PNG chunks changed with their CRC fixed - and each input goes through
``digit_ocr.load.decode`` and ``reader.read_image(bytes, engine="model")`` in a worker process.

A finding is: an exception that is not a ``DigitOcrError``; a worker crash (a signal in C code);
a hang (no answer within ``--timeout`` seconds); or huge memory (the worker's peak RSS over
``--max-rss-mb``, or running out of its address-space cap). Findings are saved to
``tests/fuzz_cases/`` (the input, plus a ``.txt`` with what happened), at most a few per distinct
signature, and become regression tests in ``tests/test_fuzz_quick.py``.

Engines: ``hypothesis`` (default; Hypothesis draws the seed and the mutations) or ``atheris``
(coverage-guided libFuzzer over the Python code, in-process; optional, ``pip install atheris``).

    python scripts/fuzz.py --minutes 10
    python scripts/fuzz.py --minutes 5 --engine atheris
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import multiprocessing as mp
import os
import random
import struct
import sys
import tempfile
import time
import traceback
import zlib
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "fuzz_cases"
#: How many inputs are kept per distinct finding signature.
KEEP_PER_SIGNATURE = 3

# --------------------------------------------------------------------------- seeds


def _page(text: str = "4096\n17", size: tuple[int, int] = (200, 110)):  # noqa: ANN202 - numpy, lazily
    import cv2
    import numpy as np

    img = np.full((size[1], size[0]), 235, np.uint8)
    for i, line in enumerate(text.split("\n")):
        cv2.putText(img, line, (12, 45 + 50 * i), cv2.FONT_HERSHEY_SIMPLEX, 1.5, 20, 4, cv2.LINE_AA)
    return img


def seeds() -> list[tuple[str, bytes]]:
    """Small valid images of digits as (extension, bytes), in every format the loader accepts."""
    import cv2
    import numpy as np

    gray = _page()
    bgr = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    bgra = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGRA)
    bgra[:, :20, 3] = 0
    out: list[tuple[str, bytes]] = []

    def add(ext: str, img: object, params: list[int] | None = None) -> None:
        try:
            ok, buf = cv2.imencode(ext, img, params or [])
        except cv2.error:
            return
        if ok:
            out.append((ext, buf.tobytes()))

    add(".png", gray)
    add(".png", bgr)
    add(".png", bgra)
    add(".png", gray.astype(np.uint16) * 257)
    add(".png", np.where(gray < 128, 0, 255).astype(np.uint8), [cv2.IMWRITE_PNG_BILEVEL, 1])
    add(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
    add(".jpg", gray, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    add(".jpg", bgr, [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_411])
    add(".tif", gray)
    add(".tif", bgr, [cv2.IMWRITE_TIFF_COMPRESSION, 1])
    add(".tif", gray.astype(np.uint16) * 257)
    add(".tif", gray.astype(np.float32) / 255.0)
    add(".bmp", gray)
    add(".bmp", bgr)
    add(".webp", bgr, [cv2.IMWRITE_WEBP_QUALITY, 80])
    add(".webp", bgr, [cv2.IMWRITE_WEBP_QUALITY, 101])  # lossless
    add(".gif", bgr)
    add(".pgm", gray)
    add(".ppm", bgr)
    add(".pam", bgr)
    add(".pfm", bgr.astype(np.float32) / 255.0)
    add(".ras", bgr)
    add(".hdr", bgr.astype(np.float32) / 255.0)
    add(".jp2", bgr)
    add(".avif", bgr)
    # A JPEG carrying an EXIF orientation (1: as stored), so EXIF parsing is fuzzed too.
    jpg = next(data for ext, data in out if ext == ".jpg")
    ifd = b"\x00\x01" + b"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x01\x00\x00" + b"\x00\x00\x00\x00"
    app1 = b"Exif\x00\x00" + b"MM\x00\x2a\x00\x00\x00\x08" + ifd
    out.append((".jpg", jpg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpg[2:]))
    return out


# --------------------------------------------------------------------------- mutations

INTERESTING = (0, 1, 2, 7, 8, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF,
               0x80000000, 0xFFFFFFFF)  # fmt: skip


def _fix_png_crcs(data: bytes) -> bytes:
    """Recompute every PNG chunk CRC, so that mutated chunks get past libpng's CRC check."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return data
    out, i = bytearray(data[:8]), 8
    while i + 12 <= len(data):
        n = int.from_bytes(data[i : i + 4], "big")
        if i + 12 + n > len(data):
            break
        body = data[i + 4 : i + 8 + n]
        out += data[i : i + 4] + body + struct.pack(">I", zlib.crc32(body))
        i += 12 + n
    return bytes(out + data[i:])


def _put_int(data: bytearray, pos: int, value: int, width: int, big: bool) -> None:
    pos %= max(1, len(data))
    raw = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "big" if big else "little")
    data[pos : pos + width] = raw[: max(0, len(data) - pos)]


def mutate(data: bytes, op: str, a: int, b: int, other: bytes = b"") -> bytes:
    """Apply one mutation ``op`` with integer parameters ``a`` and ``b`` (any range; reduced here)."""
    buf = bytearray(data)
    n = len(buf)
    if n == 0:
        return bytes(buf)
    if op == "flip":  # one bit
        buf[a % n] ^= 1 << (b % 8)
    elif op == "flip_head":  # one bit in the first 64 bytes, where the header fields are
        buf[a % min(n, 64)] ^= 1 << (b % 8)
    elif op == "byte":
        buf[a % n] = INTERESTING[b % len(INTERESTING)] & 0xFF
    elif op == "field":  # a 16- or 32-bit header field set to an edge value, either byte order
        width = 2 if b & 1 else 4
        _put_int(buf, a % min(n, 256), INTERESTING[(b >> 1) % len(INTERESTING)], width, bool(b & 2))
    elif op == "field_any":
        width = 2 if b & 1 else 4
        _put_int(buf, a, INTERESTING[(b >> 1) % len(INTERESTING)], width, bool(b & 2))
    elif op == "truncate":
        del buf[max(1, a % n) :]
    elif op == "delete":
        start = a % n
        del buf[start : start + 1 + b % 256]
    elif op == "insert":
        rng = random.Random(b)
        buf[a % n : a % n] = bytes(rng.randrange(256) for _ in range(1 + b % 64))
    elif op == "repeat":  # duplicate a run (chunks, segments, IFD entries)
        start = a % n
        run = bytes(buf[start : start + 1 + b % 512])
        buf[start:start] = run
    elif op == "splice" and other:
        cut = a % n
        buf = buf[:cut] + bytearray(other[b % len(other) :])
    elif op == "png_crc":  # any of the above, then fix the PNG CRCs
        return _fix_png_crcs(bytes(buf))
    return bytes(buf)


OPS = ("flip", "flip_head", "byte", "field", "field_any", "truncate", "delete", "insert", "repeat",
       "splice", "png_crc")  # fmt: skip


def apply(seed: bytes, ops: list[tuple[str, int, int]], other: bytes = b"") -> bytes:
    data = seed
    for op, a, b in ops:
        data = mutate(data, op, a, b, other)
    return data


def random_ops(rng: random.Random) -> list[tuple[str, int, int]]:
    return [(rng.choice(OPS), rng.getrandbits(32), rng.getrandbits(32)) for _ in range(rng.randint(1, 6))]


# --------------------------------------------------------------------------- the target


def target(data: bytes) -> str:
    """Decode, then read with the model; returns "ok:N digits" or "error:<DigitOcrError class>"."""
    from digit_ocr.errors import DigitOcrError
    from digit_ocr.load import decode
    from digit_ocr.reader import read_image

    try:
        decode(data)
        reading = read_image(data, engine="model")
    except DigitOcrError as exc:
        if "not enough memory" in exc.message:
            raise MemoryError(exc.message) from None  # the address-space cap was hit: huge memory
        return f"error:{type(exc).__name__}"
    return f"ok:{len(reading.digits)}"


def _worker(conn: Connection, as_limit_mb: int) -> None:
    """Run :func:`target` on each input received; reply (status, detail, seconds, peak RSS in MB)."""
    import resource

    if as_limit_mb > 0:
        resource.setrlimit(resource.RLIMIT_AS, (as_limit_mb << 20, as_limit_mb << 20))
    import digit_ocr.reader  # noqa: F401 - import cost paid once, not per input

    while True:
        try:
            data = conn.recv_bytes()
        except EOFError:
            return
        t0 = time.perf_counter()
        try:
            status, detail = "ok", target(data)
        except MemoryError as exc:
            status, detail = "memory", f"MemoryError: {exc}"
        except Exception:  # noqa: BLE001 - the point: anything that is not a DigitOcrError
            status, detail = "exception", traceback.format_exc()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        conn.send((status, detail, time.perf_counter() - t0, rss))


@dataclass
class Outcome:
    status: str  # ok, exception, hang, crash, memory
    detail: str
    seconds: float = 0.0
    rss_mb: float = 0.0


class Runner:
    """One worker process at a time; a hung, crashed or bloated worker is replaced."""

    def __init__(self, timeout: float, max_rss_mb: float, as_limit_mb: int) -> None:
        self.timeout, self.max_rss_mb, self.as_limit_mb = timeout, max_rss_mb, as_limit_mb
        self.ctx = mp.get_context("spawn")
        self.proc: mp.process.BaseProcess | None = None
        self.conn: Connection | None = None

    def _start(self) -> None:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        parent, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child, self.as_limit_mb), daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.join(5)
        if self.conn is not None:
            self.conn.close()
        self.proc = self.conn = None

    def run(self, data: bytes) -> Outcome:
        if self.proc is None or not self.proc.is_alive():
            self.stop()
            self._start()
        assert self.conn is not None and self.proc is not None
        self.conn.send_bytes(data)
        if not self.conn.poll(self.timeout):
            self.stop()
            return Outcome("hang", f"no answer within {self.timeout:g} s", self.timeout)
        try:
            status, detail, seconds, rss = self.conn.recv()
        except (EOFError, ConnectionResetError):
            self.proc.join(5)
            code = self.proc.exitcode
            self.stop()
            return Outcome("crash", f"worker died with exit code {code}")
        if status == "ok" and rss > self.max_rss_mb:
            self.stop()  # a fresh worker, so that the next input's peak is its own
            return Outcome("memory", f"peak RSS {rss:.0f} MB over {self.max_rss_mb:.0f} MB", seconds, rss)
        return Outcome(status, detail, seconds, rss)


# --------------------------------------------------------------------------- findings


def signature(outcome: Outcome) -> str:
    """What makes two findings the same: the kind, and for exceptions the type and innermost frame."""
    if outcome.status != "exception":
        return outcome.status
    lines = [ln for ln in outcome.detail.strip().splitlines() if ln.strip()]
    frames = [ln.strip() for ln in lines if ln.strip().startswith("File ")]
    return f"exception|{lines[-1].split(':')[0] if lines else '?'}|{frames[-1] if frames else '?'}"


class Findings:
    """Saves each finding's input and a description, a few per signature."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.by_signature: Counter[str] = Counter()
        self.saved: list[Path] = []

    def add(self, data: bytes, ext: str, outcome: Outcome) -> None:
        sig = signature(outcome)
        self.by_signature[sig] += 1
        if self.by_signature[sig] > KEEP_PER_SIGNATURE:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        name = f"{outcome.status}-{hashlib.sha1(data).hexdigest()[:12]}{ext}"
        path = self.out / name
        path.write_bytes(data)
        info = {"status": outcome.status, "signature": sig, "seconds": round(outcome.seconds, 2),
                "rss_mb": round(outcome.rss_mb), "detail": outcome.detail}  # fmt: skip
        path.with_name(name + ".json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
        self.saved.append(path)
        print(f"FINDING {outcome.status}: {path.name}: {sig}", flush=True)


# --------------------------------------------------------------------------- engines


def run_hypothesis(args: argparse.Namespace, runner: Runner, findings: Findings) -> Counter[str]:
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import strategies as st

    pool = seeds()
    deadline = time.monotonic() + args.minutes * 60
    stats: Counter[str] = Counter()
    op = st.tuples(st.sampled_from(OPS), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))

    class Done(Exception):
        pass

    quiet = {"suppress_health_check": list(HealthCheck), "verbosity": Verbosity.quiet}

    @settings(max_examples=10**9, deadline=None, database=None, phases=[Phase.generate], **quiet)
    @given(st.integers(0, len(pool) - 1), st.integers(0, len(pool) - 1), st.lists(op, min_size=1, max_size=6))
    def one(i: int, j: int, ops: list[tuple[str, int, int]]) -> None:
        if time.monotonic() > deadline:
            raise Done
        ext, seed = pool[i]
        data = apply(seed, ops, pool[j][1])
        outcome = runner.run(data)
        stats[outcome.status if outcome.status != "ok" else outcome.detail.split(":")[0]] += 1
        stats["inputs"] += 1
        if outcome.status != "ok":
            findings.add(data, ext, outcome)
        if stats["inputs"] % 1000 == 0:
            left = max(0.0, deadline - time.monotonic())
            print(f"{stats['inputs']} inputs, {dict(stats)}, {left / 60:.1f} min left", flush=True)

    # Every seed unmutated first: they must read cleanly, or the fuzzing says little.
    for ext, seed in pool:
        outcome = runner.run(seed)
        if outcome.status != "ok":
            findings.add(seed, ext, outcome)
    with contextlib.suppress(Done):
        one()
    return stats


def run_atheris(args: argparse.Namespace, findings: Findings) -> Counter[str]:
    import atheris  # optional: pip install atheris

    with atheris.instrument_imports():
        import digit_ocr.load  # noqa: F401
        import digit_ocr.reader  # noqa: F401
    corpus = Path(args.corpus)
    corpus.mkdir(parents=True, exist_ok=True)
    for ext, seed in seeds():
        (corpus / f"seed-{hashlib.sha1(seed).hexdigest()[:12]}{ext}").write_bytes(seed)
    args.out.mkdir(parents=True, exist_ok=True)

    def one(data: bytes) -> None:
        target(data)  # a DigitOcrError is an answer; anything else propagates and is saved by libFuzzer

    libfuzzer = [
        sys.argv[0],
        f"-max_total_time={int(args.minutes * 60)}",
        f"-timeout={int(args.timeout)}",
        # The in-process fuzzer's own RSS grows with its corpus and coverage maps (~1.5 GB after a few
        # thousand runs), so the whole-process limit has room; one input's allocation is capped below.
        f"-rss_limit_mb={int(args.max_rss_mb) + 2048}",
        f"-malloc_limit_mb={int(args.max_rss_mb)}",
        f"-artifact_prefix={args.out}/atheris-",
        "-print_final_stats=1",
        str(corpus),
    ]
    atheris.Setup(libfuzzer, one)
    atheris.Fuzz()
    return Counter()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to fuzz (default 10)")
    parser.add_argument("--engine", choices=("hypothesis", "atheris"), default="hypothesis")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds an input may take (default 10)")
    parser.add_argument("--max-rss-mb", type=float, default=1536, help="peak worker memory (default 1536)")
    parser.add_argument("--as-limit-mb", type=int, default=4096, help="worker address-space cap")
    parser.add_argument("--out", type=Path, default=CASES, help="where findings go")
    parser.add_argument(
        "--corpus", default=str(Path(tempfile.gettempdir()) / "digit-ocr-fuzz"), help="atheris's corpus"
    )
    args = parser.parse_args(argv)
    findings = Findings(args.out)
    t0 = time.monotonic()
    if args.engine == "atheris":
        run_atheris(args, findings)
        return 0
    runner = Runner(args.timeout, args.max_rss_mb, args.as_limit_mb)
    try:
        stats = run_hypothesis(args, runner, findings)
    finally:
        runner.stop()
    minutes = (time.monotonic() - t0) / 60
    print(f"done: {stats['inputs']} inputs in {minutes:.1f} min; outcomes {dict(stats)}")
    print(f"findings: {sum(findings.by_signature.values())} ({len(findings.by_signature)} distinct)")
    for sig, count in findings.by_signature.most_common():
        print(f"  {count:6d}  {sig}")
    return 1 if findings.by_signature else 0


if __name__ == "__main__":
    sys.exit(main())
