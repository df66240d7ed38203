"""``vllm-matrix run`` and ``report`` as a user runs them: real processes, real exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from indexserver import serve
from interrupts import sigint_default

from vllm_matrix.results import RunStore

ROOT = Path(__file__).resolve().parents[2]
MATRIX = str(ROOT / "matrix.toml")


def vm(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vllm_matrix", "--matrix", MATRIX, *args],
                          capture_output=True, text=True, env=env, check=False, timeout=300)  # fmt: skip


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "VLLM_MATRIX_WORKDIR": str(tmp_path / "work"),
        "VLLM_MATRIX_REPORTS": str(tmp_path / "r"),
    }
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if "nvidia" not in p.lower())
    return env | extra


def test_run_needs_cells_or_all(tmp_path: Path) -> None:
    out = vm("run", env=_env(tmp_path))
    assert out.returncode == 2
    expected = "vllm-matrix: run: name cell ids or globs, or pass --all (list them with `vllm-matrix plan`)"
    assert out.stderr.strip().splitlines() == [expected]


def test_unknown_cell_is_bad_input_with_a_suggestion(tmp_path: Path) -> None:
    out = vm("run", "cpu_referense", env=_env(tmp_path))
    assert out.returncode == 2
    assert (
        out.stderr.strip()
        == "vllm-matrix: run: no cell matches 'cpu_referense' (did you mean 'cpu_reference'?)"
    )


def test_gpu_cells_on_this_machine_are_recorded_as_skipped_and_the_run_passes(tmp_path: Path) -> None:
    out = vm("run", "latest_cu132_*", "--run", "gpu", env=_env(tmp_path))
    assert out.returncode == 0, out.stderr
    store = RunStore(tmp_path / "r" / "gpu")
    results = store.results()
    assert len(results) == 27 and {r.outcome for r in results} == {"skip", "n/a"}
    skipped = [r for r in results if r.outcome == "skip"]
    assert len(skipped) == 6 and str(skipped[0].message).startswith("needs an NVIDIA sm_120 GPU")
    na = {r.id: r for r in results if r.outcome == "n/a"}
    assert "FA3 only on SM 9.x" in str(na["latest_cu132_sm120_on_sm120_fa3_main"].message)
    assert not na["latest_cu132_sm120_on_sm120_fa3_main"].stages  # recorded, never run
    assert store.read_meta()["status"] == "complete"
    assert "27 cells: 21 n/a, 6 skip" in out.stdout
    assert "| latest_cu132_sm120_on_sm120_fa2_main | skip | hardware |" in out.stdout
    for result in results:
        assert (store.cell_dir(result.id) / "junit.xml").is_file()

    report = vm("report", str(store.root), "--format", "json", env=_env(tmp_path))
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    statuses = [c["status"] for c in data["cells"]]
    assert {c["run"] for c in data["cells"]} == {"gpu"} and len(statuses) == 27
    assert data["totals"] == {"skip": 6, "n/a": 21, "cells": 27}
    latest = vm("report", env=_env(tmp_path))
    assert latest.returncode == 0 and latest.stdout.startswith("## vLLM × torch compatibility: gpu")
    assert (store.root / "site" / "index.html").is_file()


def test_report_on_something_that_is_not_a_run_is_bad_input(tmp_path: Path) -> None:
    out = vm("report", str(tmp_path), env=_env(tmp_path))
    assert out.returncode == 2 and "not a run directory" in out.stderr
    out = vm("run", "--resume", env=_env(tmp_path))
    assert out.returncode == 2 and "no runs under" in out.stderr


def test_a_busy_workdir_is_a_harness_error(tmp_path: Path) -> None:
    from vllm_matrix.workdir import Workdir

    with Workdir.resolve(tmp_path / "work", {}).lock():
        out = vm("run", "cpu_reference", env=_env(tmp_path))
    assert out.returncode == 3 and "is in use by another vllm-matrix run" in out.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_records_the_interrupted_cell_and_resume_is_offered(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """The torch install waits on a loopback index that never answers; then Ctrl-C (or CI's SIGTERM)."""
    (tmp_path / "index" / "cpu").mkdir(parents=True)
    with serve(tmp_path / "index", delay_s=60) as index:
        env = _env(
            tmp_path, VLLM_MATRIX_INDEX_RELEASE=index.url, VLLM_MATRIX_INDEX_PYPI=f"{index.url}/simple"
        )
        argv = [sys.executable, "-m", "vllm_matrix", "--matrix", MATRIX, "run", "cpu_reference", "--run", "c"]
        proc = subprocess.Popen(  # SIGINT at its default in the child, even under nohup ... &
            argv,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=sigint_default,
        )
        log = tmp_path / "r" / "c" / "cells" / "cpu_reference" / "logs" / "torch.log"
        deadline = time.monotonic() + 60
        while not log.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "continue with: vllm-matrix run --resume --run c" in err
    store = RunStore(tmp_path / "r" / "c")
    result = store.read_result("cpu_reference")
    assert result is not None and (result.outcome, result.stage) == ("interrupted", "torch")
    assert store.read_meta()["status"] == "interrupted"
    assert [s.name for s in result.stages] == ["resolve", "venv", "torch"]


def test_one_cell_per_invocation_fills_one_run(tmp_path: Path) -> None:
    """How nox runs it: a session per cell, all into the run named by $VLLM_MATRIX_RUN."""
    env = _env(tmp_path, VLLM_MATRIX_RUN="nox")
    cell_ids = ["latest_cu132_sm120_on_sm120_fa2_main", "latest_cu130_sm120_on_sm120_fa2_main"]
    for cell_id in cell_ids:
        assert vm("run", cell_id, env=env).returncode == 0
    store = RunStore(tmp_path / "r" / "nox")
    assert store.read_meta()["selected"] == cell_ids
    report = vm("report", env=env)
    assert "2 cells: 2 skip" in report.stdout


def test_a_missing_offline_fetchcontent_dir_is_bad_input(tmp_path: Path) -> None:
    missing = tmp_path / "no-deps-here"
    out = vm("run", "cpu_source", env=_env(tmp_path, VLLM_MATRIX_FETCHCONTENT_DIR=str(missing)))
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"vllm-matrix: the offline FetchContent dir {missing} is not a directory "
        "([sources] fetchcontent or VLLM_MATRIX_FETCHCONTENT_DIR)"
    ]


def test_a_preflight_runs_gpu_cells_here_into_its_own_run(tmp_path: Path) -> None:
    env = _env(tmp_path, VLLM_MATRIX_INDEX_NIGHTLY="http://127.0.0.1:9/whl/nightly")
    out = vm("run", "--until", "configure", "latest_cu130_sm120_on_sm120_fa2_main", env=env)
    assert out.returncode == 1, out.stderr  # not skipped for the missing GPU: it ran, and the index is down
    (run_dir,) = (tmp_path / "r").iterdir()
    assert run_dir.name.endswith("-configure")
    store = RunStore(run_dir)
    assert store.read_meta()["until"] == "configure"
    (result,) = store.results()
    assert (result.outcome, result.stage, result.klass) == ("fail", "resolve", "NETWORK_FETCH")
    assert (
        "preflight (--until configure): stages up to the CMake configure; nothing was compiled" in out.stderr
    )


def test_until_takes_only_configure(tmp_path: Path) -> None:
    out = vm("run", "--until", "verify", "cpu_reference", env=_env(tmp_path))
    assert out.returncode == 2 and "invalid choice: 'verify'" in out.stderr
