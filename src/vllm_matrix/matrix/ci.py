"""Scale-out adapters: the same cells as a GitHub Actions matrix or Buildkite steps.

The tool schedules nothing itself: each CI engine runs ``nox -s "cell(<id>)"``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from vllm_matrix.matrix.cell import Cell


def cell_command(cell: Cell) -> str:
    """The command a CI job runs for one cell (ids are identifier-safe)."""
    return f'nox -s "cell({cell.id})"'


def github_matrix(cells: Sequence[Cell]) -> dict[str, Any]:
    """``{"include": [...]}`` for ``strategy.matrix: ${{ fromJSON(...) }}``."""
    include = []
    for cell in cells:
        entry = cell.to_dict()
        entry["suites"] = ",".join(cell.suites)
        entry["tags"] = ",".join(cell.tags)
        entry["flash_attn"] = cell.flash_attn or 0
        entry["command"] = cell_command(cell)
        include.append(entry)
    return {"include": include}


def _yaml_str(value: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar.
    return json.dumps(value)


def buildkite_pipeline(cells: Sequence[Cell]) -> str:
    """Pipeline YAML for ``buildkite-agent pipeline upload``: one step per cell."""
    lines = ["steps:"]
    for cell in cells:
        lines += [
            f"  - label: {_yaml_str(f'{cell.id}')}",
            f"    key: {_yaml_str(cell.id)}",
            f"    command: {_yaml_str(cell_command(cell))}",
            "    agents:",
            f"      gpu: {_yaml_str(cell.gpu)}",
            f"    artifact_paths: {_yaml_str(f'reports/*/cells/{cell.id}/**/*')}",
        ]
        if cell.experimental:
            lines.append("    soft_fail: true")
    return "\n".join(lines) + "\n"
