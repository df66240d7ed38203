"""``vllm-matrix report``'s summary: one row per cell with outcome, stage, class, decisive line, times."""

from __future__ import annotations

import json

from vllm_matrix.commands.report import decisive, render_json, render_table, totals
from vllm_matrix.results import CellResult, StageRecord


def _cell(cell_id: str, outcome: str, **extra: object) -> CellResult:
    return CellResult(id=cell_id, run="r", outcome=outcome, cell={}, **extra)  # type: ignore[arg-type]


def test_failed_cell_row_names_stage_class_and_the_decisive_line() -> None:
    failed = _cell(
        "blackwell", "fail", stage="build", klass="NVCC_UNSUPPORTED_ARCH", duration_s=61.25,
        message="building vLLM failed (exit 1)", evidence=["nvcc fatal   : Unsupported gpu | 'compute_120'"],
        stages=[StageRecord("resolve", "pass", 0.04), StageRecord("venv", "reused"),
                StageRecord("build", "fail", 60.0)],
    )  # fmt: skip
    table = render_table([failed, _cell("cpu", "pass", duration_s=3.0)], "r")
    assert (
        "| blackwell | fail | build | NVCC_UNSUPPORTED_ARCH | nvcc fatal : Unsupported gpu \\| 'compute_120' "
        "| 61.2s | resolve 0.0s, venv reused, build 60.0s fail |"
    ) in table
    assert "| cpu | pass |  |  |  | 3.0s |  |" in table
    assert table.rstrip().endswith("2 cells: 1 fail, 1 pass")


def test_experimental_failures_are_shown_apart() -> None:
    results = [_cell("a", "fail", experimental=True, message="x"), _cell("b", "skip", message="no GPU")]
    assert totals(results) == "2 cells: 1 fail (experimental), 1 skip"
    data = json.loads(render_json(results, "r"))
    assert [c["outcome"] for c in data["cells"]] == ["fail (experimental)", "skip"]
    assert data["cells"][1]["decisive"] == "no GPU"


def test_long_decisive_lines_are_cut() -> None:
    line = decisive(_cell("a", "fail", evidence=["x" * 300]))
    assert len(line) == 120 and line.endswith("…")
    assert decisive(_cell("p", "pass", message="ignored")) == ""
