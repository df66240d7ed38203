"""Plain-text tables for the terminal: left-aligned columns, two spaces apart.

Small enough that a table library (tabulate and friends) would be a dependency for
eight lines; the commands' tables need nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence


def render(rows: Sequence[Sequence[str]]) -> list[str]:
    """Each row as one line, every column padded to its widest cell; trailing spaces dropped."""
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in rows]
