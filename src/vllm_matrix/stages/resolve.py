"""resolve: turn the cell's specs into exact things, record them, and pick the build-key venv.

``nightly:*`` becomes an exact wheel via the nightly index client (a date that
is not on the index makes the cell a skip; an unreachable index a failure of
class NETWORK_FETCH), a release stays its version, ``git:<ref>`` becomes a
commit, ``path:`` records the checkout's commit, ``wheel:`` its requirement.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from vllm_matrix import gitsource
from vllm_matrix.matrix import cell as cell_mod
from vllm_matrix.nightly import resolve as nightly
from vllm_matrix.stages import uv
from vllm_matrix.stages.base import StageContext, StageFailed, StageSkipped

STAGE = "resolve"
# Variables of the caller's environment that change what a build produces.
BUILD_ENV_VARS = ("VLLM_TARGET_DEVICE", "VLLM_USE_PRECOMPILED", "CMAKE_BUILD_TYPE", "VLLM_MAIN_CUDA_VERSION")
MARKER = ".vllm-matrix-build.json"


def run(ctx: StageContext) -> None:
    """Fill ``record["torch"]``, ``record["vllm"]``, ``record["build_key"]``; set ``ctx.venv``."""
    ctx.record["torch"] = resolve_torch(ctx)
    ctx.record["vllm"] = resolve_vllm(ctx)
    key = resolved_build_key(ctx)
    ctx.record["build_key"] = key
    ctx.venv = ctx.work.venvs / key
    ctx.record["venv"] = str(ctx.venv)
    _log(ctx, f"torch: {ctx.record['torch']['requirements']}")
    _log(ctx, f"vllm: {ctx.record['vllm']}")
    _log(ctx, f"build key {key}: venv {ctx.venv}")


def _log(ctx: StageContext, line: str) -> None:
    path = ctx.log_path(STAGE)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def resolve_torch(ctx: StageContext) -> dict[str, Any]:
    """The exact torch the cell installs, and from where."""
    spec = ctx.cell.torch_spec
    index = uv.torch_index(ctx.config, spec.kind, ctx.cell.cuda, ctx.env)
    if spec.kind == "release":
        requirement = f"torch=={spec.version}"
        return {"spec": ctx.cell.torch, "kind": "release", "version": spec.version,
                "index": index, "requirements": [requirement]}  # fmt: skip
    base = ctx.config.index("nightly").effective(ctx.env)
    if uv.is_local(base):
        raise StageFailed(STAGE, f"the nightly index must be a URL, got the directory {base}")
    try:
        resolved = nightly.resolve_torch(spec, ctx.cell.cuda, ctx.cell.python, base, client=_client(ctx))
    except (nightly.NightlyMissing, nightly.NightlySpecError) as exc:
        raise StageSkipped(STAGE, str(exc)) from None
    except nightly.IndexUnavailable as exc:
        _log(ctx, f"error: {exc}")
        raise StageFailed(STAGE, str(exc), klass="NETWORK_FETCH", evidence=[str(exc)],
                          log=ctx.log_path(STAGE)) from None  # fmt: skip
    except nightly.IndexMalformed as exc:
        _log(ctx, f"error: {exc}")
        raise StageFailed(STAGE, str(exc), log=ctx.log_path(STAGE)) from None
    data = resolved.to_dict()
    return {**data, "kind": "nightly", "version": resolved.torch.version, "index": index}


def _client(ctx: StageContext) -> nightly.IndexClient:
    return nightly.IndexClient(cache_dir=ctx.work.root / "index-cache")


def resolve_vllm(ctx: StageContext) -> dict[str, Any]:
    """What vLLM the cell means, exactly: a requirement, a commit, or a checkout and its commit."""
    source = ctx.cell.source
    if source.kind == "wheel":
        return {"kind": "wheel", "requirement": source.value}
    if source.kind == "path":
        return _resolve_path(ctx, Path(source.value).expanduser())
    return _resolve_git(ctx, source.value)


def _resolve_path(ctx: StageContext, path: Path) -> dict[str, Any]:
    path = path if path.is_absolute() else (ctx.config.path.parent / path)
    path = path.resolve()
    if not path.is_dir():
        raise StageFailed(STAGE, f"path source {path} is not a directory")
    commit = _git(path, "rev-parse", "HEAD")
    dirty = bool(_git(path, "status", "--porcelain")) if commit else None
    return {"kind": "path", "path": str(path), "commit": commit, "dirty": dirty}


def _git(repo: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              timeout=60, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _resolve_git(ctx: StageContext, ref: str) -> dict[str, Any]:
    """``git:<ref>`` -> the exact commit, fetched into the work dir's bare mirror."""
    url = gitsource.normalize_url(ctx.config.vllm_git_url(ctx.env))
    commit = gitsource.resolve_ref(
        url, ref, ctx.work.git_dir, ctx.log_path(STAGE), timeout_s=ctx.timeout(STAGE), env=ctx.env
    )
    return {"kind": "git", "url": url, "ref": ref, "commit": commit}


def vllm_identity(ctx: StageContext) -> str:
    """The resolved vLLM, as it enters the build key."""
    vllm = ctx.record["vllm"]
    if vllm["kind"] == "wheel":
        return f"wheel:{vllm['requirement']}"
    if vllm["kind"] == "git":
        return f"git:{vllm['commit']}"
    if vllm.get("commit") and not vllm.get("dirty"):
        return f"path:{vllm['path']}@{vllm['commit']}"
    # An unversioned or dirty checkout: share the build within this run only.
    return f"path:{vllm['path']}@run:{ctx.run_name or ctx.cell_dir.parent.parent.name}"


def resolved_build_key(ctx: StageContext) -> str:
    """The build key over resolved versions: cells that agree share one venv (build once)."""
    wheel = ctx.record["vllm"]["kind"] == "wheel"
    values = {
        "python": ctx.cell.python,
        "torch": ctx.record["torch"]["version"],
        "cuda": ctx.cell.cuda,
        "arch": "" if wheel else ctx.cell.arch,  # nothing is compiled for a wheel
        "vllm": vllm_identity(ctx),
    }
    env = {k: ctx.env[k] for k in BUILD_ENV_VARS if ctx.env.get(k) and not wheel}
    return cell_mod.build_key(values, env)
