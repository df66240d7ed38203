"""``vllm-matrix report [RUN_DIR]``: the summary of a run, one row per cell, as Markdown or JSON.

Per cell: outcome, the stage it ended at, the failure class, the decisive
line, the duration and each stage's duration (``reused`` when a build was shared).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vllm_matrix.errors import InputError
from vllm_matrix.results import CellResult, RunStore, latest_run, reports_dir

FORMATS = ("markdown", "json")
DECISIVE_WIDTH = 120


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("report", help="summarise a run's cell results")
    parser.add_argument(
        "run_dir", nargs="?", metavar="RUN_DIR", help="a run directory (default: the latest run)"
    )
    parser.add_argument("--format", choices=FORMATS, default="markdown")
    parser.add_argument(
        "--reports", metavar="DIR", help="reports dir (default: $VLLM_MATRIX_REPORTS, else ./reports)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    root = Path(args.run_dir) if args.run_dir else latest_run(reports_dir(args.reports))
    if not (root / "cells").is_dir():
        raise InputError(f"{root}: not a run directory (it has no cells/); name one under reports/")
    store = RunStore(root)
    results = store.results()
    if args.format == "json":
        sys.stdout.write(render_json(results, store.name))
    else:
        sys.stdout.write(render_table(results, store.name))
    return 0


def decisive(result: CellResult) -> str:
    """The line that explains the outcome: the first evidence line, else the message."""
    if result.outcome == "pass":
        return ""
    line = (result.evidence[0] if result.evidence else result.message) or ""
    line = " ".join(line.split())
    return line if len(line) <= DECISIVE_WIDTH else line[: DECISIVE_WIDTH - 1] + "…"


def stage_times(result: CellResult) -> str:
    """``resolve 0.1s, venv reused, ...``."""
    parts = []
    for stage in result.stages:
        shown = "reused" if stage.status == "reused" else f"{stage.duration_s:.1f}s"
        mark = "" if stage.status in ("pass", "reused") else f" {stage.status}"
        parts.append(f"{stage.name} {shown}{mark}")
    return ", ".join(parts)


def row(result: CellResult) -> dict[str, Any]:
    """One cell's summary, as the JSON format writes it."""
    outcome = result.outcome + (" (experimental)" if result.experimental and result.outcome == "fail" else "")
    return {
        "id": result.id,
        "outcome": outcome,
        "stage": result.stage if result.outcome != "pass" else None,
        "class": result.klass,
        "decisive": decisive(result),
        "duration_s": result.duration_s,
        "stages": {s.name: {"status": s.status, "duration_s": s.duration_s} for s in result.stages},
        "log": result.log,
    }


def totals(results: Sequence[CellResult]) -> str:
    """``5 cells: 1 pass, 1 fail, 3 skip`` (experimental failures counted apart)."""
    counts = Counter(r.outcome for r in results)
    soft = sum(1 for r in results if r.outcome == "fail" and r.experimental)
    if soft:
        counts["fail"] -= soft
        counts["fail (experimental)"] = soft
    shown = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()) if n)
    return f"{len(results)} cells: {shown or 'none'}"


def render_table(results: Sequence[CellResult], run_name: str) -> str:
    """A Markdown table of the run, with a totals line."""
    head = ["cell", "outcome", "stage", "class", "decisive line", "duration", "stages"]
    lines = [f"## vllm-matrix run {run_name}", "", _md(head), _md(["---"] * len(head))]
    for result in results:
        data = row(result)
        cells = [data["id"], data["outcome"], data["stage"] or "", data["class"] or "",
                 data["decisive"], f"{result.duration_s:.1f}s", stage_times(result)]  # fmt: skip
        lines.append(_md(cells))
    lines += ["", totals(results), ""]
    return "\n".join(lines)


def _md(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def render_json(results: Sequence[CellResult], run_name: str) -> str:
    """The summary as JSON: the run name, totals and one object per cell."""
    data = {"run": run_name, "totals": totals(results), "cells": [row(r) for r in results]}
    return json.dumps(data, indent=2) + "\n"
