"""Check that this environment holds exactly the versions of requirements.lock for everything
digit-ocr and its extras need (run by .ci/run after installing from the lock).

``pip install -c requirements.lock`` installs a package the lock does not name at whatever
version is newest: a dependency added to pyproject.toml without re-running scripts/lock.sh would
go unpinned. This lists every distribution that digit-ocr's requirements reach (all extras,
transitively, environment markers evaluated) and fails when one is not pinned in the lock for this
Python, or is installed at another version. Exit status 0 or 1; needs ``packaging``.

    .venv/bin/python scripts/check_lock.py
"""

from __future__ import annotations

import importlib.metadata as md
import re
import sys
from pathlib import Path

from packaging.requirements import Requirement

LOCK = Path(__file__).resolve().parents[1] / "requirements.lock"


def canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins() -> dict[str, str]:
    """The lock's pins that apply to this interpreter and platform."""
    out = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate():
            out[canon(req.name)] = next(iter(req.specifier)).version
    return out


def needed(root: str = "digit-ocr") -> dict[str, str]:
    """Every installed distribution that ``root`` with all its extras reaches: name -> version."""
    dist = md.distribution(root)
    todo = [(root, frozenset(dist.metadata.get_all("Provides-Extra") or []))]
    visited = set(todo)
    seen: dict[str, str] = {}
    while todo:
        name, extras = todo.pop()
        for text in md.distribution(name).requires or []:
            req = Requirement(text)
            envs = [{"extra": e} for e in sorted(extras)] or [{"extra": ""}]
            if req.marker is not None and not any(req.marker.evaluate(env) for env in envs):
                continue
            try:
                seen[canon(req.name)] = md.distribution(req.name).version
            except md.PackageNotFoundError:
                seen[canon(req.name)] = "(not installed)"
                continue
            step = (req.name, frozenset(req.extras))
            if step not in visited:
                visited.add(step)
                todo.append(step)
    return seen


def main() -> int:
    locked = pins()
    have = needed()
    bad = [
        f"{name} {version}: " + (f"the lock pins {locked[name]}" if name in locked else "not in the lock")
        for name, version in sorted(have.items())
        if locked.get(name) != version
    ]
    if bad:
        print("check_lock: not requirements.lock's versions (re-run scripts/lock.sh?):", file=sys.stderr)
        print("\n".join(f"  {b}" for b in bad), file=sys.stderr)
        return 1
    print(f"check_lock: {len(have)} packages, all at the lock's versions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
