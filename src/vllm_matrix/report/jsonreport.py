"""The report for machines: ``report.json``, a versioned schema (docs/report.md, docs/report-example.json).

``schema`` names the format and ``schema_version`` its version: additions that
keep every old key do not bump it, anything else does. ``history`` holds the
observations of the last runs, so the next report given ``--previous`` can say
what changed and since when without reading older runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from vllm_matrix.report.history import Observation
from vllm_matrix.report.inputs import Environment
from vllm_matrix.report.model import CellView, Pivot, totals

SCHEMA = "vllm-matrix-report"
SCHEMA_VERSION = 1
FAILING_TESTS_KEPT = 20


def cell_data(view: CellView) -> dict[str, Any]:
    """One cell of report.json."""
    junit = view.entry.junit
    cached = view.cached_from
    return {
        "id": view.id, "run": view.run, "status": view.status, "verdict": view.verdict,
        "experimental": view.experimental, "stage": view.stage, "class": view.klass,
        "message": view.result.message if view.result else None, "decisive": view.decisive,
        "reason": view.entry.reason, "column": view.column, "nightly": view.nightly, "axes": view.axes,
        "cached_from": {"run": cached.run, "cell": cached.cell} if cached else None,
        "cache_key": view.cache_key, "cache_key_derived": view.cache_key_derived, "flaky": view.flaky,
        "change": view.change, "previous": view.previous, "broken_since": view.broken_since,
        "figures": view.figures, "page": view.page, "notes": list(view.entry.notes),
        "failing_tests": [{"name": t.name, "classname": t.classname, "kind": t.kind, "message": t.message}
                          for t in (junit.failing[:FAILING_TESTS_KEPT] if junit else [])],
    }  # fmt: skip


def render(*, title: str, generated_at: str, tool_version: str, environments: Sequence[Environment],
           pivot: Pivot, cells: Sequence[CellView], problems: Sequence[str],
           history: Sequence[Observation]) -> dict[str, Any]:  # fmt: skip
    """The whole report.json document."""
    rows = [{"key": list(row), "cells": {c: [v.id for v in pivot.at(row, c)] for c in pivot.columns
                                         if pivot.at(row, c)}} for row in pivot.rows]  # fmt: skip
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "title": title,
        "generated_at": generated_at,
        "tool_version": tool_version,
        "environments": [asdict(e) for e in environments],
        "pivot": {"row_axes": list(pivot.axes), "columns": list(pivot.columns), "rows": rows},
        "totals": totals(cells) | {"cells": len(cells)},
        "cells": [cell_data(v) for v in cells],
        "problems": list(problems),
        "history": [o.to_dict() for o in history],
    }
