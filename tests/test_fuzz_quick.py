"""A short fuzz run in the normal suite, and every saved fuzz finding as a regression test.

The mutations and seeds are those of ``scripts/fuzz.py`` (the long, bounded-time run). Here the
pixel limit is lowered, so that no mutated header can make one example slow.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digit_ocr.errors import DigitOcrError
from digit_ocr.load import decode
from digit_ocr.reader import read_image

ROOT = Path(__file__).resolve().parent.parent
CASES = Path(__file__).resolve().parent / "fuzz_cases"


def _fuzz_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("digit_ocr_fuzz", ROOT / "scripts" / "fuzz.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


fuzz = _fuzz_module()
SEEDS: list[tuple[str, bytes]] = fuzz.seeds()
OP = st.tuples(st.sampled_from(fuzz.OPS), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))


def test_every_seed_reads() -> None:
    assert {ext for ext, _ in SEEDS} >= {".png", ".jpg", ".tif", ".bmp", ".webp", ".gif"}
    for ext, data in SEEDS:
        assert read_image(data, engine="model").digits, ext


@settings(max_examples=1000, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])  # fmt: skip
@given(st.integers(0, len(SEEDS) - 1), st.integers(0, len(SEEDS) - 1), st.lists(OP, min_size=1, max_size=5))
def test_mutated_images_only_raise_digit_ocr_errors(
    monkeypatch: pytest.MonkeyPatch, i: int, j: int, ops: list[tuple[str, int, int]]
) -> None:
    monkeypatch.setenv("DIGIT_OCR_MAX_PIXELS", "300000")
    data = fuzz.apply(SEEDS[i][1], ops, SEEDS[j][1])
    try:
        decode(data)
        read_image(data, engine="model")
    except DigitOcrError as exc:
        assert "\n" not in str(exc)


def _regression_inputs() -> list[Path]:
    if not CASES.is_dir():
        return []
    return sorted(p for p in CASES.iterdir() if p.is_file() and p.suffix not in (".json", ".txt", ".md"))


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))


@pytest.mark.skipif(not _regression_inputs(), reason="no saved fuzz findings")
def test_saved_fuzz_findings_are_fixed() -> None:
    """Each saved finding, in one subprocess capped at 1.5 GB: a DigitOcrError or a reading, quickly."""
    code = (
        "import json, sys, time\n"
        "from digit_ocr.errors import DigitOcrError\n"
        "from digit_ocr.load import decode\n"
        "from digit_ocr.reader import read_image\n"
        "for path in sys.argv[1:]:\n"
        "    data, t0 = open(path, 'rb').read(), time.perf_counter()\n"
        "    try:\n"
        "        decode(data)\n"
        "        outcome = f'ok:{len(read_image(data, engine=\"model\").digits)}'\n"
        "    except DigitOcrError as exc:\n"
        "        outcome = 'error:' + type(exc).__name__ + ': ' + str(exc)\n"
        "    print(json.dumps([path, outcome, time.perf_counter() - t0]), flush=True)\n"
    )
    inputs = _regression_inputs()
    env = {k: v for k, v in os.environ.items() if k != "DIGIT_OCR_MAX_PIXELS"}
    r = subprocess.run(
        [sys.executable, "-c", code, *map(str, inputs)],
        capture_output=True, text=True, timeout=30 + 10 * len(inputs), preexec_fn=_limit, env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    results = [json.loads(line) for line in r.stdout.splitlines()]
    assert [Path(p).name for p, _, _ in results] == [p.name for p in inputs]
    for path, outcome, seconds in results:
        assert outcome.startswith(("ok:", "error:")), (path, outcome)
        assert seconds < 10, (path, seconds)
