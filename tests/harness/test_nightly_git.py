"""From a nightly's git_version to the main-branch compare URL: real git, a loopback API."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from indexserver import RESOURCES, serve

from vllm_matrix.nightly.client import IndexClient
from vllm_matrix.nightly.commits import (
    compare_url,
    main_sha_from_message,
    message_from_api,
    message_from_checkout,
    nightly_compare_url,
)
from vllm_matrix.nightly.errors import IndexMalformed, IndexNotFound, NightlyMissing, NightlySpecError

MAIN_A = "0123456789abcdef0123456789abcdef01234567"
MAIN_B = "fedcba9876543210fedcba9876543210fedcba98"


@pytest.mark.parametrize(
    ("message", "sha"),
    [
        (f"2026-11-04 nightly release ({MAIN_A})\n", MAIN_A),
        (f"2026-11-04 nightly release ({MAIN_A[:12]})", MAIN_A[:12]),
        (f"\n2026-11-04 nightly release ({MAIN_A})\n\nbody text\n", MAIN_A),
        ("Merge branch 'main' into nightly", None),
        (f"2026-11-04 nightly release ({MAIN_A.upper()})", None),
        ("2026-11-04 nightly release (not-a-sha)", None),
    ],
)
def test_main_sha_from_message(message: str, sha: str | None) -> None:
    assert main_sha_from_message(message) == sha


def test_compare_url() -> None:
    assert compare_url(MAIN_A, MAIN_B) == f"https://github.com/pytorch/pytorch/compare/{MAIN_A}...{MAIN_B}"


def test_compare_url_refuses_what_is_not_a_sha() -> None:
    with pytest.raises(NightlySpecError, match="expected a git sha"):
        compare_url("main", MAIN_B)


def test_nightly_compare_url_from_two_messages() -> None:
    good = f"2026-11-04 nightly release ({MAIN_A})"
    bad = f"2026-11-06 nightly release ({MAIN_B})"
    assert nightly_compare_url(good, bad) == compare_url(MAIN_A, MAIN_B)
    assert nightly_compare_url(good, "some other commit") is None


def git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "PATH": "/usr/bin:/bin:/usr/local/bin",
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, env=env
    )
    return done.stdout.strip()


@pytest.fixture
def nightly_branch(tmp_path: Path) -> tuple[Path, str]:
    """A real git repo whose HEAD is a nightly-release commit; returns (repo, its sha)."""
    repo = tmp_path / "pytorch"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "nightly")
    git(repo, "commit", "-q", "--allow-empty", "-m", f"2026-11-04 nightly release ({MAIN_A})")
    return repo, git(repo, "rev-parse", "HEAD")


def test_message_from_a_local_checkout(nightly_branch: tuple[Path, str]) -> None:
    repo, sha = nightly_branch
    assert main_sha_from_message(message_from_checkout(repo, sha)) == MAIN_A
    assert main_sha_from_message(message_from_checkout(repo, sha[:10])) == MAIN_A


def test_a_commit_the_checkout_lacks_is_missing(nightly_branch: tuple[Path, str]) -> None:
    repo, _ = nightly_branch
    with pytest.raises(NightlyMissing, match=f"commit {MAIN_B} is not in {repo}"):
        message_from_checkout(repo, MAIN_B)


def test_an_option_looking_sha_never_reaches_git(nightly_branch: tuple[Path, str]) -> None:
    repo, _ = nightly_branch
    with pytest.raises(NightlySpecError):
        message_from_checkout(repo, "--output=/tmp/x")


def test_message_from_a_github_shaped_api_on_loopback() -> None:
    with serve(RESOURCES / "index") as api:
        client = IndexClient(retries=0)
        good = message_from_api("aaaa000011112222333344445555666677778888", api_base=api.url, client=client)
        bad = message_from_api("bbbb000011112222333344445555666677778888", api_base=api.url, client=client)
        assert nightly_compare_url(good, bad) == compare_url(MAIN_A, MAIN_B)
        assert api.requests[0] == "/repos/pytorch/pytorch/commits/aaaa000011112222333344445555666677778888"
        with pytest.raises(IndexNotFound):
            message_from_api("cccc000011112222333344445555666677778888", api_base=api.url, client=client)


def test_an_api_answer_that_is_no_commit_is_malformed(tmp_path: Path) -> None:
    commits = tmp_path / "repos/pytorch/pytorch/commits"
    commits.mkdir(parents=True)
    (commits / "dddd0000").write_text('{"message": "rate limited"}', encoding="utf-8")
    with serve(tmp_path) as api, pytest.raises(IndexMalformed, match="not a GitHub commit object"):
        message_from_api("dddd0000", api_base=api.url, client=IndexClient(retries=0))
