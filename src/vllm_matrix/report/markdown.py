"""The Markdown a user pastes into an issue or a README: the pivot, the legend, totals, failures.

One symbol per cell, as in the JAX and cibuildwheel tables; the totals come
last, then one line per failure: cell, stage, class, decisive line. Anything
taken from results, logs or JUnit goes into code spans (fenced past any
backtick it holds), so it renders as text, never as Markdown or HTML.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from vllm_matrix.report.legend import BY_KEY, CACHED, FLAKY, LOOKS, look
from vllm_matrix.report.model import AXIS_TITLES, CellView, Pivot, failures, totals, totals_line

EXPERIMENTAL_MARK = "†"
_PLAIN_SPECIAL = re.compile(r"([\\`*\[\]<>|&~#])")
_LOOSE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")  # one that could open emphasis


def code(text: str, *, in_table: bool = False) -> str:
    """``text`` as a code span on one line: the fence is longer than any backtick run inside."""
    text = " ".join(text.split())
    if not text:
        return ""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    span = f"{fence}{pad}{text}{pad}{fence}"
    return span.replace("|", "\\|") if in_table else span


def plain(text: str) -> str:
    """``text`` with every character Markdown or HTML would act on backslash-escaped."""
    text = _PLAIN_SPECIAL.sub(r"\\\1", " ".join(text.split()))
    return _LOOSE_UNDERSCORE.sub(r"\\_", text)


def symbol(view: CellView) -> str:
    """One cell's symbol: the status's, the class of a failure, marks for cached, flaky, experimental."""
    verdict = view.verdict if view.status == CACHED else None
    text = look(view.status).symbol + (look(verdict).symbol if verdict else "")
    if view.klass and "fail" in (view.status, verdict):
        text += " " + code(view.klass, in_table=True)
    if view.flaky:
        text = BY_KEY[FLAKY].symbol + text
    if view.experimental and "fail" in (view.status, verdict):
        text += EXPERIMENTAL_MARK
    return text


def table(pivot: Pivot, cells: Sequence[CellView]) -> list[str]:
    """The pivot as a GitHub table, with a totals row last."""
    head = [AXIS_TITLES[a] for a in pivot.axes] + [plain(c) for c in pivot.columns]
    lines = [_row(head), _row(["---"] * len(head))]
    for row in pivot.rows:
        places = [" ".join(symbol(v) for v in pivot.at(row, c)) for c in pivot.columns]
        lines.append(_row([plain(v) for v in row] + places))
    per_column = [_column_totals([v for v in cells if v.column == c]) for c in pivot.columns]
    lines.append(_row(["**total**"] + [""] * (len(pivot.axes) - 1) + per_column))
    return lines


def _column_totals(cells: Sequence[CellView]) -> str:
    counts = totals(cells)
    return " ".join(f"{look(k).symbol} {n}" for k, n in counts.items() if k in BY_KEY and k != FLAKY)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def legend() -> str:
    """The legend line under the table."""
    parts = [
        f"{lk.symbol} {lk.label}" if lk.symbol != lk.label else f"{lk.label} ({lk.meaning})" for lk in LOOKS
    ]
    parts.append(f"{EXPERIMENTAL_MARK} experimental (its failure does not fail the run)")
    return "Legend: " + " · ".join(parts)


def failure_line(view: CellView) -> str:
    """``- `cell` (run r): stage `build`, `CLASS`: `decisive line` — newly broken``."""
    head = f"- {code(view.id)} (run {code(view.run)})" if view.run else f"- {code(view.id)}"
    what = [f"{look(view.status).label}"]
    if view.stage:
        what.append(f"stage {code(view.stage)}")
    if view.klass:
        what.append(code(view.klass))
    line = f"{head}: {', '.join(what)}"
    if view.decisive:
        line += f": {code(view.decisive)}"
    notes = [n for n in (view.change, view.broken_since) if n]
    if view.flaky:
        notes.append("flaky")
    return line + (f" — {plain('; '.join(notes))}" if notes else "")


def change_line(view: CellView) -> str:
    """``- `cell`: fixed (was fail in run n2); flaky``."""
    notes = [n for n in (view.change, view.broken_since, "flaky" if view.flaky else None) if n]
    was = f" (was {view.previous})" if view.change and view.previous else ""
    return f"- {code(view.id)}: {plain(notes[0] + was + ''.join('; ' + n for n in notes[1:]))}"


def render(title: str, pivot: Pivot, cells: Sequence[CellView]) -> str:
    """The whole Markdown report."""
    lines = [f"## {plain(title)}", ""]
    lines += table(pivot, cells) if cells else ["No cells."]
    lines += ["", legend(), "", f"**Totals:** {totals_line(cells)}", ""]
    failed = failures(cells)
    if failed:
        lines += ["### Failures", "", *(failure_line(v) for v in failed), ""]
    changed = [v for v in cells if v.change or v.flaky]
    if changed:
        lines += ["### Since the previous run", "", *(change_line(v) for v in changed), ""]
    return "\n".join(lines)
