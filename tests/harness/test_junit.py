"""junit.xml per cell: stage cases, a failing case for a failed build, pytest suites with cell properties."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from junitparser import Error, Failure, JUnitXml, Skipped

from vllm_matrix.junit import cell_properties, read_suites, write_cell_junit
from vllm_matrix.results import CellResult, StageRecord
from vllm_matrix.stages.state import CellState, VllmChoice

COMMIT = "8a919436b3f2d2e3afa784b4998dab4eb2722aa9"
CELL = {
    "id": "n20261105_cu128_sm120_fa2_main",
    "python": "3.12",
    "torch": "nightly:2026-11-05",
    "cuda": "cu128",
    "arch": "12.0",
    "flash_attn": 2,
    "vllm": "git:main",
    "gpu": "sm_120",
    "dtype": "bfloat16",
    "enforce_eager": False,
}


def _failed_build(tmp_path: Path) -> CellResult:
    logs = tmp_path / "logs"
    logs.mkdir(parents=True)
    (logs / "build.log").write_text("cmake ...\nnvcc fatal   : Unsupported gpu architecture 'compute_120'\n")
    return CellResult(
        id=CELL["id"],
        run="r1",
        outcome="fail",
        cell=CELL,
        stage="build",
        klass="NVCC_UNSUPPORTED_ARCH",
        message="building vLLM failed (exit 1)",
        evidence=["nvcc fatal   : Unsupported gpu architecture 'compute_120'"],
        stages=[
            StageRecord("resolve", "pass", 0.2),
            StageRecord("venv", "reused", 0.0, None, "built by x"),
            StageRecord("build", "fail", 12.5, "logs/build.log", "building vLLM failed (exit 1)"),
        ],
        facts=CellState(
            torch_version="2.11.0.dev20261105+cu128",
            build_key="abc",
            vllm=VllmChoice("git", url="https://github.com/vllm-project/vllm.git", ref="main", commit=COMMIT),
        ),
    )


def test_failed_build_gives_a_valid_junit_with_a_failing_build_case(tmp_path: Path) -> None:
    path = write_cell_junit(_failed_build(tmp_path), tmp_path)
    xml = JUnitXml.fromfile(str(path))
    (suite,) = list(xml)
    assert suite.name == CELL["id"] and suite.tests == 3 and suite.failures == 1
    cases = {c.name: c for c in suite}
    failure = cases["build"].result[0]
    assert isinstance(failure, Failure)
    assert failure.type == "NVCC_UNSUPPORTED_ARCH"
    assert "Unsupported gpu architecture" in (failure.text or "")
    assert cases["resolve"].is_passed and cases["venv"].is_passed
    props = {p.name: p.value for p in suite.properties()}
    assert props["arch"] == "12.0" and props["torch_version"] == "2.11.0.dev20261105+cu128"
    assert props["outcome"] == "fail" and props["experimental"] == "false"


def test_skipped_cell_is_one_skipped_case(tmp_path: Path) -> None:
    result = CellResult(
        id="c",
        run="r",
        outcome="skip",
        cell=CELL,
        stage="hardware",
        message="needs an NVIDIA sm_120 GPU; this machine has none",
    )
    suite = read_suites(write_cell_junit(result, tmp_path))[0]
    (case,) = list(suite)
    assert isinstance(case.result[0], Skipped) and "sm_120" in case.result[0].message


def test_harness_error_is_an_error_case(tmp_path: Path) -> None:
    stages = [StageRecord("verify", "error", 0.1, None, "ZeroDivisionError: x")]
    result = CellResult(id="c", run="r", outcome="error", cell=CELL, stage="verify", stages=stages)
    suite = read_suites(write_cell_junit(result, tmp_path))[0]
    assert isinstance(next(iter(suite)).result[0], Error) and suite.errors == 1


def test_properties_are_added_to_real_pytest_xdist_junit_and_merged(tmp_path: Path) -> None:
    tests = tmp_path / "t"
    tests.mkdir()
    (tests / "test_a.py").write_text("def test_one():\n    pass\n\ndef test_two():\n    assert 1 == 2\n")
    junit_xml = tmp_path / "pytest-junit.xml"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-n",
            "2",
            "-p",
            "no:cacheprovider",
            f"--junitxml={junit_xml}",
            str(tests),
        ],
        capture_output=True,
        check=False,
    )
    # A suite that already says something about the cell (as the suites stage once stamped
    # "outcome=running" while the cell still ran) must end up saying only the final outcome.
    stale = read_suites(junit_xml)
    stale[0].add_property("outcome", "running")
    stale[0].add_property("pytest_own", "kept")
    stale_xml = JUnitXml()
    stale_xml.add_testsuite(stale[0])
    stale_xml.write(str(junit_xml))
    result = CellResult(
        id="c1",
        run="r",
        outcome="fail",
        cell=CELL,
        stage="suites",
        stages=[StageRecord("suites", "fail", 3.0)],
    )
    merged = read_suites(write_cell_junit(result, tmp_path, [junit_xml, tmp_path / "missing.xml"]))
    assert [s.name for s in merged] == ["c1", "pytest"]
    assert merged[1].tests == 2 and merged[1].failures == 1
    props = [(p.name, p.value) for p in merged[1].properties()]
    assert {name for name, _ in props} >= {"cell_id", "arch", "gpu", "outcome", "pytest_own"}
    assert [value for name, value in props if name == "outcome"] == ["fail"]


def test_the_vllm_commit_a_cell_built_is_a_property(tmp_path: Path) -> None:
    props = cell_properties(_failed_build(tmp_path))
    assert props["vllm_commit"] == COMMIT
    assert props["torch_version"] == "2.11.0.dev20261105+cu128" and props["build_key"] == "abc"
