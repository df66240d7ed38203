"""stages.prepare: use_existing_torch.py (with --prefix where the ref has it), build requirements."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest
from fakevllm import LEGACY_USE_EXISTING_TORCH, PREFIX_USE_EXISTING_TORCH, FakeVllm, make_fake_vllm
from torchnightly import cache_root

from vllm_matrix import gitsource
from vllm_matrix.matrix.cell import Cell
from vllm_matrix.matrix.config import MatrixConfig
from vllm_matrix.stages import prepare, uv
from vllm_matrix.stages.base import StageContext, StageFailed
from vllm_matrix.stages.state import CellState
from vllm_matrix.stages.torch import installed_version
from vllm_matrix.workdir import Workdir


def test_prefix_support_is_read_from_the_script() -> None:
    assert prepare.supports_prefix(PREFIX_USE_EXISTING_TORCH)
    # The old script mentions --prefix in a comment but takes no options: running it with one
    # (or with --help) would already rewrite the files.
    assert "--prefix" in LEGACY_USE_EXISTING_TORCH
    assert not prepare.supports_prefix(LEGACY_USE_EXISTING_TORCH)


def tree_with(tmp_path: Path, *names: str) -> Path:
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("wheel\n")
    return tmp_path


def test_newest_build_requirements_layout_wins(tmp_path: Path) -> None:
    tree = tree_with(tmp_path, "requirements/build.txt", "requirements/build/cuda.txt")
    assert prepare.build_requirements(tree, "cuda") == tree / "requirements/build/cuda.txt"


def test_cpu_cells_take_the_cpu_build_file(tmp_path: Path) -> None:
    tree = tree_with(tmp_path, "requirements/build.txt", "requirements/cpu-build.txt")
    assert prepare.build_requirements(tree, "cpu") == tree / "requirements/cpu-build.txt"
    assert prepare.build_requirements(tree, "cuda") == tree / "requirements/build.txt"


def test_cpu_cells_fall_back_to_the_common_build_file(tmp_path: Path) -> None:
    tree = tree_with(tmp_path, "requirements/build.txt")
    assert prepare.build_requirements(tree, "cpu") == tree / "requirements/build.txt"


def test_rocm_cells_take_the_rocm_build_file(tmp_path: Path) -> None:
    tree = tree_with(tmp_path, "requirements/build.txt", "requirements/rocm-build.txt")
    assert prepare.build_requirements(tree, "rocm") == tree / "requirements/rocm-build.txt"


def test_no_build_requirements(tmp_path: Path) -> None:
    assert prepare.build_requirements(tmp_path, "cuda") is None


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> FakeVllm:
    return make_fake_vllm(tmp_path_factory.mktemp("origin"))


def context(tmp_path: Path, tree: Path) -> StageContext:
    """A cell context whose torch index is an empty find-links dir: only PyPI serves packages."""
    work = Workdir(root=tmp_path / "work", uv_cache=cache_root() / "uv-cache")
    cell = Cell("c", python="3.11", torch="2.13.0+cpu", cuda="cpu", arch="", vllm="git:main", gpu="cpu")
    (tmp_path / "no-torch-here").mkdir()
    env = uv.base_env(work.uv_cache) | {"VLLM_MATRIX_INDEX_RELEASE": str(tmp_path / "no-torch-here")}
    config = MatrixConfig(path=tmp_path / "m.toml", axes={})
    state = CellState(venv=str(tmp_path / "venv"), source_dir=str(tree))
    ctx = StageContext(stage="prepare", cell=cell, config=config, work=work, cell_dir=tmp_path / "cell",
                       env=env, state=state)  # fmt: skip
    subprocess.run([uv.uv_exe(), "venv", "-q", "-p", "3.11", str(ctx.venv)], env=env, check=True, timeout=120)
    return ctx


def worktree(fake: FakeVllm, tmp_path: Path, ref: str) -> Path:
    log = tmp_path / "git.log"
    commit = gitsource.resolve_ref(str(fake.path), ref, tmp_path / "git", log, timeout_s=60)
    mirror = gitsource.mirror_path(tmp_path / "git", str(fake.path))
    return gitsource.ensure_worktree(mirror, commit, tmp_path / "tree", log, timeout_s=60)


def pins(tree: Path) -> list[str]:
    lines: list[str] = []
    for path in sorted((tree / "requirements").rglob("*.txt")):
        lines += [line for line in path.read_text().splitlines() if "torch" in line]
    return lines


@pytest.mark.slow
@pytest.mark.parametrize(("ref", "mode"), [("main", "--prefix"), ("v0.1.0", "legacy")])
def test_prepare_drops_torch_pins_and_installs_build_requirements(
    fake: FakeVllm, tmp_path: Path, ref: str, mode: str
) -> None:
    tree = worktree(fake, tmp_path, ref)
    assert pins(tree)
    ctx = context(tmp_path, tree)
    prepare.run(ctx)
    record = ctx.state.prepare
    assert record is not None and record.use_existing_torch.startswith(mode)
    assert record.build_requirements == "requirements/build.txt"
    assert pins(tree) == []
    log = ctx.log.read_text()
    assert ("prefix mode" if mode == "--prefix" else "legacy mode") in log
    assert installed_version(ctx.venv, "ninja") is not None
    assert installed_version(ctx.venv, "torch") is None  # the pin was dropped, nothing replaced torch


@pytest.mark.slow
def test_a_ref_without_the_script_keeps_its_files_and_says_so(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "requirements").mkdir(parents=True)
    (tree / "requirements" / "build.txt").write_text("wheel\n")
    ctx = context(tmp_path, tree)
    prepare.run(ctx)
    assert ctx.state.prepare is not None and ctx.state.prepare.use_existing_torch == "absent"
    assert "not in this ref" in ctx.log.read_text()
    assert installed_version(ctx.venv, "wheel") is not None


@pytest.mark.slow
def test_a_broken_script_fails_the_stage(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "use_existing_torch.py").write_text("raise SystemExit('cannot parse requirements')\n")
    ctx = context(tmp_path, tree)
    with pytest.raises(StageFailed) as info:
        prepare.run(ctx)
    assert info.value.stage == "prepare"
    assert "use_existing_torch.py failed (exit 1)" in info.value.message
    assert info.value.log is not None and "cannot parse requirements" in info.value.log.read_text()


def tiny_wheel(directory: Path, name: str, version: str) -> Path:
    """A minimal valid wheel (metadata only): enough for uv to install and replace it."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{path},,\n" for path in files) + f"{dist}/RECORD,,\n"
    path = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as whl:
        for member, text in {**files, f"{dist}/RECORD": record}.items():
            whl.writestr(member, text)
    return path


@pytest.mark.slow
def test_build_requirements_that_replace_torch_are_torch_overridden(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "requirements").mkdir(parents=True)
    (tree / "requirements" / "build.txt").write_text("torch==0.0.2\n")  # a ref whose pins were not dropped
    ctx = context(tmp_path, tree)
    index = Path(ctx.env["VLLM_MATRIX_INDEX_RELEASE"])
    first = tiny_wheel(index, "torch", "0.0.1")
    tiny_wheel(index, "torch", "0.0.2")
    subprocess.run([uv.uv_exe(), "pip", "install", "-q", "--python", str(ctx.python), str(first)],
                   env=ctx.env, check=True, timeout=120)  # fmt: skip
    ctx.state.torch_version = "0.0.1"
    with pytest.raises(StageFailed) as info:
        prepare.run(ctx)
    failure = info.value
    assert (failure.stage, failure.klass) == ("prepare", "TORCH_OVERRIDDEN")
    assert "0.0.1" in failure.message and "0.0.2" in failure.message
