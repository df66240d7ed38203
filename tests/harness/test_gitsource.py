"""gitsource: the bare mirror, ref resolution and worktrees, with real git on the fake vLLM repo."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakevllm import FakeVllm, make_fake_vllm

from vllm_matrix import gitsource
from vllm_matrix.errors import HarnessError


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeVllm]:
    gitsource.forget_fetches()
    yield make_fake_vllm(tmp_path / "origin")
    gitsource.forget_fetches()


def git(repo: Path, *args: str) -> str:
    env = gitsource.git_env() | {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                                 "GIT_COMMITTER_EMAIL": "t@t"}  # fmt: skip
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


def resolve(fake: FakeVllm, ref: str, tmp_path: Path) -> str:
    log = tmp_path / "resolve.log"
    return gitsource.resolve_ref(str(fake.path), ref, tmp_path / "git", log, timeout_s=60)


@pytest.mark.parametrize("ref", ["main", "v0.1.0", "compile-error"])
def test_branches_and_tags_resolve_to_their_commits(fake: FakeVllm, tmp_path: Path, ref: str) -> None:
    assert resolve(fake, ref, tmp_path) == fake.commits[ref]


def test_full_and_short_shas_resolve(fake: FakeVllm, tmp_path: Path) -> None:
    sha = fake.commits["v0.1.0"]
    assert resolve(fake, sha, tmp_path) == sha
    assert resolve(fake, sha[:10], tmp_path) == sha


def test_mirror_is_bare_and_reused(fake: FakeVllm, tmp_path: Path) -> None:
    resolve(fake, "main", tmp_path)
    mirrors = list((tmp_path / "git").iterdir())
    assert len(mirrors) == 1
    assert (mirrors[0] / "HEAD").is_file() and not (mirrors[0] / ".git").exists()
    log = tmp_path / "resolve.log"
    log.unlink()
    gitsource.forget_fetches()
    resolve(fake, "v0.1.0", tmp_path)
    assert "fetch" in log.read_text() and "clone" not in log.read_text()


def test_one_fetch_per_mirror_within_a_run(fake: FakeVllm, tmp_path: Path) -> None:
    resolve(fake, "main", tmp_path)
    (tmp_path / "resolve.log").unlink()
    assert resolve(fake, "v0.1.0", tmp_path) == fake.commits["v0.1.0"]
    log = (tmp_path / "resolve.log").read_text()
    assert "no fetch needed" in log and "fetch --prune" not in log


def test_a_known_full_sha_needs_no_fetch(fake: FakeVllm, tmp_path: Path) -> None:
    resolve(fake, "main", tmp_path)
    (tmp_path / "resolve.log").unlink()
    gitsource.forget_fetches()
    resolve(fake, fake.commits["v0.1.0"], tmp_path)
    assert "fetch --prune" not in (tmp_path / "resolve.log").read_text()


def test_a_moved_branch_is_fetched(fake: FakeVllm, tmp_path: Path) -> None:
    assert resolve(fake, "main", tmp_path) == fake.commits["main"]
    (fake.path / "NEWS").write_text("moved\n")
    git(fake.path, "add", "NEWS")
    git(fake.path, "commit", "-q", "-m", "move main")
    assert resolve(fake, "main", tmp_path) == fake.commits["main"]  # one run sees one main
    gitsource.forget_fetches()
    assert resolve(fake, "main", tmp_path) == git(fake.path, "rev-parse", "HEAD") != fake.commits["main"]


def test_a_ref_missing_from_a_fresh_mirror_is_fetched_before_failing(fake: FakeVllm, tmp_path: Path) -> None:
    resolve(fake, "main", tmp_path)
    git(fake.path, "tag", "v9.9.9", fake.commits["v0.1.0"])  # pushed after this run's fetch
    assert resolve(fake, "v9.9.9", tmp_path) == fake.commits["v0.1.0"]


def test_missing_ref_is_a_git_error_naming_ref_and_url(fake: FakeVllm, tmp_path: Path) -> None:
    # The git layer says what went wrong; the stage that called it issues the verdict.
    with pytest.raises(gitsource.GitRefMissing) as info:
        resolve(fake, "no-such-branch", tmp_path)
    failure = info.value
    assert failure.evidence == (f"git ref 'no-such-branch' not found in {fake.path}",)
    assert "no-such-branch" in failure.message and str(fake.path) in failure.message
    assert failure.log is not None and "unknown revision" in failure.log.read_text()


def test_unreachable_repository_fails_the_clone(tmp_path: Path) -> None:
    with pytest.raises(gitsource.GitError) as info:
        gitsource.resolve_ref(
            str(tmp_path / "nowhere"), "main", tmp_path / "git", tmp_path / "r.log", timeout_s=60
        )
    assert "git clone" in info.value.message
    assert not list((tmp_path / "git").glob("*"))  # no half-made mirror left behind


def test_option_like_ref_is_refused(fake: FakeVllm, tmp_path: Path) -> None:
    with pytest.raises(gitsource.GitRefMissing):
        resolve(fake, "--all", tmp_path)


def test_local_relative_path_becomes_absolute(fake: FakeVllm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(fake.path.parent)
    assert gitsource.normalize_url("vllm") == str(fake.path)
    assert gitsource.normalize_url("https://github.com/vllm-project/vllm.git").startswith("https://")


def test_mirror_path_depends_on_the_exact_url(tmp_path: Path) -> None:
    a = gitsource.mirror_path(tmp_path, "https://github.com/vllm-project/vllm.git")
    b = gitsource.mirror_path(tmp_path, "https://example.com/fork/vllm.git")
    assert a != b
    assert a.name.startswith("vllm-") and a.name.endswith(".git")


def make_worktree(fake: FakeVllm, tmp_path: Path, ref: str, key: str) -> Path:
    commit = resolve(fake, ref, tmp_path)
    mirror = gitsource.mirror_path(tmp_path / "git", str(fake.path))
    dest = gitsource.worktree_path(tmp_path / "trees", commit, key)
    return gitsource.ensure_worktree(mirror, commit, dest, tmp_path / "source.log", timeout_s=60)


def test_worktrees_per_commit_and_build_key(fake: FakeVllm, tmp_path: Path) -> None:
    a = make_worktree(fake, tmp_path, "main", "key1")
    b = make_worktree(fake, tmp_path, "main", "key2")
    old = make_worktree(fake, tmp_path, "v0.1.0", "key1")
    assert len({a, b, old}) == 3
    assert git(a, "rev-parse", "HEAD") == fake.commits["main"]
    assert git(old, "rev-parse", "HEAD") == fake.commits["v0.1.0"]
    assert 'add_argument("--prefix"' in (a / "use_existing_torch.py").read_text()
    assert 'add_argument("--prefix"' not in (old / "use_existing_torch.py").read_text()


def test_a_worktree_at_the_commit_is_reused_with_its_build_dir(fake: FakeVllm, tmp_path: Path) -> None:
    tree = make_worktree(fake, tmp_path, "main", "key")
    (tree / "build").mkdir()
    (tree / "build" / "object.o").write_text("warm")
    again = make_worktree(fake, tmp_path, "main", "key")
    assert again == tree and (tree / "build" / "object.o").read_text() == "warm"
    assert "reusing worktree" in (tmp_path / "source.log").read_text()


def test_a_broken_worktree_dir_is_replaced(fake: FakeVllm, tmp_path: Path) -> None:
    commit = resolve(fake, "main", tmp_path)
    dest = gitsource.worktree_path(tmp_path / "trees", commit, "key")
    dest.mkdir(parents=True)
    (dest / "junk").write_text("left over from a killed run")
    tree = make_worktree(fake, tmp_path, "main", "key")
    assert not (tree / "junk").exists()
    assert git(tree, "rev-parse", "HEAD") == commit


def test_head_commit_of_a_checkout(fake: FakeVllm, tmp_path: Path) -> None:
    assert gitsource.head_commit(fake.path, tmp_path / "l.log") == fake.commits["main"]
    assert gitsource.head_commit(tmp_path, tmp_path / "l.log") is None


def open_pull_request(fake: FakeVllm) -> str:
    """A commit reachable only from ``refs/pull/7/head``, as GitHub keeps pull requests."""
    git(fake.path, "checkout", "-q", "--detach", "main")
    (fake.path / "PR.txt").write_text("a contributor's change\n")
    git(fake.path, "add", "PR.txt")
    git(fake.path, "commit", "-q", "-m", "pull request 7")
    sha = git(fake.path, "rev-parse", "HEAD")
    git(fake.path, "update-ref", "refs/pull/7/head", sha)
    git(fake.path, "checkout", "-q", "main")
    return sha


def mirror_has(tmp_path: Path, fake: FakeVllm, sha: str) -> bool:
    mirror = gitsource.mirror_path(tmp_path / "git", str(fake.path))
    done = subprocess.run(
        ["git", "--git-dir", str(mirror), "cat-file", "-e", f"{sha}^{{commit}}"], check=False
    )
    return done.returncode == 0


def test_pull_request_refs_are_not_mirrored_but_fetched_on_demand(fake: FakeVllm, tmp_path: Path) -> None:
    sha = open_pull_request(fake)
    resolve(fake, "main", tmp_path)
    assert not mirror_has(tmp_path, fake, sha)  # the mirror holds branches and tags only
    assert resolve(fake, "pull/7/head", tmp_path) == sha
    assert mirror_has(tmp_path, fake, sha)


def test_a_full_sha_of_an_unmirrored_commit_is_fetched(fake: FakeVllm, tmp_path: Path) -> None:
    sha = open_pull_request(fake)
    assert resolve(fake, sha, tmp_path) == sha


def test_trees_of_an_evicted_build_key_are_removed_and_unregistered(fake: FakeVllm, tmp_path: Path) -> None:
    kept = make_worktree(fake, tmp_path, "main", "keep")
    gone = make_worktree(fake, tmp_path, "v0.1.0", "evict")
    assert gitsource.trees_for_key(tmp_path / "trees", "evict") == [gone]
    gitsource.remove_tree(gone, tmp_path / "gc.log")
    assert not gone.exists() and kept.is_dir()
    mirror = gitsource.mirror_path(tmp_path / "git", str(fake.path))
    listed = git(mirror, "worktree", "list", "--porcelain")
    assert str(kept) in listed and str(gone) not in listed


def test_git_missing_is_a_harness_error_not_a_cell_verdict(
    fake: FakeVllm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(HarnessError, match="git is not installed"):
        gitsource.head_commit(fake.path, tmp_path / "l.log")
