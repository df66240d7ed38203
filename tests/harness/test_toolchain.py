"""The toolchain preflight cell: a one-kernel CUDA torch extension built, run and audited.

Here there is no GPU, so a cell is run with --force (as `vllm-matrix run --force` would):
it builds for real with this machine's nvcc, and stops where this machine stops. With a
CUDA torch (``VLLM_MATRIX_CUDA_TORCH``: a Python that has one; the lent H200 has one) the
build and the arch audit run for real too; only running the kernel needs the GPU.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from vllm_matrix import pipconfig
from vllm_matrix.hardware import Hardware
from vllm_matrix.matrix import config, expand
from vllm_matrix.matrix.cell import Cell
from vllm_matrix.matrix.config import MatrixConfig
from vllm_matrix.matrix.specs import SpecError, parse_source
from vllm_matrix.results import CellResult, RunStore
from vllm_matrix.runner import Options, Runner
from vllm_matrix.stages.pipeline import stages_for
from vllm_matrix.workdir import Workdir

PY = f"{sys.version_info.major}.{sys.version_info.minor}"
CUDA_TORCH_ENV = "VLLM_MATRIX_CUDA_TORCH"


def cell(torch: str, arch: str, gpu: str = "sm_90") -> Cell:
    return Cell(f"preflight_{arch.replace('.', '').replace(';', '_').replace('+', '')}", python=PY,
                torch=torch, cuda="cu130", arch=arch, vllm="toolchain:cuda", gpu=gpu)  # fmt: skip


def run(tmp_path: Path, one: Cell, environ: dict[str, str]) -> CellResult:
    work = Workdir(tmp_path / "work", uv_cache=Path(os.environ.get("UV_CACHE_DIR", tmp_path / "uv")))
    config = MatrixConfig(path=tmp_path / "matrix.toml", axes={})
    runner = Runner(config, RunStore(tmp_path / "reports" / "r"), work, Hardware(), Options(force=True),
                    environ=environ, use_cache=False)  # fmt: skip
    return runner.run_cell(one)


def test_the_toolchain_probe_is_a_source_of_its_own() -> None:
    source = parse_source("toolchain:cuda")
    assert source.builds and not source.vllm_tree and not source.runs_suites
    with pytest.raises(SpecError, match="expected toolchain:cuda"):
        parse_source("toolchain:rocm")
    names = [s.name for s in stages_for(cell("nightly:latest", "12.0"))]
    assert names == ["resolve", "venv", "torch", "source", "build", "verify"]  # no vLLM: no prepare, suites


def test_an_arch_list_without_the_gpu_is_what_the_probe_is_for(tmp_path: Path) -> None:
    (tmp_path / "m.toml").write_text(
        '[matrix]\n[[matrix.include]]\nid = "p"\ntorch = "nightly:latest"\ncuda = "cu130"\narch = "12.0"\n'
        'vllm = "toolchain:cuda"\ngpu = "sm_90"\n'
    )
    (probe,) = expand.expand(config.load(tmp_path / "m.toml"))
    assert probe.not_applicable is None  # a vLLM tree with this arch list would be n/a


@pytest.mark.slow
def test_a_torch_without_cuda_stops_the_probe_at_build_saying_so(tmp_path: Path) -> None:
    wheels = pipconfig.find_links()
    assert wheels is not None, "needs pip's configured find-links holding torch 2.13.0+cpu, as CI has"
    environ = {**os.environ, "VLLM_MATRIX_INDEX_RELEASE": str(wheels)}
    result = run(tmp_path, cell("2.13.0+cpu", "9.0"), environ)
    assert (result.outcome, result.stage) == ("fail", "build"), (result.message, result.evidence)
    log = (tmp_path / "reports" / "r" / "cells" / result.id / "logs" / "build.log").read_text()
    assert "torch 2.13.0+cpu was built without CUDA" in log
    assert result.facts.build_env is not None and result.facts.build_env.env["TORCH_CUDA_ARCH_LIST"] == "9.0"


CUDA_TORCH = os.environ.get(CUDA_TORCH_ENV)


@pytest.mark.slow
@pytest.mark.skipif(not CUDA_TORCH, reason=f"set {CUDA_TORCH_ENV} to a Python with a CUDA torch (5 GB)")
@pytest.mark.parametrize(
    ("arch", "verdict", "sass", "ptx"),
    [
        ("9.0", "native", ["sm_90"], []),
        ("12.0", "not-runnable", ["sm_120"], []),
        ("10.0;12.0", "not-runnable", ["sm_100", "sm_120"], []),
        ("8.0+PTX", "ptx-jit", ["sm_80"], ["compute_80"]),
    ],
)
def test_the_probe_builds_with_real_nvcc_and_its_audit_says_what_an_h200_runs(
    tmp_path: Path, arch: str, verdict: str, sass: list[str], ptx: list[str]
) -> None:
    result = run(tmp_path, cell(f"existing:{CUDA_TORCH}", arch), dict(os.environ))
    statuses = {s.name: s.status for s in result.stages}
    assert statuses["build"] == "pass", (result.message, result.evidence)
    audit = result.facts.arch_audit
    assert audit is not None and [e["verdict"] for e in audit.extensions] == [verdict]
    assert (audit.extensions[0]["sass"], audit.extensions[0]["ptx"]) == (sass, ptx)
