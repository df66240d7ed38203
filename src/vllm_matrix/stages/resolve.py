"""resolve: turn the cell's specs into exact things, record them, and pick the build-key venv.

``nightly:*`` becomes an exact wheel via the nightly index client (a date that
is not on the index makes the cell a skip; an unreachable index a failure of
class NETWORK_FETCH), a release stays its version, ``git:<ref>`` becomes a
commit, ``path:`` records the checkout's commit, ``wheel:`` its requirement,
``vllm-commit:`` and ``nightly-vllm:`` the exact prebuilt wheel file (a variant or date
the index lacks is a skip, like a missing torch nightly), ``sdist:`` the exact file, its
sha256 and PKG-INFO's version (``stages.sdist_source``).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from vllm_matrix import gitsource
from vllm_matrix.matrix import cell as cell_mod
from vllm_matrix.nightly import errors as nightly_errors
from vllm_matrix.nightly import hidden
from vllm_matrix.nightly.client import IndexClient
from vllm_matrix.nightly.listing import DEFAULT_PLATFORM
from vllm_matrix.nightly.resolve import resolve_torch as resolve_nightly
from vllm_matrix.prebuilt import commits, devwheels
from vllm_matrix.stages import sdist_source, uv
from vllm_matrix.stages.base import StageContext, StageSkipped
from vllm_matrix.stages.state import TorchChoice, VllmChoice

# Variables of the caller's environment that change what a build produces.
BUILD_ENV_VARS = ("VLLM_TARGET_DEVICE", "VLLM_USE_PRECOMPILED", "CMAKE_BUILD_TYPE", "VLLM_MAIN_CUDA_VERSION")
MARKER = ".vllm-matrix-build.json"
T = TypeVar("T")


def run(ctx: StageContext) -> None:
    """Fill ``state.torch``, ``state.vllm``, ``state.build_key`` and the venv it names."""
    ctx.state.torch = resolve_torch(ctx)
    ctx.state.vllm = resolve_vllm(ctx)
    key = resolved_build_key(ctx)
    ctx.state.build_key = key
    ctx.state.venv = str(ctx.work.venvs / key)
    ctx.note(f"torch: {' '.join(ctx.state.torch.requirements)}")
    ctx.note(f"vllm: {ctx.state.vllm}")
    ctx.note(f"build key {key}: venv {ctx.venv}")


def resolve_torch(ctx: StageContext) -> TorchChoice:
    """The exact torch the cell installs (or finds), and from where."""
    spec = ctx.cell.torch_spec
    if spec.kind == "existing":
        return resolve_existing(ctx, spec.interpreter)
    index = uv.torch_index(ctx.config, spec.kind, ctx.cell.cuda, ctx.env)
    if spec.kind == "release":
        return TorchChoice(ctx.cell.torch, "release", spec.version, (f"torch=={spec.version}",), index)
    base = ctx.config.index("nightly").effective(ctx.env)
    if uv.is_local(base):
        raise ctx.fail(f"the nightly index must be a URL, got the directory {base}")
    try:
        resolved = _index_errors(
            ctx, lambda: resolve_nightly(spec, ctx.cell.cuda, ctx.cell.python, base, client=_client(ctx))
        )
    except StageSkipped:
        if not (ctx.env.get(hidden.TEMPLATE_ENV) and spec.date and spec.date < dt.date.today()):
            raise
        return _by_url(ctx, spec.date, ctx.env[hidden.TEMPLATE_ENV], index)
    return TorchChoice(ctx.cell.torch, "nightly", resolved.torch.version, tuple(resolved.requirements()),
                       index, resolved.to_dict())  # fmt: skip


def _by_url(ctx: StageContext, day: dt.date, template: str, index: str) -> TorchChoice:
    """A nightly the index does not list, by the URL of ``--url-template`` (bisecting older dates)."""
    found = _index_errors(ctx, lambda: hidden.wheel(template, day, ctx.cell.cuda, ctx.cell.python))
    ctx.note(f"[{day} is not on the index: installing {found.url} (--url-template)]")
    requirement = f"torch @ {found.url}"
    answer = {"spec": ctx.cell.torch, "torch": found.to_dict(), "companions": [], "by_url": True,
              "requirements": [requirement]}  # fmt: skip
    return TorchChoice(ctx.cell.torch, "nightly", found.version, (requirement,), index, answer)


# Run by the existing Python: what it is, what it can import, and which torch.
EXISTING_PROBE = """
import json, sys
out = {"python": "%d.%d" % sys.version_info[:2], "executable": sys.executable,
       "site": [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]}
try:
    import importlib.metadata, torch
    # The distribution's version is what installers and the torch check compare; __version__ can
    # carry a local label the metadata lacks (2.14.1 vs 2.14.1+cu130).
    out.update(version=importlib.metadata.version("torch"), module_version=torch.__version__,
               git_version=torch.version.git_version, cuda=torch.version.cuda)
except Exception as exc:
    out["error"] = "%s: %s" % (type(exc).__name__, exc)
open(sys.argv[1], "w").write(json.dumps(out))
"""


def resolve_existing(ctx: StageContext, interpreter: str) -> TorchChoice:
    """An existing torch: the Python that has it (named, else ``python<cell's python>`` on PATH)."""
    python = interpreter or shutil.which(f"python{ctx.cell.python}", path=ctx.env.get("PATH")) or ""
    if not python:
        raise ctx.fail(
            f"torch = existing: no python{ctx.cell.python} on PATH (name one: existing:/path/to/python)"
        )
    out = ctx.cell_dir / "existing-torch.json"
    probe = ctx.cell_dir / "existing-torch-probe.py"  # a file: its text in the log would be evidence
    probe.parent.mkdir(parents=True, exist_ok=True)
    probe.write_text(EXISTING_PROBE, encoding="utf-8")
    result = ctx.run([python, str(probe), str(out)])
    try:
        found = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ctx.fail(f"{python} did not answer ({result.describe()})") from None
    if "version" not in found:
        raise ctx.fail(f"{python} has no importable torch: {found.get('error', 'unknown')}")
    if found["python"] != ctx.cell.python.rstrip("t"):
        raise ctx.fail(f"{python} is Python {found['python']}, but the cell says python = {ctx.cell.python}")
    ctx.note(
        f"existing torch {found['version']} (git {found['git_version']}, CUDA {found['cuda']}) in {python}"
    )
    return TorchChoice(
        ctx.cell.torch, "existing", found["version"], interpreter=found["executable"],
        git_version=found["git_version"], cuda=found["cuda"], site=tuple(found["site"]),
    )  # fmt: skip


def _client(ctx: StageContext) -> IndexClient:
    return IndexClient(cache_dir=ctx.work.root / "index-cache")


def resolve_vllm(ctx: StageContext) -> VllmChoice:
    """What vLLM the cell means, exactly: a requirement, a wheel file, a commit, or a checkout."""
    source = ctx.cell.source
    if source.kind == "wheel":
        return VllmChoice("wheel", requirement=source.value)
    if source.kind == "toolchain":
        return VllmChoice("toolchain", requirement=source.value)
    if source.kind in ("vllm-commit", "nightly-vllm"):
        return _index_errors(ctx, lambda: _resolve_prebuilt(ctx, source.kind, source.value))
    if source.kind == "path":
        return _resolve_path(ctx, Path(source.value).expanduser())
    if source.kind == "sdist":
        return sdist_source.resolve(ctx, source.value)
    return _resolve_git(ctx, source.value)


def _resolve_prebuilt(ctx: StageContext, kind: str, value: str) -> VllmChoice:
    """The exact wheel of vLLM's per-commit index, or of the PyTorch nightly index's vLLM dev wheels."""
    python, cuda = ctx.cell.python, ctx.cell.cuda
    if kind == "vllm-commit":
        base = ctx.config.index("vllm_wheels").effective(ctx.env)
        found = commits.resolve(value, cuda, python, DEFAULT_PLATFORM, base, _client(ctx))
        return VllmChoice("vllm-commit", requirement=f"vllm @ {found.url}", url=found.url, ref=value,
                          commit=found.built_from, version=found.version)  # fmt: skip
    index = ctx.config.index("nightly").effective(ctx.env)
    wheel = devwheels.resolve(value, cuda, python, DEFAULT_PLATFORM, index, _client(ctx))
    return VllmChoice("nightly-vllm", requirement=f"vllm @ {wheel.url}", url=wheel.url, ref=value,
                      version=wheel.version)  # fmt: skip


def _index_errors(ctx: StageContext, lookup: Callable[[], T]) -> T:
    """An index answer, with its errors as the cell's outcome: missing a skip, unreachable a failure."""
    try:
        return lookup()
    except (nightly_errors.NightlyMissing, nightly_errors.NightlySpecError) as exc:
        raise StageSkipped(ctx.stage, str(exc)) from None
    except nightly_errors.IndexUnavailable as exc:
        ctx.note(f"error: {exc}")
        raise ctx.fail(str(exc), klass="NETWORK_FETCH", evidence=[str(exc)]) from None
    except nightly_errors.IndexMalformed as exc:
        ctx.note(f"error: {exc}")
        raise ctx.fail(str(exc)) from None


def _resolve_path(ctx: StageContext, path: Path) -> VllmChoice:
    path = path if path.is_absolute() else (ctx.config.path.parent / path)
    path = path.resolve()
    if not path.is_dir():
        raise ctx.fail(f"path source {path} is not a directory")
    commit = _git(path, "rev-parse", "HEAD")
    dirty = bool(_git(path, "status", "--porcelain")) if commit else None
    return VllmChoice("path", path=str(path), commit=commit, dirty=dirty)


def _git(repo: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              timeout=60, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _resolve_git(ctx: StageContext, ref: str) -> VllmChoice:
    """``git:<ref>`` -> the exact commit, fetched into the work dir's bare mirror."""
    url = gitsource.normalize_url(ctx.config.vllm_git_url(ctx.env))
    try:
        commit = gitsource.resolve_ref(
            url, ref, ctx.work.git_dir, ctx.log, timeout_s=ctx.timeout, env=ctx.env
        )
    except gitsource.GitError as exc:
        raise ctx.fail(exc.message, evidence=exc.evidence) from None
    return VllmChoice("git", url=url, ref=ref, commit=commit)


def vllm_identity(ctx: StageContext, vllm: VllmChoice) -> str:
    """The resolved vLLM, as it enters the build key."""
    if vllm.kind != "path" or (vllm.commit and not vllm.dirty):
        return vllm.identity()
    # An unversioned or dirty checkout: share the build within this run only.
    return f"path:{vllm.path}@run:{ctx.run_name or ctx.cell_dir.parent.parent.name}"


def resolved_build_key(ctx: StageContext) -> str:
    """The build key over resolved versions: cells that agree share one venv (build once)."""
    torch, vllm = ctx.state.torch, ctx.state.vllm
    assert torch is not None and vllm is not None  # resolve sets both first
    wheel = not ctx.cell.source.builds
    values = {
        "python": ctx.cell.python,
        "torch": torch.version if not torch.existing else torch.identity(),
        "cuda": ctx.cell.cuda,
        "arch": "" if wheel else ctx.cell.arch,  # nothing is compiled for a wheel
        "vllm": vllm_identity(ctx, vllm),
    }
    env = {k: ctx.env[k] for k in BUILD_ENV_VARS if ctx.env.get(k) and not wheel}
    return cell_mod.build_key(values, env)
