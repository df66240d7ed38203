"""History over three nightly runs: newly broken, fixed, "broken since", flaky, the tokens/s trend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from reportruns import BREAKS, FLIPS, PASSES, three_nights

from vllm_matrix.report import build, history, inputs, model, past


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("history")
    return three_nights(root / "reports", root / "w")


def marked(run_dir: Path, earlier: list[Path]) -> dict[str, model.CellView]:
    loaded = inputs.load([run_dir])
    cells = model.views(loaded.entries)
    seen = [
        o
        for r in earlier
        for o in past._observe_run(r, str(json.loads((r / "run.json").read_text())["started_at"]))
    ]
    history.apply(cells, seen, loaded.started)
    return {v.id: v for v in cells}


def test_the_second_night_newly_breaks_cu132(runs: list[Path]) -> None:
    cells = marked(runs[1], runs[:1])
    view = cells[BREAKS]
    assert (view.change, view.previous) == ("newly broken", "pass in run n1")
    assert view.broken_since == "broken since nightly 2026-11-28 (first seen in run n2)"
    assert cells[PASSES].change is None and cells[PASSES].previous == "pass in run n1"
    assert not any(v.flaky for v in cells.values()), "every change came with a new nightly"


def test_the_third_night_says_since_when_and_finds_the_flaky_cell(runs: list[Path]) -> None:
    cells = marked(runs[2], runs[:2])
    broken = cells[BREAKS]
    assert broken.change is None, "it was already broken"
    assert broken.broken_since == "broken since nightly 2026-11-28 (first seen in run n2)"
    flaky = cells[FLIPS]
    assert (flaky.change, flaky.flaky) == ("fixed", True), "fail then pass on the same nightly and commit"
    assert not cells[PASSES].flaky


def test_the_trend_follows_decode_tokens_per_second_across_nightlies(runs: list[Path]) -> None:
    cells = marked(runs[2], runs[:2])
    assert cells[PASSES].trend == [("2026-11-27", 1510.0), ("2026-11-28", 1580.0)], "n3 replaced n2's figure"


def test_a_previous_report_carries_the_history_forward(runs: list[Path], tmp_path: Path) -> None:
    """Each night publishes its site; the next night reads only the previous one's report.json."""
    site = None
    for run_dir in runs:
        seen = past.from_previous(site, []) if site else []
        built = build.build(inputs.load([run_dir]), seen, tmp_path / run_dir.name)
        site = tmp_path / run_dir.name
    cells = {c["id"]: c for c in built.json["cells"]}  # type: ignore[union-attr]
    assert cells[BREAKS]["broken_since"] == "broken since nightly 2026-11-28 (first seen in run n2)"
    assert cells[FLIPS]["flaky"] is True and cells[FLIPS]["change"] == "fixed"
    assert {o["run"] for o in built.json["history"]} == {"n1", "n2", "n3"}  # type: ignore[union-attr]


def test_the_earlier_runs_in_the_reports_dir_are_the_default_history(runs: list[Path]) -> None:
    started = json.loads((runs[2] / "run.json").read_text())["started_at"]
    seen = past.from_reports_dir(runs[2].parent, [runs[2]], started)
    assert {o.run for o in seen} == {"n1", "n2"}


def test_a_previous_report_that_cannot_be_read_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "report.json").write_text("{not json")
    problems: list[str] = []
    assert past.from_previous(tmp_path, problems) == []
    (line,) = problems
    assert line.startswith(f"--previous {tmp_path / 'report.json'}: cannot be read") and "no history" in line
