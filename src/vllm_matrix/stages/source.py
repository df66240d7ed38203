"""source: the vLLM tree a cell builds, for ``git:`` and ``path:`` sources.

``git:`` gets a worktree of the work dir's bare mirror at the resolved commit,
one per (commit, build key) because the build writes into the tree.

``path:`` is NOT built in place. prepare runs ``use_existing_torch.py``, which
rewrites the requirement files, and the build writes ``build/`` (and CMake's
cached arch flags) into the tree; in a user's own checkout that would edit
their files and mix objects of two arch lists. So the checkout is mirrored
into ``<work>/worktrees/path-...-<build key>``: the files git would commit
(tracked plus untracked-but-not-ignored, so uncommitted edits are included;
ignored build outputs are not), copied only when their size or mtime changed,
so a later build of the same key stays incremental. The mirror's ``.git`` is a
``gitdir:`` file pointing at the checkout's repository, so version tools
(setuptools-scm) still see its history; ``GIT_OPTIONAL_LOCKS=0`` in the build
keeps them from rewriting the checkout's index. A directory that is not a git
repository is copied minus the usual build outputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from vllm_matrix import gitsource
from vllm_matrix.errors import HarnessError
from vllm_matrix.matrix.cell import slug
from vllm_matrix.stages.base import StageContext, StageFailed

STAGE = "source"
MANIFEST = ".vllm-matrix-snapshot.json"
# Skipped when a path source is not a git repository (git's ignore rules decide otherwise).
NOT_SOURCE = {
    ".git",
    "build",
    "dist",
    ".deps",
    "__pycache__",
    ".eggs",
    ".venv",
    ".mypy_cache",
    ".pytest_cache",
}
NOT_SOURCE_SUFFIXES = (".so", ".pyc", ".o")


def run(ctx: StageContext) -> None:
    """Make the source tree for the cell's resolved vLLM and record it as ``record["source_dir"]``."""
    vllm = ctx.record["vllm"]
    if vllm["kind"] == "git":
        tree = git_tree(ctx, vllm)
    elif vllm["kind"] == "path":
        tree = path_tree(ctx, vllm)
    else:
        raise HarnessError(f"the source stage builds git: and path: sources, not {vllm['kind']}:")
    ctx.record["source_dir"] = str(tree)


def git_tree(ctx: StageContext, vllm: dict[str, Any]) -> Path:
    """The worktree of the resolved commit for this build key."""
    log = ctx.log_path(STAGE)
    mirror = gitsource.mirror_path(ctx.work.git_dir, vllm["url"])
    if not (mirror / "HEAD").is_file():
        mirror = gitsource.update_mirror(vllm["url"], ctx.work.git_dir, log, timeout_s=ctx.timeout(STAGE),
                                         env=ctx.env, stage=STAGE)  # fmt: skip
    dest = gitsource.worktree_path(ctx.work.worktrees, vllm["commit"], ctx.venv.name)
    return gitsource.ensure_worktree(mirror, vllm["commit"], dest, log, timeout_s=ctx.timeout(STAGE),
                                     env=ctx.env, stage=STAGE)  # fmt: skip


def path_tree(ctx: StageContext, vllm: dict[str, Any]) -> Path:
    """A synced copy of the user's checkout for this build key (see the module docstring for why)."""
    src = Path(vllm["path"])
    if not src.is_dir():
        raise StageFailed(STAGE, f"path source {src} is not a directory", log=ctx.log_path(STAGE))
    tag = hashlib.sha256(str(src).encode()).hexdigest()[:8]
    dest = ctx.work.worktrees / f"path-{slug(src.name)}-{tag}-{ctx.venv.name}"
    files = source_files(src, ctx.log_path(STAGE))
    copied = sync_tree(src, dest, files)
    link_git(src, dest)
    _log(ctx, f"[path source {src} mirrored to {dest}: {len(files)} files, {copied} copied]")
    return dest


def _log(ctx: StageContext, line: str) -> None:
    log = ctx.log_path(STAGE)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def source_files(src: Path, log: Path) -> list[str]:
    """Relative paths of the checkout's source: what git would commit, else a walk minus build outputs."""
    if (src / ".git").exists():
        proc = subprocess.run(
            ["git", "-C", str(src), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True, env=gitsource.git_env(), timeout=120, check=False,
        )  # fmt: skip
        if proc.returncode == 0:
            names = [n for n in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if n]
            return sorted(n for n in dict.fromkeys(names) if (src / n).is_file())
        raise StageFailed(STAGE, f"git ls-files in {src} failed: {proc.stderr.decode(errors='replace')}",
                          log=log)  # fmt: skip
    return sorted(_walk(src))


def _walk(src: Path) -> list[str]:
    found = []
    for root, dirs, names in os.walk(src):
        dirs[:] = [d for d in dirs if d not in NOT_SOURCE and not d.endswith(".egg-info")]
        rel = Path(root).relative_to(src)
        found += [str(rel / n) for n in names if not n.endswith(NOT_SOURCE_SUFFIXES)]
    return [f.removeprefix("./") for f in found]


def sync_tree(src: Path, dest: Path, files: list[str]) -> int:
    """Copy ``files`` whose size or mtime differ, delete ones copied before but gone now; count copies."""
    dest.mkdir(parents=True, exist_ok=True)
    manifest = dest / MANIFEST
    previous = set(json.loads(manifest.read_text())) if manifest.is_file() else set()
    copied = 0
    for name in files:
        a, b = src / name, dest / name
        sa = a.stat()
        if b.is_file() and (b.stat().st_size, b.stat().st_mtime_ns) == (sa.st_size, sa.st_mtime_ns):
            continue
        b.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(a, b)
        copied += 1
    for name in previous - set(files):
        (dest / name).unlink(missing_ok=True)
    manifest.write_text(json.dumps(files))
    return copied


def link_git(src: Path, dest: Path) -> None:
    """Point ``dest/.git`` at the checkout's repository so its history and version stay visible."""
    git = src / ".git"
    target = dest / ".git"
    if target.is_dir():
        shutil.rmtree(target)
    if git.is_dir():
        target.write_text(f"gitdir: {git.resolve()}\n")
    elif git.is_file():
        text = git.read_text().strip()
        gitdir = Path(text.removeprefix("gitdir:").strip())
        target.write_text(f"gitdir: {(src / gitdir).resolve() if not gitdir.is_absolute() else gitdir}\n")
