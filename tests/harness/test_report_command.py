"""``vllm-matrix report``: the command end to end, and the run summary table ``vllm-matrix run`` prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from reportruns import BREAKS, NIGHTS, PASSES, run_night

from vllm_matrix.cli import main
from vllm_matrix.commands.report import EXIT_REPORT_PARTIAL, decisive, render_json, render_table, totals
from vllm_matrix.results import CellResult, StageRecord


def _cell(cell_id: str, outcome: str, **extra: object) -> CellResult:
    return CellResult(id=cell_id, run="r", outcome=outcome, cell={}, **extra)  # type: ignore[arg-type]


def test_failed_cell_row_names_stage_class_and_the_decisive_line() -> None:
    failed = _cell(
        "blackwell",
        "fail",
        stage="build",
        klass="NVCC_UNSUPPORTED_ARCH",
        duration_s=61.25,
        message="building vLLM failed (exit 1)",
        evidence=["nvcc fatal   : Unsupported gpu | 'compute_120'"],
        stages=[
            StageRecord("resolve", "pass", 0.04),
            StageRecord("venv", "reused"),
            StageRecord("build", "fail", 60.0),
        ],
    )
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


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    """Two nights under one reports dir: the second is the latest run."""
    for night in NIGHTS[:2]:
        run_night(tmp_path / "reports", tmp_path / "w" / night.name, night)
    return tmp_path / "reports"


def test_with_no_argument_it_reports_the_latest_run_into_its_site(
    reports: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--reports", str(reports)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("## vLLM × torch compatibility: n2\n")
    assert f"- `{BREAKS}` (run `n2`): fail, stage `build`, `NVCC_UNSUPPORTED_ARCH`" in out
    assert f"- `{BREAKS}`: newly broken (was pass in run n1)" in out, (
        "history from the earlier run in reports/"
    )
    site = reports / "n2" / "site"
    assert err.splitlines() == [f"vllm-matrix: report: 5 cells -> {site / 'index.html'}"]
    assert {p.name for p in site.iterdir()} >= {"index.html", "report.json", "junit.xml", "matrix.png"}


def test_bad_input_is_one_line_each_the_report_is_still_built_and_exit_4(
    reports: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (reports / "n2" / "cells" / PASSES / "result.json").write_text('{"schema_version": 2, "id": ')
    empty = reports / "empty"
    (empty / "cells").mkdir(parents=True)
    out_dir = reports.parent / "site"
    code = main(["report", str(reports / "n2"), str(empty), "--out", str(out_dir), "--format", "json"])
    assert code == EXIT_REPORT_PARTIAL
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert {c["id"]: c["status"] for c in data["cells"]}[PASSES] == "unreadable"
    lines = err.splitlines()
    assert "Traceback" not in err and len(lines) == 3
    assert lines[0].startswith(f"vllm-matrix: report: {empty}: empty run")
    assert (
        "result.json is not valid JSON, truncated or corrupt" in lines[1] and "unreadable result" in lines[1]
    )
    assert (out_dir / "index.html").is_file() and "unreadable result" in (out_dir / "index.html").read_text()


def test_no_run_at_all_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--reports", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("vllm-matrix: no runs under ")


def test_previous_names_the_report_to_compare_with(reports: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = reports.parent / "first"
    assert main(["report", str(reports / "n1"), "--out", str(first)]) == 0
    assert (
        main(["report", str(reports / "n2"), "--previous", str(first), "--out", str(reports.parent / "b")])
        == 0
    )
    assert f"- `{BREAKS}`: newly broken (was pass in run n1)" in capsys.readouterr().out
