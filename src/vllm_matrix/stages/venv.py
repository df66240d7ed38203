"""venv: a fresh ``uv venv`` per build key, after checking there is room for it.

Whatever a previous attempt left at that path (a half-built venv, a killed
build) is removed first: the runner only reuses venvs that carry the
completion marker, and never reaches this stage for those.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from vllm_matrix import fileio
from vllm_matrix.stages import uv
from vllm_matrix.stages.base import StageContext, StageError
from vllm_matrix.stages.state import DiskCheck

GIB = 1024**3
MIN_FREE_ENV = "VLLM_MATRIX_MIN_FREE_GB"
# Free space a cell's venv needs, in GiB: torch + vLLM + deps for a wheel;
# a CUDA torch, build requirements and build objects for a source build.
NEEDED_GIB = {"wheel": 6.0, "build": 30.0}
EXISTING_PTH = "_vllm_matrix_existing_torch.pth"


def run(ctx: StageContext) -> None:
    """Check free disk, then create the venv with the cell's Python (an existing torch's own Python)."""
    check_disk(ctx)
    remove(ctx.venv)
    ctx.venv.parent.mkdir(parents=True, exist_ok=True)
    torch = ctx.state.torch
    python = (
        torch.interpreter if torch and torch.kind == "existing" and torch.interpreter else ctx.cell.python
    )
    argv = [uv.uv_exe(ctx.env), "venv", "--clear", "--python", python, str(ctx.venv)]
    ctx.check(argv, what=f"creating a Python {ctx.cell.python} venv")
    if torch is not None and torch.kind == "existing":
        see_existing(ctx, torch.site)


def see_existing(ctx: StageContext, site: tuple[str, ...]) -> None:
    """Let the venv import the existing torch's packages: a ``.pth`` naming their directories.

    Not ``--system-site-packages``: an existing torch often lives in a venv itself (a
    container's ``/opt/.../.venv``), whose packages a venv made from its Python would not see.
    The venv's own site-packages comes first, so anything installed later shadows what
    ``site`` has, and the torch check sees a replaced torch.
    """
    for packages in ctx.venv.glob("lib/python*/site-packages"):
        fileio.write_atomic(packages / EXISTING_PTH, "".join(f"{d}\n" for d in site))
    ctx.note(f"[the venv sees the existing packages in: {', '.join(site)}]")


def needed_bytes(ctx: StageContext) -> int:
    """Bytes of free disk the cell needs: ``$VLLM_MATRIX_MIN_FREE_GB`` or the default for its source."""
    override = ctx.env.get(MIN_FREE_ENV)
    if override:
        return int(float(override) * GIB)
    kind = "build" if ctx.cell.source.vllm_tree else "wheel"  # the toolchain probe is small
    return int(NEEDED_GIB[kind] * GIB)


def free_bytes(path: Path) -> tuple[Path, int]:
    """Free bytes on the file system holding ``path`` (or its nearest existing parent)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe, shutil.disk_usage(probe).free


def check_disk(ctx: StageContext) -> None:
    """Refuse to start a venv the disk cannot hold, saying how much is needed and where."""
    need = needed_bytes(ctx)
    where, free = free_bytes(ctx.venv)
    ctx.state.disk = DiskCheck(str(where), free, need)
    if free < need:
        raise StageError(
            ctx.stage,
            f"not enough free disk for the venv: {free / GIB:.1f} GiB free on {where}, "
            f"{need / GIB:.1f} GiB needed; free some space, or pass --workdir on a larger disk "
            f"(${MIN_FREE_ENV} changes the requirement)",
        )


def remove(venv: Path) -> None:
    """Delete what sits at a venv path (a link is unlinked, never followed)."""
    if os.path.islink(venv) or venv.is_file():
        venv.unlink()
    elif venv.is_dir():
        shutil.rmtree(venv)
