"""stages.configure: the preflight's configure-only build, on a small vLLM-shaped CMake project.

The project's setup.py configures the way vLLM's does (``cmake_build_ext.configure``) and its
CMakeLists fetches a "oneDNN" with FetchContent and checks the compiler, so the ways a real
configure fails are real here: a fetch that needs an unreachable network, a compiler below the
ref's minimum, setup.py refusing the torch. The real vLLM 0.32.0 sdist is configured in
test_cpu_source_cell.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sdistfiles import cmake_vllm_files
from test_fetchcontent import git_repo
from torchnightly import cache_root

from vllm_matrix.matrix.cell import Cell
from vllm_matrix.matrix.config import MatrixConfig
from vllm_matrix.runner import diagnose
from vllm_matrix.stages import configure, pipeline, uv
from vllm_matrix.stages.base import StageContext, StageFailed
from vllm_matrix.stages.state import CellState, VllmChoice
from vllm_matrix.workdir import Workdir

pytestmark = pytest.mark.slow  # real CMake configures (seconds each)
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cell venv with setuptools (what prepare's build requirements provide)."""
    path = tmp_path_factory.mktemp("venv") / "v"
    env = uv.base_env(cache_root() / "uv-cache")
    subprocess.run([uv.uv_exe(), "venv", "-q", "--seed", "-p", PYTHON, str(path)], env=env, check=True,
                   timeout=300)  # fmt: skip
    return path


def tree_of(tmp_path: Path, files: dict[str, str]) -> Path:
    tree = tmp_path / "tree"
    for name, text in files.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(text)
    return tree


def context(tmp_path: Path, tree: Path, venv: Path, *, cuda: str = "cpu", arch: str = "",
            env: dict[str, str] | None = None, offline: Path | None = None) -> StageContext:  # fmt: skip
    work = Workdir(root=tmp_path / "work", uv_cache=cache_root() / "uv-cache")
    cell = Cell("c", python=PYTHON, torch="2.13.0+cpu", cuda=cuda, arch=arch, vllm=f"path:{tree}",
                gpu="cpu")  # fmt: skip
    config = MatrixConfig(path=tmp_path / "m.toml", axes={}, fetchcontent=offline)
    state = CellState(venv=str(venv), source_dir=str(tree), vllm=VllmChoice("path", path=str(tree)))
    base = uv.base_env(work.uv_cache, {**os.environ, "MAX_JOBS": "2", **(env or {})})
    return StageContext(stage="build", cell=cell, config=config, work=work, cell_dir=tmp_path / "cell",
                        env=base, state=state)  # fmt: skip


def classified(ctx: StageContext) -> str | None:
    diagnosis, _ = diagnose(ctx.log, "build", ())
    return diagnosis.klass if diagnosis else None


def test_the_refs_cmake_configures_from_provided_sources_and_nothing_is_compiled(
    tmp_path: Path, venv: Path
) -> None:
    offline = tmp_path / "offline"
    git_repo(offline / "onednn-src", tag="v3.13")
    ctx = context(tmp_path, tree_of(tmp_path, cmake_vllm_files()), venv, offline=offline)
    configure.run(ctx)
    facts, fetched = ctx.state.configure, ctx.state.fetchcontent
    assert facts is not None and fetched is not None
    (cmake,) = facts.cmake
    assert cmake[0] == "cmake" and "-DVLLM_TARGET_DEVICE=cpu" in cmake
    assert ctx.state.build_env is not None
    assert f"-DFETCHCONTENT_BASE_DIR={ctx.state.build_env.env['FETCHCONTENT_BASE_DIR']}" in cmake
    assert facts.extensions == ("vllm._C",) and facts.compiled == 0
    build_dir = Path(facts.build_dir)
    assert (build_dir / "CMakeCache.txt").is_file() and not list(build_dir.rglob("*.o"))
    (entry,) = fetched.entries
    assert (entry.name, entry.source, entry.matches) == ("onednn", "provided", True)
    assert fetched.fetched == ()  # nothing came from the network
    log = ctx.log.read_text()
    assert f"oneDNN is available at {offline / 'onednn-src'}" in log
    assert "[configure only: CMake configured in" in log and "Building CXX object" not in log


def test_a_fetch_that_needs_an_unreachable_network_fails_as_network_fetch(tmp_path: Path, venv: Path) -> None:
    ctx = context(tmp_path, tree_of(tmp_path, cmake_vllm_files()), venv)
    with pytest.raises(StageFailed) as info:
        configure.run(ctx)
    assert info.value.message.startswith("configuring vLLM failed (exit 1)")
    assert ctx.state.fetchcontent is not None and ctx.state.fetchcontent.needs_network == ("onednn",)
    assert "https://127.0.0.1:9/oneDNN.git" in ctx.log.read_text()
    assert classified(ctx) == "NETWORK_FETCH"


def test_what_a_configure_cloned_is_recorded(tmp_path: Path, venv: Path) -> None:
    git_repo(tmp_path / "origin" / "oneDNN", tag="v3.13")
    files = cmake_vllm_files(url=(tmp_path / "origin" / "oneDNN").as_uri())
    ctx = context(tmp_path, tree_of(tmp_path, files), venv)
    configure.run(ctx)
    assert ctx.state.fetchcontent is not None and ctx.state.fetchcontent.fetched == ("onednn",)
    assert "[fetchcontent] cloned from the network into" in ctx.log.read_text()


def test_a_compiler_older_than_the_refs_minimum_fails_with_cmakes_message(tmp_path: Path, venv: Path) -> None:
    offline = tmp_path / "offline"
    git_repo(offline / "onednn", tag="v3.13")
    ctx = context(tmp_path, tree_of(tmp_path, cmake_vllm_files(min_gcc="99.0")), venv, offline=offline)
    with pytest.raises(StageFailed):
        configure.run(ctx)
    log = ctx.log.read_text()
    assert "X86 backend requires gcc/g++ >= 99.0" in log
    assert "[configure] CMake stopped with exit status 1" in log
    assert classified(ctx) == "CMAKE_CONFIGURE"
    assert ctx.state.configure is not None and ctx.state.configure.tools is not None
    assert ctx.state.configure.tools.cxx  # the compiler CMake judged is recorded


def test_a_cuda_target_with_a_cpu_torch_fails_in_setup_py_with_a_finding(tmp_path: Path, venv: Path) -> None:
    site = next(venv.glob("lib/python*/site-packages"))
    (site / "torch").mkdir(exist_ok=True)
    (site / "torch" / "version.py").write_text("__version__ = '2.13.0+cpu'\ncuda: Optional[str] = None\n")
    try:
        ctx = context(tmp_path, tree_of(tmp_path, cmake_vllm_files()), venv, cuda="cu130", arch="12.0")
        with pytest.raises(StageFailed):
            configure.run(ctx)
    finally:
        (site / "torch" / "version.py").unlink()
        (site / "torch").rmdir()
    facts = ctx.state.configure
    assert facts is not None and facts.cmake == ()  # setup.py stopped before any cmake
    assert "the cell's torch has no CUDA (torch.version.cuda is None)" in facts.findings[0]
    log = ctx.log.read_text()
    assert "RuntimeError: Unknown runtime environment" in log
    diagnosis, _ = diagnose(ctx.log, "build", ())
    assert diagnosis is not None and diagnosis.evidence[0] == "RuntimeError: Unknown runtime environment"
    assert "[preflight] the cell's torch has no CUDA" in log


def test_a_tree_without_cmakelists_has_nothing_to_configure(tmp_path: Path, venv: Path) -> None:
    files = cmake_vllm_files()
    del files["CMakeLists.txt"]
    ctx = context(tmp_path, tree_of(tmp_path, files), venv)
    with pytest.raises(StageFailed) as info:
        configure.run(ctx)
    assert info.value.klass == "SOURCE_INCOMPLETE" and "has no CMakeLists.txt" in info.value.message


def test_a_setup_py_without_a_configure_step_says_so(tmp_path: Path, venv: Path) -> None:
    files = cmake_vllm_files()
    files["setup.py"] = files["setup.py"].replace("def configure(self, ext):", "def _configure(self, ext):")
    files["setup.py"] = files["setup.py"].replace("self.configure(ext)", "self._configure(ext)")
    ctx = context(tmp_path, tree_of(tmp_path, files), venv)
    with pytest.raises(StageFailed) as info:
        configure.run(ctx)
    assert info.value.message == "configuring vLLM failed (exit 2)"
    assert "no build_ext.configure(ext)" in ctx.log.read_text()


def test_the_preflight_pipeline_ends_with_the_configure_step() -> None:
    cell = Cell("c", python=PYTHON, torch="2.13.0+cpu", cuda="cpu", arch="", vllm="git:main", gpu="cpu")
    stages = pipeline.preflight_for(cell)
    assert [s.name for s in stages] == ["resolve", "venv", "torch", "source", "prepare", "build"]
    assert stages[-1].run is configure.run and not stages[-1].installs
