"""stages.source: a git worktree per (commit, build key); a path source mirrored, never built in place."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from fakevllm import FakeVllm, make_fake_vllm

from vllm_matrix import gitsource
from vllm_matrix.errors import HarnessError
from vllm_matrix.matrix.cell import Cell
from vllm_matrix.matrix.config import MatrixConfig
from vllm_matrix.stages import source
from vllm_matrix.stages.base import StageContext, StageFailed
from vllm_matrix.stages.state import CellState, VllmChoice
from vllm_matrix.workdir import Workdir


@pytest.fixture
def fake(tmp_path: Path) -> FakeVllm:
    return make_fake_vllm(tmp_path / "origin")


def context(tmp_path: Path, vllm: dict[str, Any], key: str = "key1") -> StageContext:
    work = Workdir(root=tmp_path / "work", uv_cache=tmp_path / "uv")
    cell = Cell("c", python="3.11", torch="2.13.0+cpu", cuda="cpu", arch="", vllm="git:main", gpu="cpu")
    config = MatrixConfig(path=tmp_path / "m.toml", axes={})
    state = CellState(vllm=VllmChoice(**vllm), venv=str(work.venvs / key))
    return StageContext(stage="source", cell=cell, config=config, work=work, cell_dir=tmp_path / "cell",
                        env=gitsource.git_env(), state=state)  # fmt: skip


def head(tree: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def git_record(fake: FakeVllm, ref: str) -> dict[str, Any]:
    return {"kind": "git", "url": str(fake.path), "ref": ref, "commit": fake.commits[ref]}


def test_git_source_is_a_worktree_at_the_commit(fake: FakeVllm, tmp_path: Path) -> None:
    ctx = context(tmp_path, git_record(fake, "v0.1.0"))
    source.run(ctx)
    tree = Path(str(ctx.state.source_dir))
    assert head(tree) == fake.commits["v0.1.0"]
    assert tree.parent == ctx.work.worktrees and tree.name.endswith("-key1")
    assert (tree / "setup.py").is_file()


def test_two_build_keys_get_two_trees(fake: FakeVllm, tmp_path: Path) -> None:
    trees = []
    for key in ("key1", "key2"):
        ctx = context(tmp_path, git_record(fake, "main"), key)
        source.run(ctx)
        trees.append(Path(str(ctx.state.source_dir)))
    assert trees[0] != trees[1]
    assert head(trees[0]) == head(trees[1]) == fake.commits["main"]


def checkout_with_edits(fake: FakeVllm) -> Path:
    repo = fake.path
    (repo / "setup.py").write_text((repo / "setup.py").read_text() + "# local edit\n")  # uncommitted
    (repo / "csrc" / "new_kernel.cpp").write_text("// untracked, not ignored\n")
    (repo / "build").mkdir()
    (repo / "build" / "stale.o").write_text("ignored build output")
    (repo / "vllm" / "_C.abi3.so").write_text("ignored build output")
    return repo


def path_record(repo: Path) -> dict[str, Any]:
    return {"kind": "path", "path": str(repo), "commit": None, "dirty": True}


def test_path_source_is_mirrored_with_local_edits_but_no_build_outputs(
    fake: FakeVllm, tmp_path: Path
) -> None:
    repo = checkout_with_edits(fake)
    ctx = context(tmp_path, path_record(repo))
    source.run(ctx)
    tree = Path(str(ctx.state.source_dir))
    assert tree != repo and tree.is_relative_to(ctx.work.worktrees)
    assert (tree / "setup.py").read_text().endswith("# local edit\n")
    assert (tree / "csrc" / "new_kernel.cpp").is_file()
    assert not (tree / "build").exists()
    assert not (tree / "vllm" / "_C.abi3.so").exists()
    assert head(tree) == fake.commits["main"]  # history is visible to version tools


def test_path_source_resync_copies_changes_and_drops_deleted_files(fake: FakeVllm, tmp_path: Path) -> None:
    repo = checkout_with_edits(fake)
    source.run(context(tmp_path, path_record(repo)))
    (repo / "csrc" / "new_kernel.cpp").unlink()
    (repo / "csrc" / "ops.cpp").write_text("// edited again\n")
    ctx = context(tmp_path, path_record(repo))
    source.run(ctx)
    tree = Path(str(ctx.state.source_dir))
    assert not (tree / "csrc" / "new_kernel.cpp").exists()
    assert (tree / "csrc" / "ops.cpp").read_text() == "// edited again\n"
    assert "1 copied" in ctx.log.read_text().splitlines()[-1]


def test_path_source_that_is_not_a_git_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    (plain / "vllm").mkdir(parents=True)
    (plain / "setup.py").write_text("")
    (plain / "vllm" / "__init__.py").write_text("")
    (plain / "vllm" / "_C.abi3.so").write_text("")
    (plain / "build" / "temp").mkdir(parents=True)
    (plain / "build" / "temp" / "x.o").write_text("")
    ctx = context(tmp_path, path_record(plain))
    source.run(ctx)
    tree = Path(str(ctx.state.source_dir))
    assert (tree / "setup.py").is_file() and (tree / "vllm" / "__init__.py").is_file()
    assert not (tree / "build").exists() and not (tree / "vllm" / "_C.abi3.so").exists()


def test_missing_path_source_fails_the_stage(tmp_path: Path) -> None:
    with pytest.raises(StageFailed) as info:
        source.run(context(tmp_path, path_record(tmp_path / "absent")))
    assert info.value.stage == "source"


def test_a_source_kind_the_stage_does_not_know_is_a_harness_error(tmp_path: Path) -> None:
    with pytest.raises(HarnessError):
        source.run(context(tmp_path, {"kind": "tarball", "requirement": "vllm==0.32.0"}))


def test_path_source_that_is_itself_a_git_worktree(fake: FakeVllm, tmp_path: Path) -> None:
    checkout = tmp_path / "my-worktree"
    argv = ["git", "-C", str(fake.path), "worktree", "add", "-q", "--detach", str(checkout), "v0.1.0"]
    subprocess.run(argv, check=True, capture_output=True, env=gitsource.git_env())
    ctx = context(tmp_path, path_record(checkout))
    source.run(ctx)
    tree = Path(str(ctx.state.source_dir))
    assert (tree / ".git").read_text().startswith("gitdir: /")
    assert head(tree) == fake.commits["v0.1.0"]
