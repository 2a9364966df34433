"""Hostile and broken input through the real CLI: a defined answer every time, never a traceback,
a hang or unbounded memory; a model file can never run code; failed writes keep the old file.

Each corpus case runs ``python -m digit_ocr read`` in a subprocess capped at 1.5 GB of address
space, with a timeout. Codes: 0 digits, 1 no digits, 2 bad arguments or output not writable,
3 unreadable input, 4 missing dependency, 5 bad model, 7 Tesseract failed.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest

from digit_ocr import model as model_mod
from digit_ocr.errors import BadArgumentsError, BadModelError, ExitCode

from .conftest import ROOT, render
from .hostile import REFERENCE_JPG, REFERENCE_PNG, Case, build_corpus

ADDRESS_SPACE = 1536 << 20  # 1.5 GB: a decompression bomb must be refused well inside it
TIMEOUT = 60
posix_only = pytest.mark.skipif(os.name != "posix", reason="fake tesseract and /dev/full are POSIX")


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def _limit_memory_without_root_bypass() -> None:
    """Also drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, so that root is refused a chmod-000 file."""
    _limit_memory()
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # PR_CAPBSET_DROP = 24; the capabilities are gone after exec
        if libc.prctl(24, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def can_drop_root_bypass() -> bool:
    try:
        subprocess.run(["true"], preexec_fn=_limit_memory_without_root_bypass, check=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return True


def cli(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = TIMEOUT,
    preexec: Callable[[], None] | None = _limit_memory,
    stdout: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m digit_ocr ARGS`` in a subprocess with capped memory and a timeout."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("DIGIT_OCR_MAX_PIXELS", "DIGIT_OCR_DEBUG")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "digit_ocr", *args],
        stdout=subprocess.PIPE if stdout is None else stdout,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
        cwd=ROOT,
        timeout=timeout,
        preexec_fn=preexec,
    )


def assert_clean_stderr(
    r: subprocess.CompletedProcess[str], *, errors: int, warnings: int | None = None
) -> None:
    """No traceback, no codec chatter: only ``digit-ocr: error|warning:`` lines, each on one line."""
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.splitlines()
    assert all(ln.startswith(("digit-ocr: error: ", "digit-ocr: warning: ")) for ln in lines), r.stderr
    assert sum(ln.startswith("digit-ocr: error: ") for ln in lines) == errors, r.stderr
    if warnings is not None:
        assert sum(ln.startswith("digit-ocr: warning: ") for ln in lines) == warnings, r.stderr


# --------------------------------------------------------------------------- the hostile corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Case]]:
    root = tmp_path_factory.mktemp("hostile")
    return root, {c.name: c for c in build_corpus(root)}


@pytest.fixture(scope="module")
def results(corpus: tuple[Path, dict[str, Case]]) -> dict[str, subprocess.CompletedProcess[str] | str]:
    """Every case (and the two references) read at once, a few subprocesses in parallel."""
    root, cases = corpus
    drop = can_drop_root_bypass()

    def one(case: Case) -> subprocess.CompletedProcess[str] | str:
        if case.skip:
            return case.skip
        preexec = _limit_memory
        if "chmod000" in case.tags and os.geteuid() == 0:
            if not drop:
                return "running as root without a way to drop CAP_DAC_OVERRIDE: root reads any file"
            preexec = _limit_memory_without_root_bypass
        try:
            return cli("read", "--engine", "model", str(case.path), preexec=preexec)
        except subprocess.TimeoutExpired:
            return f"HANG: no answer within {TIMEOUT} s"

    refs = [Case(name, root / name, frozenset({0})) for name in (REFERENCE_PNG, REFERENCE_JPG)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = dict(zip([c.name for c in refs] + list(cases), pool.map(one, refs + list(cases.values()))))
    return done


def _case_names() -> list[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return [c.name for c in build_corpus(Path(tmp) / "c")]


CASE_NAMES = _case_names()


def test_corpus_is_large_enough() -> None:
    assert len(CASE_NAMES) >= 30


@pytest.mark.parametrize("name", CASE_NAMES)
def test_hostile_input_gets_a_defined_result(
    name: str,
    corpus: tuple[Path, dict[str, Case]],
    results: dict[str, subprocess.CompletedProcess[str] | str],
) -> None:
    case = corpus[1][name]
    r = results[name]
    if isinstance(r, str):
        assert not r.startswith("HANG"), r
        pytest.skip(r)
    assert r.returncode in case.exit_codes, f"exit {r.returncode}: {r.stderr}"
    failed = r.returncode not in (ExitCode.OK, ExitCode.NO_DIGITS)
    assert_clean_stderr(r, errors=1 if failed else 0)
    if failed:
        assert r.stdout == ""
        assert str(case.path) in r.stderr  # the message names the file
        if case.message:
            assert case.message in r.stderr
    if r.returncode == ExitCode.NO_DIGITS:
        assert r.stdout == ""
    if case.same_as in ("png", "jpg"):
        ref = results[REFERENCE_PNG if case.same_as == "png" else REFERENCE_JPG]
        assert not isinstance(ref, str) and ref.returncode == 0, ref
        assert r.stdout == ref.stdout
    elif case.same_as:
        assert len([c for c in r.stdout if c.isdigit()]) == int(case.same_as), r.stdout


def test_bomb_is_refused_quickly_under_a_memory_cap(corpus: tuple[Path, dict[str, Case]]) -> None:
    bomb = corpus[1]["bomb-100000x100000.png"].path
    assert bomb.stat().st_size < 2000
    r = cli("read", "-e", "model", str(bomb), timeout=20)
    assert r.returncode == ExitCode.UNREADABLE_INPUT and "100000x100000" in r.stderr
    # Raising the limit does not make it decode either: the 1.5 GB cap holds, and the error is one line.
    r = cli("read", "-e", "model", str(bomb), env={"DIGIT_OCR_MAX_PIXELS": str(10**10)}, timeout=60)
    assert r.returncode == ExitCode.UNREADABLE_INPUT, r.stderr
    assert_clean_stderr(r, errors=1)


def test_file_too_large_for_the_pixel_limit_is_refused_before_reading(tmp_path: Path) -> None:
    p = tmp_path / "huge.png"
    with open(p, "wb") as fh:  # sparse: 32 MiB that take no room
        fh.write(b"\x89PNG\r\n\x1a\n")
        fh.truncate(32 << 20)
    r = cli("read", "-e", "model", str(p), env={"DIGIT_OCR_MAX_PIXELS": "1000"}, timeout=20)
    assert r.returncode == ExitCode.UNREADABLE_INPUT
    assert_clean_stderr(r, errors=1)
    assert "too large for an image within the pixel limit" in r.stderr


def test_several_files_good_ones_still_read(corpus: tuple[Path, dict[str, Case]]) -> None:
    root, cases = corpus
    names = ["zero-bytes.jpg", REFERENCE_PNG, "fifo.jpg", "bomb-100000x100000.png", "all-white.png"]
    r = cli("read", "-e", "model", "-f", "json", *(str(root / n) for n in names))
    assert r.returncode == ExitCode.UNREADABLE_INPUT
    records = [json.loads(line) for line in r.stdout.splitlines()]
    assert [rec["status"] for rec in records] == ["error", "ok", "error", "error", "no_digits"]
    assert all(rec["exit_code"] == 3 for rec in records if rec["status"] == "error")
    assert_clean_stderr(r, errors=3)


# --------------------------------------------------------------------------- model files


def _arrays(path: Path | None = None) -> dict[str, np.ndarray]:
    with np.load(path or model_mod.default_model_path(), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _meta(arrays: dict[str, np.ndarray], **changes: object) -> dict[str, np.ndarray]:
    meta = json.loads(str(arrays["meta"]))
    meta.update(changes)
    return dict(arrays, meta=np.array(json.dumps(meta)))


class _Trap:
    """Unpickling this creates a file: proof that a model load ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def _bad_models(tmp: Path) -> dict[str, tuple[Path, str]]:
    """Broken model files: name -> (path, phrase the error must contain)."""
    good = model_mod.default_model_path().read_bytes()
    a = _arrays()
    out: dict[str, tuple[Path, str]] = {}

    def save(
        name: str, phrase: str, arrays: dict[str, np.ndarray] | None = None, raw: bytes | None = None
    ) -> None:
        p = tmp / f"{name}.npz"
        if raw is not None:
            p.write_bytes(raw)
        else:
            with open(p, "wb") as fh:
                np.savez(fh, **arrays)  # type: ignore[arg-type]
        out[name] = (p, phrase)

    save("truncated", "truncated", raw=good[: len(good) // 2])
    save("empty", "truncated", raw=b"")
    save("text", "truncated", raw=b"coef = [1, 2, 3]\n")
    trap = np.empty(1, dtype=object)
    trap[0] = _Trap(tmp / "PWNED")
    save("pickled", "pickled", dict(a, coef=trap))
    save("feature-version", "features 999", _meta(a, feature_version=999))
    save("model-format", "format 2", _meta(a, model_format=2))
    save("feature-map", "feature map", _meta(a, feature_map="rbf"))
    save("wrong-shape", "wrong shape", dict(a, coef=a["coef"][:, :63]))
    save("wrong-intercept", "wrong shape", dict(a, intercept=a["intercept"][:5]))
    nan = a["coef"].copy()
    nan[3, 7] = np.nan
    save("nan-weights", "NaN", dict(a, coef=nan))
    save("inf-intercept", "NaN or infinite", dict(a, intercept=np.full_like(a["intercept"], np.inf)))
    save("classes-out-of-range", "classes outside", dict(a, classes=a["classes"] + 20))
    save("classes-repeated", "distinct", dict(a, classes=np.zeros_like(a["classes"])))
    save("string-weights", "non-numeric", dict(a, coef=a["coef"].astype(str)))
    save("missing-member", "lacks intercept", {k: v for k, v in a.items() if k != "intercept"})
    save("meta-not-json", "metadata", dict(a, meta=np.array("{not json")))
    save("meta-not-object", "metadata", dict(a, meta=np.array("[1, 2]")))
    save("meta-numeric", "metadata", dict(a, meta=np.zeros(3)))
    save("temperature", "temperature", _meta(a, calibration={"temperature": 0}))
    # The random features of an rff model (the shipped one): missing, misshapen, NaN.
    rff = _meta(a, feature_map="rff")
    if "rff_weights" not in rff:
        rff["rff_weights"] = np.zeros((64, 8), np.float32)
        rff["rff_offsets"] = np.zeros(8, np.float32)
    save("rff-missing", "lacks rff_offsets", {k: v for k, v in rff.items() if k != "rff_offsets"})
    save("rff-shape", "wrong shape", dict(rff, rff_weights=rff["rff_weights"][:63]))
    save("rff-offsets", "wrong shape", dict(rff, rff_offsets=rff["rff_offsets"][:-1]))
    bad = rff["rff_weights"].copy()
    bad[0, 0] = np.nan
    save("rff-nan", "NaN", dict(rff, rff_weights=bad))
    save("rff-strings", "non-numeric", dict(rff, rff_weights=rff["rff_weights"][:, :4].astype(str)))
    save("feature-blocks", "unknown feature blocks", _meta(a, features=["counts8", "zernike"]))
    save("feature-blocks-order", "unknown feature blocks", _meta(a, features=["hog", "counts8"]))
    save("calibration-junk", "temperature", _meta(a, calibration="hot"))
    return out


def test_every_broken_model_is_a_bad_model_error_naming_the_fix(tmp_path: Path) -> None:
    for name, (path, phrase) in _bad_models(tmp_path).items():
        with pytest.raises(BadModelError) as info:
            model_mod.load_model(path)
        msg = str(info.value)
        assert phrase in msg and "digit-ocr train" in msg and "\n" not in msg, (name, msg)
        assert info.value.exit_code == ExitCode.BAD_MODEL
    assert not (tmp_path / "PWNED").exists()


def test_oversized_model_member_is_refused_before_decompressing(tmp_path: Path) -> None:
    a = _arrays()
    p = tmp_path / "zipbomb.npz"
    small = {k: v for k, v in a.items() if not k.startswith("rff_")}  # the rest is refused before them
    with open(p, "wb") as fh:  # 80 MB of zeros, a few hundred kB compressed
        np.savez_compressed(fh, **dict(small, coef=np.zeros((10, 2_000_000), np.float32)))
    assert p.stat().st_size < 1_000_000
    with pytest.raises(BadModelError, match="oversized"):
        model_mod.load_model(p)


@pytest.mark.parametrize("name", ["pickled", "truncated", "nan-weights", "feature-version"])
def test_broken_model_through_the_cli(tmp_path: Path, name: str) -> None:
    path, phrase = _bad_models(tmp_path)[name]
    page = tmp_path / "page.png"
    cv2.imwrite(str(page), render("4096"))
    r = cli("read", "--model", str(path), str(page))
    assert r.returncode == ExitCode.BAD_MODEL, r.stderr
    assert_clean_stderr(r, errors=1)
    assert phrase in r.stderr and f"digit-ocr train --output {path}" in r.stderr
    assert not (tmp_path / "PWNED").exists()


def test_shipped_model_matches_its_recorded_checksum() -> None:
    path = model_mod.default_model_path()
    recorded = model_mod.checksum_path(path).read_text().split()
    assert recorded[1] == path.name  # sha256sum format: `cd models && sha256sum -c digits.sha256`
    import hashlib

    assert recorded[0] == hashlib.sha256(path.read_bytes()).hexdigest(), (
        "models/digits.npz changed without its checksum: write models via Model.save or call "
        "digit_ocr.model.write_checksum(path)"
    )


def test_checksum_written_by_save_and_verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    m = model_mod.load_model()
    target = tmp_path / "models" / "digits.npz"
    m.save(target)
    sidecar = model_mod.checksum_path(target)
    assert sidecar.name == "digits.sha256" and sidecar.read_text().endswith("  digits.npz\n")
    model_mod.verify_checksum(target)
    monkeypatch.setattr(model_mod, "default_model_path", lambda: target)
    assert model_mod.load_model().coef.shape == m.coef.shape
    # One flipped byte in the default model: refused, naming `digit-ocr train`.
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(BadModelError, match=r"does not match its recorded SHA-256.*digit-ocr train"):
        model_mod.load_model()
    # A checksum file is required for the default model ...
    sidecar.unlink()
    with pytest.raises(BadModelError, match=r"no recorded checksum.*digit-ocr train"):
        model_mod.load_model()
    # ... and checked for another model only when present.
    monkeypatch.setattr(model_mod, "default_model_path", lambda: tmp_path / "elsewhere.npz")
    other = m.save(tmp_path / "mine.npz")
    model_mod.checksum_path(other).write_text("0" * 64 + "  mine.npz\n")
    with pytest.raises(BadModelError, match="does not match"):
        model_mod.load_model(other)
    model_mod.checksum_path(other).unlink()
    assert model_mod.load_model(other).coef.shape == m.coef.shape


def test_tampered_default_model_through_the_cli(tmp_path: Path) -> None:
    """A copy of the package whose shipped model was changed after its checksum was recorded."""
    pkg = tmp_path / "pkg"
    shutil.copytree(ROOT / "digit_ocr", pkg / "digit_ocr", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "models", pkg / "models", ignore=shutil.ignore_patterns("__pycache__"))
    model = pkg / "models" / "digits.npz"
    page = tmp_path / "page.png"
    cv2.imwrite(str(page), render("4096"))

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "digit_ocr", "read", "-e", "model", str(page)],
            capture_output=True, text=True, cwd=pkg, timeout=TIMEOUT,
            env={**os.environ, "PYTHONPATH": str(pkg)},
        )  # fmt: skip

    assert run().returncode == ExitCode.OK  # the copy is what runs, and it is intact
    data = bytearray(model.read_bytes())
    data[-30] ^= 0xFF
    model.write_bytes(bytes(data))
    r = run()
    assert r.returncode == ExitCode.BAD_MODEL
    assert_clean_stderr(r, errors=1)
    assert "recorded SHA-256" in r.stderr and "digit-ocr train" in r.stderr


# --------------------------------------------------------------------------- Tesseract faults

FAKES = {
    # name: (--version output, what a read does)
    "hang": ("tesseract 5.3.0", "cat >/dev/null; sleep 30"),
    "crash": ("tesseract 5.3.0", "cat >/dev/null; kill -SEGV $$"),
    "garbage": ("tesseract 5.3.0", "cat >/dev/null; printf '\\001\\377 <html>no page here</html>\\n'"),
    "garbage-version": ("%&* not a version", "exit 0"),
    "too-old": ("tesseract 3.05.01", "exit 0"),
}
EXPECTED = {
    "missing": (ExitCode.MISSING_DEPENDENCY, "not an executable"),
    "hang": (ExitCode.ENGINE_FAILED, "timed out after 1s"),
    "crash": (ExitCode.ENGINE_FAILED, "crashed (SIGSEGV)"),
    "garbage": (ExitCode.ENGINE_FAILED, "no hOCR page"),
    "garbage-version": (ExitCode.MISSING_DEPENDENCY, "not a working tesseract"),
    "too-old": (ExitCode.MISSING_DEPENDENCY, "too old"),
}


def _fake(tmp: Path, name: str) -> str:
    if name == "missing":
        return str(tmp / "no" / "tesseract")
    version, body = FAKES[name]
    p = tmp / f"tesseract-{name}"
    p.write_text(f'#!/bin/sh\nif [ "$1" = "--version" ]; then echo "{version}"; exit 0; fi\n{body}\n')
    p.chmod(0o755)
    return str(p)


@pytest.fixture(scope="module")
def unsure_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """A page the model reads with an uncertain digit (so ``auto`` asks Tesseract), and the model's reading.

    A mix of digits and letters gives uncertain candidates; a blank page (nothing found, exit 1) is
    the fallback, which makes ``auto`` ask Tesseract too.
    """
    from digit_ocr.crosscheck import CONSULT_BELOW

    d = tmp_path_factory.mktemp("unsure")
    for i, img in enumerate(
        [render("3A8B1"), render("7Q2"), render("5S09"), np.full((200, 300), 240, np.uint8)]
    ):
        p = d / f"page{i}.png"
        cv2.imwrite(str(p), img)
        r = cli("read", "-e", "model", "-f", "json", str(p))
        rec = json.loads(r.stdout)
        if not rec["lines"] or any(
            dg["confidence"] < CONSULT_BELOW for ln in rec["lines"] for dg in ln["digits"]
        ):
            return p, cli("read", "-e", "model", str(p))
    raise AssertionError("unreachable: the blank page has no digits")


@posix_only
@pytest.mark.parametrize("name", list(EXPECTED))
def test_tesseract_fault_auto_keeps_the_models_answer(
    name: str, tmp_path: Path, unsure_page: tuple[Path, subprocess.CompletedProcess[str]]
) -> None:
    page, model_only = unsure_page
    env = {"DIGIT_OCR_TESSERACT": _fake(tmp_path, name)}
    r = cli("read", "--timeout", "1", str(page), str(page), env=env, timeout=30)
    assert r.returncode == model_only.returncode, r.stderr
    assert r.stdout == f"{page}:\n{model_only.stdout}" * 2
    assert_clean_stderr(r, errors=0, warnings=1)  # said once for the two images
    assert EXPECTED[name][1] in r.stderr and "model alone" in r.stderr


@posix_only
@pytest.mark.parametrize("name", list(EXPECTED))
def test_tesseract_fault_engine_tesseract_fails_clearly(
    name: str, tmp_path: Path, unsure_page: tuple[Path, subprocess.CompletedProcess[str]]
) -> None:
    env = {"DIGIT_OCR_TESSERACT": _fake(tmp_path, name)}
    r = cli("read", "--engine", "tesseract", "--timeout", "1", str(unsure_page[0]), env=env, timeout=30)
    code, phrase = EXPECTED[name]
    assert r.returncode == code, r.stderr
    assert_clean_stderr(r, errors=1, warnings=0)
    assert phrase in r.stderr and r.stdout == ""
    if code == ExitCode.MISSING_DEPENDENCY:
        assert "apt-get install tesseract-ocr" in r.stderr


# --------------------------------------------------------------------------- failed writes


@pytest.fixture
def page(tmp_path: Path) -> Path:
    p = tmp_path / "page.png"
    cv2.imwrite(str(p), render("4096"))
    return p


def test_annotate_into_a_path_under_a_file(tmp_path: Path, page: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    r = cli("read", "-e", "model", str(page), "--annotate", str(blocker / "out.png"))
    assert r.returncode == ExitCode.BAD_ARGS
    assert_clean_stderr(r, errors=1)
    assert "cannot write" in r.stderr and "Not a directory" in r.stderr
    assert blocker.read_text() == "not a folder"


def test_failed_annotate_keeps_the_previous_file(tmp_path: Path, page: Path) -> None:
    out = tmp_path / "out.png"
    r = cli("read", "-e", "model", str(page), "--annotate", str(out))
    assert r.returncode == 0, r.stderr
    good = out.read_bytes()
    (tmp_path / ".out.png.tmp").mkdir()  # the temporary file cannot be created: the write fails midway
    r = cli("read", "-e", "model", str(page), "--annotate", str(out))
    assert r.returncode == ExitCode.BAD_ARGS
    assert_clean_stderr(r, errors=1)
    assert out.read_bytes() == good


def test_failed_model_save_keeps_the_previous_model(tmp_path: Path) -> None:
    m = model_mod.load_model()
    target = m.save(tmp_path / "m.npz")
    good = target.read_bytes()
    (tmp_path / ".m.npz.tmp").mkdir()
    with pytest.raises(BadArgumentsError, match="cannot write model"):
        m.save(target)
    assert target.read_bytes() == good
    model_mod.verify_checksum(target)
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(BadArgumentsError, match="cannot write model"):
        m.save(blocker / "m.npz")


@contextlib.contextmanager
def tiny_tmpfs(where: Path, size: str = "96k") -> Iterator[Path]:
    """A small tmpfs (root with mount rights only; skips otherwise)."""
    where.mkdir()
    try:
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                              capture_output=True, timeout=20)  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot mount a tmpfs: {exc}")
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {proc.stderr.decode(errors='replace').strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=20)


def _fill(folder: Path, leave: int) -> None:
    """Fill a file system until about ``leave`` bytes are free."""
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    with open(folder / "filler", "wb") as fh, contextlib.suppress(OSError):
        fh.write(bytes(max(0, free - leave)))


@pytest.mark.skipif(sys.platform != "linux", reason="tmpfs")
def test_disk_full_annotate_and_model_save(tmp_path: Path, page: Path) -> None:
    with tiny_tmpfs(tmp_path / "small") as small:
        out = small / "out.png"
        r = cli("read", "-e", "model", str(page), "--annotate", str(out))
        assert r.returncode == 0, r.stderr
        good_png = out.read_bytes()
        m = model_mod.load_model()
        m.coef = m.coef[:, :64].copy()  # a small linear model, so that it fits
        m.meta = dict(m.meta, feature_map="linear")
        m.arrays = {}
        model = m.save(small / "m.npz")
        good_model = model.read_bytes()
        _fill(small, 2048)
        r = cli("read", "-e", "model", str(page), "--annotate", str(out))
        assert r.returncode == ExitCode.BAD_ARGS
        assert_clean_stderr(r, errors=1)
        assert "No space left on device" in r.stderr
        assert out.read_bytes() == good_png
        with pytest.raises(BadArgumentsError, match="No space left"):
            model_mod.load_model().save(model)
        assert model.read_bytes() == good_model
        assert not list(small.glob(".*.tmp"))  # no temporary file left behind


@posix_only
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_stdout_on_a_full_device(page: Path, fmt: str) -> None:
    with open("/dev/full", "w") as full:
        r = cli("read", "-e", "model", "-f", fmt, str(page), str(page), stdout=full.fileno())
    assert r.returncode == ExitCode.BAD_ARGS
    assert_clean_stderr(r, errors=1)
    assert "cannot write output: No space left on device" in r.stderr
