"""From a torch nightly's ``git_version`` to the main-branch commit range between two nightlies.

``torch.version.git_version`` names a commit of pytorch's linear ``nightly``
branch whose message reads ``YYYY-MM-DD nightly release (<main sha>)``. The
main shas of a good and a bad nightly give the GitHub compare URL that lists
the real PRs in between.

Reading the message is optional and needs one of two sources, chosen by
the caller: a local pytorch clone that has the nightly branch
(``message_from_checkout``, real ``git``), or a GitHub-REST-shaped API base
URL (``message_from_api``, default https://api.github.com; tests point it at
loopback). Nothing here is needed to resolve or install a nightly.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from vllm_matrix.nightly.client import IndexClient
from vllm_matrix.nightly.errors import IndexMalformed, NightlyMissing, NightlySpecError

GITHUB_API = "https://api.github.com"
PYTORCH_REPO = "pytorch/pytorch"
_MESSAGE = re.compile(r"^\s*\d{4}-\d{2}-\d{2} nightly release \(([0-9a-f]{7,40})\)\s*$", re.MULTILINE)
_SHA = re.compile(r"^[0-9a-f]{7,40}$")


def main_sha_from_message(message: str) -> str | None:
    """The main-branch sha in ``"2026-11-04 nightly release (<sha>)"``, else None."""
    match = _MESSAGE.search(message)
    return match.group(1) if match else None


def compare_url(good_sha: str, bad_sha: str, repo: str = PYTORCH_REPO) -> str:
    """GitHub's compare page listing the commits after ``good_sha`` up to ``bad_sha``."""
    for sha in (good_sha, bad_sha):
        _check_sha(sha)
    return f"https://github.com/{repo}/compare/{good_sha}...{bad_sha}"


def _check_sha(sha: str) -> None:
    if not _SHA.match(sha):
        raise NightlySpecError(f"expected a git sha (7 to 40 hex digits), got {sha!r}")


def message_from_checkout(checkout: Path, sha: str, *, timeout_s: float = 30.0) -> str:
    """The commit message of ``sha`` in a local pytorch clone (``git log -1 --format=%B``)."""
    _check_sha(sha)
    argv = ["git", "-C", str(checkout), "log", "-1", "--format=%B", sha, "--"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NightlyMissing(f"cannot run git in {checkout}: {exc}") from None
    if done.returncode != 0:
        why = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
        raise NightlyMissing(f"commit {sha} is not in {checkout} (fetch its nightly branch): {why}")
    return done.stdout


def message_from_api(
    sha: str, *, api_base: str = GITHUB_API, repo: str = PYTORCH_REPO, client: IndexClient | None = None
) -> str:
    """The commit message of ``sha`` from ``<api_base>/repos/<repo>/commits/<sha>``."""
    _check_sha(sha)
    url = f"{api_base.rstrip('/')}/repos/{repo}/commits/{sha}"
    text = (client or IndexClient()).get(url)
    try:
        message = json.loads(text)["commit"]["message"]
    except (ValueError, KeyError, TypeError):
        raise IndexMalformed(f"{url} is not a GitHub commit object") from None
    if not isinstance(message, str):
        raise IndexMalformed(f"{url} has no commit message")
    return message


def nightly_compare_url(good_message: str, bad_message: str) -> str | None:
    """The compare URL between two nightlies, from their commit messages; None if either lacks a sha."""
    good, bad = main_sha_from_message(good_message), main_sha_from_message(bad_message)
    return compare_url(good, bad) if good and bad else None
