"""Rendering results for the terminal and for machines."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from ..result import Reading


def text_block(reading: Reading, *, header: bool) -> str:
    """The digits, one text line per line read; headed by the path when several images are read.

    With both engines, the combined reading comes first, then each engine's own, side by side.
    """
    body = reading.text
    if reading.alternatives:
        rows = {"combined": body, **reading.alternatives}
        body = "\n".join(f"{name + ':':<11}{' / '.join(text.splitlines())}" for name, text in rows.items())
    if header:
        return f"{reading.path}:\n{body}\n" if body else f"{reading.path}:\n"
    return f"{body}\n" if body else ""


def dropped_summary(reading: Reading) -> str:
    """One line: how many marks the reading left out, by reason (``read --explain``)."""
    counts: dict[str, int] = {}
    for d in reading.dropped or []:
        counts[d.reason] = counts.get(d.reason, 0) + 1
    name = reading.path or "image"
    if not counts:
        return f"{name}: nothing left out"
    parts = ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    return f"{name}: left out {sum(counts.values())} marks: {parts}"


def json_line(obj: dict[str, Any]) -> str:
    """One compact JSON object on one line (JSON Lines)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"


def error_record(path: str, exit_code: int, message: str) -> dict[str, Any]:
    """The JSON record of an image that could not be read."""
    return {"path": path, "status": "error", "exit_code": exit_code, "error": message}


class Messages:
    """One-line messages on stderr, each said once."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self._said: set[str] = set()

    def error(self, message: str) -> None:
        self.stream.write(f"digit-ocr: error: {message}\n")
        self.stream.flush()

    def warn(self, message: str) -> None:
        if self.quiet or message in self._said:
            return
        self._said.add(message)
        self.stream.write(f"digit-ocr: warning: {message}\n")
        self.stream.flush()

    def info(self, message: str) -> None:
        if not self.quiet:
            self.stream.write(f"{message}\n")
            self.stream.flush()
