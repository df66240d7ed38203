"""vLLM from git: one bare mirror per repository URL, refs resolved to commits, a worktree per build.

The mirror (a bare repository of the branches and tags; pull-request refs
and stray shas are fetched on demand) lives in the work dir and is fetched,
not re-cloned, on later runs; the URL is ``MatrixConfig.vllm_git_url()`` (env
``VLLM_MATRIX_VLLM_GIT``), and a local repository path works as well.

Worktrees are per (commit, build key), not per commit: vLLM's build writes
into its source tree (``build/``, and the ``.so`` files with ``-e``), and
CMake caches the arch flags there, so two arch lists sharing one tree would
see each other's objects. A worktree that already sits at the commit is reused,
which keeps its build directory warm for a rebuild.

Every git command is an argument list with a timeout, logged to the stage's
log; ``GIT_TERMINAL_PROMPT=0`` keeps a URL that wants credentials from hanging.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from vllm_matrix import fileio
from vllm_matrix.errors import HarnessError
from vllm_matrix.matrix.cell import slug
from vllm_matrix.proc import run_logged

_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
_PULL_REF = re.compile(r"^pull/\d+/(head|merge)$")
REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
# Seconds a fetched mirror counts as fresh for branch lookups in this process.
FETCH_TTL_S = 900.0
_FETCHED: dict[Path, float] = {}
_QUERY_TIMEOUT_S = 60.0


class GitError(Exception):
    """A git operation on vLLM's repository failed; the caller turns it into its own verdict.

    ``evidence`` holds git's own last lines; the full output is in ``log``.
    """

    def __init__(self, message: str, log: Path, evidence: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.log = log
        self.evidence = evidence


class GitRefMissing(GitError):
    """The ref names no commit in the repository, even after a fresh fetch."""


def git_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for git: never prompt, never page, English messages for the classifier."""
    base = dict(os.environ if env is None else env)
    return base | {"GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "LC_ALL": "C"}


def normalize_url(url: str) -> str:
    """A local repository path becomes absolute (the mirror is cloned from elsewhere); URLs stay."""
    path = Path(url).expanduser()
    if "://" not in url and not url.startswith("git@") and path.exists():
        return str(path.resolve())
    return url


def mirror_path(git_dir: Path, url: str) -> Path:
    """Where the bare mirror of ``url`` lives: readable name plus a hash of the exact URL."""
    name = slug(url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git"))
    return git_dir / f"{name}-{hashlib.sha256(url.encode()).hexdigest()[:10]}.git"


def worktree_path(worktrees: Path, commit: str, build_key: str) -> Path:
    """The source tree for one commit built with one build key."""
    return worktrees / f"{commit[:12]}-{build_key}"


def _fail(what: str, log: Path, detail: str = "") -> GitError:
    evidence = tuple(line for line in detail.splitlines() if line.strip())[-3:]
    message = f"{what}: {evidence[-1]}" if evidence else what
    return GitError(message, log, evidence)


def _query(args: list[str], log: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """A quick local git command whose output we need; it is appended to ``log`` too."""
    argv = ["git", *args]
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, env=dict(env), timeout=_QUERY_TIMEOUT_S, check=False
        )
    except FileNotFoundError:
        raise HarnessError("git is not installed (not on PATH): git: and path: sources need it") from None
    except subprocess.TimeoutExpired:
        proc = subprocess.CompletedProcess(argv, 124, "", f"fatal: no answer within {_QUERY_TIMEOUT_S:g}s\n")
    fileio.append(log, f"\n$ {' '.join(argv)}\n{proc.stdout}{proc.stderr}[exit {proc.returncode}]\n")
    return proc


def forget_fetches() -> None:
    """Make the next lookup of every mirror fetch again (a new run in the same process, tests)."""
    _FETCHED.clear()


def update_mirror(
    url: str,
    git_dir: Path,
    log: Path,
    *,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
) -> Path:
    """Create the bare mirror of ``url`` or fetch it; return the mirror path.

    Only branches and tags are mirrored (``REFSPECS``): GitHub also serves tens
    of thousands of ``refs/pull/*`` that ``clone --mirror`` would download on
    every fetch; those are fetched one by one when a cell names one. A new
    mirror is made under a temporary name and renamed once its first fetch
    worked, so an interrupted clone never looks like a mirror.
    """
    genv = git_env(env)
    mirror = mirror_path(git_dir, url)
    if (mirror / "HEAD").is_file():
        _fetch(mirror, [], log, timeout_s, genv, f"git fetch of {url}")
        return mirror
    git_dir.mkdir(parents=True, exist_ok=True)
    partial = mirror.with_name(mirror.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    _init_mirror(partial, url, log, genv)
    try:
        _fetch(partial, [], log, timeout_s, genv, f"git clone of {url}")
    except GitError:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    partial.rename(mirror)
    return mirror


def _init_mirror(path: Path, url: str, log: Path, env: Mapping[str, str]) -> None:
    """A bare repository whose origin fetches ``REFSPECS`` (local names = the remote's names)."""
    for args in (
        ["init", "--bare", "-q", str(path)],
        ["--git-dir", str(path), "config", "remote.origin.url", url],
        *(["--git-dir", str(path), "config", "--add", "remote.origin.fetch", spec] for spec in REFSPECS),
    ):
        proc = _query(list(args), log, env)
        if proc.returncode != 0:
            raise HarnessError(f"cannot create a git mirror in {path}: {proc.stderr.strip()}")


def _fetch(
    mirror: Path,
    refspecs: list[str],
    log: Path,
    timeout_s: float,
    env: Mapping[str, str],
    what: str,
) -> None:
    argv = ["git", "--git-dir", str(mirror), "fetch", "--prune", "--force", "origin", *refspecs]
    result = run_logged(argv, log, timeout_s=timeout_s, env=env)
    if not result.ok:
        raise _fail(f"{what} failed ({result.describe()})", log, _tail(log))


def fetch_extra(
    mirror: Path, ref: str, log: Path, *, timeout_s: float, env: Mapping[str, str] | None = None
) -> bool:
    """Fetch a ref the mirror does not track (``pull/N/head``, a full sha); whether git got it."""
    if _PULL_REF.match(ref):
        spec = f"+refs/{ref}:refs/{ref}"
    elif _FULL_SHA.match(ref):
        spec = ref
    else:
        return False
    argv = ["git", "--git-dir", str(mirror), "fetch", "--force", "origin", spec]
    return run_logged(argv, log, timeout_s=timeout_s, env=git_env(env)).ok


def _tail(log: Path, lines: int = 20) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    body = [line for line in text.splitlines()[-lines:] if not line.startswith(("[", "$"))]
    return "\n".join(body)


def rev_parse(
    mirror: Path, ref: str, log: Path, env: Mapping[str, str] | None = None
) -> tuple[str | None, str]:
    """The commit ``ref`` names in ``mirror`` (branch, tag, sha, ``pull/N/head``), or (None, git's error)."""
    if ref.startswith("-"):
        return None, f"fatal: {ref!r} is an option, not a git ref"
    proc = _query(["--git-dir", str(mirror), "rev-parse", f"{ref}^{{commit}}"], log, git_env(env))
    sha = proc.stdout.strip()
    if proc.returncode == 0 and _FULL_SHA.match(sha):
        return sha, ""
    return None, proc.stderr.strip().splitlines()[0] if proc.stderr.strip() else ""


def resolve_ref(
    url: str,
    ref: str,
    git_dir: Path,
    log: Path,
    *,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
) -> str:
    """The exact commit ``git:<ref>`` means now in the repository at ``url``.

    A full sha already in the mirror needs no fetch. Other refs (``main``
    moves) are looked up after a fetch, at most one per mirror every
    ``FETCH_TTL_S`` in this process: every cell of one run sees the same
    ``main``, and a 50-cell matrix does not fetch vLLM 50 times. A ref that is
    still missing after a fresh fetch is ``GitRefMissing`` naming the ref and
    the URL, with git's own message in the log.
    """
    url = normalize_url(url)
    mirror = mirror_path(git_dir, url)
    fresh = time.monotonic() - _FETCHED.get(mirror, -math.inf) < FETCH_TTL_S
    if (fresh or _FULL_SHA.match(ref)) and (mirror / "HEAD").is_file():
        sha, _ = rev_parse(mirror, ref, log, env)
        if sha:
            fileio.append(log, f"[{ref} is {sha} in the mirror of {url}; no fetch needed]\n")
            return sha
    mirror = update_mirror(url, git_dir, log, timeout_s=timeout_s, env=env)
    _FETCHED[mirror] = time.monotonic()
    sha, error = rev_parse(mirror, ref, log, env)
    if sha is None and fetch_extra(mirror, ref, log, timeout_s=timeout_s, env=env):
        sha, error = rev_parse(mirror, ref, log, env)
    if sha is None:
        detail = error or f"fatal: git rev-parse found no commit named {ref!r}"
        fileio.append(log, f"[git ref {ref!r} not found in {url}]\n")
        raise GitRefMissing(
            f"git ref {ref!r} not found in {url} ({detail.splitlines()[-1]})",
            log,
            (f"git ref {ref!r} not found in {url}",),
        )
    return sha


def head_commit(path: Path, log: Path, env: Mapping[str, str] | None = None) -> str | None:
    """``git rev-parse HEAD`` of a local checkout, or None when it is not a git repository."""
    if not path.is_dir():
        return None
    proc = _query(["-C", str(path), "rev-parse", "--verify", "--quiet", "HEAD"], log, git_env(env))
    sha = proc.stdout.strip()
    return sha if proc.returncode == 0 and _FULL_SHA.match(sha) else None


def ensure_worktree(
    mirror: Path,
    commit: str,
    dest: Path,
    log: Path,
    *,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
) -> Path:
    """A detached worktree of ``mirror`` at ``commit`` in ``dest``; reused if it is already there."""
    genv = git_env(env)
    if head_commit(dest, log, env) == commit:
        fileio.append(log, f"[reusing worktree {dest} at {commit}]\n")
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    _query(["--git-dir", str(mirror), "worktree", "prune"], log, genv)
    dest.parent.mkdir(parents=True, exist_ok=True)
    argv = ["git", "--git-dir", str(mirror), "worktree", "add", "--detach", "--force", str(dest), commit]
    result = run_logged(argv, log, timeout_s=timeout_s, env=genv)
    if not result.ok:
        raise _fail(f"git worktree add of {commit[:12]} failed ({result.describe()})", log, _tail(log))
    return dest


def trees_for_key(worktrees: Path, build_key: str) -> list[Path]:
    """The source trees made for ``build_key`` (git worktrees and path mirrors): evict them with its venv."""
    return sorted(p for p in worktrees.glob(f"*-{build_key}") if p.is_dir())


def remove_tree(tree: Path, log: Path) -> None:
    """Delete a source tree; a git worktree is also unregistered from its mirror."""
    mirror = _worktree_mirror(tree)
    shutil.rmtree(tree, ignore_errors=True)
    if mirror is not None and (mirror / "HEAD").is_file():
        _query(["--git-dir", str(mirror), "worktree", "prune"], log, git_env())


def _worktree_mirror(tree: Path) -> Path | None:
    """``<mirror>`` from a worktree's ``.git`` file (``gitdir: <mirror>/worktrees/<name>``)."""
    try:
        text = (tree / ".git").read_text(encoding="utf-8")
    except OSError:
        return None
    gitdir = Path(text.removeprefix("gitdir:").strip())
    return gitdir.parent.parent if gitdir.parent.name == "worktrees" else None
