"""The noxfile: one session per cell, selection by keyword and tag, broken matrix handling."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def nox_list(*args: str, matrix: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("VLLM_MATRIX_FILE", None)
    if matrix is not None:
        env["VLLM_MATRIX_FILE"] = str(matrix)
    return subprocess.run(
        [sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), "-l", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def selected(out: str) -> list[str]:
    return re.findall(r"^\* (\S+)", out, flags=re.M)


def test_lists_one_session_per_cell_and_the_named_sessions() -> None:
    out = nox_list()
    assert out.returncode == 0, out.stderr
    names = re.findall(r"^[*-] (\S+)", out.stdout, flags=re.M)
    cells = [n for n in names if n.startswith("cell(")]
    assert len(cells) == 33  # the n/a combinations get no session: they never run
    assert "cell(cpu_reference)" in cells and "cell(latest_cu130_sm120_on_sm120_fa3_main)" not in cells
    for name in ("matrix", "report", "bisect", "plan", "tests", "lint"):
        assert name in names
    # a bare `nox` only plans
    assert selected(out.stdout) == ["plan"]


def test_keyword_and_tag_select_cells() -> None:
    by_keyword = selected(nox_list("-k", "cu132").stdout)
    assert len(by_keyword) == 12 and all("cu132" in s for s in by_keyword)
    by_tag = selected(nox_list("-t", "sm120").stdout)
    assert len(by_tag) == 12  # 8 source-built (2 nightlies x 2 CUDA x 2 arch lists) + 3 prebuilt + preflight
    assert selected(nox_list("-t", "cpu").stdout) == ["cell(cpu_reference)", "cell(cpu_reference_bf16)"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[matrix]\ntorch = ["nightly:latest"\n', "TOML syntax error"),
        ('[matrix]\ntorhc = ["nightly:latest"]\n', "did you mean 'torch'"),
    ],
)
def test_broken_matrix_is_one_line_and_exit_2(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "matrix.toml"
    path.write_text(text)
    out = nox_list(matrix=path)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0] and str(path) in lines[0]
