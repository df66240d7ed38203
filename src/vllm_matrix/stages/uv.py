"""uv command lines for a cell: which uv, which indexes, the overrides file, a clean environment.

Index choice: the cell's torch index (``release`` or ``nightly`` from
matrix.toml, each overridable by ``VLLM_MATRIX_INDEX_<NAME>``) has priority
over PyPI, so torch always comes from it. A value that is a local directory is
a find-links directory (how this offline machine and CI serve torch 2.13.0+cpu).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from vllm_matrix.errors import HarnessError
from vllm_matrix.matrix.config import MatrixConfig
from vllm_matrix.prebuilt.overrides import installed_names, without_torch
from vllm_matrix.prebuilt.overrides import shipped as shipped_overrides
from vllm_matrix.proc import ProcResult
from vllm_matrix.stages.base import StageContext

UV_ENV = "VLLM_MATRIX_UV"
# Variables of the user's shell that would change what uv resolves or where it installs.
LEAKY_ENV = (
    "UV_INDEX",
    "UV_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_EXTRA_INDEX_URL",
    "UV_FIND_LINKS",
    "UV_PYTHON",
    "UV_SYSTEM_PYTHON",
    "UV_OVERRIDE",
    "UV_CONSTRAINT",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
)


def uv_exe(environ: Mapping[str, str] | None = None) -> str:
    """The uv executable: ``$VLLM_MATRIX_UV``, else ``uv`` on PATH."""
    env = os.environ if environ is None else environ
    found = env.get(UV_ENV) or shutil.which("uv")
    if not found:
        raise HarnessError("uv is not on PATH and $VLLM_MATRIX_UV is unset (install it: pip install uv)")
    return found


def base_env(uv_cache: Path | None, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment every stage subprocess starts from: the user's, minus what would leak into uv.

    ``uv_cache`` None leaves uv's own choice of cache (``$UV_CACHE_DIR`` or its default).
    """
    env = dict(os.environ if environ is None else environ)
    for key in LEAKY_ENV:
        env.pop(key, None)
    if uv_cache is not None:
        env["UV_CACHE_DIR"] = str(uv_cache)
    env["UV_NO_CONFIG"] = "1"  # indexes come from matrix.toml, not from a uv.toml in the cwd
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("UV_HTTP_TIMEOUT", "120")
    return env


def is_local(location: str) -> bool:
    """Whether an index value names a local find-links directory rather than a URL."""
    return "://" not in location


def torch_index(config: MatrixConfig, torch_kind: str, cuda: str, environ: Mapping[str, str]) -> str:
    """Where this cell's torch comes from: ``<index>/<cuda>`` for a URL, the directory itself if local."""
    name = "release" if torch_kind == "release" else "nightly"
    location = config.index(name).effective(environ)
    if is_local(location):
        return location
    return f"{location.rstrip('/')}/{cuda}"


def index_args(ctx: StageContext, *, with_torch_index: bool = True) -> list[str]:
    """uv options: the cell's torch index, PyPI as the default index, best match across both."""
    args: list[str] = []
    if with_torch_index and ctx.cell.torch_spec.kind != "existing":
        location = torch_index(ctx.config, ctx.cell.torch_spec.kind, ctx.cell.cuda, ctx.env)
        args += ["--find-links", location] if is_local(location) else ["--index", location]
        # The torch index mirrors only some versions of common packages (numpy, jinja2, ...):
        # let uv pick the best match across indexes; exact torch pins still only match the torch index.
        args += ["--index-strategy", "unsafe-best-match"]
    pypi = ctx.config.index("pypi").effective(ctx.env)
    args += ["--find-links", pypi, "--no-index"] if is_local(pypi) else ["--default-index", pypi]
    return args


EXISTING_OVERRIDES = "overrides-existing-torch.txt"  # in the cell dir


def install_vllm(ctx: StageContext, requirement: str, *, override_file: Path | None = None) -> None:
    """Install vLLM (a wheel, a requirement or a built tree) with its dependencies as the matrix says.

    ``[sources] vllm_dependencies``: ``resolve`` lets uv resolve what vLLM declares; ``none``
    installs vLLM alone (``--no-deps``); a requirements file is installed alone first, then vLLM
    with ``--no-deps``: a container that already has the rest, offline, with only the missing
    wheels in its find-links directory (how the lent H200 runs vLLM).
    """
    mode = ctx.config.vllm_dependencies
    if mode == "resolve":
        ctx.state.vllm_dependencies = "resolved by uv"
        pip_install(ctx, [requirement], what=f"installing {requirement}", override_file=override_file)
        return
    if isinstance(mode, Path):
        pip_install(ctx, ["-r", str(mode)], what=f"installing {mode.name}", extra=["--no-deps"],
                    override_file=override_file)  # fmt: skip
    ctx.state.vllm_dependencies = (
        "none (--no-deps)" if mode == "none" else f"{mode} (--no-deps), then vLLM alone"
    )
    pip_install(ctx, [requirement], what=f"installing {requirement} alone", extra=["--no-deps"],
                override_file=override_file)  # fmt: skip


def default_overrides(ctx: StageContext) -> Path:
    """The override file of every install after torch: the shipped one; for an existing torch, one
    that never resolves torch nor anything else its environment has (``overrides.without_torch``)."""
    torch = ctx.state.torch
    if torch is not None and torch.existing:
        return without_torch(ctx.cell_dir / EXISTING_OVERRIDES, installed_names(torch.site))
    return shipped_overrides()


def pip_install(
    ctx: StageContext,
    requirements: Sequence[str],
    *,
    what: str,
    extra: Sequence[str] = (),
    overrides: bool = True,
    override_file: Path | None = None,
    with_torch_index: bool = True,
) -> ProcResult:
    """``uv pip install`` into the cell venv, logged to the stage's log; StageFailed unless it worked."""
    argv = [uv_exe(ctx.env), "pip", "install", "--python", str(ctx.python)]
    argv += index_args(ctx, with_torch_index=with_torch_index)
    if overrides:
        argv += ["--override", str(override_file or default_overrides(ctx))]
    argv += [*extra, *requirements]
    return ctx.check(argv, what=what)
