"""What is bisected: the ordered candidates, the cell field they vary, and each step's own cell.

A candidate is one value of one field of the cell (``torch = nightly:2026-11-06``, ``vllm =
git:<sha>``, ``vllm = wheel:vllm==0.31.0``, ``flash_attn = 3``). Its step is an ordinary cell
with its own id (``<cell>_<suffix>``) and its own result in the run store, and its n/a
status is the applicability table's answer for that candidate, not the bisected cell's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from vllm_matrix.matrix.cell import ALL_FIELDS, Cell
from vllm_matrix.matrix.config import MatrixConfig

Kind = Literal["torch-nightly", "vllm-commit", "list"]


@dataclass(frozen=True)
class Candidate:
    """One value of the bisected field."""

    label: str  # what the user and the messages see: 2026-11-06, 0a1b2c3d4e5f, wheel:vllm==0.31.0
    value: Any  # the field's value in the step's cell: nightly:2026-11-06, git:<sha>, 3
    suffix: str  # the step cell's id is <cell>_<suffix>


@dataclass(frozen=True)
class Space:
    """The ordered candidates (claimed good first, claimed bad last) of one field of one cell."""

    kind: Kind
    field: str
    candidates: tuple[Candidate, ...]
    note: str = ""  # where they came from, for the first progress line

    @property
    def labels(self) -> list[str]:
        return [c.label for c in self.candidates]

    def get(self, label: str) -> Candidate:
        """The candidate labelled ``label``."""
        return next(c for c in self.candidates if c.label == label)


def step_cell(config: MatrixConfig, base: Cell, changes: dict[str, Any], suffix: str) -> Cell:
    """``base`` with ``changes`` applied, its own id, and n/a decided afresh for the new values."""
    cell = dataclasses.replace(base, id=f"{base.id}_{suffix}", not_applicable=None, **changes)
    values = {name: getattr(cell, name) for name in ALL_FIELDS}
    return dataclasses.replace(cell, not_applicable=config.applicability_table().why_not(values))
