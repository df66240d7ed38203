"""stages.build: the uv command line and the build environment it runs with.

The real build (a torch C++ extension compiled with --no-build-isolation, and
what its setup.py saw) is exercised end to end in test_source_path.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vllm_matrix.matrix.cell import Cell
from vllm_matrix.matrix.config import MatrixConfig
from vllm_matrix.stages import build, uv
from vllm_matrix.stages.base import StageContext
from vllm_matrix.stages.state import CellState, VllmChoice
from vllm_matrix.workdir import Workdir

COMMIT = "8a919436b3f2d2e3afa784b4998dab4eb2722aa9"


def context(tmp_path: Path, vllm: VllmChoice, *, cuda: str = "cu130", arch: str = "12.0",
            env: dict[str, str] | None = None) -> StageContext:  # fmt: skip
    work = Workdir(root=tmp_path / "work", uv_cache=tmp_path / "uv")
    cell = Cell("blackwell", python="3.12", torch="nightly:latest", cuda=cuda, arch=arch, vllm="git:main",
                gpu="sm_120")  # fmt: skip
    base = uv.base_env(work.uv_cache) | {"VLLM_MATRIX_INDEX_NIGHTLY": "http://127.0.0.1:9/nightly"}
    config = MatrixConfig(path=tmp_path / "m.toml", axes={})
    state = CellState(vllm=vllm, venv=str(work.venvs / "key"))
    return StageContext(stage="build", cell=cell, config=config, work=work, cell_dir=tmp_path / "cell",
                        env=base | (env or {}), state=state)  # fmt: skip


def git_vllm() -> VllmChoice:
    return VllmChoice("git", url="x", ref="main", commit=COMMIT)


def test_install_is_no_build_isolation_from_the_tree_with_the_cells_indexes(tmp_path: Path) -> None:
    ctx = context(tmp_path, git_vllm())
    argv = build.argv(ctx, tmp_path / "tree")
    assert argv[1:3] == ["pip", "install"]
    assert argv[argv.index("--python") + 1] == str(ctx.python)
    assert "--no-build-isolation" in argv
    assert argv[argv.index("--reinstall-package") + 1] == "vllm"
    assert argv[argv.index("--index") + 1] == "http://127.0.0.1:9/nightly/cu130"
    assert argv[-1] == str(tmp_path / "tree")
    assert "-e" not in argv and "--editable" not in argv


def test_environment_of_a_blackwell_cell(tmp_path: Path) -> None:
    ctx = context(tmp_path, git_vllm(), arch="10.0;12.0", env={"MAX_JOBS": "6"})
    env = build.environment(ctx, tmp_path / "tree")
    assert env.env["TORCH_CUDA_ARCH_LIST"] == "10.0;12.0"
    assert env.env["VLLM_TARGET_DEVICE"] == "cuda"
    assert env.env["MAX_JOBS"] == "6"
    assert "set in the environment" in env.reasons["MAX_JOBS"]
    assert env.env["FETCHCONTENT_BASE_DIR"] == str(ctx.work.fetchcontent / COMMIT)


def test_fetchcontent_is_shared_per_commit_across_build_keys(tmp_path: Path) -> None:
    a = build.environment(context(tmp_path, git_vllm(), arch="12.0"), tmp_path / "t1")
    b = build.environment(context(tmp_path, git_vllm(), arch="10.0"), tmp_path / "t2")
    assert a.env["FETCHCONTENT_BASE_DIR"] == b.env["FETCHCONTENT_BASE_DIR"]


def test_unversioned_path_source_gets_a_stable_cache_name(tmp_path: Path) -> None:
    vllm = VllmChoice("path", path="/home/me/vllm")
    assert build.source_id(vllm) == build.source_id(VllmChoice("path", path="/home/me/vllm"))
    assert build.source_id(vllm).startswith("path-")
    assert build.source_id(VllmChoice("path", path="/home/me/other")) != build.source_id(vllm)


def test_max_jobs_is_printed_and_the_environment_logged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = context(tmp_path, git_vllm())
    env = build.environment(ctx, tmp_path / "tree")
    build.announce(ctx, env)
    printed = capsys.readouterr().err
    assert f"[blackwell] build: MAX_JOBS={env.env['MAX_JOBS']}" in printed
    log = ctx.log.read_text()
    assert "[build env] TORCH_CUDA_ARCH_LIST=12.0" in log
    assert "[build env] MAX_JOBS:" in log


def sdist_vllm() -> VllmChoice:
    return VllmChoice("sdist", requirement="vllm==0.32.0", path="/w/sdists/x/vllm-0.32.0.tar.gz",
                      sha256="d2c957d5eee3d0985012151315ddc62cbe0cd368fc96a5fc3510438d9dddf2ad",
                      version="0.32.0")  # fmt: skip


def test_the_compile_runs_alone_before_the_dependencies(tmp_path: Path) -> None:
    argv = build.argv(context(tmp_path, git_vllm()), tmp_path / "tree")
    assert "--no-deps" in argv  # a dependency that cannot resolve must not hide the compile's verdict


def test_an_sdist_build_gets_its_version_and_a_cache_per_file(tmp_path: Path) -> None:
    ctx = context(tmp_path, sdist_vllm())
    env = build.environment(ctx, tmp_path / "tree")
    assert env.env["SETUPTOOLS_SCM_PRETEND_VERSION"] == "0.32.0"
    assert "PKG-INFO" in env.reasons["SETUPTOOLS_SCM_PRETEND_VERSION"]
    assert env.env["FETCHCONTENT_BASE_DIR"] == str(ctx.work.fetchcontent / "sdist-d2c957d5eee3d098")
    assert (
        "SETUPTOOLS_SCM_PRETEND_VERSION" not in build.environment(context(tmp_path, git_vllm()), tmp_path).env
    )


def test_the_runtime_requirements_are_the_built_vllms_without_extras(tmp_path: Path) -> None:
    dist = tmp_path / "venv" / "lib" / "python3.11" / "site-packages" / "vllm-0.32.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: vllm\nVersion: 0.32.0\n"
        "Requires-Dist: numba==0.65.0\n"
        'Requires-Dist: triton @ https://example.invalid/triton.whl ; platform_machine == "x86_64"\n'
        'Requires-Dist: pandas ; extra == "bench"\n'
    )
    assert build.runtime_requirements(tmp_path / "venv") == [
        "numba==0.65.0",
        'triton @ https://example.invalid/triton.whl ; platform_machine == "x86_64"',
    ]


def test_the_progress_interval_comes_from_the_environment(tmp_path: Path) -> None:
    assert build.interval(context(tmp_path, git_vllm())) == 30.0
    assert build.interval(context(tmp_path, git_vllm(), env={"VLLM_MATRIX_PROGRESS_S": "5"})) == 5.0
    assert build.interval(context(tmp_path, git_vllm(), env={"VLLM_MATRIX_PROGRESS_S": "soon"})) == 30.0
