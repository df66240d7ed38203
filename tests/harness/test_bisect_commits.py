"""vLLM commits between two refs: first-parent history in the work dir's mirror (real git)."""

from __future__ import annotations

from pathlib import Path

import pytest
from bisectfield import git, git_history

from vllm_matrix.bisect import commits
from vllm_matrix.errors import InputError
from vllm_matrix.matrix.cell import Cell
from vllm_matrix.matrix.config import MatrixConfig
from vllm_matrix.workdir import Workdir

CELL = Cell("c", python="3.12", torch="nightly:latest", cuda="cu130", arch="", vllm="git:main", gpu="cpu")


def space(tmp_path: Path, good: str, bad: str, cell: Cell = CELL) -> commits.Space:
    config = MatrixConfig(path=tmp_path / "matrix.toml", axes={})
    environ = {"PATH": "/usr/bin:/bin", "VLLM_MATRIX_VLLM_GIT": str(tmp_path / "vllm")}
    return commits.space(config, cell, good, bad, Workdir(tmp_path / "work"), environ, tmp_path / "git.log")


def test_the_first_parent_commits_from_good_to_bad(tmp_path: Path) -> None:
    shas = git_history(tmp_path, ["ok"] * 6)
    found = space(tmp_path, "v0.32.0", "main")
    assert found.labels == [s[:12] for s in shas]
    assert [c.value for c in found.candidates] == [f"git:{s}" for s in shas]
    assert found.candidates[0].suffix == f"g{shas[0][:12]}"
    prebuilt = space(
        tmp_path, shas[1], shas[3], CELL.__class__(**{**CELL.__dict__, "vllm": "vllm-commit:nightly"})
    )
    assert [c.value for c in prebuilt.candidates] == [f"vllm-commit:{s}" for s in shas[1:4]]


def test_a_side_branch_is_not_walked(tmp_path: Path) -> None:
    shas = git_history(tmp_path, ["ok"] * 3)
    repo = tmp_path / "vllm"
    git(repo, "checkout", "-q", "-b", "side", shas[1])
    (repo / "side.txt").write_text("x\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "side")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge side", "side")
    found = space(tmp_path, "v0.32.0", "main")
    assert len(found.labels) == 4  # 3 commits and the merge; the side commit is not a candidate


@pytest.mark.parametrize(
    ("good", "bad", "message"),
    [
        ("main", "v0.32.0", "is not an ancestor of the bad end v0.32.0"),
        ("main", "main", "are the same commit"),
        ("v9.9.9", "main", "bisect --good: git ref 'v9.9.9' not found"),
    ],
)
def test_ends_that_are_not_a_range(tmp_path: Path, good: str, bad: str, message: str) -> None:
    git_history(tmp_path, ["ok"] * 3)
    with pytest.raises(InputError, match=message):
        space(tmp_path, good, bad)


def test_a_cell_without_commits_is_refused(tmp_path: Path) -> None:
    wheel = CELL.__class__(**{**CELL.__dict__, "vllm": "wheel:vllm==0.33.0"})
    with pytest.raises(InputError, match="commits are bisected for git: and vllm-commit: cells"):
        space(tmp_path, "a", "b", wheel)


def test_compare_urls_on_github_only() -> None:
    assert commits.compare_url("https://github.com/vllm-project/vllm.git", "a1", "b2") == (
        "https://github.com/vllm-project/vllm/compare/a1...b2")  # fmt: skip
    assert (
        commits.compare_url("git@github.com:me/vllm.git", "a1", "b2")
        == "https://github.com/me/vllm/compare/a1...b2"
    )
    assert commits.compare_url("/srv/mirrors/vllm", "a1", "b2") is None
