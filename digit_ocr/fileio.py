"""Writing output files atomically: a temporary file beside the target, synced, then renamed."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .errors import BadArgumentsError


def write_atomic(
    path: str | os.PathLike[str], data: bytes, what: str = "", *, make_parents: bool = False
) -> Path:
    """Write ``data`` to ``path`` so that an interrupted or failed write never leaves a half file
    in place of a good one; a failure (unwritable folder, disk full) is a one-line
    :class:`BadArgumentsError` naming ``what`` was being written."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp")
    try:
        if make_parents:
            p.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except OSError as exc:
        with contextlib.suppress(OSError):  # the temporary file may not exist, or not be removable
            tmp.unlink()
        raise BadArgumentsError(
            f"cannot write {what + ' ' if what else ''}{p}: {exc.strerror or exc}"
        ) from None
    return p
