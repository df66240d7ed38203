"""build: ``uv pip install --no-build-isolation <tree>`` with the cell's build environment.

A regular (not ``-e``) install: the built ``.so`` files are copied into the
venv, so the venv stands on its own, the arch audit reads exactly what was
installed, and a worktree can be reused or removed without breaking a venv.
``--reinstall-package vllm`` forces a fresh build when the venv already holds
one (uv would otherwise reuse its cached wheel for an unchanged tree).

MAX_JOBS and the other choices come from ``buildenv`` and are printed before
the build starts (it can take hours) and recorded as ``state.build_env``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

from vllm_matrix import buildenv, fileio
from vllm_matrix.prebuilt.overrides import shipped as shipped_overrides
from vllm_matrix.stages import toolchain, torch, uv
from vllm_matrix.stages.base import StageContext
from vllm_matrix.stages.state import BuildEnvFacts, VllmChoice


def source_id(vllm: VllmChoice) -> str:
    """What names the source for shared caches: the commit, else a hash of the checkout path."""
    if vllm.commit:
        return vllm.commit
    return "path-" + hashlib.sha256((vllm.path or "").encode()).hexdigest()[:16]


def environment(ctx: StageContext, tree: Path) -> buildenv.BuildEnv:
    """The build environment for this cell on this machine."""
    return buildenv.build_env(
        cuda=ctx.cell.cuda,
        arch_list=ctx.cell.arch,
        fetchcontent_dir=ctx.work.fetchcontent / source_id(_vllm(ctx)),
        cache_dir=ctx.work.ccache,
        source_dir=tree,
        environ=ctx.env,
        mem_bytes=buildenv.mem_available(),
        cores=os.cpu_count() or 1,
        which=lambda name: shutil.which(name, path=ctx.env.get("PATH")),
    )


def argv(ctx: StageContext, tree: Path) -> list[str]:
    """The uv command line: the cell's indexes, the overrides, no build isolation, the tree."""
    return [
        uv.uv_exe(ctx.env), "pip", "install", "--python", str(ctx.python),
        *uv.index_args(ctx), "--override", str(shipped_overrides()),
        "--no-build-isolation", "--reinstall-package", "vllm", "--verbose", str(tree),
    ]  # fmt: skip


def _vllm(ctx: StageContext) -> VllmChoice:
    assert ctx.state.vllm is not None  # resolve ran
    return ctx.state.vllm


def run(ctx: StageContext) -> None:
    """Build and install vLLM from ``state.source_dir``; then torch must be unchanged."""
    tree = Path(str(ctx.state.source_dir))
    env = environment(ctx, tree)
    ctx.state.build_env = BuildEnvFacts(dict(env.env), dict(env.reasons))
    Path(env.env["FETCHCONTENT_BASE_DIR"]).mkdir(parents=True, exist_ok=True)
    announce(ctx, env)
    if ctx.cell.source.kind == "toolchain":
        toolchain.build(ctx, tree, env.env)
        torch.ensure_unchanged(ctx)
        return
    extra = {"GIT_OPTIONAL_LOCKS": "0"}  # version tools must not rewrite a path source's index
    ctx.check(argv(ctx, tree), env={**env.env, **extra}, cwd=tree, what="building vLLM")
    torch.ensure_unchanged(ctx)


def announce(ctx: StageContext, env: buildenv.BuildEnv) -> None:
    """Print MAX_JOBS and its reason, and write the whole build environment at the top of the log."""
    print(f"[{ctx.cell.id}] build: {env.reasons['MAX_JOBS']}", file=sys.stderr, flush=True)
    lines = [f"[build env] {key}={value}" for key, value in sorted(env.env.items())]
    lines += [f"[build env] {key}: {why}" for key, why in sorted(env.reasons.items())]
    fileio.append(ctx.log, "\n".join(lines))
