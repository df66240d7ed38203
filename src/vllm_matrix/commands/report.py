"""``vllm-matrix report [RUN_DIR | JUnit file ...]``: the published report, and the run summary table.

The report (``vllm_matrix.report``) merges run directories, JUnit files (CI
artifacts) and a plan into one static site with the Markdown table, JSON, the
merged JUnit and an image, under ``--out`` (default ``reports/<run>/site/``),
and prints the Markdown (or, with ``--format json``, the JSON) on stdout.
Exit codes: 0 the report was built from readable inputs; 4 it was built, but
some input was unreadable or missing (one line each on stderr); 2 bad
arguments or no run at all.

``render_table`` is the per-cell summary ``vllm-matrix run`` prints at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vllm_matrix.commands import optional_config
from vllm_matrix.errors import InputError
from vllm_matrix.matrix import expand
from vllm_matrix.report import build, inputs, past
from vllm_matrix.report.model import decisive as _decisive
from vllm_matrix.results import CellResult, latest_run, reports_dir

FORMATS = ("markdown", "json")
EXIT_REPORT_PARTIAL = 4  # built, but some input was unreadable or missing
SITE = "site"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("report", help="build the report (site, Markdown, JSON, JUnit, image) of runs")
    parser.add_argument(
        "inputs",
        nargs="*",
        metavar="RUN_DIR|JUNIT",
        help="run directories, JUnit files or directories of CI artifacts (default: the latest run)",
    )
    parser.add_argument(
        "--previous",
        metavar="REPORT_DIR",
        help="an earlier report (its site dir or report.json) for history "
        "(default: the earlier runs under the reports dir)",
    )
    parser.add_argument("--out", metavar="DIR", help="where the site goes (default: reports/<run>/site/)")
    parser.add_argument(
        "--plan",
        metavar="FILE",
        help="`vllm-matrix plan --format json|github` output: planned cells with no result "
        "show as 'no result'",
    )
    parser.add_argument("--format", choices=FORMATS, default="markdown", help="what is printed on stdout")
    parser.add_argument(
        "--reports", metavar="DIR", help="reports dir (default: $VLLM_MATRIX_REPORTS, else ./reports)"
    )
    parser.set_defaults(handler=run)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    reports = reports_dir(args.reports)
    paths = [Path(p) for p in args.inputs] or [latest_run(reports)]
    loaded = inputs.load(paths, Path(args.plan) if args.plan else None, _known_cells(args))
    if not loaded.entries and not loaded.run_dirs:
        raise InputError("report: " + "; ".join(loaded.problems[:-1] or loaded.problems))
    problems: list[str] = []
    if args.previous:
        history = past.from_previous(Path(args.previous), problems)
    else:
        history = past.from_reports_dir(reports, loaded.run_dirs, min(loaded.started.values(), default=""))
    out = Path(args.out) if args.out else default_out(loaded, reports)
    report = build.build(loaded, history, out, problems)
    sys.stdout.write(
        report.markdown if args.format == "markdown" else json.dumps(report.json, indent=1) + "\n"
    )
    for line in report.problems:
        print(f"vllm-matrix: report: {line}", file=sys.stderr)
    print(f"vllm-matrix: report: {len(report.cells)} cells -> {out / 'index.html'}", file=sys.stderr)
    return EXIT_REPORT_PARTIAL if report.problems else 0


def _known_cells(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The matrix's cells by id (when there is a matrix file): axes for cells whose results lack them."""
    config = optional_config(args)
    return {c.id: c.to_dict() for c in expand.expand(config)} if config else {}


def default_out(loaded: inputs.Loaded, reports: Path) -> Path:
    """``<run dir>/site`` of the latest run read, else ``<reports>/<run>/site`` for JUnit-only input."""
    if loaded.run_dirs:
        latest = max(loaded.run_dirs, key=lambda d: (loaded.started.get(d.name, ""), d.name))
        return latest / SITE
    runs = [e.run for e in loaded.entries if e.run]
    if not runs:
        raise InputError("report: the inputs name no run; say where the report goes with --out DIR")
    return reports / max(set(runs), key=runs.count) / SITE


def decisive(result: CellResult) -> str:
    """The line that explains the outcome: the first evidence line, else the message."""
    return _decisive(result)


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
