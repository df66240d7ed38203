"""The report's inputs: run directories, JUnit-only artifacts, a plan, and every kind of bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from reportruns import BREAKS, FLIPS, NIGHTS, PASSES, SHARES, run_night, v1_run

from vllm_matrix.report import inputs
from vllm_matrix.report.legend import NO_RESULT, UNREADABLE
from vllm_matrix.results import RunStore


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """The second night: cu132's build fails (nvcc), cu130 fp16 fails a payload test."""
    return run_night(tmp_path / "reports", tmp_path / "w", NIGHTS[1])


def by_id(loaded: inputs.Loaded) -> dict[str, inputs.Entry]:
    return {e.cell_id: e for e in loaded.entries}


def test_a_run_directory_gives_every_cell_with_its_junit(run_dir: Path) -> None:
    loaded = inputs.load([run_dir])
    assert loaded.problems == []
    cells = by_id(loaded)
    assert len(cells) == 5 and {e.kind for e in cells.values()} == {"result"}
    failed = cells[BREAKS].result
    assert failed is not None and (failed.stage, failed.klass) == ("build", "NVCC_UNSUPPORTED_ARCH")
    junit = cells[FLIPS].junit
    assert junit is not None and junit.figures["decode_tok_s"] == "1500.0"
    assert [t.name for t in junit.failing] == ["test_greedy_matches_hf"]
    assert "<script>" in junit.failing[0].message
    env = loaded.environments[0]
    assert env.host == "gpu-runner-7" and env.gpus == ("NVIDIA GeForce RTX 5090 (sm_120, driver 580.95.05)",)


def test_a_corrupt_result_is_one_line_and_an_unreadable_cell_not_a_dropped_one(run_dir: Path) -> None:
    path = RunStore(run_dir).result_path(PASSES)
    path.write_text(path.read_text()[:200])  # truncated mid-write by a full disk
    assert len(RunStore(run_dir).results()) == 4, "other callers still get only readable results"
    loaded = inputs.load([run_dir])
    assert len(loaded.entries) == 5
    entry = by_id(loaded)[PASSES]
    assert entry.kind == UNREADABLE and entry.cell["cuda"] == "cu130", "axes come from its junit.xml"
    (line,) = loaded.problems
    assert str(path) in line and "not valid JSON" in line and "shows as unreadable result" in line


def test_a_result_of_an_unknown_schema_is_unreadable_and_says_which(run_dir: Path) -> None:
    path = RunStore(run_dir).result_path(PASSES)
    data = json.loads(path.read_text())
    path.write_text(json.dumps(data | {"schema_version": 99}))
    loaded = inputs.load([run_dir])
    (line,) = loaded.problems
    assert "unsupported result schema_version 99 (this tool reads 1 and 2)" in line
    assert by_id(loaded)[PASSES].kind == UNREADABLE


def test_the_real_schema_1_result_is_read(tmp_path: Path) -> None:
    loaded = inputs.load([v1_run(tmp_path)])
    assert loaded.problems == []
    (entry,) = loaded.entries
    assert entry.result is not None and entry.result.outcome == "pass"
    assert entry.result.facts.torch_git_version == "cf30153c4c131c8164ee7798e5022d810682e2cb"
    assert entry.junit is not None and entry.junit.figures["decode_tok_s"] == "3832.5"
    assert loaded.environments[0].host == "vm", "the host comes from pytest's JUnit when run.json lacks it"


def test_an_empty_run_is_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "reports" / "empty"
    RunStore(empty).write_meta({"run": "empty", "selected": []})
    loaded = inputs.load([empty])
    assert loaded.problems == [
        f"{RunStore(empty).root}: empty run (no cell results, nothing selected)",
        "no cells in the inputs: the report is empty",
    ]


def test_a_missing_log_is_said_and_the_verdict_kept(run_dir: Path) -> None:
    (run_dir / "cells" / BREAKS / "logs" / "build.log").unlink()
    loaded = inputs.load([run_dir])
    entry = by_id(loaded)[BREAKS]
    assert entry.kind == "result" and entry.result is not None and entry.result.outcome == "fail"
    build_log = run_dir / "cells" / BREAKS / "logs" / "build.log"
    assert loaded.problems == [
        f"cell {BREAKS} of run n2: log logs/build.log missing from {build_log.parent.parent}",
        f"cell {SHARES} of run n2: log {build_log} missing from {run_dir / 'cells' / SHARES}",
    ], "the cell that shared the failed build points at the same log"


def artifacts(run_dir: Path, target: Path) -> list[Path]:
    """Each cell's junit.xml alone, as a CI job that uploads only JUnit would leave it."""
    out = []
    for cell in sorted((run_dir / "cells").iterdir()):
        path = target / f"junit-{cell.name}.xml"
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(cell / "junit.xml", path)
        out.append(path)
    return out


def test_junit_only_artifacts_give_the_same_verdicts(run_dir: Path, tmp_path: Path) -> None:
    from_results = {e.cell_id: e.result for e in inputs.load([run_dir]).entries}
    loaded = inputs.load(artifacts(run_dir, tmp_path / "artifacts"))
    assert loaded.problems == []
    for entry in loaded.entries:
        want, got = from_results[entry.cell_id], entry.result
        assert want is not None and got is not None
        assert (got.outcome, got.klass, got.run, got.message) == (
            want.outcome,
            want.klass,
            want.run,
            want.message,
        )
        assert got.stage == (want.stage if want.outcome == "fail" else None), "a skip's stage is not in JUnit"
        assert got.evidence[:1] == want.evidence[:1]
        assert got.cell["cuda"] == want.cell["cuda"] and got.cell["flash_attn"] == want.cell["flash_attn"]
        assert got.facts.build_key == want.facts.build_key


def test_a_truncated_junit_artifact_is_an_unreadable_cell(run_dir: Path, tmp_path: Path) -> None:
    files = artifacts(run_dir, tmp_path / "artifacts")
    files[1].write_text(files[1].read_text()[:300])
    loaded = inputs.load(files)
    entry = by_id(loaded)[files[1].stem.removeprefix("junit-")]
    assert entry.kind == UNREADABLE and "not valid JUnit XML" in (entry.reason or "")
    assert len(loaded.entries) == 5 and len(loaded.problems) == 1
    assert str(files[1]) in loaded.problems[0]


def test_a_planned_cell_without_an_artifact_is_no_result(run_dir: Path, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    cells = [
        json.loads((run_dir / "cells" / c / "result.json").read_text())["cell"] for c in (PASSES, BREAKS)
    ]
    plan.write_text(json.dumps({"include": cells}))
    files = artifacts(run_dir, tmp_path / "artifacts")
    kept = [f for f in files if BREAKS not in f.name]
    loaded = inputs.load(kept, plan=plan)
    entry = by_id(loaded)[BREAKS]
    assert entry.kind == NO_RESULT and entry.result is None
    assert entry.cell["cuda"] == "cu132", "the plan places it in the grid"
    assert loaded.problems == [f"cell {BREAKS} of run n2: no result (planned, but no artifact came back)"]


def test_a_directory_of_artifacts_holding_run_directories(run_dir: Path, tmp_path: Path) -> None:
    """download-artifact puts each cell job's reports/<run>/ into artifacts/<name>/."""
    for cell in (PASSES, BREAKS):
        job = tmp_path / "artifacts" / f"cell-{cell}"
        shutil.copytree(run_dir / "cells" / cell, job / "cells" / cell)
        shutil.copy(run_dir / "run.json", job / "run.json")
    loaded = inputs.load([tmp_path / "artifacts"])
    kinds = {e.cell_id: e.kind for e in loaded.entries}
    assert kinds == {
        PASSES: "result",
        BREAKS: "result",
        "b200": NO_RESULT,
        FLIPS: NO_RESULT,
        SHARES: NO_RESULT,
    }
    assert sorted(loaded.problems) == [
        f"cell {c} of run n2: no result (selected in run n2, never recorded)" for c in ("b200", FLIPS, SHARES)
    ]


def test_a_path_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    loaded = inputs.load([tmp_path / "nowhere"])
    assert loaded.problems[0] == f"{tmp_path / 'nowhere'}: no such file or directory; left out of the report"
