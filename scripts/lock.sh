#!/usr/bin/env bash
# Refresh requirements.lock: every package of every extra, transitive ones included, pinned to the
# newest versions that pyproject.toml's ranges allow, for Python 3.10 and newer on any platform
# (one universal file, environment markers where versions differ), plus pip and the build backend.
#
#   scripts/lock.sh
#
# Run it after changing a dependency or an extra in pyproject.toml, then run the suite on the new
# lock (scripts/check_latest.py compares the readings of two environments) before committing both.
# It uses uv (a pinned version, installed into a cache folder on first use unless `uv` is on PATH
# in that version); it needs PyPI, nothing else. Installing from the lock needs pip alone:
#   .venv/bin/pip install -c requirements.lock pip
#   .venv/bin/pip install -c requirements.lock --build-constraint requirements.lock '.[test]'
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.8
PYTHON_MIN=3.10   # pyproject.toml's requires-python

uv_bin() {
  if command -v uv >/dev/null 2>&1 && [ "$(uv --version | cut -d' ' -f2)" = "$UV_VERSION" ]; then
    command -v uv
    return
  fi
  local home="${XDG_CACHE_HOME:-$HOME/.cache}/digit-ocr/uv-$UV_VERSION"
  if [ ! -x "$home/bin/uv" ]; then
    python3 -m venv "$home" >&2
    "$home/bin/pip" install -q --disable-pip-version-check "uv==$UV_VERSION" >&2
  fi
  echo "$home/bin/uv"
}

UV="$(uv_bin)"
tools="$(mktemp)"
out="$(mktemp)"
trap 'rm -f "$tools" "$out"' EXIT
# The tools the install runs besides the packages: pip itself and the build backend (its range
# from pyproject.toml's [build-system]).
python3 - "$tools" <<'PY'
import re, sys
text = open("pyproject.toml", encoding="utf-8").read()
block = re.search(r"^\[build-system\]\s*\nrequires\s*=\s*\[(.*?)\]", text, re.S | re.M).group(1)
reqs = re.findall(r'"([^"]+)"', block)
open(sys.argv[1], "w").write("\n".join(["pip", *reqs]) + "\n")
PY

"$UV" pip compile pyproject.toml "$tools" \
  --universal --python-version "$PYTHON_MIN" --all-extras \
  --no-annotate --no-header --quiet -o "$out"

{
  echo "# Every package digit-ocr's extras use, transitive ones included, pinned: the Quick start and"
  echo "# .ci/run install from this file (pip install -c requirements.lock ...). Made by scripts/lock.sh"
  echo "# (uv $UV_VERSION: uv pip compile pyproject.toml --universal --python-version $PYTHON_MIN --all-extras,"
  echo "# plus pip and the build backend); do not edit by hand, re-run it."
  cat "$out"
} > "$out.full"
mv "$out.full" "$out"

cp "$out" requirements.lock
echo "wrote requirements.lock ($(grep -c '==' requirements.lock) pins)"
