"""``vllm-matrix plan``: the expanded cells, as a table, JSON, or CI config.

Cells the applicability table rules out are listed as n/a, with the reason, in the table
and in JSON (``not_applicable``); CI configs and ``ids`` hold only the cells that run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from vllm_matrix import texttable
from vllm_matrix.commands import load_cells
from vllm_matrix.matrix import ci as scaleout
from vllm_matrix.matrix import expand
from vllm_matrix.matrix.cell import Cell

FORMATS = ("table", "json", "github", "buildkite", "ids")
COLUMNS = ("id", "torch", "cuda", "arch", "flash_attn", "vllm", "gpu", "dtype", "experimental")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("plan", help="print the expanded cells (never touches the network)")
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument("cells", nargs="*", metavar="ID", help="only cells whose id matches these globs")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    _, cells = load_cells(args)
    cells = expand.select(cells, args.cells)
    sys.stdout.write(render(cells, args.format))
    return 0


def render(cells: Sequence[Cell], fmt: str) -> str:
    """The cells in one of ``FORMATS``."""
    if fmt == "json":
        return json.dumps([c.to_dict() for c in cells], indent=1) + "\n"
    runnable = [c for c in cells if c.not_applicable is None]
    if fmt == "github":
        return json.dumps(scaleout.github_matrix(runnable)) + "\n"
    if fmt == "buildkite":
        return scaleout.buildkite_pipeline(runnable)
    if fmt == "ids":
        return "".join(f"{c.id}\n" for c in runnable)
    return table(cells)


def table(cells: Sequence[Cell]) -> str:
    """The cells that run, one row each; then the n/a ones with their reasons; then the counts."""
    runnable = [c for c in cells if c.not_applicable is None]
    rows = [COLUMNS] + [tuple(_show(getattr(c, k)) for k in COLUMNS) for c in runnable]
    out = texttable.render(rows)
    skipped = [c for c in cells if c.not_applicable is not None]
    if skipped:
        out += ["", f"n/a ({len(skipped)}): never run"]
        out += texttable.render([(c.id, str(c.not_applicable)) for c in skipped])
    builds = len({c.build_group for c in runnable})
    out.append(f"{len(cells)} cells: {len(runnable)} to run, {len(skipped)} n/a; {builds} builds")
    return "\n".join(out) + "\n"


def _show(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else ""
    return str(value)
