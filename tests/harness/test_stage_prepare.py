"""stages.prepare: use_existing_torch.py (with --prefix where the ref has it), build requirements.

The fake repository covers both script forms; the real vLLM sdists 0.30.0 (script at the root)
and 0.32.0 (script in tools/) cover both places, against a cell torch that is not vLLM's pin.
"""

from __future__ import annotations

import dataclasses
import subprocess
import zipfile
from pathlib import Path

import pytest
from fakevllm import LEGACY_USE_EXISTING_TORCH, PREFIX_USE_EXISTING_TORCH, FakeVllm, make_fake_vllm
from sdistfiles import real_sdist
from torchnightly import WheelUnavailable, cache_root, nightly_version, repacked_wheels, source_wheel

from vllm_matrix import gitsource, sdist
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


def test_the_script_is_found_at_the_root_or_in_tools(tmp_path: Path) -> None:
    assert prepare.find_script(tmp_path) is None
    tree_with(tmp_path, "tools/use_existing_torch.py")
    assert prepare.find_script(tmp_path) == tmp_path / "tools/use_existing_torch.py"
    tree_with(tmp_path, "use_existing_torch.py")
    assert prepare.find_script(tmp_path) == tmp_path / "use_existing_torch.py"


def test_removed_lines_are_what_left_each_file() -> None:
    before = {"requirements/a.txt": ["numpy", "torch==2.13.0", "torch==2.13.0", ""], "pyproject.toml": ["x"]}
    after = {"requirements/a.txt": ["numpy", "torch==2.13.0", ""]}
    assert prepare.removed_lines(before, after) == ("requirements/a.txt: torch==2.13.0", "pyproject.toml: x")
    assert prepare.removed_lines(before, before) == ()


# The real vLLM sdists, one of each layout: the script at the root (0.30.0) and in tools/ (0.32.0).
LAYOUTS = [("0.30.0", "use_existing_torch.py"), ("0.32.0", "tools/use_existing_torch.py")]
NIGHTLY_DATE = "20261101"
CPU_BUILD_PIN = (
    'requirements/build/cpu.txt: torch==2.13.0+cpu; platform_machine == "x86_64" or '
    'platform_machine == "s390x" or platform_machine == "aarch64"'
)


@pytest.fixture(scope="module")
def cell_torch() -> tuple[Path, Path]:
    """A torch that is not the one vLLM pins (a repacked 2.13.0 nightly), and an index holding the pin."""
    try:
        wheel = repacked_wheels([NIGHTLY_DATE], cache_root())[NIGHTLY_DATE]
        release = source_wheel(cache_root()).parent
    except WheelUnavailable as exc:
        pytest.skip(f"no torch 2.13.0+cpu wheel here to repack as the cell's torch: {exc}")
    return wheel, release


def real_tree(version: str, tmp_path: Path) -> Path:
    archive = real_sdist(version)
    return sdist.unpack(archive, tmp_path / "tree", sdist.sha256_of(archive))


def real_context(tmp_path: Path, tree: Path, cell_torch: tuple[Path, Path]) -> StageContext:
    """A cell venv holding the nightly torch; the release index offers torch 2.13.0+cpu, vLLM's pin."""
    wheel, release = cell_torch
    ctx = context(tmp_path, tree)
    ctx = dataclasses.replace(ctx, env={**ctx.env, "VLLM_MATRIX_INDEX_RELEASE": str(release)})
    subprocess.run([uv.uv_exe(), "pip", "install", "-q", "--python", str(ctx.python), str(wheel)],
                   env=ctx.env, check=True, timeout=600)  # fmt: skip
    ctx.state.torch_version = nightly_version(NIGHTLY_DATE)
    return ctx


def torch_lines(tree: Path, name: str) -> list[str]:
    return [line for line in (tree / name).read_text().splitlines() if line.lower().startswith("torch")]


@pytest.mark.slow
@pytest.mark.parametrize(("version", "script"), LAYOUTS)
def test_real_sdist_prepare_drops_the_torch_pins_and_keeps_the_cells_torch(
    version: str, script: str, tmp_path: Path, cell_torch: tuple[Path, Path]
) -> None:
    tree = real_tree(version, tmp_path)
    assert torch_lines(tree, "requirements/build/cpu.txt")  # the pins are there before
    ctx = real_context(tmp_path, tree, cell_torch)
    prepare.run(ctx)
    facts = ctx.state.prepare
    assert facts is not None
    assert (facts.script, facts.use_existing_torch) == (script, "--prefix")
    assert facts.build_requirements == "requirements/build/cpu.txt"
    assert CPU_BUILD_PIN in facts.removed
    assert 'pyproject.toml: "torch == 2.13.0",' in facts.removed
    # --prefix removes the torch family's pins and nothing else
    family = ("torch=", "torchvision=", "torchaudio=", "torchcodec=")
    pinned = (*family, *(f'"{name}' for name in family))
    assert all(line.split(": ", 1)[1].replace(" ", "").startswith(pinned) for line in facts.removed)
    assert torch_lines(tree, "requirements/build/cpu.txt") == []
    said = f"removed from requirements/build/cpu.txt: {CPU_BUILD_PIN.split(': ', 1)[1]}"
    assert said in ctx.log.read_text()  # the script's own report, in the stage log
    assert installed_version(ctx.venv, "torch") == nightly_version(NIGHTLY_DATE)  # the cell's, not the pin
    assert installed_version(ctx.venv, "cmake") and installed_version(ctx.venv, "setuptools-scm")


@pytest.mark.slow
def test_real_sdist_without_the_script_would_replace_the_cells_torch(
    tmp_path: Path, cell_torch: tuple[Path, Path]
) -> None:
    """The control: what the script prevents. Without it the build pins replace the nightly."""
    tree = real_tree("0.32.0", tmp_path)
    (tree / "tools" / "use_existing_torch.py").unlink()
    ctx = real_context(tmp_path, tree, cell_torch)
    with pytest.raises(StageFailed) as info:
        prepare.run(ctx)
    assert (info.value.stage, info.value.klass) == ("prepare", "TORCH_OVERRIDDEN")
    assert f"torch {nightly_version(NIGHTLY_DATE)} was replaced by 2.13.0+cpu" in info.value.message
    assert "not in this ref (use_existing_torch.py or tools/use_existing_torch.py)" in ctx.log.read_text()
