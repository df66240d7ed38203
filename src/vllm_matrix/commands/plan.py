"""``vllm-matrix plan``: the expanded cells, as a table, JSON, or CI config."""

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
    if fmt == "github":
        return json.dumps(scaleout.github_matrix(cells)) + "\n"
    if fmt == "buildkite":
        return scaleout.buildkite_pipeline(cells)
    if fmt == "ids":
        return "".join(f"{c.id}\n" for c in cells)
    return table(cells)


def table(cells: Sequence[Cell]) -> str:
    """A plain-text table, one row per cell, with a count line."""
    rows = [COLUMNS] + [tuple(_show(getattr(c, k)) for k in COLUMNS) for c in cells]
    out = texttable.render(rows)
    builds = len({c.build_group for c in cells})
    out.append(f"{len(cells)} cells, {builds} builds")
    return "\n".join(out) + "\n"


def _show(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else ""
    return str(value)
