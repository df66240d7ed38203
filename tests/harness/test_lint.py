"""The harness stays ruff- and mypy-clean: CI proves it, not a reviewer's memory."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
TARGETS = ["src", "tests", "noxfile.py", "benchmarks"]


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed (pip install -e .[lint])")
def test_ruff_check_and_format() -> None:
    targets = [t for t in TARGETS if (ROOT / t).exists()]
    check = run("ruff", "check", *targets)
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = run("ruff", "format", "--check", *targets)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_mypy_strict() -> None:
    out = run(sys.executable, "-m", "mypy", "src")
    assert out.returncode == 0, out.stdout + out.stderr
