"""The default matrix's cpu_source cell end to end, for real, and its configure-only preflight.

``vllm-matrix run cpu_source``: the real vLLM 0.32.0 sdist from the PyPI index (downloaded once
into the work dir), torch 2.13.0+cpu, ``tools/use_existing_torch.py --prefix``, the CPU build
requirements, then vLLM's own setup.py and CMake. vLLM >= 0.26 refuses to configure its x86 CPU
backend with gcc < 12.3, so with such a compiler (Debian 12's 12.2) the cell must be red at build
with CMake's message as the decisive line; the preflight must reach the same verdict, compiling
nothing. With gcc >= 12.3 the real build compiles for an hour or more, so there the preflight
alone is checked: the compiler check passes and CMake goes on.

Two assertions need the classifier of the ``classify`` branch (CMake's message text as the
evidence instead of CMake's "Configuring incomplete" trailer, a hint that fits the log instead of
CUDA_HOME): they are marked below.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_cpu_cell import ROOT, find_links, uv_cache

from vllm_matrix.results import CellResult, RunStore

pytestmark = pytest.mark.slow
GCC_CHECK = "X86 backend requires gcc/g++ >= 12.3"


def compiler() -> tuple[int, ...]:
    """The version of the C++ compiler CMake will pick (``$CXX``, else c++); () when there is none."""
    try:
        done = subprocess.run([os.environ.get("CXX", "c++"), "-dumpfullversion"], capture_output=True,
                              text=True, check=False, timeout=60)  # fmt: skip
    except OSError:
        return ()
    return tuple(int(p) for p in re.findall(r"\d+", done.stdout)[:3])


def run_cell(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], CellResult, Path]:
    env = {**os.environ, "VLLM_MATRIX_INDEX_RELEASE": find_links(), "UV_CACHE_DIR": uv_cache(),
           # the 30 GiB a source build asks for: these runs stop at CMake's configure, compiling nothing
           "VLLM_MATRIX_MIN_FREE_GB": "8"}  # fmt: skip
    run = "preflight" if extra else "full"
    argv = [sys.executable, "-m", "vllm_matrix", "--matrix", str(ROOT / "matrix.toml"), "run", *extra,
            "cpu_source", "--workdir", str(tmp_path / "work"), "--reports", str(tmp_path / "reports"),
            "--run", run]  # fmt: skip
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=2400, check=False)
    store = RunStore(tmp_path / "reports" / run)
    result = store.read_result("cpu_source")
    assert result is not None, out.stderr[-3000:]
    return out, result, store.cell_dir("cpu_source") / "logs" / "build.log"


def assert_red_at_build_for_the_compiler(result: CellResult, log: Path) -> None:
    verdict = (result.outcome, result.stage, result.klass)
    assert verdict == ("fail", "build", "CMAKE_CONFIGURE"), result.message
    assert result.experimental
    text = log.read_text()
    assert "CMake Error at cmake/cpu_extension.cmake:136" in text and GCC_CHECK in text
    # needs the classify branch: the decisive line is CMake's message, not its trailer
    assert result.evidence and GCC_CHECK in result.evidence[0], result.evidence
    # needs the classify branch: the hint names the compiler, not CUDA_HOME
    assert result.hint and "compiler" in result.hint and "CUDA_HOME" not in result.hint, result.hint


def assert_the_sdist_was_prepared(result: CellResult) -> None:
    facts = result.facts
    assert facts.vllm is not None and (facts.vllm.kind, facts.vllm.version) == ("sdist", "0.32.0")
    assert facts.vllm.sha256 == "d2c957d5eee3d0985012151315ddc62cbe0cd368fc96a5fc3510438d9dddf2ad"
    assert facts.prepare is not None and facts.prepare.script == "tools/use_existing_torch.py"
    assert any(r.startswith("requirements/build/cpu.txt: torch==2.13.0+cpu") for r in facts.prepare.removed)
    assert facts.torch_version == "2.13.0+cpu"
    assert facts.build_env is not None and facts.build_env.env["SETUPTOOLS_SCM_PRETEND_VERSION"] == "0.32.0"
    assert facts.fetchcontent is not None and [e.name for e in facts.fetchcontent.entries] == ["onednn"]


NEW_GCC = "gcc >= 12.3 here: the full build compiles for an hour or more (the preflight test covers it)"


@pytest.mark.skipif(compiler() >= (12, 3), reason=NEW_GCC)
def test_cpu_source_is_red_at_build_because_of_the_compiler(tmp_path: Path) -> None:
    out, result, log = run_cell(tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]  # an experimental cell's failure does not fail the run
    passed = [(name, "pass") for name in ("resolve", "venv", "torch", "source", "prepare")]
    assert [(s.name, s.status) for s in result.stages] == [*passed, ("build", "fail")]
    assert result.message == "building vLLM failed (exit 1)"
    assert_the_sdist_was_prepared(result)
    assert_red_at_build_for_the_compiler(result, log)


def test_cpu_source_preflight_configures_the_real_sdist_and_compiles_nothing(tmp_path: Path) -> None:
    out, result, log = run_cell(tmp_path, "--until", "configure")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "preflight (--until configure)" in out.stderr
    assert [s.name for s in result.stages] == ["resolve", "venv", "torch", "source", "prepare", "build"]
    assert_the_sdist_was_prepared(result)
    configure = result.facts.configure
    assert configure is not None and configure.compiled == 0
    assert configure.cmake and "-DVLLM_TARGET_DEVICE=cpu" in configure.cmake[0]
    assert "vllm._C" in configure.extensions
    assert configure.tools is not None and configure.tools.cxx
    if compiler() < (12, 3):
        assert_red_at_build_for_the_compiler(result, log)
        assert result.message == "configuring vLLM failed (exit 1)"
    else:
        assert GCC_CHECK not in log.read_text()  # the compiler check passed; CMake went on to oneDNN
