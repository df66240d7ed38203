"""source: the vLLM a cell builds (a tree), or the prebuilt vLLM it installs (a wheel).

``wheel:`` installs the released or nightly wheel into the cell venv; nothing is
built. PyPI's torchvision/torchaudio/torchcodec are kept out by the override
file, and torch must be the same before and after (TORCH_OVERRIDDEN).

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

``sdist:`` unpacks the resolved file into a tree per build key (``stages.sdist_source``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from vllm_matrix import fileio, gitsource
from vllm_matrix.errors import HarnessError
from vllm_matrix.matrix.cell import slug
from vllm_matrix.matrix.specs import PREBUILT
from vllm_matrix.prebuilt import overrides
from vllm_matrix.stages import sdist_source, toolchain, torch, uv
from vllm_matrix.stages.base import StageContext
from vllm_matrix.stages.state import VllmChoice

MANIFEST = ".vllm-matrix-snapshot.json"
OVERRIDES = "overrides.txt"  # in the cell dir: the shipped overrides plus the cell's torch
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
    """Install the wheel, or make the source tree for the resolved vLLM (``state.source_dir``)."""
    vllm = ctx.state.vllm
    assert vllm is not None  # resolve ran
    if vllm.kind in PREBUILT:
        install_wheel(ctx, vllm)
    elif vllm.kind == "git":
        ctx.state.source_dir = str(git_tree(ctx, vllm))
    elif vllm.kind == "path":
        ctx.state.source_dir = str(path_tree(ctx, vllm))
    elif vllm.kind == "sdist":
        ctx.state.source_dir = str(sdist_source.tree(ctx, vllm))
    elif vllm.kind == "toolchain":
        ctx.state.source_dir = str(toolchain.lay_out(ctx))
    else:
        raise HarnessError(f"the source stage has no {vllm.kind}: sources")


def install_wheel(ctx: StageContext, vllm: VllmChoice) -> None:
    """``uv pip install <requirement>`` over the cell's torch (kept by an override), then the torch check.

    The wheel's other dependencies install as usual; its torch pin is overridden by the torch
    the cell already has ("wheel over nightly"), and whether its extensions load into that
    torch is for verify to say.
    """
    requirement = str(vllm.requirement)
    torch_version = ctx.state.torch_version
    existing = ctx.state.torch is not None and ctx.state.torch.kind == "existing"
    keep = (
        overrides.keeping_torch(ctx.cell_dir / OVERRIDES, torch_version)
        if torch_version and not existing
        else None
    )
    ctx.note(f"[installing {requirement} over torch {ctx.state.torch_version} (override file {keep})]")
    uv.install_vllm(ctx, requirement, override_file=keep)
    torch.ensure_unchanged(ctx)


def git_tree(ctx: StageContext, vllm: VllmChoice) -> Path:
    """The worktree of the resolved commit for this build key."""
    url, commit = str(vllm.url), str(vllm.commit)
    try:
        mirror = gitsource.mirror_path(ctx.work.git_dir, url)
        if not (mirror / "HEAD").is_file():
            mirror = gitsource.update_mirror(
                url, ctx.work.git_dir, ctx.log, timeout_s=ctx.timeout, env=ctx.env
            )
        dest = gitsource.worktree_path(ctx.work.worktrees, commit, ctx.venv.name)
        return gitsource.ensure_worktree(mirror, commit, dest, ctx.log, timeout_s=ctx.timeout, env=ctx.env)
    except gitsource.GitError as exc:
        raise ctx.fail(exc.message, evidence=exc.evidence) from None


def path_tree(ctx: StageContext, vllm: VllmChoice) -> Path:
    """A synced copy of the user's checkout for this build key (see the module docstring for why)."""
    src = Path(str(vllm.path))
    if not src.is_dir():
        raise ctx.fail(f"path source {src} is not a directory")
    tag = hashlib.sha256(str(src).encode()).hexdigest()[:8]
    dest = ctx.work.worktrees / f"path-{slug(src.name)}-{tag}-{ctx.venv.name}"
    files = source_files(ctx, src)
    copied = sync_tree(src, dest, files)
    link_git(src, dest)
    ctx.note(f"[path source {src} mirrored to {dest}: {len(files)} files, {copied} copied]")
    return dest


def source_files(ctx: StageContext, src: Path) -> list[str]:
    """Relative paths of the checkout's source: what git would commit, else a walk minus build outputs."""
    if (src / ".git").exists():
        proc = subprocess.run(
            ["git", "-C", str(src), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True, env=gitsource.git_env(), timeout=120, check=False,
        )  # fmt: skip
        if proc.returncode == 0:
            names = [n for n in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if n]
            return sorted(n for n in dict.fromkeys(names) if (src / n).is_file())
        raise ctx.fail(f"git ls-files in {src} failed: {proc.stderr.decode(errors='replace')}")
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
    fileio.write_json(manifest, files)
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
