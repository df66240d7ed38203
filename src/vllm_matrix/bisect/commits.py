"""Candidates over vLLM commits: the first-parent history from a good ref to a bad ref, in the mirror.

Both refs are resolved in the work dir's bare mirror of the matrix's vLLM repository
(fetched first, as a ``git:`` cell would), the good one must be an ancestor of the bad one,
and the candidates are the good commit followed by ``git rev-list --first-parent`` of
``good..bad``, oldest first (vLLM's main is a line of squash merges). Each candidate's step
builds ``git:<sha>`` (a ``vllm-commit:`` cell installs ``vllm-commit:<sha>``); the torch stays
the cell's own.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

from vllm_matrix import gitsource
from vllm_matrix.bisect.space import Candidate, Space
from vllm_matrix.errors import InputError
from vllm_matrix.matrix.cell import Cell
from vllm_matrix.matrix.config import MatrixConfig
from vllm_matrix.workdir import Workdir

_GITHUB = re.compile(r"^(?:https://github\.com/|git@github\.com:)(?P<repo>[\w.-]+/[\w.-]+?)(?:\.git)?/?$")
GIT_TIMEOUT_S = 1800.0


def space(config: MatrixConfig, cell: Cell, good: str, bad: str, work: Workdir, environ: Mapping[str, str],
          log: Path) -> Space:  # fmt: skip
    """The commits from ``good`` to ``bad`` (both included) of the cell's vLLM repository."""
    kind = cell.source.kind
    if kind not in ("git", "vllm-commit"):
        raise InputError(
            f"bisect --over vllm: cell {cell.id} has vllm = {cell.vllm}; commits are bisected for git: "
            "and vllm-commit: cells"
        )
    url = gitsource.normalize_url(config.vllm_git_url(environ))
    shas = [_resolve(url, ref, flag, work, environ, log) for flag, ref in (("--good", good), ("--bad", bad))]
    mirror = gitsource.mirror_path(work.git_dir, url)
    if shas[0] == shas[1]:
        raise InputError(f"bisect: --good {good} and --bad {bad} are the same commit {shas[0][:12]}")
    if not _is_ancestor(mirror, shas[0], shas[1], environ):
        raise InputError(
            f"bisect: the good end {good} ({shas[0][:12]}) is not an ancestor of the bad end {bad} "
            f"({shas[1][:12]}): --good names the older commit"
        )
    history = [shas[0], *_first_parent(mirror, shas[0], shas[1], environ)]
    return Space("vllm-commit", "vllm", tuple(candidate(sha, kind) for sha in history),
                 f"the first-parent commits of {url} from {good} to {bad}")  # fmt: skip


def candidate(sha: str, kind: str = "git") -> Candidate:
    """One commit: its short sha, ``git:<sha>`` (or ``vllm-commit:<sha>``), the id suffix ``g<sha12>``."""
    return Candidate(sha[:12], f"{kind}:{sha}", f"{'g' if kind == 'git' else 'vc'}{sha[:12]}")


def _resolve(url: str, ref: str, flag: str, work: Workdir, environ: Mapping[str, str], log: Path) -> str:
    try:
        return gitsource.resolve_ref(url, ref, work.git_dir, log, timeout_s=GIT_TIMEOUT_S, env=environ)
    except gitsource.GitError as exc:
        raise InputError(f"bisect {flag}: {exc.message}") from None


def _git(mirror: Path, environ: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    argv = ["git", "--git-dir", str(mirror), *args]
    return subprocess.run(argv, capture_output=True, text=True, env=gitsource.git_env(environ), timeout=120,
                          check=False)  # fmt: skip


def _is_ancestor(mirror: Path, good: str, bad: str, environ: Mapping[str, str]) -> bool:
    return _git(mirror, environ, "merge-base", "--is-ancestor", good, bad).returncode == 0


def _first_parent(mirror: Path, good: str, bad: str, environ: Mapping[str, str]) -> list[str]:
    done = _git(mirror, environ, "rev-list", "--first-parent", "--reverse", f"{good}..{bad}")
    if done.returncode != 0:
        raise InputError(f"bisect: git rev-list {good[:12]}..{bad[:12]} failed: {done.stderr.strip()}")
    return done.stdout.split()


def compare_url(url: str, good: str, bad: str) -> str | None:
    """GitHub's compare page from ``good`` to ``bad`` when the repository is on GitHub, else None."""
    found = _GITHUB.match(url)
    return f"https://github.com/{found.group('repo')}/compare/{good}...{bad}" if found else None
