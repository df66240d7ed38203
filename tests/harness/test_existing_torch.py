"""``torch = "existing"``: a cell on a torch some Python already has, with no index at all.

The "container" is a real venv made by uv with a small real torch wheel in it (as an NGC
image's /opt/.../.venv would have the real one). The cell's venv sees that torch through a
``.pth`` file, nothing installs torch again, and the torch check still catches a torch that
a later install puts in the cell's venv.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fakewheel import build_wheel, fake_torch, fake_vllm

from vllm_matrix.hardware import Hardware
from vllm_matrix.matrix.cell import Cell
from vllm_matrix.matrix.config import MatrixConfig
from vllm_matrix.results import CellResult, RunStore
from vllm_matrix.runner import Runner
from vllm_matrix.stages import torch as torch_stage
from vllm_matrix.stages import uv
from vllm_matrix.stages.base import StageContext
from vllm_matrix.workdir import Workdir

PY = f"{sys.version_info.major}.{sys.version_info.minor}"
TORCH = "2.11.0+cu130"
GIT = "a8b1c2d3" * 5


@pytest.fixture(scope="module")
def container(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Python with torch installed, the way a container ships it; returns its interpreter."""
    root = tmp_path_factory.mktemp("container")
    venv = root / "opt" / "torch" / ".venv"
    env = uv.base_env(root / "uv")
    subprocess.run([uv.uv_exe(), "venv", "-q", "-p", PY, str(venv)], env=env, check=True, timeout=120)
    wheel = fake_torch(root / "wheels", TORCH, git_version=GIT)
    transformers = build_wheel(
        root / "wheels", "transformers", "5.17.0", files={"transformers/__init__.py": ""}
    )
    python = venv / "bin" / "python"
    install = [uv.uv_exe(), "pip", "install", "-q", "--python", str(python), str(wheel), str(transformers)]
    subprocess.run(install, env=env, check=True, timeout=120)
    return python


def no_suites(ctx: StageContext) -> None:
    """The payload needs a real vLLM; these tests are about the torch the cell runs on."""


def run(tmp_path: Path, python: Path, wheels: Path, stages: dict[str, object] | None = None,
        dependencies: str | Path = "resolve") -> CellResult:  # fmt: skip
    cell = Cell("c", python=PY, torch=f"existing:{python}", cuda="cu130", arch="", vllm="wheel:vllm==0.26.0",
                gpu="cpu")  # fmt: skip
    # No index at all: PyPI is a local directory of wheels (uv's --find-links with --no-index).
    environ = {"PATH": f"/usr/bin:/bin:{Path(sys.executable).parent}", "VLLM_MATRIX_INDEX_PYPI": str(wheels)}
    work = Workdir(tmp_path / "work", uv_cache=tmp_path / "uv")
    config = MatrixConfig(path=tmp_path / "matrix.toml", axes={}, vllm_dependencies=dependencies)
    runner = Runner(config, RunStore(tmp_path / "reports" / "r"), work, Hardware(), environ=environ,
                    stages={"suites": no_suites, **(stages or {})})  # type: ignore[dict-item]  # fmt: skip
    return runner.run_cell(cell)


@pytest.mark.slow
def test_a_cell_on_an_existing_torch_sees_it_and_installs_none(tmp_path: Path, container: Path) -> None:
    wheels = tmp_path / "wheels"
    # the release's exact torch pin, and a dependency the container has: no index here has either
    fake_vllm(wheels, "0.26.0", pins=["torch==2.11.0", "transformers>=4.56"])
    result = run(tmp_path, container, wheels)
    assert result.outcome == "pass", (result.stage, result.message, result.evidence)
    facts = result.facts
    assert facts.torch is not None and facts.torch.existing and facts.torch.interpreter == str(container)
    assert (facts.torch_version, facts.torch_git_version) == (TORCH, GIT)
    assert facts.torch.git_version == GIT  # recorded at resolve, before anything ran in the venv
    assert facts.vllm_version == "0.26.0"
    venv = Path(str(facts.venv))
    own = venv / "lib" / f"python{PY}" / "site-packages"
    assert not list(own.glob("torch*")), "torch was installed again into the cell's venv"
    assert not list(own.glob("transformers*")), "what the container provides was installed again"
    seen = subprocess.run([str(venv / "bin" / "python"), "-c", "import torch; print(torch.__file__)"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert str(container.parent.parent) in seen.stdout  # the container's own torch


@pytest.mark.slow
def test_a_torch_installed_over_the_existing_one_is_caught(tmp_path: Path, container: Path) -> None:
    wheels = tmp_path / "wheels"
    fake_vllm(wheels, "0.26.0", pins=[])
    shadow = build_wheel(tmp_path / "shadow", "torch", "2.9.0", files={"torch/__init__.py": ""})

    def source_that_brings_its_own_torch(ctx: StageContext) -> None:
        argv = [uv.uv_exe(ctx.env), "pip", "install", "-q", "--python", str(ctx.python), str(shadow)]
        ctx.check(argv, what="installing a package that ships a torch")
        torch_stage.ensure_unchanged(ctx)

    result = run(tmp_path, container, wheels, {"source": source_that_brings_its_own_torch})
    assert (result.outcome, result.stage, result.klass) == ("fail", "source", "TORCH_OVERRIDDEN")
    assert result.evidence == [f"torch {TORCH} was replaced by 2.9.0 during source"]


def test_a_python_without_torch_is_one_clear_failure(tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    subprocess.run([uv.uv_exe(), "venv", "-q", "-p", PY, str(bare)], env=uv.base_env(tmp_path / "uv"),
                   check=True, timeout=120)  # fmt: skip
    result = run(tmp_path, bare / "bin" / "python", tmp_path)
    assert (result.outcome, result.stage) == ("fail", "resolve")
    assert f"{bare}/bin/python has no importable torch: ModuleNotFoundError" in str(result.message)


@pytest.mark.slow
def test_an_air_gapped_container_installs_vllm_with_only_the_wheels_it_carries(
    tmp_path: Path, container: Path
) -> None:
    """[sources] vllm_dependencies = FILE: those, then vLLM with --no-deps; nothing else is sought."""
    wheels = tmp_path / "wheels"
    fake_vllm(wheels, "0.26.0", pins=["torch==2.11.0", "flashinfer-python>=0.6", "msgspec"])
    build_wheel(wheels, "msgspec", "0.23.0", files={"msgspec/__init__.py": ""})
    carried = tmp_path / "deps.txt"
    carried.write_text("msgspec==0.23.0\n")
    result = run(tmp_path, container, wheels, dependencies=carried)
    assert result.outcome == "pass", (result.stage, result.message, result.evidence)
    assert result.facts.vllm_dependencies == f"{carried} (--no-deps), then vLLM alone"
    own = Path(str(result.facts.venv)) / "lib" / f"python{PY}" / "site-packages"
    assert list(own.glob("msgspec-0.23.0.dist-info")) and not list(own.glob("flashinfer*"))
    resolved = run(tmp_path / "resolved", container, wheels)  # the default resolves, and cannot here
    assert (resolved.outcome, resolved.stage) == ("fail", "source")
