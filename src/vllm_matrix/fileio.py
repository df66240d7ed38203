"""Writing files so that a reader, or a run killed half-way, never sees half a file.

Every result, JUnit file, marker, bisection state and cache entry goes through
``write_atomic``: a temporary file in the same directory, flushed and fsynced,
then ``os.replace``d over the target. Stage logs only ever grow: ``append``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_atomic(path: Path, data: str | bytes) -> None:
    """Replace ``path`` with ``data`` in one step; the old file stays whole until then."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_json(path: Path, data: Any) -> None:
    """Atomic, indented JSON with a final newline."""
    write_atomic(path, json.dumps(data, indent=2, default=str) + "\n")


def append(path: Path, text: str) -> None:
    """Add ``text`` to the end of a log (a newline is added when it lacks one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8", errors="replace") as fh:
        fh.write(text if text.endswith("\n") else text + "\n")
