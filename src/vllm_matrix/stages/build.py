"""build: ``uv pip install --no-build-isolation --no-deps <tree>`` with the cell's build environment,
then vLLM's own dependencies.

A regular (not ``-e``) install: the built ``.so`` files are copied into the
venv, so the venv stands on its own, the arch audit reads exactly what was
installed, and a worktree can be reused or removed without breaking a venv.
``--reinstall-package vllm`` forces a fresh build when the venv already holds
one (uv would otherwise reuse its cached wheel for an unchanged tree).

The compile comes first and alone (``--no-deps``), so its verdict is never
hidden behind a dependency that cannot be resolved (vLLM 0.32's CPU
requirements name a triton wheel on GitHub): the dependencies the built vLLM
declares are installed next, in the same stage, and the TORCH_OVERRIDDEN check
follows them.

MAX_JOBS and the other choices come from ``buildenv`` and are printed before
the build starts (it can take hours) and recorded as ``state.build_env``; an
sdist's version (it has no git history) is passed as
``SETUPTOOLS_SCM_PRETEND_VERSION``; the FetchContent plan (``fetchplan``)
adds the offline source trees. While ninja runs, its ``[N/M]`` lines become a
progress line every ``VLLM_MATRIX_PROGRESS_S`` seconds (default 30).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from vllm_matrix import buildenv, fileio, progress
from vllm_matrix.prebuilt.overrides import shipped as shipped_overrides
from vllm_matrix.stages import fetchplan, toolchain, torch, uv
from vllm_matrix.stages.base import StageContext
from vllm_matrix.stages.state import BuildEnvFacts, VllmChoice


def source_id(vllm: VllmChoice) -> str:
    """What names the source for shared caches: the commit, the sdist's hash, else a hash of the path."""
    if vllm.commit:
        return vllm.commit
    if vllm.sha256:
        return "sdist-" + vllm.sha256[:16]
    return "path-" + hashlib.sha256((vllm.path or "").encode()).hexdigest()[:16]


def environment(ctx: StageContext, tree: Path) -> buildenv.BuildEnv:
    """The build environment for this cell on this machine (and an sdist's version)."""
    env = buildenv.build_env(
        cuda=ctx.cell.cuda,
        arch_list=ctx.cell.arch,
        fetchcontent_dir=ctx.work.fetchcontent / source_id(_vllm(ctx)),
        cache_dir=ctx.work.ccache,
        source_dir=tree,
        environ=ctx.env,
        mem_bytes=buildenv.mem_available(),
        cores=os.cpu_count() or 1,
        which=lambda name: shutil.which(name, path=ctx.tool_path),
    )
    vllm = _vllm(ctx)
    if vllm.kind == "sdist" and vllm.version:
        env.env["SETUPTOOLS_SCM_PRETEND_VERSION"] = vllm.version
        env.reasons["SETUPTOOLS_SCM_PRETEND_VERSION"] = "an sdist has no git history: PKG-INFO's version"
    return env


def argv(ctx: StageContext, tree: Path) -> list[str]:
    """The uv command line: the cell's indexes, the overrides, no build isolation, the tree."""
    return [
        uv.uv_exe(ctx.env), "pip", "install", "--python", str(ctx.python),
        *uv.index_args(ctx), "--override", str(shipped_overrides()),
        "--no-build-isolation", "--no-deps", "--reinstall-package", "vllm", "--verbose", str(tree),
    ]  # fmt: skip


def _vllm(ctx: StageContext) -> VllmChoice:
    assert ctx.state.vllm is not None  # resolve ran
    return ctx.state.vllm


def run(ctx: StageContext) -> None:
    """Build and install vLLM from ``state.source_dir``, then its dependencies; torch must be unchanged."""
    tree = Path(str(ctx.state.source_dir))
    env = prepared_environment(ctx, tree, fetch_plan=ctx.cell.source.vllm_tree)
    announce(ctx, env)
    if ctx.cell.source.kind == "toolchain":
        toolchain.build(ctx, tree, env.env)
        torch.ensure_unchanged(ctx)
        return
    # version tools must not rewrite a path source's index; the build finds cmake and ninja as
    # the configure preflight did
    extra = {"GIT_OPTIONAL_LOCKS": "0", "PATH": ctx.tool_path}
    base = Path(env.env["FETCHCONTENT_BASE_DIR"])
    watch = progress.watching(ctx.log, say(ctx), interval_s=interval(ctx))
    with fetchplan.watching_fetches(ctx, base), watch:
        ctx.check(argv(ctx, tree), env={**env.env, **extra}, cwd=tree, what="building vLLM")
    install_dependencies(ctx)
    torch.ensure_unchanged(ctx)


def prepared_environment(ctx: StageContext, tree: Path, *, fetch_plan: bool = True) -> buildenv.BuildEnv:
    """The build environment (with the FetchContent plan of a vLLM tree), recorded as ``state.build_env``."""
    env = environment(ctx, tree)
    env = fetchplan.with_plan(ctx, tree, env) if fetch_plan else env
    ctx.state.build_env = BuildEnvFacts(dict(env.env), dict(env.reasons))
    Path(env.env["FETCHCONTENT_BASE_DIR"]).mkdir(parents=True, exist_ok=True)
    return env


def runtime_requirements(venv: Path) -> list[str]:
    """What the installed vLLM declares it needs, without its extras (read from its metadata)."""
    paths = [str(p) for p in torch.site_packages(venv)]
    for dist in importlib.metadata.distributions(name="vllm", path=paths):
        return [r for r in dist.requires or [] if not _is_extra(r)]
    return []


def _is_extra(requirement: str) -> bool:
    try:
        marker = Requirement(requirement).marker
    except InvalidRequirement:
        return False
    return marker is not None and "extra" in str(marker)


def install_dependencies(ctx: StageContext) -> None:
    """``uv pip install`` the built vLLM's dependencies (the override file keeps PyPI's torchvision out)."""
    needed = runtime_requirements(ctx.venv)
    mode = ctx.config.vllm_dependencies
    ctx.note(f"[vLLM declares {len(needed)} dependencies; [sources] vllm_dependencies = {mode}]")
    if mode == "none":
        ctx.state.vllm_dependencies = "none (--no-deps)"
    elif isinstance(mode, Path):
        ctx.state.vllm_dependencies = f"{mode} (--no-deps)"
        uv.pip_install(ctx, ["-r", str(mode)], what=f"installing {mode.name}", extra=["--no-deps"])
    elif needed:
        ctx.state.vllm_dependencies = "resolved by uv"
        uv.pip_install(ctx, needed, what="installing vLLM's dependencies")


def interval(ctx: StageContext) -> float:
    """Seconds between progress lines: ``VLLM_MATRIX_PROGRESS_S``, else 30."""
    raw = ctx.env.get("VLLM_MATRIX_PROGRESS_S", "")
    try:
        return max(0.1, float(raw)) if raw else progress.DEFAULT_INTERVAL_S
    except ValueError:
        return progress.DEFAULT_INTERVAL_S


def say(ctx: StageContext) -> Callable[[str], None]:
    """Where progress lines go: stderr, like MAX_JOBS, prefixed with the cell id."""

    def report(line: str) -> None:
        print(f"[{ctx.cell.id}] {line}", file=sys.stderr, flush=True)

    return report


def announce(ctx: StageContext, env: buildenv.BuildEnv) -> None:
    """Print MAX_JOBS and its reason, and write the whole build environment at the top of the log."""
    print(f"[{ctx.cell.id}] build: {env.reasons['MAX_JOBS']}", file=sys.stderr, flush=True)
    lines = [f"[build env] {key}={value}" for key, value in sorted(env.env.items())]
    lines += [f"[build env] {key}: {why}" for key, why in sorted(env.reasons.items())]
    fileio.append(ctx.log, "\n".join(lines))
