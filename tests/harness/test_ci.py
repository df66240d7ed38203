"""The test suite on a fresh CI machine: a skip in CI fails unless allowlisted, skips are reported,
an empty run never passes, and the torch wheel is found without pip in the test venv."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import skipgate
import torchnightly

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TESTS = """
import pytest

def test_runs():
    assert True

def test_odd_skip():
    pytest.skip("the fixture server would not start")

def test_gpu():
    pytest.skip("needs an NVIDIA sm_120 GPU; this machine has none")
"""


def run_pytest(tmp_path: Path, files: dict[str, str], *args: str, ci: bool) -> tuple[int, str, str]:
    """A real pytest run with the skip gate as a plugin; returns (exit code, output, summary file)."""
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    report = tmp_path / "skips.txt"
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    env |= {"PYTHONPATH": str(HERE), "VLLM_MATRIX_SKIP_REPORT": str(report), **({"CI": "true"} if ci else {})}
    argv = [sys.executable, "-m", "pytest", "-p", "skipgate", "-p", "no:cacheprovider", "-rs", *args]
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout + done.stderr, report.read_text() if report.exists() else ""


def test_outside_ci_skips_are_listed_and_pass(tmp_path: Path) -> None:
    code, out, summary = run_pytest(tmp_path, {"test_a.py": TESTS}, ci=False)
    assert code == 0, out
    assert summary.splitlines()[0] == "skips: 2 (1 allowed in CI by ci-skip-allowlist.txt, 1 not)"
    assert "1x  the fixture server would not start  [NOT ALLOWED in CI]" in summary
    assert "1x  needs an NVIDIA sm_120 GPU; this machine has none  [allowed]" in summary
    assert "skips and their reasons" in out


def test_in_ci_a_skip_that_is_not_allowlisted_fails_the_run(tmp_path: Path) -> None:
    code, out, summary = run_pytest(tmp_path, {"test_a.py": TESTS}, ci=True)
    assert code == 1, out
    assert "CI is set: these skips fail the run" in summary
    assert "test_a.py::test_odd_skip: the fixture server would not start" in out
    assert "test_gpu" not in summary.split("fail the run")[1]


def test_in_ci_allowlisted_skips_pass(tmp_path: Path) -> None:
    allowed = TESTS.replace("the fixture server would not start", "needs a GPU")
    code, out, summary = run_pytest(tmp_path, {"test_a.py": allowed}, ci=True)
    assert code == 0, out
    assert summary.startswith("skips: 2 (2 allowed")


def test_in_ci_a_skipped_module_under_xdist_fails_too(tmp_path: Path) -> None:
    module = 'import pytest\npytest.skip("zip is not installed", allow_module_level=True)\n'
    files = {"test_a.py": "def test_ok():\n    pass\n", "test_b.py": module}
    code, out, summary = run_pytest(tmp_path, files, "-n", "2", ci=True)
    assert code == 1, out
    assert "zip is not installed  [NOT ALLOWED in CI]" in summary


def test_nothing_collected_never_passes(tmp_path: Path) -> None:
    code, out, _ = run_pytest(tmp_path, {"test_a.py": "x = 1\n"}, ci=True)
    assert code == pytest.ExitCode.NO_TESTS_COLLECTED, out


def test_the_allowlist_allows_the_suites_own_legitimate_skips() -> None:
    patterns = skipgate.allowlist()
    fatbin = (HERE / "test_fatbin.py").read_text()
    reason = re.search(r'reason="(set VLLM_MATRIX_VLLM_WHEEL[^"]+)"', fatbin)
    assert reason is not None and any(p.search(reason.group(1)) for p in patterns)
    old_reason = "pip cannot provide torch==2.13.0+cpu here: .nox/tests/bin/python: No module named pip"
    for refused in (old_reason, "no torch wheel to serve as a nightly: x", "nvcc is not installed"):
        assert not any(p.search(refused) for p in patterns), refused


def test_the_torch_wheel_is_found_from_a_venv_without_pip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """nox's venvs are made by uv, without pip: pip must come from the Python the venv was made from."""
    venv = tmp_path / "nopip"
    subprocess.run(["uv", "venv", "-q", str(venv)], check=True, timeout=120)
    bare = str(venv / "bin" / "python")
    assert subprocess.run([bare, "-m", "pip", "--version"], capture_output=True).returncode != 0
    monkeypatch.setattr(sys, "executable", bare)
    python = torchnightly.python_with_pip()
    assert python != bare
    assert subprocess.run([python, "-m", "pip", "--version"], capture_output=True).returncode == 0


def test_ci_run_prints_the_skip_summary_and_runs_the_readme_command() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert "python3 -m pip install 'nox[uv]' && python3 -m nox -s tests" in script
    assert "VLLM_MATRIX_SKIP_REPORT" in script
